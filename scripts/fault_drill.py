"""Fault drill: SIGKILL a training run at random moments, resume it each time, and check that the result equals
an uninterrupted run's exactly.

The code is ``textgan.benchmarks.fault_drill`` (``python scripts/fault_drill.py --help``).
"""

import sys

from textgan.benchmarks.fault_drill import main

if __name__ == "__main__":
    sys.exit(main())
