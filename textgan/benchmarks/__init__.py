"""Benchmarks and the fault drill: the code behind ``scripts/benchmark.py``, ``bench_*.py`` and ``fault_drill.py``.

Each command is a module with its ``main(argv)``; the scripts only call it, so tests import what they check from
here. Nothing in training imports this package.

* ``suite``: ``scripts/benchmark.py``, every section below, one markdown table each (``--json`` for the rows);
* ``models``: MLE step, adversarial iteration and sampling times, MFU and peak memory, each in a fresh process;
  ``flops`` counts their FLOPs and measures the GEMM peak; ``compare`` benchmarks another commit beside them;
* ``bleu``: ``scripts/bench_metrics.py``, BLEU / Self-BLEU against nltk and the Texygen samples' scores;
* ``reinforce``: ``scripts/bench_reinforce.py``, the rollout reward and REINFORCE generator steps;
* ``processes``: ``scripts/bench_processes.py``, DDP and runs side by side;
* ``fault_drill``: ``scripts/fault_drill.py``, SIGKILLs at random moments, resumed, against an uninterrupted run;
* ``command_line``: what every command shares (argparse types, markdown tables).
"""
