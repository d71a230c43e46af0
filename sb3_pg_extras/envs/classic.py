"""
Reward and termination functions of gymnasium's classic-control envs with continuous actions.

Formulas follow ``gymnasium/envs/classic_control/pendulum.py`` and ``continuous_mountain_car.py``
(gymnasium 1.x, default constructor arguments). Shapes: obs / next_obs (..., obs_dim), action (..., act_dim).
"""

from __future__ import annotations

import torch as th

from sb3_pg_extras.envs.base import EnvFunctions


def never_terminates(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    Termination function of envs that only end by time-limit truncation.

    :param obs: observations, shape (..., obs_dim)
    :param action: actions, shape (..., act_dim)
    :param next_obs: next observations, shape (..., obs_dim)
    :return: all-False bool tensor, shape (...)
    """
    return th.zeros(next_obs.shape[:-1], dtype=th.bool, device=next_obs.device)


# Pendulum-v1 defaults: g=10, m=l=1, max_torque=2, max_speed=8, dt=0.05
PENDULUM_MAX_TORQUE = 2.0


def pendulum_reward(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    Exact ``Pendulum-v1`` reward: ``-(angle_normalize(theta)^2 + 0.1 * theta_dot^2 + 0.001 * u^2)``.

    The env charges the state *before* the step, so only ``obs`` and ``action`` are used. obs is
    ``[cos(theta), sin(theta), theta_dot]``; ``atan2(sin, cos)`` is ``angle_normalize(theta)`` (the two differ
    only at +-pi, where their squares agree). The torque is clipped to [-2, 2] as in the env, so the gradient
    w.r.t. the action is zero outside that range.

    :param obs: observations, shape (..., 3)
    :param action: torques, shape (..., 1)
    :param next_obs: unused, shape (..., 3)
    :return: rewards, shape (...)
    """
    theta = th.atan2(obs[..., 1], obs[..., 0])
    theta_dot = obs[..., 2]
    torque = action[..., 0].clamp(-PENDULUM_MAX_TORQUE, PENDULUM_MAX_TORQUE)
    return -(theta.square() + 0.1 * theta_dot.square() + 0.001 * torque.square())


# MountainCarContinuous-v0 defaults: goal_position=0.45, goal_velocity=0
MOUNTAIN_CAR_GOAL_POSITION = 0.45
MOUNTAIN_CAR_GOAL_VELOCITY = 0.0


def mountain_car_termination(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    ``MountainCarContinuous-v0`` termination: the car reached the flag, ``position >= 0.45 and velocity >= 0``
    after the step.

    The env compares its float32 state (float64 on the first step after a reset) with 0.45, so only a position
    within one float32 rounding step (~3e-8) of 0.45 could be judged differently, depending on the dtype of
    ``next_obs``; the velocity sign is preserved exactly.

    :param obs: observations, shape (..., 2)
    :param action: actions, shape (..., 1)
    :param next_obs: next observations ``[position, velocity]``, shape (..., 2)
    :return: terminated flags, shape (...)
    """
    return (next_obs[..., 0] >= MOUNTAIN_CAR_GOAL_POSITION) & (next_obs[..., 1] >= MOUNTAIN_CAR_GOAL_VELOCITY)


def mountain_car_reward(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    Exact ``MountainCarContinuous-v0`` reward: ``100 * reached_goal - 0.1 * a^2``.

    The env charges the *unclipped* action (it clips only the force), so no clipping here either.

    :param obs: observations, shape (..., 2)
    :param action: actions, shape (..., 1)
    :param next_obs: next observations, shape (..., 2)
    :return: rewards, shape (...)
    """
    ctrl_cost = 0.1 * action[..., 0].square()
    goal_bonus = 100.0 * mountain_car_termination(obs, action, next_obs).to(ctrl_cost.dtype)
    return goal_bonus - ctrl_cost


CLASSIC_ENV_FUNCTIONS: dict[str, EnvFunctions] = {
    "Pendulum-v1": EnvFunctions(
        reward=pendulum_reward,
        termination=never_terminates,
        exact_reward=True,
        note="Exact; uses obs (state before the step) and the clipped torque. Never terminates (time limit only).",
    ),
    "MountainCarContinuous-v0": EnvFunctions(
        reward=mountain_car_reward,
        termination=mountain_car_termination,
        exact_reward=True,
        note=(
            "Exact; the goal test reads next_obs (a position within one float32 rounding step, ~3e-8, of 0.45 "
            "could be judged differently depending on the dtype)."
        ),
    ),
}
