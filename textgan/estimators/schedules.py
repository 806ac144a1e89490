"""RelGAN's inverse-temperature schedules for Gumbel-Softmax: beta rises from 1 towards ``beta_max``.

The formulas are RelGAN's ``get_fixed_temperature`` (weilinie/RelGAN, real_train.py), with ``i`` the
adversarial step and ``N`` the horizon::

    no       beta_max                                   (fixed, any beta_max > 0: tau = 1 / beta_max)
    lin      1 + i / (N - 1) * (beta_max - 1)
    exp      beta_max ** (i / N)
    log      1 + (beta_max - 1) / log(N) * log(i + 1)
    sigmoid  (beta_max - 1) / (1 + exp((N / 2 - i) * 20 / N)) + 1
    quad     (beta_max - 1) / (N - 1) ** 2 * i ** 2 + 1
    sqrt     (beta_max - 1) / sqrt(N - 1) * sqrt(i) + 1

Past the horizon the value is held at ``beta_max`` (lin, log, quad and sqrt would overshoot it by one step).
The original code fixes ``N = 5000`` whatever the number of adversarial steps, so its COCO preset (2,000 steps)
ends at ``100 ** 0.4 ~ 6.3``; here ``horizon`` defaults to the run's adversarial steps, and the
paper-reproduction presets set 5000.
"""

from __future__ import annotations

import math

from textgan.config_ranges import Arguments, Refusals, integer, number, one_of

ADAPTS = ("no", "lin", "exp", "log", "sigmoid", "quad", "sqrt")


class InverseTemperatureSchedule:
    """``schedule(step) -> beta`` for one of RelGAN's ``adapt`` policies."""

    config_ranges = {"beta_max": number(0, above=True), "adapt": one_of(*ADAPTS), "horizon": integer(2)}

    @classmethod
    def config_relations(cls, arguments: Arguments) -> Refusals:
        beta_max, adapt = arguments["beta_max"], arguments["adapt"]
        if adapt != "no" and beta_max < 1:  # a rising schedule starts at 1
            yield "beta_max", f"a number >= 1 with adapt={adapt!r}"

    def __init__(self, beta_max: float = 100.0, adapt: str = "exp", horizon: int = 5000) -> None:
        if adapt not in ADAPTS:
            raise ValueError(f"unknown schedule adapt={adapt!r}; choose one of {', '.join(ADAPTS)}")
        if adapt != "no" and beta_max < 1:
            raise ValueError(f"beta_max must be >= 1 (an inverse temperature rising from 1), got {beta_max}")
        if beta_max <= 0:
            raise ValueError(f"beta_max must be > 0 (adapt='no' fixes beta = beta_max = 1 / tau), got {beta_max}")
        if horizon < 2:
            raise ValueError(f"horizon must be >= 2 steps, got {horizon}")
        self.beta_max, self.adapt, self.horizon = float(beta_max), adapt, int(horizon)

    def __call__(self, step: int) -> float:
        i, n, top = float(step), float(self.horizon), self.beta_max
        if self.adapt == "no":
            return top
        if self.adapt == "lin":
            beta = 1 + i / (n - 1) * (top - 1)
        elif self.adapt == "exp":
            beta = top ** (i / n)
        elif self.adapt == "log":
            beta = 1 + (top - 1) / math.log(n) * math.log(i + 1)
        elif self.adapt == "sigmoid":
            beta = (top - 1) / (1 + math.exp((n / 2 - i) * 20 / n)) + 1
        elif self.adapt == "quad":
            beta = (top - 1) / (n - 1) ** 2 * i**2 + 1
        else:  # sqrt
            beta = (top - 1) / math.sqrt(n - 1) * math.sqrt(i) + 1
        return min(beta, top)

    def __repr__(self) -> str:
        return f"InverseTemperatureSchedule(beta_max={self.beta_max}, adapt={self.adapt!r}, horizon={self.horizon})"
