"""RelGAN's inverse-temperature schedules."""

import math

import pytest

from textgan.estimators.schedules import ADAPTS, InverseTemperatureSchedule

RISING = [adapt for adapt in ADAPTS if adapt != "no"]


@pytest.mark.parametrize("beta_max", [100.0, 1000.0])
@pytest.mark.parametrize("adapt", RISING)
def test_schedule_starts_at_one_rises_monotonically_and_reaches_beta_max(adapt, beta_max):
    horizon = 500
    schedule = InverseTemperatureSchedule(beta_max, adapt, horizon)
    values = [schedule(i) for i in range(horizon + 50)]
    # sigmoid starts at 1 + (beta_max - 1) / (1 + e^10), RelGAN's formula; every other one at exactly 1
    start_tolerance = (beta_max - 1) / (1 + math.exp(10)) if adapt == "sigmoid" else 1e-12
    assert values[0] == pytest.approx(1.0, abs=start_tolerance + 1e-12)
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))
    end_tolerance = (beta_max - 1) / (1 + math.exp(10)) if adapt == "sigmoid" else 1e-9
    assert values[horizon] == pytest.approx(beta_max, abs=end_tolerance + 1e-9)
    assert max(values) <= beta_max
    assert values[horizon // 2] < beta_max


def test_relgan_formulas_at_known_points():
    assert InverseTemperatureSchedule(100, "exp", 5000)(2000) == pytest.approx(100**0.4)  # COCO preset's end
    assert InverseTemperatureSchedule(1000, "lin", 11)(5) == pytest.approx(1 + 5 / 10 * 999)
    assert InverseTemperatureSchedule(100, "sigmoid", 1000)(500) == pytest.approx(1 + 99 / 2)
    assert InverseTemperatureSchedule(100, "quad", 11)(5) == pytest.approx(99 / 100 * 25 + 1)
    assert InverseTemperatureSchedule(100, "sqrt", 11)(4) == pytest.approx(99 / math.sqrt(10) * 2 + 1)
    assert InverseTemperatureSchedule(100, "log", 100)(9) == pytest.approx(
        1 + 99 / math.log(100) * math.log(10)
    )
    assert InverseTemperatureSchedule(7, "no", 100)(0) == 7


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="adapt='cubic'"):
        InverseTemperatureSchedule(100, "cubic", 10)
    with pytest.raises(ValueError, match="beta_max"):
        InverseTemperatureSchedule(0.5, "exp", 10)
