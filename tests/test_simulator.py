"""Planning in the true MuJoCo simulator: the observation-to-state mappings and the state-based rewards and
terminations equal what the env's own step() computes, from the env's real state (x position included)."""

from __future__ import annotations

import inspect
import types

import gymnasium as gym
import numpy as np
import pytest

from sb3_pg_extras.common.planning.simulator import SimulatorRollout
from sb3_pg_extras.envs.simulator import SIMULATOR_SPECS, get_simulator_spec

pytestmark = pytest.mark.mujoco
ENV_IDS = sorted(SIMULATOR_SPECS)


def env_after_random_steps(env_id: str, steps: int, seed: int = 0) -> tuple[gym.Env, np.ndarray]:
    """An env a few random steps into an episode (x position away from 0), and its observation."""
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    return env, obs


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_the_state_behind_an_observation_gives_the_observation_back(env_id: str) -> None:
    env, obs = env_after_random_steps(env_id, 7)
    qpos, qvel = SIMULATOR_SPECS[env_id].obs_to_state(env.unwrapped, obs[None])
    assert qpos.shape == (1, env.unwrapped.model.nq) and qvel.shape == (1, env.unwrapped.model.nv)
    env.unwrapped.set_state(qpos[0], qvel[0])
    np.testing.assert_allclose(env.unwrapped._get_obs(), obs, atol=1e-12)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rollouts_score_steps_exactly_as_the_env_from_its_real_state(env_id: str) -> None:
    # velocities clipped in the observation (Hopper, Walker2d): exact while they lie inside the clip, as at a reset
    env, obs = env_after_random_steps(env_id, 0 if SIMULATOR_SPECS[env_id].note else 5)
    real = env.unwrapped
    if env_id != "InvertedPendulum-v5":  # move the walker away from x = 0: the observation does not show it
        real.set_state(real.data.qpos + np.eye(real.model.nq)[0] * 3.7, real.data.qvel)
        obs = real._get_obs()
        assert real.data.qpos[0] > 3.6
    sim = SimulatorRollout(real, SIMULATOR_SPECS[env_id])
    rng = np.random.default_rng(1)
    horizon = 12
    controls = rng.uniform(env.action_space.low, env.action_space.high, size=(4, horizon, env.action_space.shape[0]))
    rewards, terminated = sim(obs, controls)
    assert rewards.shape == terminated.shape == (4, horizon)
    qpos, qvel = real.data.qpos.copy(), real.data.qvel.copy()
    for k in (0, 3):  # every sequence of the batch is its own rollout
        copy = gym.make(env_id)
        copy.reset(seed=0)
        copy.unwrapped.set_state(qpos, qvel)  # the env's real state, x position included
        for h in range(horizon):
            _, reward, term, _, _ = copy.step(controls[k, h])
            assert reward == pytest.approx(rewards[k, h], abs=1e-9)
            assert term == terminated[k, h]
            if term:
                break
    np.testing.assert_array_equal(real.data.qpos, qpos)  # the env's own simulator was not touched


def test_hopper_terminations_and_healthy_reward_follow_the_env() -> None:
    env, obs = env_after_random_steps("Hopper-v5", 3)
    sim = SimulatorRollout(env.unwrapped, SIMULATOR_SPECS["Hopper-v5"])
    # full torque on every joint for 60 steps: the hopper falls, and the rollouts must see it
    controls = np.ones((2, 60, 3))
    controls[1] *= -1
    rewards, terminated = sim(obs, controls)
    assert terminated.any(axis=1).all()
    first = terminated.argmax(axis=1)
    for k, h in enumerate(first):
        assert (~terminated[k, :h]).all()
        forward_and_control = rewards[k, h] - 0.0  # no healthy reward at the terminating step
        assert forward_and_control < rewards[k, :h].max() + 1.0


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_the_observation_of_a_state_is_the_envs_observation(env_id: str) -> None:
    env, _ = env_after_random_steps(env_id, 9)
    real = env.unwrapped
    fast = real.data.qvel * 40.0  # beyond Hopper's and Walker2d's velocity clip
    for qvel in (real.data.qvel.copy(), fast):
        real.set_state(real.data.qpos + np.eye(real.model.nq)[0] * 2.5, qvel)  # x position: not observed
        observed = SIMULATOR_SPECS[env_id].state_to_obs(real, real.data.qpos[None], real.data.qvel[None])
        np.testing.assert_allclose(observed[0], real._get_obs(), atol=1e-12)


@pytest.mark.parametrize("env_id", ["HalfCheetah-v5", "Hopper-v5"])
def test_given_functions_score_the_observations_of_the_rolled_out_steps(env_id: str) -> None:
    """A user's reward and termination get (obs, action, next_obs) of every step as the env would observe them."""
    import torch as th

    def reward_fn(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
        return (next_obs - obs)[:, :3].sum(-1) * 10.0 + action[:, 0]

    def termination_fn(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
        return next_obs[:, 1] > obs[:, 1]

    env, obs = env_after_random_steps(env_id, 0)
    spec = SIMULATOR_SPECS[env_id]
    rng = np.random.default_rng(2)
    controls = rng.uniform(env.action_space.low, env.action_space.high, size=(3, 6, env.action_space.shape[0]))
    qpos, qvel = env.unwrapped.data.qpos.copy(), env.unwrapped.data.qvel.copy()
    own_rewards, own_terminated = SimulatorRollout(env.unwrapped, spec)(obs, controls)
    for given in (dict(reward_fn=reward_fn), dict(termination_fn=termination_fn)):
        rewards, terminated = SimulatorRollout(env.unwrapped, spec, **given)(obs, controls)
        for k in range(3):
            copy = gym.make(env_id)
            copy.reset(seed=0)
            copy.unwrapped.set_state(qpos, qvel)
            before = obs
            for h in range(6):
                after, *_ = copy.step(controls[k, h])
                args = [th.as_tensor(a[None], dtype=th.float32) for a in (before, controls[k, h], after)]
                if "reward_fn" in given:
                    assert rewards[k, h] == pytest.approx(float(reward_fn(*args)[0]), abs=1e-4)
                    assert terminated[k, h] == own_terminated[k, h]  # the env's own termination is kept
                else:
                    assert terminated[k, h] == bool(termination_fn(*args)[0])
                    assert rewards[k, h] == own_rewards[k, h]  # the env's own reward is kept
                before = after


def _unlimited_half_cheetah() -> tuple[SimulatorRollout, np.ndarray]:
    """HalfCheetah-v5's simulator with the actuators' control limits switched off (on the planning copy only), so that
    a huge control makes the integrator blow up, and an observation to start from."""
    _, obs = env_after_random_steps("HalfCheetah-v5", 3)
    copy = gym.make("HalfCheetah-v5").unwrapped
    copy.model.actuator_ctrllimited[:] = 0
    return SimulatorRollout(copy, SIMULATOR_SPECS["HalfCheetah-v5"]), obs


@pytest.mark.parametrize("torque", [1e9, 1e4])  # MuJoCo's own instability check (qacc > 1e10); the stated bound (1e5)
def test_a_rollout_whose_simulation_diverges_is_marked_from_the_step_it_diverges(torque: float) -> None:
    sim, obs = _unlimited_half_cheetah()
    controls = np.zeros((3, 8, 6))
    controls[1, 3:] = torque  # blows up at step 3
    controls[2] = 0.5
    rewards, _ = sim(obs, controls)
    assert np.isfinite(rewards[[0, 2]]).all() and np.isfinite(rewards[1, :3]).all()
    assert np.isnan(rewards[1, 3:]).all()
    assert sim.n_diverged == 1
    # the sequences that did not diverge are scored as without the diverging one beside them
    alone, _ = sim(obs, controls[[0, 2]])
    np.testing.assert_array_equal(alone, rewards[[0, 2]])


def test_a_corrupted_state_diverges_and_a_non_finite_observation_is_refused() -> None:
    sim, obs = _unlimited_half_cheetah()
    corrupted = obs.copy()
    corrupted[8:] = 1e5  # velocities no body reaches
    rewards, _ = sim(corrupted, np.zeros((2, 4, 6)))
    assert np.isnan(rewards).all()
    corrupted[0] = np.nan
    with pytest.raises(ValueError, match="non-finite observation"):
        sim(corrupted, np.zeros((2, 4, 6)))


def _state_checks_agree_with_the_env(env_id: str, changes: list[tuple[str, int, float]], **make_kwargs) -> None:
    """The spec's termination (and healthy part of the reward) equal the env's own ``is_healthy`` / step check on
    states moved to given values (``qpos`` / ``qvel`` entries), one change at a time."""
    env = gym.make(env_id, **make_kwargs).unwrapped
    env.reset(seed=0)
    spec = SIMULATOR_SPECS[env_id]
    base_qpos, base_qvel = env.data.qpos.copy(), env.data.qvel.copy()
    for part, index, value in changes:
        qpos, qvel = base_qpos.copy(), base_qvel.copy()
        (qpos if part == "qpos" else qvel)[index] = value
        env.set_state(qpos, qvel)
        if env_id == "InvertedPendulum-v5":
            obs = env._get_obs()
            own = bool(not np.isfinite(obs).all() or np.abs(obs[1]) > 0.2)  # InvertedPendulumEnv.step's check
        else:
            own = not env.is_healthy and env._terminate_when_unhealthy
        assert bool(spec.termination(env, qpos[None], qvel[None])[0]) == own, (part, index, value)
        reward = spec.reward(env, qpos[None], qpos[None], qvel[None], np.zeros((1, env.action_space.shape[0])))[0]
        healthy = 1.0 if env_id == "InvertedPendulum-v5" else env.healthy_reward  # no motion, no control: no other term
        assert reward == pytest.approx(float(not own) if env_id == "InvertedPendulum-v5" else healthy), (part, index, value)


def test_hopper_health_matches_the_env_at_both_ends_of_every_range() -> None:
    changes = [("qpos", 1, z) for z in (0.7, 0.7000001, 150.0, np.inf)]  # z in (0.7, inf)
    changes += [("qpos", 2, a) for a in (0.2, 0.1999999, -0.2, -0.1999999)]  # angle in (-0.2, 0.2)
    changes += [("qpos", 5, s) for s in (100.0, 99.999, -100.0, -99.999)]  # the last joint of the state
    changes += [("qvel", 0, s) for s in (100.0, -100.0, 99.999)] + [("qvel", 5, 100.0)]  # qvel is in the state
    _state_checks_agree_with_the_env("Hopper-v5", changes)
    # an env that does not terminate when unhealthy: never terminated, the healthy reward still only when healthy
    _state_checks_agree_with_the_env("Hopper-v5", [("qpos", 1, 0.5), ("qpos", 1, 1.2)], terminate_when_unhealthy=False,
                                     healthy_reward=2.5)  # fmt: skip


def test_walker2d_health_matches_the_env_at_both_ends_of_every_range() -> None:
    changes = [("qpos", 1, z) for z in (0.8, 0.8000001, 2.0, 1.9999999)]  # z in (0.8, 2)
    changes += [("qpos", 2, a) for a in (1.0, 0.9999999, -1.0, -0.9999999)]  # angle in (-1, 1)
    changes += [("qvel", 0, 1000.0), ("qpos", 3, 50.0)]  # no bound on the rest of the state
    _state_checks_agree_with_the_env("Walker2d-v5", changes)


def test_inverted_pendulum_termination_matches_the_env_at_the_angle_limit() -> None:
    changes = [("qpos", 1, a) for a in (0.2, 0.2000001, -0.2, -0.2000001)]
    changes += [("qpos", 0, np.nan), ("qvel", 1, np.inf), ("qvel", 0, -np.inf)]
    _state_checks_agree_with_the_env("InvertedPendulum-v5", changes)


def test_alive_rewards_are_the_envs_reward_for_staying_alive() -> None:
    assert SIMULATOR_SPECS["InvertedPendulum-v5"].alive_reward(gym.make("InvertedPendulum-v5").unwrapped) == 1.0
    assert SIMULATOR_SPECS["HalfCheetah-v5"].alive_reward(gym.make("HalfCheetah-v5").unwrapped) == 0.0  # never ends
    for env_id in ("Hopper-v5", "Walker2d-v5"):
        assert SIMULATOR_SPECS[env_id].alive_reward(gym.make(env_id).unwrapped) == 1.0
        assert SIMULATOR_SPECS[env_id].alive_reward(gym.make(env_id, healthy_reward=2.5).unwrapped) == 2.5


def test_specs_are_found_by_exact_id_and_need_the_default_observation() -> None:
    assert get_simulator_spec("Hopper-v5") is SIMULATOR_SPECS["Hopper-v5"]
    assert get_simulator_spec("Hopper-v4") is None and get_simulator_spec(None) is None
    env = gym.make("Hopper-v5", exclude_current_positions_from_observation=False).unwrapped
    with pytest.raises(ValueError, match="exclude_current_positions_from_observation=True"):
        SIMULATOR_SPECS["Hopper-v5"].obs_to_state(env, np.zeros((1, 12)))
    # an env object without the setting is taken to leave the root's x out, as the supported envs do by default
    bare = types.SimpleNamespace(model=types.SimpleNamespace(nq=3, nv=3))
    qpos, qvel = SIMULATOR_SPECS["Hopper-v5"].obs_to_state(bare, np.arange(5.0)[None])
    assert qpos.tolist() == [[0.0, 0.0, 1.0]] and qvel.tolist() == [[2.0, 3.0, 4.0]]


# A 1 kg block on a frictionless slide without gravity, pushed by a 20 N motor. The slide's end stops are soft
# constraints with a time constant (9 ms) below the two 10 ms steps that MuJoCo needs to resolve one (its safety clamp,
# `refsafe`, is off): the block bounces off an end stop with more energy than it brought, which no other sign of
# divergence shows (accelerations stay near 1e3, MuJoCo warns of nothing).
BOUNCING_BLOCK = """
<mujoco>
  <option timestep="0.01" gravity="0 0 0"><flag refsafe="disable"/></option>
  <worldbody>
    <body name="block">
      <joint name="slide" type="slide" axis="1 0 0" limited="true" range="-0.5 0.5" solreflimit="0.009 1"/>
      <geom type="box" size="0.05 0.05 0.05" mass="1"/>
    </body>
  </worldbody>
  <actuator><motor name="push" joint="slide" gear="20" ctrlrange="-1 1" ctrllimited="true"/></actuator>
</mujoco>
"""


def _bouncing_block(tmp_path, **kwargs) -> SimulatorRollout:
    """The block as a SimulatorRollout sees an env (model, model file, frame skip 2); observation [x, v], reward the
    speed after each step (so the bounce, the fastest sequence, would score best), no termination."""
    import types

    import mujoco

    from sb3_pg_extras.envs.simulator import SimulatorSpec

    path = tmp_path / "block.xml"
    path.write_text(BOUNCING_BLOCK)
    env = types.SimpleNamespace(model=mujoco.MjModel.from_xml_path(str(path)), frame_skip=2, fullpath=str(path))
    spec = SimulatorSpec(
        obs_to_state=lambda env, obs: (obs[:, :1], obs[:, 1:]),
        state_to_obs=lambda env, qpos, qvel: np.concatenate([qpos, qvel], -1),
        reward=lambda env, qpos_before, qpos_after, qvel_after, controls: np.abs(qvel_after[..., 0]),
        termination=lambda env, qpos, qvel: np.zeros(qpos.shape[:-1], dtype=bool),
    )
    return SimulatorRollout(env, spec, **kwargs)


def test_a_rollout_that_gains_energy_beyond_its_work_gets_zero_weight_beside_physical_ones(tmp_path) -> None:
    import torch as th

    from sb3_pg_extras.common.planning import mppi_weights, sequence_costs
    from sb3_pg_extras.common.planning.simulator import MAX_ENERGY_GAIN

    assert MAX_ENERGY_GAIN == 0.25  # J/kg: the 1 kg block may gain 0.25 J beyond the work done on it
    controls = np.zeros((3, 30, 1))  # 30 env steps of 20 ms from rest at x = 0
    controls[1, :5], controls[1, 5:10] = 0.2, -0.2  # a gentle push and its brake: 4 cm, nowhere near an end stop
    controls[2, :10] = 1.0  # 4 m/s (8 J) into the end stop at x = 0.5, then coasting: it bounces off faster
    obs = np.zeros(2)
    unchecked = _bouncing_block(tmp_path, max_energy_gain=None)
    free, _ = unchecked(obs, controls)
    assert np.isfinite(free).all() and unchecked.n_diverged == 0  # no other check sees the bounce
    sim = _bouncing_block(tmp_path)
    rewards, terminated = sim(obs, controls)
    np.testing.assert_array_equal(rewards[:2], free[:2])  # the physical sequences are scored as without the check
    bounce = int(np.argmax(np.isnan(rewards[2])))
    assert 10 < bounce < 20 and np.isnan(rewards[2, bounce:]).all()
    np.testing.assert_array_equal(rewards[2, :bounce], free[2, :bounce])  # marked from the step it gained energy
    assert sim.n_rollouts == 3 and sim.n_diverged == sim.n_energy_gain == 1

    def weights(rewards: np.ndarray) -> th.Tensor:
        alive = th.as_tensor(~terminated)
        return mppi_weights(sequence_costs(th.as_tensor(rewards), alive), temperature=1.0)

    assert float(weights(free)[2]) > 0.99  # unchecked, the bounce takes all the weight
    checked = weights(rewards)
    assert float(checked[2]) == 0.0 and float(checked[:2].min()) > 0 and abs(float(checked.sum()) - 1) < 1e-6


def test_the_energy_balance_of_a_frictionless_push_is_zero_and_of_the_bounce_is_its_gain(tmp_path) -> None:
    """Work of a force held over a physics step, with the velocities at both ends (semi-implicit Euler moves the
    position with the end velocity): for a frictionless push it equals the kinetic energy gained, to round-off."""
    sim = _bouncing_block(tmp_path)
    controls = np.zeros((2, 30, 1))
    controls[0, :5], controls[0, 5:10] = 0.2, -0.2
    controls[1, :10] = 1.0
    physics_controls = np.repeat(controls, 2, axis=1)
    physics_controls = np.concatenate([physics_controls, physics_controls[:, -1:]], axis=1)
    states, sensors = sim._rollout.rollout(sim.model, sim._data, sim.initial_state(np.zeros(2)), physics_controls)
    gain = sim.energy_gain(sensors)
    assert gain.shape == (2, 60)
    assert np.abs(gain[0]).max() < 1e-9 and np.abs(gain[1, :20]).max() < 1e-9  # pushes, before any end stop
    velocity = states[1, :60, 2]  # after each physics step (the extra one only reads the sensors)
    kinetic = 0.5 * velocity**2
    rebound = int(np.argmax(velocity < 0))  # the first physics step moving back
    # coasting back from the end stop, the gain is the kinetic energy beyond the 8 J of work the push did
    push_work = 0.5 * velocity[19] ** 2
    assert 7.9 < push_work < 8.1
    coast = slice(rebound + 3, rebound + 15)
    np.testing.assert_allclose(gain[1, coast], kinetic[coast] - push_work, atol=1e-9)
    assert gain[1, coast].min() > 1.0  # four times the default tolerance (0.25 J/kg)


def test_the_acceleration_bound_defaults_to_the_value_the_docs_state() -> None:
    """docs/mppi.md and the MPPI and SimulatorRollout docstrings give 1e5 (m/s^2 or rad/s^2) as the bound beyond which a
    rollout counts as diverged: the default must be that number."""
    assert inspect.signature(SimulatorRollout).parameters["max_acceleration"].default == 1e5


def test_instability_is_marked_from_the_env_step_of_a_time_jump_a_too_large_acceleration_or_a_non_finite_state() -> None:
    _, obs = env_after_random_steps("HalfCheetah-v5", 3)
    env = gym.make("HalfCheetah-v5").unwrapped
    dt, frame_skip, nq = env.model.opt.timestep, env.frame_skip, env.model.nq
    limit = 0.5 / dt  # the largest acceleration allowed: a velocity change of 0.5 in one physics step
    sim = SimulatorRollout(env, SIMULATOR_SPECS["HalfCheetah-v5"], max_acceleration=limit)
    start = sim.initial_state(obs)
    start[0, 1 + nq :] = 0.0  # a full-physics state is (time, qpos, qvel, ...): at rest
    horizon, rows = 4, 7
    states = np.repeat(np.repeat(start[:, None], horizon * frame_skip, axis=1), rows, axis=0)
    states[..., 0] = start[0, 0] + dt * np.arange(1, horizon * frame_skip + 1)  # physics step j ends at t0 + (j + 1) dt
    states[1, 7:, 0] -= 0.6 * dt  # the time off by more than half a step from physics step 7 (in env step 1)
    states[2, 7:, 0] += 0.4 * dt  # by less
    states[3, 12:, 1 + nq] = 0.5  # an acceleration of exactly the limit at physics step 12 (env step 2)
    states[4, 12:, 1 + nq] = 0.50001  # just above it
    states[5, 19, 3] = np.nan  # a non-finite state at the last physics step of env step 3
    states[6, 0, 0] = np.nan  # a NaN time at the first physics step
    diverged = sim.unstable(start, states)
    assert diverged.tolist() == [
        [False] * 4,
        [False, True, True, True],
        [False] * 4,
        [False] * 4,
        [False, False, True, True],
        [False, False, False, True],
        [True] * 4,
    ]


def test_the_acceleration_bound_must_be_positive() -> None:
    env = gym.make("HalfCheetah-v5").unwrapped
    for bound in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="max_acceleration must be > 0"):
            SimulatorRollout(env, SIMULATOR_SPECS["HalfCheetah-v5"], max_acceleration=bound)
    assert SimulatorRollout(env, SIMULATOR_SPECS["HalfCheetah-v5"], max_acceleration=0.5).max_acceleration == 0.5


def _beyond_clip(env_id: str):
    """An env whose foot joint, spinning at 9.5 rad/s (inside the observation's clip), is driven on by full torque
    for one step, beyond the clip; the simulator told that control: (env, sim, float32 observation, true velocities)."""
    env = gym.make(env_id)
    env.reset(seed=0)
    real = env.unwrapped
    qvel = real.data.qvel.copy()
    qvel[-1] = 9.5
    real.set_state(real.data.qpos.copy(), qvel)
    sim = SimulatorRollout(real, SIMULATOR_SPECS[env_id])
    control = np.eye(env.action_space.shape[0])[-1]  # the foot's actuator at +1
    sim.executed(real._get_obs().astype(np.float32), control)  # the planner's observation is float32
    obs, *_ = env.step(control)
    return env, sim, obs.astype(np.float32), real.data.qvel.copy()


def _start_velocities(sim: SimulatorRollout, obs: np.ndarray) -> np.ndarray:
    return sim.initial_state(obs)[0, sim._qvel]


@pytest.mark.parametrize("env_id", ["Hopper-v5", "Walker2d-v5"])
def test_velocities_beyond_the_observations_clip_are_restored_from_the_prediction_of_the_step_before(env_id) -> None:
    env, sim, obs, true = _beyond_clip(env_id)
    assert SIMULATOR_SPECS[env_id].velocity_clip == 10.0
    assert true[-1] > 10.3  # the foot beyond the clip
    np.testing.assert_allclose(_start_velocities(sim, obs), true, atol=1e-4)
    assert sim.n_clipped == sim.n_restored >= 1
    # without the predictions (a fresh simulator), the state behind the observation alone has the clipped velocities
    fresh = SimulatorRollout(env.unwrapped, SIMULATOR_SPECS[env_id])
    alone = _start_velocities(fresh, obs)
    np.testing.assert_allclose(alone, np.clip(true, -10, 10), atol=1e-5)
    assert alone[-1] == 10.0
    assert (fresh.n_clipped, fresh.n_restored) == (1, 0)


def test_an_observation_that_matches_no_prediction_keeps_the_clipped_velocities() -> None:
    _, sim, obs, _ = _beyond_clip("Walker2d-v5")
    at_clip = np.abs(obs[8:]) >= 10
    assert at_clip.any()
    moved = obs.copy()
    moved[1] += 0.02  # a joint angle 0.02 rad from the predicted one: another state
    velocities = _start_velocities(sim, moved)
    np.testing.assert_array_equal(velocities[at_clip], obs[8:][at_clip])
    assert sim.n_restored == 0 and sim.n_clipped == 1
    # a velocity inside the clip is the observation's, whichever prediction matches
    np.testing.assert_array_equal(_start_velocities(sim, obs)[~at_clip], obs[8:][~at_clip].astype(np.float64))


def test_the_newest_matching_prediction_restores_and_the_oldest_are_dropped() -> None:
    from sb3_pg_extras.common.planning.simulator import PREDICTIONS_KEPT

    _, sim, obs, true = _beyond_clip("Walker2d-v5")
    predicted_obs, predicted = sim._predictions[-1]
    sim._predictions.append((predicted_obs, predicted + 1.0))  # a newer prediction of the same observation
    newest = np.where(np.abs(obs[8:]) >= 10, true + 1.0, true)  # only the clipped velocity is taken from it
    np.testing.assert_allclose(_start_velocities(sim, obs), newest, atol=1e-4)
    sim._predictions.clear()
    sim._predictions.append((predicted_obs, predicted))
    other = (predicted_obs + 1.0, predicted)
    for _ in range(PREDICTIONS_KEPT - 1):  # the prediction is still kept among PREDICTIONS_KEPT
        sim._predictions.append(other)
    np.testing.assert_allclose(_start_velocities(sim, obs), true, atol=1e-4)
    sim._predictions.append(other)  # one more: the oldest is dropped
    assert _start_velocities(sim, obs)[-1] == 10.0


@pytest.mark.parametrize("env_id", ["HalfCheetah-v5", "InvertedPendulum-v5"])
def test_an_observation_without_clipped_velocities_needs_no_prediction(env_id: str) -> None:
    env, obs = env_after_random_steps(env_id, 3)
    sim = SimulatorRollout(env.unwrapped, SIMULATOR_SPECS[env_id])
    sim.executed(obs, env.action_space.sample())
    assert len(sim._predictions) == 0 and sim.n_clipped == 0
