"""Several training processes on one machine: data-parallel (DDP) throughput, and runs side by side.

The code is ``textgan.benchmarks.processes`` (``python scripts/bench_processes.py --help``).
"""

import sys

from textgan.benchmarks.processes import main

if __name__ == "__main__":
    sys.exit(main())
