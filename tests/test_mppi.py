"""MPPI: planning with the known Pendulum dynamics, the warm-start state, reproducible deterministic predict, the
learned-model mode, construction errors."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_pg_extras import MPPI
from sb3_pg_extras.common.planning import shift_plan
from tests.algos import TupleActionEnv

th.set_num_threads(1)


def test_known_pendulum_dynamics_swing_up_in_one_episode():
    model = MPPI("MlpPolicy", "Pendulum-v1", n_samples=300, horizon=20, seed=0)
    assert model.resolved_dynamics == "known" and model.dynamics is None
    mean, _ = evaluate_policy(model, make_vec_env("Pendulum-v1", seed=3), n_eval_episodes=1)
    assert mean > -400  # a random policy scores about -1200; a swing-up about -150 to -350


def test_predict_returns_bounded_actions_and_the_shifted_plan_as_state():
    model = MPPI("MlpPolicy", "Pendulum-v1", n_samples=50, horizon=6, seed=0)
    env = make_vec_env("Pendulum-v1", n_envs=2, seed=0)
    obs = env.reset()
    actions, state = model.predict(obs, deterministic=True)
    assert actions.shape == (2, 1) and np.all(np.abs(actions) <= 2.0)
    assert state.shape == (2, 6, 1) and np.all(state[:, -1] == 0)  # shifted: the last step is the fill value
    # the state is the optimized plan shifted by one step: replanning from it with the same noise is reproducible
    again, state_again = model.predict(obs, deterministic=True)
    np.testing.assert_array_equal(actions, again)
    np.testing.assert_array_equal(state, state_again)
    # a new episode starts from a zero plan, whatever the state says
    from_zero, _ = model.predict(obs, state=np.ones_like(state), episode_start=np.array([True, True]), deterministic=True)
    np.testing.assert_array_equal(from_zero, actions)
    warm, _ = model.predict(obs, state=np.ones_like(state), episode_start=np.array([False, True]), deterministic=True)
    assert warm[0] != actions[0] and warm[1] == actions[1]
    single, single_state = model.predict(obs[0], deterministic=True)
    assert single.shape == (1,) and single_state.shape == (1, 6, 1)
    with pytest.raises(ValueError, match="state must be the plans"):
        model.predict(obs, state=np.zeros((2, 5, 1)))


def test_shift_plan_fills_with_zero():
    plan = th.arange(3.0).reshape(3, 1)
    th.testing.assert_close(shift_plan(plan), th.tensor([[1.0], [2.0], [0.0]]))


def test_learn_with_known_dynamics_plans_from_the_first_step_and_logs():
    model = MPPI("MlpPolicy", "Pendulum-v1", n_samples=20, horizon=4, seed=0)
    model.learn(30)
    assert model.num_timesteps == 30 and model.n_planned == 30 and model.plan_time > 0


def test_learned_mode_fits_the_model_on_the_planners_data(tmp_path):
    model = MPPI(
        "MlpPolicy", "Pendulum-v1", dynamics_mode="learned", n_samples=20, horizon=4, learning_starts=100,
        model_train_freq=100, dynamics_kwargs=dict(n_members=2, n_elites=1, hidden_sizes=[8], max_epochs=2), seed=0,
    )  # fmt: skip
    assert model.resolved_dynamics == "learned" and model.dynamics is not None
    model.learn(250)
    assert model.n_planned == 149  # random warm-up steps until the first fit (after step 101), then the planner
    assert model.last_model_update == 201 and model._n_updates == 2  # refits at steps 101 and 201
    model.save(tmp_path / "mppi")
    loaded = MPPI.load(tmp_path / "mppi")
    for name, tensor in model.dynamics.model.state_dict().items():
        th.testing.assert_close(loaded.dynamics.model.state_dict()[name], tensor, msg=name)
    obs = make_vec_env("Pendulum-v1", seed=1).reset()
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n_samples=1), "n_samples"),
        (dict(horizon=0), "horizon"),
        (dict(temperature=0.0), "lambda"),
        (dict(temperature=-1.0), "lambda"),
        (dict(noise_std=0.0), "noise_std"),
        (dict(smoothing=1.0), "smoothing"),
        (dict(dynamics_mode="simulated"), "dynamics_mode"),
        (dict(gamma=0.0), "gamma"),
        (dict(model_train_freq=0), "model_train_freq"),
        (dict(control_cost=float("nan")), "control_cost"),
        (dict(temperature=float("inf")), "temperature"),
        (dict(noise_std=float("nan")), "noise_std"),
        (dict(smoothing=float("nan")), "smoothing"),
        (dict(termination_cost=float("nan")), "termination_cost"),
        (dict(termination_cost=-1.0), "termination_cost"),
        (dict(termination_cost="always"), "termination_cost"),
        (dict(n_knots=1), "n_knots"),
        (dict(n_knots=31), "n_knots"),  # more knots than the default horizon's 30 steps
        (dict(n_knots=2.5), "n_knots"),
        (dict(n_knots=True), "n_knots"),
        (dict(n_knots=5, smoothing=0.5), "n_knots and smoothing"),
        (dict(n_knots=5, control_cost=1.0), "n_knots cannot be used with control_cost"),
        (dict(nominal_sample="yes"), "nominal_sample must be True or False"),
    ],
)
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MPPI("MlpPolicy", "Pendulum-v1", **kwargs)


@pytest.mark.mujoco
def test_unsupported_envs_are_refused():
    with pytest.raises(ValueError, match="action space"):
        MPPI("MlpPolicy", "CartPole-v1")
    with pytest.raises(ValueError, match="action space"):
        MPPI("MlpPolicy", TupleActionEnv())
    with pytest.raises(ValueError, match=r"no dynamics for the env 'InvertedPendulum-v5'.*dynamics_mode='learned'"):
        MPPI("MlpPolicy", "InvertedPendulum-v5", dynamics_mode="known")
    assert MPPI("MlpPolicy", "Swimmer-v5").resolved_dynamics == "learned"  # auto: no known dynamics nor simulator mapping
    with pytest.raises(ValueError, match=r"no simulator state mapping for the env 'Pendulum-v1'.*supports"):
        MPPI("MlpPolicy", "Pendulum-v1", dynamics_mode="simulator")


@pytest.mark.mujoco
def test_the_true_simulator_balances_the_inverted_pendulum_and_survives_save_load(tmp_path):
    model = MPPI("MlpPolicy", "InvertedPendulum-v5", n_samples=32, horizon=25, seed=0)
    assert model.resolved_dynamics == "simulator" and model.dynamics is None  # auto picks the simulator
    env = make_vec_env("InvertedPendulum-v5", seed=1, env_kwargs=dict(max_episode_steps=60))
    mean, _ = evaluate_policy(model, env, n_eval_episodes=1)
    assert mean == 60  # balanced for the whole (shortened) episode; random actions fall within about 10 steps
    model.save(tmp_path / "mppi")
    loaded = MPPI.load(tmp_path / "mppi")  # no env: the planning copy is made from the env id
    obs = env.reset()
    np.testing.assert_allclose(
        loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0], atol=1e-6
    )


@pytest.mark.parametrize(
    ("env_id", "kwargs", "match"),
    [
        ("Pendulum-v1", dict(learn_reward=True), r"dynamics_mode='known'.*`learn_reward`.*dynamics_mode='learned'"),
        ("Pendulum-v1", dict(dynamics_kwargs=dict(n_members=3)), r"does not use `dynamics_kwargs`"),
        ("Pendulum-v1", dict(dynamics_mode="learned", dynamics_fn=lambda o, a: o), r"`dynamics_fn`.*'known'"),
        ("InvertedPendulum-v5", dict(learn_termination=True), r"dynamics_mode='simulator'.*`learn_termination`"),
        ("InvertedPendulum-v5", dict(dynamics_mode="simulator", dynamics_fn=lambda o, a: o), r"`dynamics_fn`"),
    ],
)
def test_settings_the_resolved_mode_would_ignore_are_refused(env_id, kwargs, match):
    with pytest.raises(ValueError, match=match):
        MPPI("MlpPolicy", env_id, **kwargs)


@pytest.mark.mujoco
def test_a_given_reward_fn_steers_the_simulator_planner():
    """In the simulator mode the user's reward scores the rolled-out observations instead of the env's reward:
    rewarding backward speed (observation index 8 is the root's x velocity) drives the cheetah backward."""

    def backward(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
        return -next_obs[:, 8]

    positions = {}
    for name, reward_fn in (("env reward", None), ("backward", backward)):
        model = MPPI("MlpPolicy", "HalfCheetah-v5", n_samples=32, horizon=10, reward_fn=reward_fn, seed=0)
        assert model.resolved_dynamics == "simulator"
        env = make_vec_env("HalfCheetah-v5", seed=1)
        obs, state = env.reset(), None
        for _ in range(30):  # 1.5 and -2.2 after 30 steps
            action, state = model.predict(obs, state, deterministic=True)
            obs, *_ = env.step(action)
        positions[name] = float(env.envs[0].unwrapped.data.qpos[0])
    assert positions["env reward"] > 0.5 and positions["backward"] < -0.5, positions


def test_diverging_known_dynamics_get_no_weight_and_no_nan_reaches_the_env():
    """Known dynamics that blow up (a non-finite next state) for torques above 1: those sequences get weight 0, so the
    plan is an average of the others and every action is finite and at most 1; the counts are logged under planner/."""
    from stable_baselines3.common.logger import configure

    from sb3_pg_extras.envs.classic import pendulum_dynamics

    def blows_up(obs: th.Tensor, action: th.Tensor) -> th.Tensor:
        next_obs = pendulum_dynamics(obs, action)
        return next_obs.masked_fill((action[:, :1] > 1.0).expand_as(next_obs), float("inf"))

    model = MPPI("MlpPolicy", "Pendulum-v1", dynamics_mode="known", dynamics_fn=blows_up, n_samples=64, horizon=5, seed=0)
    obs = make_vec_env("Pendulum-v1", seed=0).reset()
    state = None
    for _ in range(5):
        actions, state = model.predict(obs, state)
        assert np.isfinite(actions).all() and float(actions.max()) <= 1.0
    assert 0 < model.planner.n_diverged < model.planner.n_sampled
    logger = configure(None, [])
    model.set_logger(logger)
    model.predict(obs, state)
    assert 0 < logger.name_to_value["planner/diverged_fraction"] < 1
    assert logger.name_to_value["planner/all_diverged"] == 0


@pytest.mark.mujoco
def test_the_simulator_logs_the_fraction_of_rollouts_the_energy_check_marked():
    """planner/energy_gain_fraction is the simulator's count of rollouts that gained energy beyond their actuators'
    work over all it rolled out: none at the start of a HalfCheetah-v5 episode with the default tolerance (3.5 J), most
    with a tolerance of 0 J (the start state gives back some of the energy its ground contacts hold)."""
    from stable_baselines3.common.logger import configure

    obs = make_vec_env("HalfCheetah-v5", seed=0).reset()
    fractions = {}
    for tolerance in ("default", 0.0):
        model = MPPI("MlpPolicy", "HalfCheetah-v5", n_samples=16, horizon=5, seed=0)
        simulator = model._backend.simulator
        if tolerance != "default":
            simulator.energy_tolerance = tolerance
        logger = configure(None, [])
        model.set_logger(logger)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # every sequence diverged: the plan is kept
            model.predict(obs)
        fractions[tolerance] = logger.name_to_value["planner/energy_gain_fraction"]
        assert fractions[tolerance] == simulator.n_energy_gain / simulator.n_rollouts
    assert fractions["default"] == 0.0 and fractions[0.0] > 0.5


def test_a_non_finite_observation_is_refused():
    model = MPPI("MlpPolicy", "Pendulum-v1", n_samples=8, horizon=3, seed=0)
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="non-finite observation"):
            model.predict(np.array([[1.0, 0.0, bad]], dtype=np.float32))
    with pytest.raises(ValueError, match="state"):
        model.predict(np.zeros((1, 3), dtype=np.float32), state=np.full((1, 3, 1), np.nan))


def test_the_first_plan_in_learned_mode_follows_a_fit():
    model = MPPI(
        "MlpPolicy", "Pendulum-v1", dynamics_mode="learned", n_samples=8, horizon=3, learning_starts=20,
        model_train_freq=100, dynamics_kwargs=dict(n_members=2, n_elites=1, hidden_sizes=[8], max_epochs=1), seed=0,
    )  # fmt: skip
    fitted_at_plan = []
    plan = model.plan

    def recording_plan(*args, **kwargs):
        fitted_at_plan.append(model.last_model_update)
        return plan(*args, **kwargs)

    model.plan = recording_plan  # type: ignore[method-assign]
    model.learn(25)
    assert fitted_at_plan and fitted_at_plan[0] == 21  # first fit after step 21, the first step SB3 trains after


@pytest.mark.mujoco
def test_each_env_plans_from_velocities_restored_beyond_the_observations_clip():
    """Walker2d-v5 clips velocities in its observation at 10: after each planned step the simulator keeps the state it
    predicts after the action predict returns (the first of the optimized plan), one per env, which restores the
    velocities of that env's next observation."""
    envs = [gym.make("Walker2d-v5") for _ in range(2)]
    obs = np.stack([env.reset(seed=i)[0] for i, env in enumerate(envs)])
    model = MPPI("MlpPolicy", "Walker2d-v5", n_samples=4, horizon=2, seed=0)
    simulator = model._backend.simulator
    state = None
    for _ in range(6):
        actions, state = model.predict(obs, state, deterministic=True)
        obs = np.stack([env.step(a)[0] for env, a in zip(envs, actions)])
        for i in range(len(envs)):  # the newest two predictions: env 0, then env 1, each after its action
            np.testing.assert_allclose(simulator._predictions[i - 2][0], obs[i], atol=1e-4)
    assert simulator.n_clipped > 0 and simulator.n_restored == simulator.n_clipped
    assert model._backend.diagnostics()["restored_fraction"] == 1.0


@pytest.mark.mujoco
def test_termination_cost_defaults_to_the_alive_reward_in_the_simulator():
    assert MPPI("MlpPolicy", "Hopper-v5", n_samples=2, horizon=1).planner.termination_cost == 1.0
    hopper = MPPI("MlpPolicy", gym.make("Hopper-v5", healthy_reward=3.0), n_samples=2, horizon=1)
    assert hopper.resolved_termination_cost == 3.0
    assert MPPI("MlpPolicy", "InvertedPendulum-v5", n_samples=2, horizon=1).resolved_termination_cost == 1.0
    assert MPPI("MlpPolicy", "HalfCheetah-v5", n_samples=2, horizon=1).resolved_termination_cost == 0.0
    assert MPPI("MlpPolicy", "Pendulum-v1", n_samples=2, horizon=1).resolved_termination_cost == 0.0  # known: may be a goal
    assert MPPI("MlpPolicy", "Hopper-v5", n_samples=2, horizon=1, termination_cost=5).planner.termination_cost == 5.0


def test_a_learned_reward_head_is_marked_where_the_predicted_state_diverges():
    from sb3_pg_extras.mppi.mppi import _MarkDivergedModel

    class Model:
        learn_reward, learn_termination = True, False

        def sample_members(self, batch, mode="random", generator=None):
            return th.zeros(batch, dtype=th.long)

        def predict(self, obs, actions, members, deterministic=False, generator=None, noise=None):
            return obs.masked_fill(actions > 1, float("inf")), th.ones(len(obs)), None

    model = _MarkDivergedModel(Model())
    assert model.learn_reward and not model.learn_termination and model.sample_members(3).shape == (3,)
    next_obs, reward, done = model.predict(th.zeros(3, 1), th.tensor([[0.0], [2.0], [0.5]]), model.sample_members(3))
    assert th.isinf(next_obs[1]).all() and done is None
    assert reward[[0, 2]].eq(1).all() and th.isnan(reward[1])


def test_a_round_in_which_every_sequence_diverged_keeps_the_plan_and_warns_at_the_users_line():
    model = MPPI("MlpPolicy", "Pendulum-v1", n_samples=8, horizon=3, seed=0)

    def nan_rollout(start, candidates, generator=None):
        return th.full(candidates.shape[:2], float("nan")), th.ones(candidates.shape[:2], dtype=th.bool)

    model._backend.rollout = nan_rollout
    obs = np.zeros((1, 3), dtype=np.float32)
    plans = np.full((1, 3, 1), 0.25, dtype=np.float32)
    with pytest.warns(RuntimeWarning, match="every sampled sequence diverged") as record:
        action, _ = model.predict(obs, state=plans, deterministic=True)
    assert record[0].filename == __file__
    assert model.planner.n_all_diverged == 1
    np.testing.assert_allclose(action, [[0.5]])  # the kept plan's first action (0.25 of the [-2, 2] torque range)


def test_n_knots_reaches_the_planner_and_survives_save_load(tmp_path):
    model = MPPI("MlpPolicy", "Pendulum-v1", n_samples=50, horizon=8, n_knots=np.int64(3), seed=0)
    assert model.n_knots == 3 and type(model.n_knots) is int and model.planner.n_knots == 3
    assert MPPI("MlpPolicy", "Pendulum-v1", n_samples=50, horizon=8).planner.n_knots is None  # off by default
    obs = make_vec_env("Pendulum-v1", seed=1).reset()
    action, state = model.predict(obs, deterministic=True)
    assert state.shape == (1, 8, 1)  # the plan stays one action per step
    model.save(tmp_path / "knots")
    loaded = MPPI.load(tmp_path / "knots")
    assert loaded.n_knots == 3 and loaded.planner.n_knots == 3
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], action)
    # a file saved before n_knots existed loads without knots
    del model.n_knots
    model.save(tmp_path / "before")
    assert MPPI.load(tmp_path / "before").planner.n_knots is None


def test_nominal_sample_reaches_the_planner_and_survives_save_load(tmp_path):
    model = MPPI("MlpPolicy", "Pendulum-v1", n_samples=20, horizon=5, nominal_sample=True, seed=0)
    assert model.planner.nominal_sample is True
    assert MPPI("MlpPolicy", "Pendulum-v1", n_samples=20, horizon=5).planner.nominal_sample is False  # off by default
    model.save(tmp_path / "nominal")
    assert MPPI.load(tmp_path / "nominal").planner.nominal_sample is True


def test_deterministic_predict_draws_new_perturbations_at_every_step_and_the_same_ones_for_the_same_inputs():
    """The generator of deterministic predict is seeded by the model's seed, the observation and the warm-start plan:
    reproducible for the same inputs, new draws at every step of an episode (one seed for every call would search the
    same K perturbations forever), and each env's draws depend on its own inputs only."""
    model = MPPI("MlpPolicy", "Pendulum-v1", n_samples=20, horizon=5, seed=3)
    seeds = []
    make = model._input_generator
    model._input_generator = lambda obs, nominal: (gen := make(obs, nominal), seeds.append(gen.initial_seed()))[0]
    env = make_vec_env("Pendulum-v1", n_envs=1, seed=0)
    obs, state = env.reset(), None
    for _ in range(5):
        _, state = model.predict(obs, state, deterministic=True)
        obs, *_ = env.step(model.predict(obs, state, deterministic=True)[0])
    assert len(set(seeds)) == len(seeds)  # ten calls, ten different (observation, plan) pairs
    seeds.clear()
    pair = np.stack([obs[0], obs[0] + 0.1])
    first, _ = model.predict(pair, deterministic=True)
    again, _ = model.predict(pair[::-1].copy(), deterministic=True)
    np.testing.assert_array_equal(again[::-1], first)  # each env's action from its own inputs
    assert seeds[0] == seeds[3] and seeds[1] == seeds[2] and seeds[0] != seeds[1]
    other_seed = MPPI("MlpPolicy", "Pendulum-v1", n_samples=20, horizon=5, seed=4)
    assert other_seed._input_generator(th.as_tensor(pair[0]), np.zeros((5, 1), np.float32)).initial_seed() != seeds[0]


def test_the_planning_time_is_measured_per_plan_and_logged_in_milliseconds():
    import time

    model = MPPI("MlpPolicy", "Pendulum-v1", n_samples=20, horizon=5, learning_starts=5, seed=0)  # train() logs it
    began = time.perf_counter()
    model.learn(30)
    elapsed = time.perf_counter() - began
    assert model.n_planned == 30 and 0 < model.plan_time < elapsed
    assert model.logger.name_to_value["time/plan_ms"] == pytest.approx(1000 * model.plan_time / model.n_planned)


def test_planning_without_an_all_diverged_round_warns_nothing():
    import warnings

    model = MPPI("MlpPolicy", "Pendulum-v1", n_samples=20, horizon=5, seed=0)
    obs = make_vec_env("Pendulum-v1", seed=0).reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the all-diverged warning (a RuntimeWarning) would raise
        model.predict(obs, deterministic=True)
        model.predict(obs, deterministic=True)
    assert model.planner.n_all_diverged == 0
