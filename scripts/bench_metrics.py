"""Speed of textgan's BLEU / Self-BLEU against nltk on 10k x 10k COCO sentences; the Texygen samples' scores.

The code is ``textgan.benchmarks.bleu`` (``python scripts/bench_metrics.py --help``).
"""

import sys

from textgan.benchmarks.bleu import main

if __name__ == "__main__":
    sys.exit(main())
