"""MPPI plans at every step and learns no policy network: its policy object only carries the spaces and SB3's action
scaling, so that the SB3 machinery (``predict``, save / load, the zoo) works unchanged."""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule


class MPPIPolicy(BasePolicy):
    """A parameter-free policy: actions come from the algorithm's planner (:meth:`sb3_pg_extras.MPPI.predict`).

    :param observation_space: observation space
    :param action_space: Box action space
    :param lr_schedule: unused (no parameters to optimize)
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, lr_schedule: Schedule, **kwargs: Any):
        super().__init__(observation_space, action_space, squash_output=False, **kwargs)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        raise RuntimeError("MPPI plans its actions: call MPPI.predict(), not the policy's.")

    def forward(self, *args: Any, **kwargs: Any) -> th.Tensor:
        raise RuntimeError("MPPI plans its actions: call MPPI.predict(), not the policy's.")


MlpPolicy = MPPIPolicy

__all__ = ["MPPIPolicy", "MlpPolicy"]
