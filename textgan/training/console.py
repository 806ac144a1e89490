"""Two lines Lightning prints into every run's console and ``train.log`` that say nothing about the run, dropped.

- Lightning's adverts for its cloud products: ``💡 Tip: ... install [litlogger] ...`` when a Trainer is built
  without its ``LitLogger`` (and the ``litmodels`` one). :class:`LightningAdvertFilter` drops a record of
  Lightning's rank-zero logger that starts with ``💡 Tip:`` and names one of those packages; every other
  message of that logger ("GPU available", "`Trainer.fit` stopped", ...) passes.
- ``FutureWarning: `isinstance(treespec, LeafSpec)` is deprecated``: torch (>= 2.10) deprecated a class that
  ``lightning/pytorch/utilities/_pytree.py`` still uses; nothing in this project can act on it. Ignored for
  that exact message raised from that Lightning module only, so the same warning from our own code still shows.

:func:`quiet_lightning` installs both, once per process; ``textgan-train`` calls it before building a Trainer.
"""

from __future__ import annotations

import logging
import re
import warnings

ADVERT_PREFIX = "💡 Tip:"
ADVERTISED = ("litlogger", "litmodels")  # Lightning's cloud products
RANK_ZERO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")
LEAF_SPEC_WARNING = "`isinstance(treespec, LeafSpec)` is deprecated"
LEAF_SPEC_MODULE = r"lightning\.pytorch\.utilities\._pytree"


class LightningAdvertFilter(logging.Filter):
    """Drops Lightning's ``💡 Tip:`` adverts for litlogger / litmodels; passes every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith(ADVERT_PREFIX) and any(name in message for name in ADVERTISED))


def quiet_lightning() -> None:
    """Install the advert filter on Lightning's rank-zero loggers and ignore Lightning's LeafSpec warning."""
    for name in RANK_ZERO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, LightningAdvertFilter) for f in logger.filters):
            logger.addFilter(LightningAdvertFilter())
    warnings.filterwarnings(  # filterwarnings drops an identical earlier entry: calling it again adds nothing
        "ignore", message=re.escape(LEAF_SPEC_WARNING), category=FutureWarning, module=LEAF_SPEC_MODULE
    )
