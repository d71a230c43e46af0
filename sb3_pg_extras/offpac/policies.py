"""
OffPAC's policies: a categorical actor with Q(s, .) critics for Discrete actions (``common/policies.py``) and SB3's
SAC policy (squashed Gaussian actor, Q(s, a) critics) for Box actions, both with target critics. The names
``MlpPolicy`` / ``CnnPolicy`` / ``MultiInputPolicy`` pick the right one for the env's action space.
"""

from __future__ import annotations

from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.sac.policies import CnnPolicy as SACCnnPolicy
from stable_baselines3.sac.policies import MlpPolicy as SACMlpPolicy
from stable_baselines3.sac.policies import MultiInputPolicy as SACMultiInputPolicy
from stable_baselines3.sac.policies import SACPolicy

from sb3_pg_extras.common.policies import CategoricalQCnnPolicy, CategoricalQMultiInputPolicy, CategoricalQPolicy

# The aliases name the discrete policies; a Box action space swaps each for its SAC counterpart.
MlpPolicy = CategoricalQPolicy
CnnPolicy = CategoricalQCnnPolicy
MultiInputPolicy = CategoricalQMultiInputPolicy
_CONTINUOUS_COUNTERPART: dict[type[BasePolicy], type[BasePolicy]] = {
    CategoricalQPolicy: SACMlpPolicy,
    CategoricalQCnnPolicy: SACCnnPolicy,
    CategoricalQMultiInputPolicy: SACMultiInputPolicy,
}


def policy_for_action_space(policy_class: type[BasePolicy], action_space: spaces.Space) -> type[BasePolicy]:
    """The policy class to build for ``action_space``, or a ValueError when the class cannot act in it."""
    if isinstance(action_space, spaces.Box):
        policy_class = _CONTINUOUS_COUNTERPART.get(policy_class, policy_class)
        if not issubclass(policy_class, SACPolicy) or issubclass(policy_class, CategoricalQPolicy):
            raise ValueError(
                f"OffPAC with a Box action space needs a squashed-Gaussian SAC-style policy (SACPolicy or a subclass, "
                f"or the name 'MlpPolicy'), got {policy_class.__name__}."
            )
    elif not issubclass(policy_class, CategoricalQPolicy):
        raise ValueError(
            f"OffPAC with a Discrete action space needs a categorical policy (CategoricalQPolicy or a subclass, or "
            f"the name 'MlpPolicy'), got {policy_class.__name__}."
        )
    return policy_class


__all__ = ["CnnPolicy", "MlpPolicy", "MultiInputPolicy", "policy_for_action_space"]
