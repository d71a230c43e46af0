"""
Reward and termination functions of gymnasium's classic-control envs with continuous actions.

Formulas follow ``gymnasium/envs/classic_control/pendulum.py`` and ``continuous_mountain_car.py``
(gymnasium 1.x, default constructor arguments). Shapes: obs / next_obs (..., obs_dim), action (..., act_dim).
"""

from __future__ import annotations

import torch as th

from sb3_pg_extras.envs.base import EnvFunctions, never_terminates

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
    torque = action[..., 0]
    torque = torque.clamp(-PENDULUM_MAX_TORQUE, PENDULUM_MAX_TORQUE)
    return -(theta.square() + 0.1 * theta_dot.square() + 0.001 * torque.square())


PENDULUM_MAX_SPEED, PENDULUM_DT, PENDULUM_G = 8.0, 0.05, 10.0


def pendulum_dynamics(obs: th.Tensor, action: th.Tensor) -> th.Tensor:
    """
    ``Pendulum-v1``'s transition (m = l = 1): ``theta_dot' = clip(theta_dot + (3 g / 2 sin(theta) + 3 u) dt, +-8)``,
    ``theta' = theta + theta_dot' dt``, with the torque clipped to [-2, 2]; returns ``[cos, sin, theta_dot]``.

    :param obs: observations ``[cos(theta), sin(theta), theta_dot]``, shape (..., 3)
    :param action: torques, shape (..., 1)
    :return: next observations, shape (..., 3)
    """
    theta = th.atan2(obs[..., 1], obs[..., 0])
    torque = action[..., 0]
    torque = torque.clamp(-PENDULUM_MAX_TORQUE, PENDULUM_MAX_TORQUE)
    theta_dot = obs[..., 2] + (1.5 * PENDULUM_G * th.sin(theta) + 3.0 * torque) * PENDULUM_DT
    theta_dot = theta_dot.clamp(-PENDULUM_MAX_SPEED, PENDULUM_MAX_SPEED)
    theta = theta + theta_dot * PENDULUM_DT
    return th.stack([th.cos(theta), th.sin(theta), theta_dot], dim=-1)


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
    ctrl_cost = action[..., 0]
    ctrl_cost = 0.1 * ctrl_cost.square()
    goal_bonus = 100.0 * mountain_car_termination(obs, action, next_obs).to(ctrl_cost.dtype)
    return goal_bonus - ctrl_cost


MOUNTAIN_CAR_POWER, MOUNTAIN_CAR_MAX_SPEED, MOUNTAIN_CAR_MIN_POSITION, MOUNTAIN_CAR_MAX_POSITION = 0.0015, 0.07, -1.2, 0.6


def mountain_car_dynamics(obs: th.Tensor, action: th.Tensor) -> th.Tensor:
    """
    ``MountainCarContinuous-v0``'s transition: ``v' = clip(v + 0.0015 clip(a, -1, 1) - 0.0025 cos(3 x), +-0.07)``,
    ``x' = clip(x + v', -1.2, 0.6)``, and ``v' = 0`` where the car stops against the left wall moving left.

    :param obs: observations ``[position, velocity]``, shape (..., 2)
    :param action: actions, shape (..., 1)
    :return: next observations, shape (..., 2)
    """
    position, velocity = obs[..., 0], obs[..., 1]
    force = action[..., 0]
    force = force.clamp(-1.0, 1.0)
    velocity = velocity + force * MOUNTAIN_CAR_POWER - 0.0025 * th.cos(3 * position)
    velocity = velocity.clamp(-MOUNTAIN_CAR_MAX_SPEED, MOUNTAIN_CAR_MAX_SPEED)
    position = (position + velocity).clamp(MOUNTAIN_CAR_MIN_POSITION, MOUNTAIN_CAR_MAX_POSITION)
    wall = MOUNTAIN_CAR_MIN_POSITION
    stop = (position == wall) & (velocity < 0)
    velocity = th.where(stop, th.zeros_like(velocity), velocity)
    return th.stack([position, velocity], dim=-1)


CLASSIC_ENV_FUNCTIONS: dict[str, EnvFunctions] = {
    "Pendulum-v1": EnvFunctions(
        reward=pendulum_reward,
        termination=never_terminates,
        exact_reward=True,
        note="Exact; uses obs (state before the step) and the clipped torque. Never terminates (time limit only).",
        dynamics=pendulum_dynamics,
    ),
    "MountainCarContinuous-v0": EnvFunctions(
        reward=mountain_car_reward,
        termination=mountain_car_termination,
        exact_reward=True,
        note=(
            "Exact; the goal test reads next_obs (a position within one float32 rounding step, ~3e-8, of 0.45 "
            "could be judged differently depending on the dtype)."
        ),
        dynamics=mountain_car_dynamics,
    ),
}
