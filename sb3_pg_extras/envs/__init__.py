"""
Batched torch reward and termination functions of gymnasium envs, keyed by exact, versioned env id, for
model-based algorithms that score imagined transitions (MBPO, SVG, MPPI).

Every function takes ``(obs, action, next_obs)`` of shapes (..., obs_dim), (..., act_dim), (..., obs_dim), with
``action`` in the env's own units (what ``env.step()`` receives), and returns a float reward or a bool
``terminated`` tensor of shape (...). :class:`EnvFunctions` records whether each one is exact or an
observation-based approximation, and how large its error is.

>>> from sb3_pg_extras.envs import get_env_functions
>>> functions = get_env_functions("HalfCheetah-v5")  # None for "HalfCheetah-v4": ids are matched exactly
"""

from sb3_pg_extras.envs.base import DynamicsFn, EnvFunctions, RewardFn, TerminationFn, TransitionFn
from sb3_pg_extras.envs.registry import (
    ENV_FUNCTIONS,
    UnknownEnvFunctionsError,
    get_env_functions,
    register_env_functions,
    require_env_functions,
)

__all__ = [
    "ENV_FUNCTIONS",
    "DynamicsFn",
    "EnvFunctions",
    "RewardFn",
    "TerminationFn",
    "TransitionFn",
    "UnknownEnvFunctionsError",
    "get_env_functions",
    "register_env_functions",
    "require_env_functions",
]
