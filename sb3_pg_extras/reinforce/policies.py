"""
REINFORCE uses SB3's actor-critic policies unchanged: the actor is the policy, the critic head is the
learned state-value baseline V_phi(s). REINFORCE gives the baseline its own optimizer (see
``REINFORCE._setup_model``).
"""

from stable_baselines3.common.policies import ActorCriticCnnPolicy, ActorCriticPolicy, MultiInputActorCriticPolicy

MlpPolicy = ActorCriticPolicy
CnnPolicy = ActorCriticCnnPolicy
MultiInputPolicy = MultiInputActorCriticPolicy

__all__ = ["CnnPolicy", "MlpPolicy", "MultiInputPolicy"]
