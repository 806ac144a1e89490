"""The ``textgan-*`` console commands, one module each (``textgan-train`` is ``textgan.train``).

``tokenize`` (``textgan-tokenize``), ``evaluate`` (``textgan-evaluate``), ``generate`` (``textgan-generate``),
``quality_diversity`` (``textgan-quality-diversity``), ``plot_runs`` (``textgan-plot-runs``) and
``estimator_lab`` (``textgan-estimator-lab``); each has ``main(argv=None) -> int`` and also runs as
``python -m textgan.cli.<module>``. ``data_arguments`` holds the options shared by the evaluation commands.
"""
