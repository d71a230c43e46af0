"""
What planning in the true MuJoCo simulator of an env needs: the simulator state behind an observation, and the
env's reward and termination computed from rolled-out simulator states exactly as the env's ``step()`` computes them.

Each :class:`SimulatorSpec` is keyed by an exact, versioned env id. The observations of these envs are the joint
positions without the root's horizontal position (and, for Hopper / Walker2d, velocities clipped to [-10, 10]);
the dynamics, rewards and terminations of these envs do not depend on that horizontal position, so it is set to 0.
Where a velocity is clipped in the observation (``velocity_clip``), the state behind the observation alone is exact
only while every velocity lies inside the clip; the planner's simulator restores a clipped velocity from its own
prediction of the step that led to the observation
(:meth:`~sb3_pg_extras.common.planning.simulator.SimulatorRollout.initial_state`).

The functions read the env's own settings (reward weights, healthy ranges) from its unwrapped instance, so an env
made with other keyword arguments is planned for with those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# (env, qpos_before, qpos_after, qvel_after, controls) -> rewards; arrays (..., nq), (..., nq), (..., nv), (..., nu)
StateRewardFn = Callable[[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
# (env, qpos_after, qvel_after) -> terminated, bool (...)
StateTerminationFn = Callable[[Any, np.ndarray, np.ndarray], np.ndarray]
# (env, observations (B, obs_dim)) -> qpos (B, nq), qvel (B, nv)
ObsToStateFn = Callable[[Any, np.ndarray], tuple[np.ndarray, np.ndarray]]
# (env, qpos (..., nq), qvel (..., nv)) -> observations (..., obs_dim), as the env's ``_get_obs()``
StateToObsFn = Callable[[Any, np.ndarray, np.ndarray], np.ndarray]
# env -> the reward the env pays for every step the robot stays alive (healthy)
AliveRewardFn = Callable[[Any], float]


def no_alive_reward(env: Any) -> float:
    return 0.0


@dataclass(frozen=True)
class SimulatorSpec:
    """
    :param obs_to_state: the simulator state (qpos, qvel) of a batch of observations
    :param state_to_obs: the observations of a batch of simulator states (what the env's ``_get_obs()`` returns)
    :param reward: the env's reward of each step from the states before and after it and the control
    :param termination: the env's ``terminated`` flag from the state after a step
    :param note: what the mapping cannot recover (clipped velocities)
    :param alive_reward: the env's reward for staying alive one step (its ``healthy_reward``; 0 where it never
        terminates), which a planner can charge for every step lost to a termination
    :param velocity_clip: the bound the observation clips the velocities to (None: not clipped)
    """

    obs_to_state: ObsToStateFn
    state_to_obs: StateToObsFn
    reward: StateRewardFn
    termination: StateTerminationFn
    note: str = ""
    alive_reward: AliveRewardFn = no_alive_reward
    velocity_clip: float | None = None


def _check_positions_excluded(env: Any) -> None:
    if not getattr(env, "_exclude_current_positions_from_observation", True):
        raise ValueError(
            "Planning in the simulator supports the default observation (without the root's x position): make the env "
            "with exclude_current_positions_from_observation=True."
        )


def _root_x_omitted(env: Any, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observation = qpos[1:] then qvel (clipped or not): qpos[0] (the x position) is set to 0."""
    _check_positions_excluded(env)
    nq, nv = env.model.nq, env.model.nv
    qpos = np.concatenate([np.zeros((len(obs), 1)), obs[:, : nq - 1]], axis=1)
    return qpos, obs[:, nq - 1 : nq - 1 + nv].astype(np.float64)


def _full_state(env: Any, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nq = env.model.nq
    return obs[:, :nq].astype(np.float64), obs[:, nq : nq + env.model.nv].astype(np.float64)


def _obs_without_root_x(velocity_clip: float | None) -> StateToObsFn:
    """qpos[1:] then qvel, the velocities clipped to [-clip, clip] where the env clips them (Hopper, Walker2d)."""

    def state_to_obs(env: Any, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        velocities = qvel if velocity_clip is None else np.clip(qvel, -velocity_clip, velocity_clip)
        return np.concatenate([qpos[..., 1:], velocities], axis=-1)

    return state_to_obs


def _full_obs(env: Any, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    return np.concatenate([qpos, qvel], axis=-1)


def _control_cost(env: Any, controls: np.ndarray) -> np.ndarray:
    return env._ctrl_cost_weight * np.sum(np.square(controls), axis=-1)


def _forward_reward(env: Any, qpos_before: np.ndarray, qpos_after: np.ndarray) -> np.ndarray:
    return env._forward_reward_weight * (qpos_after[..., 0] - qpos_before[..., 0]) / env.dt


def half_cheetah_reward(env: Any, qpos_before: np.ndarray, qpos_after: np.ndarray, qvel_after: np.ndarray,
                        controls: np.ndarray) -> np.ndarray:  # fmt: skip
    return _forward_reward(env, qpos_before, qpos_after) - _control_cost(env, controls)


def never_terminates(env: Any, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    return np.zeros(qpos.shape[:-1], dtype=bool)


def _in_range(value: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    return (bounds[0] < value) & (value < bounds[1])


def hopper_is_healthy(env: Any, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    state = np.concatenate([qpos[..., 2:], qvel], axis=-1)  # state_vector()[2:]
    healthy_state = _in_range(state, env._healthy_state_range).all(axis=-1)
    return healthy_state & _in_range(qpos[..., 1], env._healthy_z_range) & _in_range(qpos[..., 2], env._healthy_angle_range)


def walker2d_is_healthy(env: Any, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    return _in_range(qpos[..., 1], env._healthy_z_range) & _in_range(qpos[..., 2], env._healthy_angle_range)


def _healthy_locomotion(
    is_healthy: Callable[[Any, np.ndarray, np.ndarray], np.ndarray],
) -> tuple[StateRewardFn, StateTerminationFn]:
    def reward(env: Any, qpos_before: np.ndarray, qpos_after: np.ndarray, qvel_after: np.ndarray,
               controls: np.ndarray) -> np.ndarray:  # fmt: skip
        healthy = is_healthy(env, qpos_after, qvel_after)
        return _forward_reward(env, qpos_before, qpos_after) + healthy * env._healthy_reward - _control_cost(env, controls)

    def termination(env: Any, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        return ~is_healthy(env, qpos, qvel) & bool(env._terminate_when_unhealthy)

    return reward, termination


def inverted_pendulum_termination(env: Any, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    finite = np.isfinite(qpos).all(axis=-1) & np.isfinite(qvel).all(axis=-1)
    return ~finite | (np.abs(qpos[..., 1]) > 0.2)


def inverted_pendulum_reward(env: Any, qpos_before: np.ndarray, qpos_after: np.ndarray, qvel_after: np.ndarray,
                             controls: np.ndarray) -> np.ndarray:  # fmt: skip
    return (~inverted_pendulum_termination(env, qpos_after, qvel_after)).astype(np.float64)


def _healthy_reward(env: Any) -> float:
    return float(env._healthy_reward)


def _one(env: Any) -> float:
    return 1.0


_CLIP_NOTE = (
    "velocities are clipped to [-10, 10] in the observation: the state behind an observation alone is exact while they "
    "lie inside; a clipped one is restored from the planner's prediction of the step before"
)
#: Hopper-v5 and Walker2d-v5 clip the velocities in their observation to [-10, 10]
_VELOCITY_CLIP = 10.0

SIMULATOR_SPECS: dict[str, SimulatorSpec] = {
    "InvertedPendulum-v5": SimulatorSpec(
        _full_state, _full_obs, inverted_pendulum_reward, inverted_pendulum_termination, alive_reward=_one
    ),
    "HalfCheetah-v5": SimulatorSpec(_root_x_omitted, _obs_without_root_x(None), half_cheetah_reward, never_terminates),
    "Hopper-v5": SimulatorSpec(
        _root_x_omitted,
        _obs_without_root_x(_VELOCITY_CLIP),
        *_healthy_locomotion(hopper_is_healthy),
        note=_CLIP_NOTE,
        alive_reward=_healthy_reward,
        velocity_clip=_VELOCITY_CLIP,
    ),
    "Walker2d-v5": SimulatorSpec(
        _root_x_omitted,
        _obs_without_root_x(_VELOCITY_CLIP),
        *_healthy_locomotion(walker2d_is_healthy),
        note=_CLIP_NOTE,
        alive_reward=_healthy_reward,
        velocity_clip=_VELOCITY_CLIP,
    ),
}


def get_simulator_spec(env_id: str | None) -> SimulatorSpec | None:
    return SIMULATOR_SPECS.get(env_id) if env_id is not None else None
