"""Batched open-loop rollouts of the true MuJoCo simulator of an env, scored as the env scores its steps; a rollout in
which the simulation diverged is marked (non-finite rewards from the step it diverged), never scored as a prediction.
A rollout whose mechanical energy grows beyond the work of its actuators (the integrator adding energy) counts as
diverged too: the work-energy theorem bounds every physical rollout's energy by its start energy plus that work."""

from __future__ import annotations

import warnings
from collections import deque
from typing import Any

import numpy as np
import torch as th

from sb3_pg_extras.envs import TransitionFn
from sb3_pg_extras.envs.simulator import SimulatorSpec

# the sensors the energy balance reads, in this order: kinetic energy, potential energy (gravity and springs), then
# each actuator's scalar force and each actuator's velocity (their product is the power it delivers)
_ENERGY_SENSOR_NAMES = ("sb3_pg_extras_kinetic_energy", "sb3_pg_extras_potential_energy")


def energy_balance_model(env: Any) -> Any:
    """
    A copy of the env's MuJoCo model with sensors for the energy balance of a rollout appended after any sensors of
    its own (kinetic and potential energy, each actuator's force and velocity), compiled from the env's model file
    with ``mujoco.MjSpec``; every numeric array and option of the env's compiled model is then copied over, so that
    changes made to the env's model after it was loaded carry into the copy. Sensors do not act on the simulation:
    the copy's rollouts equal the env's. The env's own model is not touched.

    ``mjENBL_ENERGY`` stays off (it is cleared if the env set it): with it on, the kinetic energy sensor reads the
    energy computed in the previous ``mj_forward`` (MuJoCo computes ``d->energy`` after the velocity sensors), one
    physics step late; with it off, each energy sensor computes the energy of the current state.

    :param env: an unwrapped gymnasium MuJoCo env (its ``fullpath`` and ``model``)
    """
    import mujoco

    path = getattr(env, "fullpath", None)
    if path is None:
        raise ValueError(f"The simulator's energy check needs the env's MuJoCo model file (`fullpath`): {env!r} has none")
    spec = mujoco.MjSpec.from_file(str(path))
    for i, actuator in enumerate(spec.actuators):
        if not actuator.name:  # sensors refer to actuators by name; names do not change the dynamics
            actuator.name = f"sb3_pg_extras_actuator_{i}"
    kinetic, potential = _ENERGY_SENSOR_NAMES
    spec.add_sensor(type=mujoco.mjtSensor.mjSENS_E_KINETIC, name=kinetic)
    spec.add_sensor(type=mujoco.mjtSensor.mjSENS_E_POTENTIAL, name=potential)
    for sensor in (mujoco.mjtSensor.mjSENS_ACTUATORFRC, mujoco.mjtSensor.mjSENS_ACTUATORVEL):
        for actuator in spec.actuators:
            spec.add_sensor(type=sensor, objtype=mujoco.mjtObj.mjOBJ_ACTUATOR, objname=actuator.name)
    with warnings.catch_warnings():
        # MuJoCo's deprecation notes on the env's own model file (e.g. gymnasium's `settotalmass`): loading the env
        # printed them already, and they are the file's, not the planner's
        warnings.filterwarnings("ignore", message="compiler attribute", category=UserWarning)
        model = spec.compile()
    original = env.model
    if (model.nq, model.nv, model.nu, model.na, model.nbody) != (original.nq, original.nv, original.nu, original.na,
                                                                 original.nbody):  # fmt: skip
        raise ValueError(f"The env's model file {path} does not compile to the env's model")
    for name in dir(original):  # the env's current values (not the sensors' and names' arrays, which differ)
        value = getattr(original, name)
        if not name.startswith(("_", "name", "sensor_")) and isinstance(value, np.ndarray):
            target = getattr(model, name)
            if target.shape == value.shape:
                target[...] = value
    for name in dir(original.opt):
        if not name.startswith("_"):
            value = getattr(original.opt, name)
            if isinstance(value, np.ndarray):
                getattr(model.opt, name)[...] = value
            else:
                setattr(model.opt, name, value)
    model.opt.enableflags &= ~int(mujoco.mjtEnableBit.mjENBL_ENERGY)
    return model


#: default ``max_energy_gain`` (J per kg of the model's mass): 3.5 J for HalfCheetah-v5's 14 kg. Random controls from
#: a reset gain at most 1.2 J in any supported env; with 1 J/kg, MPPI's defaults still crept to 31.7 m/s on
#: HalfCheetah-v5 by gaining up to the tolerance at every planned step
MAX_ENERGY_GAIN = 0.25

#: predicted states kept to restore clipped velocities (:meth:`SimulatorRollout.executed`): those of the last planned
#: steps of up to this many envs (a prediction is used by the next observation of its env, or never)
PREDICTIONS_KEPT = 64
#: how far (relative and absolute) an observation may lie from a prediction's observation that restores its velocities:
#: the prediction starts from the float32 observation of the step before, the env from its float64 state
PREDICTION_RTOL, PREDICTION_ATOL = 1e-3, 1e-3


class SimulatorRollout:
    """
    Rolls K control sequences of H env steps out of one observation in the env's own MuJoCo model, natively in batch
    with ``mujoco.rollout`` (each control held for the env's ``frame_skip`` physics steps, as ``env.step()`` does),
    and scores every step with the env's reward and termination computed from the rolled-out simulator states, or
    with the user's ``reward_fn`` / ``termination_fn`` of the observations before and after each step.

    A rollout diverges at the first env step containing a physics step where MuJoCo's instability check fired (a
    ``mjWARN_BADQPOS`` / ``BADQVEL`` / ``BADQACC`` warning: MuJoCo then resets the data, which shows as the simulated
    time jumping back), a state is not finite, a generalized acceleration ``|qvel_{t+1} - qvel_t| / timestep``
    exceeds ``max_acceleration``, or the rollout's mechanical energy has grown beyond the work its actuators did on
    it since the start by more than ``max_energy_gain`` per kilogram of the model's mass (below); its rewards are NaN
    from that step on (the planner gives it weight 0). ``n_diverged`` counts such rollouts, ``n_energy_gain`` those
    of them that the energy check found first (at the env step where the rollout diverged), and
    ``n_mujoco_unstable`` the rollouts in which MuJoCo's instability check fired (each printed a MuJoCo warning).

    The energy check (work-energy theorem): after physics step j, ``E_{j+1} - E_0 - sum_{i <= j} W_i`` is the
    energy the rollout gained beyond its actuators' work, where ``E`` is the kinetic plus potential energy (gravity
    and springs) and ``W_i = dt sum_a f_a (v_a(i) + v_a(i+1)) / 2`` the work of the actuator forces ``f_a`` held over
    step i (velocities ``v_a`` at both ends). Damping, friction and the constraint solver's impulses only remove
    energy from a physical rollout; what the soft contacts and joint limits store while they are penetrated comes
    back, which ``max_energy_gain`` allows for. A larger gain is energy that the time discretization created: the
    simulation no longer follows physics, and what it predicts (speeds no motor reaches) is not a prediction.

    :param env: the unwrapped MuJoCo env (its ``model``, ``frame_skip``, ``dt`` and reward settings are used; its own
        ``data`` and ``model`` are never touched: the rollouts run in a copy with energy sensors,
        :func:`energy_balance_model`)
    :param spec: the env's observation-to-state mapping, reward and termination
    :param nthread: threads of ``mujoco.rollout``'s pool (0: the calling thread only)
    :param reward_fn: batched torch ``(obs, action, next_obs) -> reward``, actions in env units, scoring the steps
        instead of the env's reward (None: the env's)
    :param termination_fn: as ``reward_fn``, for the ``terminated`` flag (None: the env's)
    :param max_acceleration: largest generalized acceleration (m/s^2 or rad/s^2, per physics step) of a rollout that
        is not diverged; the default 1e5 (about 10,000 g) is over ten times what full-torque random controls produce
        in the supported envs
    :param max_energy_gain: largest energy gain beyond the actuators' work, in J per kg of the model's total mass,
        of a rollout that is not diverged (None: no energy check)

    Where the observation clips the velocities (Hopper, Walker2d: ``spec.velocity_clip``), a velocity at the clip is
    not the state's: a fast gait swings its joints well beyond it (up to 80 rad/s on Walker2d-v5 against a clip of
    10), and rollouts from the clipped state predict another motion. The planner tells the simulator which control
    the env executes from each observation (:meth:`executed`); the simulator keeps the state it predicts after it
    and restores the clipped velocities of the next observation from that prediction when the prediction's
    observation matches (:meth:`initial_state`). The prediction is exact up to the float32 rounding of the
    observation it starts from. ``n_clipped`` counts the starts with a velocity at the clip and ``n_restored`` those
    of them restored from a prediction.
    """

    def __init__(
        self,
        env: Any,
        spec: SimulatorSpec,
        nthread: int = 0,
        reward_fn: TransitionFn | None = None,
        termination_fn: TransitionFn | None = None,
        max_acceleration: float = 1e5,
        max_energy_gain: float | None = MAX_ENERGY_GAIN,
    ) -> None:
        import mujoco
        from mujoco import rollout

        if not max_acceleration > 0:
            raise ValueError(f"max_acceleration must be > 0, got {max_acceleration!r}")
        if max_energy_gain is not None and not (0 <= max_energy_gain < np.inf):
            raise ValueError(f"max_energy_gain must be finite and >= 0 (J/kg) or None, got {max_energy_gain!r}")
        self.env, self.spec = env, spec
        self.reward_fn, self.termination_fn = reward_fn, termination_fn
        # the env's model with energy sensors appended (they do not act on the simulation)
        self.model = env.model if max_energy_gain is None else energy_balance_model(env)
        self.energy_tolerance = None if max_energy_gain is None else max_energy_gain * float(self.model.body_mass.sum())
        self.frame_skip = int(env.frame_skip)
        self.nq, self.nv = self.model.nq, self.model.nv
        self._mujoco = mujoco
        self._state_spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self._data = [mujoco.MjData(self.model) for _ in range(max(nthread, 1))]
        self._rollout = rollout.Rollout(nthread=nthread)
        # where qpos and qvel sit in a full-physics state vector (time comes first)
        self._qpos = slice(1, 1 + self.nq)
        self._qvel = slice(1 + self.nq, 1 + self.nq + self.nv)
        self.max_acceleration = max_acceleration
        # over the life of this object: rollouts, those marked diverged, those of them found by the energy check, and
        # those in which MuJoCo's own instability check fired (each such rollout printed one MuJoCo warning)
        self.n_rollouts = self.n_diverged = self.n_energy_gain = self.n_mujoco_unstable = 0
        self.last_energy_gain: np.ndarray | None = None  # (K, H * frame_skip) of the last call (:meth:`energy_gain`)
        # (observation, velocities) predicted after the last executed controls, the newest last (:meth:`executed`)
        self._predictions: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=PREDICTIONS_KEPT)
        self.n_clipped = self.n_restored = 0

    def initial_state(self, observation: np.ndarray) -> np.ndarray:
        """The full-physics state (1, nstate) of the simulator behind one observation (at time 1 s: the dynamics of the
        supported envs do not depend on time), its clipped velocities restored where a prediction matches it."""
        observation = np.asarray(observation, dtype=np.float64)
        qpos, qvel = self.spec.obs_to_state(self.env, observation[None])
        qvel = self._restore_clipped(observation, qvel)
        mujoco, data = self._mujoco, self._data[0]
        mujoco.mj_resetData(self.model, data)
        data.qpos[:], data.qvel[:] = qpos[0], qvel[0]
        # a non-zero start time: after MuJoCo's reset on an instability (time 0) the time cannot match by chance
        data.time = 1.0
        mujoco.mj_forward(self.model, data)
        state = np.empty(mujoco.mj_stateSize(self.model, self._state_spec))
        mujoco.mj_getState(self.model, data, state, self._state_spec)
        return state[None]

    def _restore_clipped(self, observation: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """The velocities (1, nv) behind an observation whose velocities may be clipped: those at the clip taken from
        the newest prediction whose observation matches this one (:meth:`executed`), else left at the clip."""
        clip = self.spec.velocity_clip
        if clip is None:
            return qvel
        at_clip = np.abs(qvel[0]) >= clip
        if not at_clip.any():
            return qvel
        self.n_clipped += 1
        for predicted_obs, predicted_qvel in reversed(self._predictions):
            if np.allclose(predicted_obs, observation, rtol=PREDICTION_RTOL, atol=PREDICTION_ATOL):
                self.n_restored += 1
                return np.where(at_clip, predicted_qvel, qvel)
        return qvel

    def executed(self, observation: np.ndarray, control: np.ndarray) -> None:
        """The env executes ``control`` (nu,), in env units, from ``observation``: keep the state the simulator
        predicts after it, whose velocities restore the next observation's clipped ones (only where the observation
        clips velocities)."""
        if self.spec.velocity_clip is None:
            return
        start = self.initial_state(observation)
        physics_controls = np.repeat(np.asarray(control, dtype=np.float64).reshape(1, 1, -1), self.frame_skip, axis=1)
        states, _ = self._rollout.rollout(self.model, self._data, start, physics_controls)
        qpos, qvel = states[:, -1, self._qpos], states[:, -1, self._qvel]
        self._predictions.append((self.spec.state_to_obs(self.env, qpos, qvel)[0], qvel))

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
        if self.energy_tolerance is not None:  # one more physics step, whose sensors read the last state's energy
            physics_controls = np.concatenate([physics_controls, physics_controls[:, -1:]], axis=1)
        states, sensors = self._rollout.rollout(self.model, self._data, start, physics_controls)
        states = states[:, : len(controls[0]) * self.frame_skip]
        after = states[:, self.frame_skip - 1 :: self.frame_skip]  # (K, H, nstate): the state after each env step
        qpos_after, qvel_after = after[..., self._qpos], after[..., self._qvel]
        first = np.broadcast_to(start[:, None, self._qpos], (len(controls), 1, self.nq))
        qpos_before = np.concatenate([first, qpos_after[:, :-1]], axis=1)
        if self.reward_fn is None and self.termination_fn is None:
            rewards = self.spec.reward(self.env, qpos_before, qpos_after, qvel_after, controls)
            terminated = self.spec.termination(self.env, qpos_after, qvel_after)
        else:
            rewards, terminated = self._score_observations(observation, controls, qpos_before, qpos_after, qvel_after)
        unstable = self.unstable(start, states)
        gained = np.zeros_like(unstable) if self.energy_tolerance is None else self.energy_gained(sensors)
        diverged = unstable | gained
        self.n_rollouts += len(controls)
        if diverged.any():
            self.n_diverged += int(diverged[:, -1].sum())
            first_step = diverged.argmax(axis=1)[:, None]  # the env step where each rollout diverged
            by_energy = np.take_along_axis(gained, first_step, axis=1)[:, 0] & diverged[:, -1]
            self.n_energy_gain += int(by_energy.sum())
            rewards = np.where(diverged, np.nan, rewards)
        return rewards, terminated

    def _per_env_step(self, bad: np.ndarray) -> np.ndarray:
        """(K, H) True from the first env step containing a bad physics step, of (K, H * frame_skip) flags."""
        per_step = bad.reshape(len(bad), -1, self.frame_skip).any(-1)
        return np.logical_or.accumulate(per_step, axis=1)

    def unstable(self, start: np.ndarray, states: np.ndarray) -> np.ndarray:
        """(K, H) True from the first env step of each rollout in which MuJoCo's instability check fired, a state is
        not finite or an acceleration exceeds ``max_acceleration``.

        :param start: (1, nstate) the full-physics start state
        :param states: (K, H * frame_skip, nstate) the full-physics state after every physics step
        """
        timestep = self.model.opt.timestep
        n_physics = states.shape[1]
        # MuJoCo resets the data when its instability check fires, so the time stops following t0 + (j + 1) * dt
        expected = start[0, 0] + timestep * np.arange(1, n_physics + 1)
        bad = ~(np.abs(states[..., 0] - expected) < 0.5 * timestep)  # NaN times count as bad
        self.n_mujoco_unstable += int(bad.any(1).sum())
        velocities = states[..., self._qvel]
        first = np.broadcast_to(start[:, None, self._qvel], velocities[:, :1].shape)
        previous = np.concatenate([first, velocities[:, :-1]], 1)
        with np.errstate(invalid="ignore", over="ignore"):
            acceleration = np.abs(velocities - previous).max(-1) / timestep
            bad |= ~(acceleration <= self.max_acceleration)  # NaN or inf accelerations count as bad
        bad |= ~np.isfinite(states).all(-1)
        return self._per_env_step(bad)

    def energy_gain(self, sensors: np.ndarray) -> np.ndarray:
        """(K, H * frame_skip) the energy (J) each rollout gained beyond its actuators' work by the end of each physics
        step: ``E_{j+1} - E_0 - sum_{i <= j} W_i`` (class docstring).

        :param sensors: (K, H * frame_skip + 1, nsensordata) the energy model's sensors before every physics step and
            after the last one (:func:`energy_balance_model`'s layout: the energy sensors are the last 2 + 2 nu
            columns, after any sensors of the env's own model file)
        """
        nu = self.model.nu
        sensors = sensors[..., sensors.shape[-1] - (2 + 2 * nu) :]  # the appended scalar sensors, in their order
        energy = sensors[..., 0] + sensors[..., 1]
        force, velocity = sensors[..., 2 : 2 + nu], sensors[..., 2 + nu : 2 + 2 * nu]
        with np.errstate(invalid="ignore", over="ignore"):
            work = self.model.opt.timestep * (force[:, :-1] * 0.5 * (velocity[:, :-1] + velocity[:, 1:])).sum(-1)
            return energy[:, 1:] - energy[:, :1] - np.cumsum(work, axis=1)

    def energy_gained(self, sensors: np.ndarray) -> np.ndarray:
        """(K, H) True from the first env step of each rollout by whose end it gained more than the tolerance
        (``max_energy_gain`` x the model's mass) beyond its actuators' work; a non-finite balance counts too."""
        self.last_energy_gain = self.energy_gain(sensors)  # kept for diagnostics
        with np.errstate(invalid="ignore"):
            return self._per_env_step(~(self.last_energy_gain <= self.energy_tolerance))

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
