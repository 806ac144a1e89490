"""REINFORCE with SeqGAN's Monte-Carlo rollout rewards: the vectorised rollout against the plain nested loop.

The code is ``textgan.benchmarks.reinforce`` (``python scripts/bench_reinforce.py --help``).
"""

import sys

from textgan.benchmarks.reinforce import main

if __name__ == "__main__":
    sys.exit(main())
