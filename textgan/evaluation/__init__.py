"""Evaluating generators: one protocol shared by the training callback and the ``textgan-*`` commands.

* ``textgan.evaluation.protocol``: sample, score with the DataModule's metrics plus NLL_gen, sweep temperatures;
* ``textgan.evaluation.data``: the data to evaluate on (a dataset folder, a data config or an oracle) and the
  checks that a generator fits them.
"""

from textgan.evaluation.protocol import EvaluationResult, evaluate_generator

__all__ = ["EvaluationResult", "evaluate_generator"]
