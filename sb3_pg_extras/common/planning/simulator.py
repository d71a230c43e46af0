"""Batched open-loop rollouts of the true MuJoCo simulator of an env, scored as the env scores its steps; a rollout in
which the simulation diverged is marked (non-finite rewards from the step it diverged), never scored as a prediction."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th

from sb3_pg_extras.envs import TransitionFn
from sb3_pg_extras.envs.simulator import SimulatorSpec


class SimulatorRollout:
    """
    Rolls K control sequences of H env steps out of one observation in the env's own MuJoCo model, natively in batch
    with ``mujoco.rollout`` (each control held for the env's ``frame_skip`` physics steps, as ``env.step()`` does),
    and scores every step with the env's reward and termination computed from the rolled-out simulator states, or
    with the user's ``reward_fn`` / ``termination_fn`` of the observations before and after each step.

    A rollout diverges at the first env step containing a physics step where MuJoCo's instability check fired (a
    ``mjWARN_BADQPOS`` / ``BADQVEL`` / ``BADQACC`` warning: MuJoCo then resets the data, which shows as the simulated
    time jumping back), a state is not finite, or a generalized acceleration ``|qvel_{t+1} - qvel_t| / timestep``
    exceeds ``max_acceleration``; its rewards are NaN from that step on (the planner gives it weight 0), and
    ``n_diverged`` counts such rollouts.

    :param env: the unwrapped MuJoCo env (its ``model``, ``frame_skip``, ``dt`` and reward settings are used; its own
        ``data`` is never touched)
    :param spec: the env's observation-to-state mapping, reward and termination
    :param nthread: threads of ``mujoco.rollout``'s pool (0: the calling thread only)
    :param reward_fn: batched torch ``(obs, action, next_obs) -> reward``, actions in env units, scoring the steps
        instead of the env's reward (None: the env's)
    :param termination_fn: as ``reward_fn``, for the ``terminated`` flag (None: the env's)
    :param max_acceleration: largest generalized acceleration (m/s^2 or rad/s^2, per physics step) of a rollout that
        is not diverged; the default 1e5 (about 10,000 g) is over ten times what full-torque random controls produce
        in the supported envs
    """

    def __init__(
        self,
        env: Any,
        spec: SimulatorSpec,
        nthread: int = 0,
        reward_fn: TransitionFn | None = None,
        termination_fn: TransitionFn | None = None,
        max_acceleration: float = 1e5,
    ) -> None:
        import mujoco
        from mujoco import rollout

        self.env, self.spec = env, spec
        self.reward_fn, self.termination_fn = reward_fn, termination_fn
        self.model = env.model
        self.frame_skip = int(env.frame_skip)
        self.nq, self.nv = self.model.nq, self.model.nv
        self._mujoco = mujoco
        self._state_spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self._data = [mujoco.MjData(self.model) for _ in range(max(nthread, 1))]
        self._rollout = rollout.Rollout(nthread=nthread)
        # where qpos and qvel sit in a full-physics state vector (time comes first)
        self._qpos = slice(1, 1 + self.nq)
        self._qvel = slice(1 + self.nq, 1 + self.nq + self.nv)
        if not max_acceleration > 0:
            raise ValueError(f"max_acceleration must be > 0, got {max_acceleration!r}")
        self.max_acceleration = max_acceleration
        self.n_diverged = 0  # rollouts marked diverged, over the life of this object

    def initial_state(self, observation: np.ndarray) -> np.ndarray:
        """The full-physics state (1, nstate) of the simulator behind one observation (at time 1 s: the dynamics of the
        supported envs do not depend on time)."""
        qpos, qvel = self.spec.obs_to_state(self.env, np.asarray(observation, dtype=np.float64)[None])
        mujoco, data = self._mujoco, self._data[0]
        mujoco.mj_resetData(self.model, data)
        data.qpos[:], data.qvel[:] = qpos[0], qvel[0]
        # a non-zero start time: after MuJoCo's reset on an instability (time 0) the time cannot match by chance
        data.time = 1.0
        mujoco.mj_forward(self.model, data)
        state = np.empty(mujoco.mj_stateSize(self.model, self._state_spec))
        mujoco.mj_getState(self.model, data, state, self._state_spec)
        return state[None]

    def __call__(self, observation: np.ndarray, controls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """
        Rewards and terminations (K, H) of K control sequences (K, H, nu), in env units, from one observation.
        Steps after a termination are rolled out too (fixed shapes); the caller masks them. The rewards of a diverged
        rollout are NaN from the step it diverged.
        """
        observation = np.asarray(observation)
        if not np.isfinite(observation).all():
            raise ValueError(f"The simulator cannot start from a non-finite observation: {observation}")
        start = self.initial_state(observation)
        physics_controls = np.repeat(np.ascontiguousarray(controls, dtype=np.float64), self.frame_skip, axis=1)
        states, _ = self._rollout.rollout(self.model, self._data, start, physics_controls)
        after = states[:, self.frame_skip - 1 :: self.frame_skip]  # (K, H, nstate): the state after each env step
        qpos_after, qvel_after = after[..., self._qpos], after[..., self._qvel]
        first = np.broadcast_to(start[:, None, self._qpos], (len(controls), 1, self.nq))
        qpos_before = np.concatenate([first, qpos_after[:, :-1]], axis=1)
        if self.reward_fn is None and self.termination_fn is None:
            rewards = self.spec.reward(self.env, qpos_before, qpos_after, qvel_after, controls)
            terminated = self.spec.termination(self.env, qpos_after, qvel_after)
        else:
            rewards, terminated = self._score_observations(observation, controls, qpos_before, qpos_after, qvel_after)
        diverged = self.diverged(start, states)
        if diverged.any():
            self.n_diverged += int(diverged[:, -1].sum())
            rewards = np.where(diverged, np.nan, rewards)
        return rewards, terminated

    def diverged(self, start: np.ndarray, states: np.ndarray) -> np.ndarray:
        """(K, H) True from the first env step of each rollout in which the simulation diverged.

        :param start: (1, nstate) the full-physics start state
        :param states: (K, H * frame_skip, nstate) the full-physics state after every physics step
        """
        timestep = self.model.opt.timestep
        n_physics = states.shape[1]
        # MuJoCo resets the data when its instability check fires, so the time stops following t0 + (j + 1) * dt
        expected = start[0, 0] + timestep * np.arange(1, n_physics + 1)
        bad = ~(np.abs(states[..., 0] - expected) < 0.5 * timestep)  # NaN times count as bad
        velocities = states[..., self._qvel]
        first = np.broadcast_to(start[:, None, self._qvel], velocities[:, :1].shape)
        previous = np.concatenate([first, velocities[:, :-1]], 1)
        with np.errstate(invalid="ignore", over="ignore"):
            acceleration = np.abs(velocities - previous).max(-1) / timestep
            bad |= ~(acceleration <= self.max_acceleration)  # NaN or inf accelerations count as bad
        bad |= ~np.isfinite(states).all(-1)
        per_step = bad.reshape(len(states), -1, self.frame_skip).any(-1)  # (K, H)
        return np.logical_or.accumulate(per_step, axis=1)

    def _score_observations(
        self, observation: np.ndarray, controls: np.ndarray, qpos_before: np.ndarray, qpos_after: np.ndarray,
        qvel_after: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Rewards and terminations (K, H) where the user's functions score the observations of the rolled-out states
        (the env's own functions score the rest)."""
        n, horizon = controls.shape[:2]
        next_obs = self.spec.state_to_obs(self.env, qpos_after, qvel_after)  # (K, H, obs_dim)
        first = np.broadcast_to(np.asarray(observation, dtype=next_obs.dtype), (n, 1, next_obs.shape[-1]))
        obs = np.concatenate([first, next_obs[:, :-1]], axis=1)
        flat = [th.as_tensor(a.reshape(n * horizon, -1), dtype=th.float32) for a in (obs, controls, next_obs)]

        def scored(fn: TransitionFn) -> np.ndarray:
            with th.no_grad():
                return fn(*flat).reshape(n, horizon).cpu().numpy()

        if self.reward_fn is not None:
            rewards = scored(self.reward_fn).astype(np.float64)
        else:
            rewards = self.spec.reward(self.env, qpos_before, qpos_after, qvel_after, controls)
        if self.termination_fn is not None:
            terminated = scored(self.termination_fn).astype(bool)
        else:
            terminated = self.spec.termination(self.env, qpos_after, qvel_after)
        return rewards, terminated

    def close(self) -> None:
        self._rollout.close()
