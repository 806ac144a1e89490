"""The ``textgan-*`` console commands, one module each (``textgan-train`` is ``textgan.train``).

``tokenize`` (``textgan-tokenize``), ``evaluate`` (``textgan-evaluate``), ``quality_diversity``
(``textgan-quality-diversity``) and ``plot_runs`` (``textgan-plot-runs``); each has ``main(argv=None) -> int``
and also runs as ``python -m textgan.cli.<module>``. ``data_arguments`` holds the options shared by the
evaluation commands.
"""
