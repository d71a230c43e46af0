"""Types shared by the env reward / termination functions and their registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch as th

TransitionFn = Callable[[th.Tensor, th.Tensor, th.Tensor], th.Tensor]
"""``fn(obs, action, next_obs) -> value``: a batched function of a transition, shapes (..., obs_dim), (..., act_dim),
(..., obs_dim) -> (...). The one type of every reward and termination function in the package."""

RewardFn = TransitionFn
"""``reward(obs, action, next_obs) -> reward``: a :data:`TransitionFn` returning a float tensor (...)."""

TerminationFn = TransitionFn
"""``termination(obs, action, next_obs) -> terminated``: a :data:`TransitionFn` returning a bool tensor (...)."""


def never_terminates(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    Termination function of envs that only end by time-limit truncation (rollouts recognize it and skip the
    termination mask).

    :param obs: observations, shape (..., obs_dim)
    :param action: actions, shape (..., act_dim)
    :param next_obs: next observations, shape (..., obs_dim)
    :return: all-False bool tensor, shape (...)
    """
    return th.zeros(next_obs.shape[:-1], dtype=th.bool, device=next_obs.device)


DynamicsFn = Callable[[th.Tensor, th.Tensor], th.Tensor]
"""``dynamics(obs, action) -> next_obs``: the env's transition as a batched torch function, shapes (..., obs_dim),
(..., act_dim) -> (..., obs_dim), actions in env units (for envs whose observation is their whole state)."""


@dataclass(frozen=True)
class EnvFunctions:
    """
    Batched torch reward and termination functions of one env (one exact, versioned id), for imagined transitions.

    Both functions take ``(obs, action, next_obs)`` with any leading batch shape, ``action`` in the env's own
    units (what ``env.step()`` receives, i.e. already unscaled from SB3's [-1, 1]), and use torch ops only, so
    they run on any device and are differentiable where the math is. ``termination`` is the ``terminated`` flag
    (failure / goal), never time-limit truncation.

    :param reward: reward function, returns a float tensor of the batch shape
    :param termination: termination function, returns a bool tensor of the batch shape
    :param exact_reward: True where the reward equals the env's up to float rounding; False where it needs state
        the observation lacks and an observation-based approximation is used (see ``note``)
    :param exact_termination: True where ``terminated`` always equals the env's; False where it can differ in
        documented corner cases (see ``note``)
    :param reward_atol: largest absolute reward error the tests accept against the real env on random-action
        rollouts (float rounding for exact rewards; the measured worst case, rounded up, for approximate ones)
    :param reward_mean_atol: bound on the mean absolute reward error over such rollouts (equal to
        ``reward_atol`` for exact rewards)
    :param note: what is approximated and why, the measured errors, and any observation clipping that matters
    :param dynamics: the env's own transition as a batched torch function of ``(obs, action)`` (None where the
        observation is not the whole state, e.g. MuJoCo envs); planners use it as a known model
    """

    reward: RewardFn
    termination: TerminationFn
    exact_reward: bool
    exact_termination: bool = True
    reward_atol: float = 1e-5
    reward_mean_atol: float = 1e-5
    note: str = ""
    dynamics: DynamicsFn | None = None
