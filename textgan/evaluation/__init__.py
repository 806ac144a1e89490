"""Evaluating generators: one protocol shared by the training callback and the ``textgan-*`` commands.

* ``textgan.evaluation.protocol``: sample, score with the DataModule's metrics plus NLL_gen, sweep temperatures;
* ``textgan.evaluation.distribution``: LM, reverse-LM, MAUVE and FED of samples against a corpus, with
  ``language_model`` (the LSTM language model behind the LM scores) and ``encoders`` (sentence features);
* ``textgan.evaluation.data``: the data to evaluate on (a dataset folder, a data config or an oracle) and the
  checks that a generator fits them;
* ``textgan.evaluation.runs``: training run folders (a run or a multirun folder), finished or not, labelled by
  config keys (the estimator by default);
* ``textgan.evaluation.report``: seed-aggregated reports, mean ± sample standard deviation per model and metric
  (``report.md``, ``report.csv``), the 95 % Student-t interval of a mean, and the seed bands of
  quality-diversity curves;
* ``textgan.evaluation.comparison`` (a comparison protocol file), ``comparison_plan`` (its runs and folders),
  ``comparison_report`` (its table, pilot choice and MLE wall time) and ``comparison_frontier`` (its curves and
  quality-diversity frontier): what ``textgan-compare`` runs and reports.
"""

from textgan.evaluation.protocol import EvaluationResult, evaluate_generator

__all__ = ["EvaluationResult", "evaluate_generator"]
