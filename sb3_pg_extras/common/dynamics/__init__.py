"""Learned dynamics shared by the model-based algorithms (MBPO, SVG, MPPI): a batched Gaussian ensemble, its
normalizers, a trainer with holdout / early stopping / elites, closed- and open-loop imagined rollouts, the model
buffers, the choice of reward and termination functions, and the component an algorithm composes."""

from sb3_pg_extras.common.dynamics.buffers import (
    MixedReplayBuffer,
    ModelTransitionBuffer,
    real_transitions,
    sample_observations,
)
from sb3_pg_extras.common.dynamics.component import DynamicsComponent, DynamicsSettings
from sb3_pg_extras.common.dynamics.ensemble import (
    EnsembleLinear,
    GaussianEnsemble,
    forward_assigned,
    gaussian_nll,
    soft_bound_log_var,
)
from sb3_pg_extras.common.dynamics.functions import (
    KnownDynamics,
    TransitionFunctions,
    check_env_id,
    check_env_matches_functions,
    check_model_based_env,
    env_setting_overrides,
    resolve_transition_functions,
    unscale_actions,
    vec_env_id,
    with_scaled_actions,
)
from sb3_pg_extras.common.dynamics.model import DynamicsModel, Normalizer
from sb3_pg_extras.common.dynamics.rollout import ImaginedRollout, imagine_rollout, open_loop_rollout
from sb3_pg_extras.common.dynamics.schedule import ScheduledModelRefits
from sb3_pg_extras.common.dynamics.trainer import FitResult, default_weight_decay, fit_dynamics, holdout_mse
from sb3_pg_extras.common.dynamics.transitions import Transitions

__all__ = [
    "DynamicsComponent",
    "DynamicsModel",
    "DynamicsSettings",
    "EnsembleLinear",
    "FitResult",
    "GaussianEnsemble",
    "ImaginedRollout",
    "KnownDynamics",
    "MixedReplayBuffer",
    "ModelTransitionBuffer",
    "Normalizer",
    "ScheduledModelRefits",
    "TransitionFunctions",
    "Transitions",
    "check_env_id",
    "check_env_matches_functions",
    "check_model_based_env",
    "default_weight_decay",
    "env_setting_overrides",
    "fit_dynamics",
    "forward_assigned",
    "gaussian_nll",
    "holdout_mse",
    "imagine_rollout",
    "open_loop_rollout",
    "real_transitions",
    "resolve_transition_functions",
    "sample_observations",
    "soft_bound_log_var",
    "unscale_actions",
    "vec_env_id",
    "with_scaled_actions",
]
