"""Speed and memory of textgan, at the paper's oracle and COCO sizes, on CPU and on CUDA when present.

The code is ``textgan.benchmarks.suite`` (``python scripts/benchmark.py --help``).
"""

import sys

from textgan.benchmarks.suite import main

if __name__ == "__main__":
    sys.exit(main())
