"""
Reward and termination functions of gymnasium's MuJoCo ``-v5`` envs, with their default constructor arguments
(``exclude_current_positions_from_observation=True``, default weights and healthy ranges).

Formulas follow ``gymnasium/envs/mujoco/*_v5.py`` (gymnasium 1.x). Shapes: obs / next_obs (..., obs_dim),
action (..., act_dim); ``action`` is what ``env.step()`` receives (the control costs use it unclipped, as the
envs do). Everything that reads the state after the step reads ``next_obs``.

**Forward reward.** The locomotion envs reward ``(x_after - x_before) / dt``, but x is excluded from the
observation. The observation has the x-velocity ``qvel[0]`` before (``obs``) and after (``next_obs``) the step,
so the mean velocity over the step is estimated by interpolating the two: ``v0 + w * (v1 - v0)``.

- RK4 envs (Hopper, Walker2d, Swimmer, Ant): ``w = 1/2`` (trapezoid rule for the integral of the velocity).
- Semi-implicit Euler (HalfCheetah, ``frame_skip`` n = 5): each substep moves ``x`` by ``h * v_k`` with the
  *updated* velocity, so ``dx / dt = mean(v_1, ..., v_n)``; a velocity changing linearly over the step gives
  ``w = (n + 1) / (2 n) = 0.6``.

Both weights were checked against a sweep of ``w`` on random-action rollouts: 1/2 minimizes the mean error of
every RK4 env; HalfCheetah's empirical optimum is ~0.7 (contacts do not change the velocity linearly), but 0.6
is kept because it is derived rather than fitted to random actions (mean error 0.089 vs 0.065 at 0.7, 0.14 at
1/2 and 0.22 for ``next_obs`` alone). Errors below are measured with uniform random actions, 3000 steps for
each of seeds 0-7 (24,000 transitions per env); a policy that runs faster may see larger absolute errors.
"""

from __future__ import annotations

import torch as th

from sb3_pg_extras.envs.base import EnvFunctions
from sb3_pg_extras.envs.classic import never_terminates


def _mean_step_velocity(obs: th.Tensor, next_obs: th.Tensor, index: int, next_weight: float) -> th.Tensor:
    """
    Estimate of the mean velocity over one env step from the velocities before and after it.

    :param obs: observations, shape (..., obs_dim)
    :param next_obs: next observations, shape (..., obs_dim)
    :param index: position of the velocity in the observation
    :param next_weight: interpolation weight ``w`` of the velocity after the step
    :return: ``v0 + w * (v1 - v0)``, shape (...)
    """
    before = obs[..., index]
    return before + next_weight * (next_obs[..., index] - before)


def _control_cost(action: th.Tensor, weight: float) -> th.Tensor:
    """
    Quadratic control cost ``weight * sum(a^2)`` of the MuJoCo envs.

    :param action: actions, shape (..., act_dim)
    :param weight: ``ctrl_cost_weight``
    :return: costs, shape (...)
    """
    return weight * action.square().sum(dim=-1)


# ---------------------------------------------------------------------------------------------------------------
# InvertedPendulum-v5: obs = [cart x, pole angle, cart velocity, pole angular velocity] (qpos, qvel), 4 dims.
# ---------------------------------------------------------------------------------------------------------------


def inverted_pendulum_termination(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    Exact ``InvertedPendulum-v5`` termination: the pole leaves ``|angle| <= 0.2`` or the state is not finite.

    :param obs: observations, shape (..., 4)
    :param action: actions, shape (..., 1)
    :param next_obs: next observations, shape (..., 4)
    :return: terminated flags, shape (...)
    """
    return ~th.isfinite(next_obs).all(dim=-1) | (next_obs[..., 1].abs() > 0.2)


def inverted_pendulum_reward(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    Exact ``InvertedPendulum-v5`` reward: 1 while the pole is up, 0 on the terminating step (v5 semantics).

    :param obs: observations, shape (..., 4)
    :param action: actions, shape (..., 1)
    :param next_obs: next observations, shape (..., 4)
    :return: rewards, shape (...)
    """
    return (~inverted_pendulum_termination(obs, action, next_obs)).to(next_obs.dtype)


# ---------------------------------------------------------------------------------------------------------------
# InvertedDoublePendulum-v5: obs = [cart x, sin q1, sin q2, cos q1, cos q2, clip(qvel, +-10) (3),
# clip(qfrc_constraint[0], +-10)], 9 dims. Two 0.6 m poles hinged about the y axis; the tip site is on top.
# ---------------------------------------------------------------------------------------------------------------

_IDP_POLE_LENGTH = 0.6


def _idp_tip(next_obs: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
    """
    Tip position ``(x, height)`` of the double pendulum from the observation (forward kinematics).

    :param next_obs: observations, shape (..., 9)
    :return: tip x and tip height, each shape (...)
    """
    cart_x, sin1, sin2, cos1, cos2 = (next_obs[..., i] for i in range(5))
    # sin / cos of the absolute angle of the second pole, q1 + q2
    sin12 = sin1 * cos2 + cos1 * sin2
    cos12 = cos1 * cos2 - sin1 * sin2
    tip_x = cart_x + _IDP_POLE_LENGTH * (sin1 + sin12)
    tip_height = _IDP_POLE_LENGTH * (cos1 + cos12)
    return tip_x, tip_height


def inverted_double_pendulum_termination(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    ``InvertedDoublePendulum-v5`` termination: the tip height falls to 1 or below.

    Computed from the end-of-step joint angles. The env reads the tip site position that MuJoCo's RK4 step leaves
    behind, which is the kinematics of its last intermediate stage, within ~1e-4 (mean ~1.4e-5) of the end-of-step
    one, so a tip within that distance of height 1 could be judged differently (no mismatch in 3,700 random-action
    terminations).

    :param obs: observations, shape (..., 9)
    :param action: actions, shape (..., 1)
    :param next_obs: next observations, shape (..., 9)
    :return: terminated flags, shape (...)
    """
    _, tip_height = _idp_tip(next_obs)
    return tip_height <= 1.0


def inverted_double_pendulum_reward(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    ``InvertedDoublePendulum-v5`` reward: ``10 * alive - (0.01 * x_tip^2 + (y_tip - 2)^2) - (1e-3 * w1^2 + 5e-3 * w2^2)``.

    Approximate only through the tip position (see :func:`inverted_double_pendulum_termination`; reward error
    below 2e-4, up to ~0.013 while the cart is pressed against its rail limit) and through the observation's
    clipping of the joint velocities ``w1``, ``w2`` to +-10: above that the velocity penalty is underestimated.
    Measured on random actions: max error 0.14 (a clipped velocity), mean 3e-5.

    :param obs: observations, shape (..., 9)
    :param action: actions, shape (..., 1)
    :param next_obs: next observations, shape (..., 9)
    :return: rewards, shape (...)
    """
    tip_x, tip_height = _idp_tip(next_obs)
    alive = (tip_height > 1.0).to(next_obs.dtype)
    distance_penalty = 0.01 * tip_x.square() + (tip_height - 2.0).square()
    velocity_penalty = 1e-3 * next_obs[..., 6].square() + 5e-3 * next_obs[..., 7].square()
    return 10.0 * alive - distance_penalty - velocity_penalty


# ---------------------------------------------------------------------------------------------------------------
# HalfCheetah-v5: obs = qpos[1:9] (8) + qvel[0:9] (9), 17 dims; x-velocity qvel[0] at index 8.
# ---------------------------------------------------------------------------------------------------------------

# frame_skip = 5 semi-implicit Euler substeps: (n + 1) / (2 n), see the module docstring
_HALF_CHEETAH_NEXT_WEIGHT = 0.6


def half_cheetah_reward(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    Approximate ``HalfCheetah-v5`` reward: ``forward_velocity - 0.1 * sum(a^2)``.

    The forward velocity ``(x_after - x_before) / dt`` is estimated as ``0.4 * obs[8] + 0.6 * next_obs[8]``
    (see the module docstring). Measured on random actions: max error 0.64, mean 0.089 (reward std 0.66).

    :param obs: observations, shape (..., 17)
    :param action: actions, shape (..., 6)
    :param next_obs: next observations, shape (..., 17)
    :return: rewards, shape (...)
    """
    forward_velocity = _mean_step_velocity(obs, next_obs, 8, _HALF_CHEETAH_NEXT_WEIGHT)
    return forward_velocity - _control_cost(action, 0.1)


# ---------------------------------------------------------------------------------------------------------------
# Hopper-v5: obs = qpos[1:6] (z, torso angle, 3 joints) + clip(qvel[0:6], +-10), 11 dims; x-velocity at index 5.
# ---------------------------------------------------------------------------------------------------------------


def hopper_is_healthy(next_obs: th.Tensor) -> th.Tensor:
    """
    ``Hopper-v5`` health check on the state after the step: ``z > 0.7``, ``|torso angle| < 0.2`` and every entry
    of ``state_vector()[2:]`` (qpos[2:] and qvel) inside (-100, 100).

    The observation clips qvel to +-10, so a joint speed of 100 or more (a simulation blow-up) cannot be seen
    and is judged healthy; every other part is exact. NaNs are unhealthy, as in the env.

    :param next_obs: observations, shape (..., 11)
    :return: healthy flags, shape (...)
    """
    z, angle, state = next_obs[..., 0], next_obs[..., 1], next_obs[..., 1:]
    healthy_state = ((state > -100.0) & (state < 100.0)).all(dim=-1)
    return healthy_state & (z > 0.7) & (z < float("inf")) & (angle > -0.2) & (angle < 0.2)


def hopper_termination(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    ``Hopper-v5`` termination: not :func:`hopper_is_healthy` after the step (exact unless a speed reaches 100).

    :param obs: observations, shape (..., 11)
    :param action: actions, shape (..., 3)
    :param next_obs: next observations, shape (..., 11)
    :return: terminated flags, shape (...)
    """
    return ~hopper_is_healthy(next_obs)


def hopper_reward(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    Approximate ``Hopper-v5`` reward: ``forward_velocity + 1 * healthy - 1e-3 * sum(a^2)``.

    v5 pays the healthy reward only while healthy (0 on the terminating step). The forward velocity is
    estimated as ``(obs[5] + next_obs[5]) / 2`` (velocities clipped to +-10 in the observation; random actions
    stay below 2). Measured on random actions: max error 0.053, mean 0.0016 (reward std 0.49).

    :param obs: observations, shape (..., 11)
    :param action: actions, shape (..., 3)
    :param next_obs: next observations, shape (..., 11)
    :return: rewards, shape (...)
    """
    forward_velocity = _mean_step_velocity(obs, next_obs, 5, 0.5)
    healthy = hopper_is_healthy(next_obs).to(forward_velocity.dtype)
    return forward_velocity + healthy - _control_cost(action, 1e-3)


# ---------------------------------------------------------------------------------------------------------------
# Walker2d-v5: obs = qpos[1:9] (z, torso angle, 6 joints) + clip(qvel[0:9], +-10), 17 dims; x-velocity at index 8.
# ---------------------------------------------------------------------------------------------------------------


def walker2d_is_healthy(next_obs: th.Tensor) -> th.Tensor:
    """
    Exact ``Walker2d-v5`` health check on the state after the step: ``0.8 < z < 2`` and ``-1 < torso angle < 1``.

    :param next_obs: observations, shape (..., 17)
    :return: healthy flags, shape (...)
    """
    z, angle = next_obs[..., 0], next_obs[..., 1]
    return (z > 0.8) & (z < 2.0) & (angle > -1.0) & (angle < 1.0)


def walker2d_termination(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    Exact ``Walker2d-v5`` termination: not :func:`walker2d_is_healthy` after the step.

    :param obs: observations, shape (..., 17)
    :param action: actions, shape (..., 6)
    :param next_obs: next observations, shape (..., 17)
    :return: terminated flags, shape (...)
    """
    return ~walker2d_is_healthy(next_obs)


def walker2d_reward(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    Approximate ``Walker2d-v5`` reward: ``forward_velocity + 1 * healthy - 1e-3 * sum(a^2)``.

    The forward velocity is estimated as ``(obs[8] + next_obs[8]) / 2`` (velocities clipped to +-10 in the
    observation). Measured on random actions: max error 0.17, mean 0.0078 (reward std 0.59).

    :param obs: observations, shape (..., 17)
    :param action: actions, shape (..., 6)
    :param next_obs: next observations, shape (..., 17)
    :return: rewards, shape (...)
    """
    forward_velocity = _mean_step_velocity(obs, next_obs, 8, 0.5)
    healthy = walker2d_is_healthy(next_obs).to(forward_velocity.dtype)
    return forward_velocity + healthy - _control_cost(action, 1e-3)


# ---------------------------------------------------------------------------------------------------------------
# Swimmer-v5: obs = qpos[2:5] (body angle, 2 joints) + qvel[0:5], 8 dims; x-velocity at index 3.
# ---------------------------------------------------------------------------------------------------------------


def swimmer_reward(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    Approximate ``Swimmer-v5`` reward: ``forward_velocity - 1e-4 * sum(a^2)``.

    The forward velocity is estimated as ``(obs[3] + next_obs[3]) / 2``. Measured on random actions: max error
    0.36, mean 0.006 (reward std 0.41; rare large errors when the root velocity changes sharply).

    :param obs: observations, shape (..., 8)
    :param action: actions, shape (..., 2)
    :param next_obs: next observations, shape (..., 8)
    :return: rewards, shape (...)
    """
    return _mean_step_velocity(obs, next_obs, 3, 0.5) - _control_cost(action, 1e-4)


# ---------------------------------------------------------------------------------------------------------------
# Ant-v5: obs = qpos[2:15] (z, quaternion, 8 joints) + qvel[0:14] + clip(cfrc_ext[1:], +-1) (13 bodies x 6),
# 105 dims; x-velocity at index 13, contact forces at 27:.
# ---------------------------------------------------------------------------------------------------------------

_ANT_STATE_DIM = 27


def ant_is_healthy(next_obs: th.Tensor) -> th.Tensor:
    """
    Exact ``Ant-v5`` health check on the state after the step: finite state and ``0.2 <= z <= 1``.

    The env also tests the (unobserved) x, y for finiteness; they cannot be infinite while the rest is finite.

    :param next_obs: observations, shape (..., 105)
    :return: healthy flags, shape (...)
    """
    z = next_obs[..., 0]
    return th.isfinite(next_obs[..., :_ANT_STATE_DIM]).all(dim=-1) & (z >= 0.2) & (z <= 1.0)


def ant_termination(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    Exact ``Ant-v5`` termination: not :func:`ant_is_healthy` after the step.

    :param obs: observations, shape (..., 105)
    :param action: actions, shape (..., 8)
    :param next_obs: next observations, shape (..., 105)
    :return: terminated flags, shape (...)
    """
    return ~ant_is_healthy(next_obs)


def ant_reward(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """
    Approximate ``Ant-v5`` reward: ``forward_velocity + 1 * healthy - 0.5 * sum(a^2) - 5e-4 * sum(contact^2)``.

    The contact cost is exact: the observation holds the same clipped external forces (the world body's,
    left out, are zero). The forward velocity of the torso is estimated as ``(obs[13] + next_obs[13]) / 2``.
    Measured on random actions: max error 0.74, mean 0.049 (reward std 0.77; the ant bounces on its contacts).

    :param obs: observations, shape (..., 105)
    :param action: actions, shape (..., 8)
    :param next_obs: next observations, shape (..., 105)
    :return: rewards, shape (...)
    """
    forward_velocity = _mean_step_velocity(obs, next_obs, 13, 0.5)
    healthy = ant_is_healthy(next_obs).to(forward_velocity.dtype)
    contact_cost = 5e-4 * next_obs[..., _ANT_STATE_DIM:].square().sum(dim=-1)
    return forward_velocity + healthy - _control_cost(action, 0.5) - contact_cost


MUJOCO_ENV_FUNCTIONS: dict[str, EnvFunctions] = {
    "InvertedPendulum-v5": EnvFunctions(
        reward=inverted_pendulum_reward,
        termination=inverted_pendulum_termination,
        exact_reward=True,
        note="Exact: reward 1 per step, 0 on the terminating step; terminates when |pole angle| > 0.2.",
    ),
    "InvertedDoublePendulum-v5": EnvFunctions(
        reward=inverted_double_pendulum_reward,
        termination=inverted_double_pendulum_termination,
        exact_reward=False,
        exact_termination=False,
        reward_atol=0.2,
        reward_mean_atol=2e-4,
        note=(
            "Tip position from the end-of-step angles; the env uses MuJoCo's last RK4 stage kinematics (~1e-4 off; "
            "~0.01 at the rail limit), and a tip within ~1e-4 of height 1 could terminate differently. Joint velocities "
            "are clipped to +-10 in obs: above that the velocity penalty is underestimated. Random actions: max "
            "error 0.14 (clipped velocity), mean 3e-5."
        ),
    ),
    "HalfCheetah-v5": EnvFunctions(
        reward=half_cheetah_reward,
        termination=never_terminates,
        exact_reward=False,
        reward_atol=1.0,
        reward_mean_atol=0.12,
        note=(
            "Forward velocity (x is not observed) estimated as 0.4 * obs[8] + 0.6 * next_obs[8] (semi-implicit "
            "Euler, 5 substeps); random actions: max error 0.64, mean 0.089. Control cost exact. Never terminates."
        ),
    ),
    "Hopper-v5": EnvFunctions(
        reward=hopper_reward,
        termination=hopper_termination,
        exact_reward=False,
        exact_termination=False,
        reward_atol=0.1,
        reward_mean_atol=0.003,
        note=(
            "Forward velocity (x is not observed) estimated as (obs[5] + next_obs[5]) / 2; random actions: max error "
            "0.053, mean 0.0016. Healthy check exact except the |qvel| < 100 part (obs clips qvel to +-10)."
        ),
    ),
    "Walker2d-v5": EnvFunctions(
        reward=walker2d_reward,
        termination=walker2d_termination,
        exact_reward=False,
        reward_atol=0.3,
        reward_mean_atol=0.012,
        note=(
            "Forward velocity (x is not observed) estimated as (obs[8] + next_obs[8]) / 2; random actions: max error "
            "0.17, mean 0.0078. Healthy check (z, torso angle) exact."
        ),
    ),
    "Swimmer-v5": EnvFunctions(
        reward=swimmer_reward,
        termination=never_terminates,
        exact_reward=False,
        reward_atol=0.5,
        reward_mean_atol=0.01,
        note=(
            "Forward velocity (x is not observed) estimated as (obs[3] + next_obs[3]) / 2; random actions: max error "
            "0.36, mean 0.006. Never terminates."
        ),
    ),
    "Ant-v5": EnvFunctions(
        reward=ant_reward,
        termination=ant_termination,
        exact_reward=False,
        reward_atol=1.0,
        reward_mean_atol=0.08,
        note=(
            "Torso forward velocity (x is not observed) estimated as (obs[13] + next_obs[13]) / 2; random actions: "
            "max error 0.74, mean 0.049. Contact and control costs and the healthy check (z in [0.2, 1]) exact."
        ),
    ),
}
