"""Gradient estimators: how a generator loss is obtained through discrete sampling.

Every estimator estimates the gradient of the configured GAN loss's generator loss (see ``base.py``):
relaxed (RelGAN's Gumbel-Softmax), straight-through (Gumbel-Rao, GST, ReinMax), score function (REINFORCE with
SeqGAN's rollouts and baselines) and score function with learned control variates (REBAR, RELAX). The model
zoo's schemes change the objective as their papers do, on the same seam: MaliGAN, DGSAN, JSDGAN, CoT, DPGAN,
RankGAN and TextGAN's feature matching, and the class-conditional SentiGAN and CatGAN.
"""

from textgan.estimators.base import Estimator, EstimatorOutput
from textgan.estimators.catgan import CatganEstimator
from textgan.estimators.cot import CotEstimator
from textgan.estimators.dgsan import DgsanEstimator
from textgan.estimators.dpgan import DpganEstimator
from textgan.estimators.gst import GappedStraightThroughEstimator
from textgan.estimators.gumbel_rao import GumbelRaoEstimator
from textgan.estimators.gumbel_softmax import GumbelSoftmaxEstimator
from textgan.estimators.jsdgan import JsdganEstimator
from textgan.estimators.maligan import MaliganEstimator
from textgan.estimators.rankgan import RankganEstimator
from textgan.estimators.rebar import RebarEstimator
from textgan.estimators.reinforce import ReinforceEstimator
from textgan.estimators.reinmax import ReinMaxEstimator
from textgan.estimators.relax import RelaxEstimator
from textgan.estimators.schedules import InverseTemperatureSchedule
from textgan.estimators.sentigan import SentiganEstimator
from textgan.estimators.textgan_mmd import TextganMmdEstimator

__all__ = [
    "CatganEstimator",
    "CotEstimator",
    "DgsanEstimator",
    "DpganEstimator",
    "Estimator",
    "EstimatorOutput",
    "GappedStraightThroughEstimator",
    "GumbelRaoEstimator",
    "GumbelSoftmaxEstimator",
    "InverseTemperatureSchedule",
    "JsdganEstimator",
    "MaliganEstimator",
    "RankganEstimator",
    "RebarEstimator",
    "ReinMaxEstimator",
    "ReinforceEstimator",
    "RelaxEstimator",
    "SentiganEstimator",
    "TextganMmdEstimator",
]
