"""Gradient estimators: how a generator loss is obtained through discrete sampling."""

from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.estimators.gumbel_softmax import GumbelSoftmaxEstimator
from textgan.estimators.reinforce import ReinforceEstimator
from textgan.estimators.schedules import InverseTemperatureSchedule

__all__ = [
    "Estimator",
    "EstimatorOutput",
    "GumbelSoftmaxEstimator",
    "InverseTemperatureSchedule",
    "ReinforceEstimator",
]
