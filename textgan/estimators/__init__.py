"""Gradient estimators: how a generator loss is obtained through discrete sampling.

Every estimator estimates the gradient of the configured GAN loss's generator loss (see ``base.py``):
relaxed (RelGAN's Gumbel-Softmax), straight-through (Gumbel-Rao, GST, ReinMax), score function (REINFORCE with
SeqGAN's rollouts and baselines) and score function with learned control variates (REBAR, RELAX).
"""

from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.estimators.gst import GappedStraightThroughEstimator
from textgan.estimators.gumbel_rao import GumbelRaoEstimator
from textgan.estimators.gumbel_softmax import GumbelSoftmaxEstimator
from textgan.estimators.rebar import RebarEstimator
from textgan.estimators.reinforce import ReinforceEstimator
from textgan.estimators.reinmax import ReinMaxEstimator
from textgan.estimators.relax import RelaxEstimator
from textgan.estimators.schedules import InverseTemperatureSchedule

__all__ = [
    "Estimator",
    "EstimatorOutput",
    "GappedStraightThroughEstimator",
    "GumbelRaoEstimator",
    "GumbelSoftmaxEstimator",
    "InverseTemperatureSchedule",
    "RebarEstimator",
    "ReinMaxEstimator",
    "ReinforceEstimator",
    "RelaxEstimator",
]
