"""Learned dynamics shared by the model-based algorithms (MBPO, SVG, MPPI): a batched Gaussian ensemble, its
normalisers, a trainer with holdout / early stopping / elites, and batched imagined rollouts."""

from sb3_pg_extras.common.dynamics.ensemble import (
    EnsembleLinear,
    GaussianEnsemble,
    forward_assigned,
    gaussian_nll,
    soft_bound_log_var,
)
from sb3_pg_extras.common.dynamics.model import DynamicsModel, Normalizer
from sb3_pg_extras.common.dynamics.rollout import ImaginedRollout, imagine_rollout
from sb3_pg_extras.common.dynamics.trainer import FitResult, Transitions, fit_dynamics, holdout_mse

__all__ = [
    "DynamicsModel",
    "EnsembleLinear",
    "FitResult",
    "GaussianEnsemble",
    "ImaginedRollout",
    "Normalizer",
    "Transitions",
    "fit_dynamics",
    "forward_assigned",
    "gaussian_nll",
    "holdout_mse",
    "imagine_rollout",
    "soft_bound_log_var",
]
