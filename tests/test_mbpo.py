"""MBPO: the horizon schedule, the mixed real/model buffer, imagined data from the known env functions, save/load of
the dynamics state, and construction errors."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
import yaml
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from sb3_pg_extras import MBPO, SVG
from sb3_pg_extras.common.dynamics import (
    KnownDynamics,
    MixedReplayBuffer,
    ModelTransitionBuffer,
    Transitions,
    real_transitions,
)
from sb3_pg_extras.envs import get_env_functions
from sb3_pg_extras.mbpo import linear_rollout_horizon
from sb3_pg_extras.zoo import hyperparams_path
from tests.algos import ALGOS, TupleActionEnv

th.set_num_threads(1)

# The generic table's tiny settings, with the known env functions instead of learned heads.
TINY = {k: v for k, v in next(c for c in ALGOS if c.zoo_key == "mbpo").kwargs.items() if not k.startswith("learn_")}


def test_linear_rollout_horizon_schedule():
    # MBPO's Hopper schedule in env steps: horizon 1 until 20k, 15 from 100k, linear (rounded down) in between.
    h = [linear_rollout_horizon(s, 20_000, 100_000, 1, 15) for s in (0, 20_000, 20_001, 60_000, 99_999, 100_000, 10**6)]
    assert h == [1, 1, 1, 8, 14, 15, 15]
    assert linear_rollout_horizon(10, 5, 5, 2, 4) == 4  # degenerate range: a step at start
    assert linear_rollout_horizon(3, 5, 5, 2, 4) == 2


def _numbered(values: np.ndarray) -> Transitions:
    """Transitions whose every field holds the given numbers (reward i, obs i, ...)."""
    x = th.as_tensor(values, dtype=th.float32)
    return Transitions(x[:, None], x[:, None], x[:, None], x, th.zeros(len(x), dtype=th.bool))


def test_model_transition_buffer_wraps_and_resizes():
    buf = ModelTransitionBuffer(5, obs_dim=1, action_dim=1)
    for start in (0, 3):
        buf.extend(_numbered(np.arange(start, start + 3)))
    assert len(buf) == 5 and sorted(buf.rewards.tolist()) == [1, 2, 3, 4, 5]
    assert buf.stored().rewards.tolist() == [1, 2, 3, 4, 5]
    bigger = buf.resized(8)
    assert len(bigger) == 5 and bigger.rewards[:5].tolist() == [1, 2, 3, 4, 5]  # oldest first
    smaller = buf.resized(2)
    assert smaller.rewards.tolist() == [4, 5]  # keeps the newest
    buf.extend(_numbered(np.arange(7)))
    assert sorted(buf.rewards.tolist()) == [2, 3, 4, 5, 6]
    terminal = _numbered(np.arange(2))
    terminal.terminated[1] = True
    buf.extend(terminal)
    assert buf.stored().terminated.tolist()[-2:] == [0.0, 1.0]  # stored as SB3's float dones


def test_real_transitions_flatten_envs_and_exclude_truncations():
    obs_space, act_space = spaces.Box(-10, 10, (2,)), spaces.Box(-1, 1, (1,))
    buffer = MixedReplayBuffer(10, obs_space, act_space, "cpu", n_envs=2)
    for t in range(3):
        obs = np.array([[t, 0.0], [t, 1.0]])
        # env 0 terminates at t = 1; env 1 is truncated by its time limit at t = 2
        dones = np.array([t == 1, t == 2])
        infos = [{}, {"TimeLimit.truncated": t == 2}]
        buffer.add(obs, obs + 1, np.full((2, 1), 0.5), np.array([t, 10 + t]), dones, infos)
    data = real_transitions(buffer)
    assert len(data) == 6 and data.observations.dtype == th.float32
    assert data.rewards.tolist() == [0, 10, 1, 11, 2, 12]
    assert data.terminated.tolist() == [0, 0, 1, 0, 0, 0]  # the truncation is not a termination
    th.testing.assert_close(data.next_observations, data.observations + 1)


def test_mixed_buffer_draws_real_ratio_of_real_data():
    obs_space, act_space = spaces.Box(-1, 1, (2,)), spaces.Box(-1, 1, (1,))
    buffer = MixedReplayBuffer(100, obs_space, act_space, "cpu", real_ratio=0.25, model_buffer_size=50)
    for _ in range(10):
        buffer.add(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 1)), np.ones(1), np.zeros(1), [{}])
    assert th.all(buffer.sample(8).rewards == 1)  # model buffer empty: all real
    buffer.model_buffer.extend(Transitions(th.zeros(20, 2), th.zeros(20, 1), th.zeros(20, 2), -th.ones(20), th.ones(20)))
    batch = buffer.sample(8)
    assert batch.observations.shape == (8, 2) and batch.dones.shape == (8, 1)
    assert int((batch.rewards == 1).sum()) == 2 and int((batch.rewards == -1).sum()) == 6
    assert th.all(batch.dones[batch.rewards == -1] == 1)


def test_imagined_transitions_use_the_known_pendulum_functions():
    model = MBPO("MlpPolicy", "Pendulum-v1", seed=0, **TINY)
    model.learn(150)
    buffer = model.mixed_buffer.model_buffer
    assert model.last_model_update >= 100 and len(buffer) > 0
    assert buffer.capacity == model.rollouts_per_step * model.model_retain_steps * model.rollout_horizon()
    n = len(buffer)
    obs, actions, next_obs = (th.as_tensor(a[:n]) for a in (buffer.observations, buffer.actions, buffer.next_observations))
    assert float(actions.abs().max()) <= 1.0  # stored as SB3 stores actions: scaled to [-1, 1]
    fns = get_env_functions("Pendulum-v1")
    assert fns is not None
    expected = fns.reward(obs, 2.0 * actions, next_obs)  # Pendulum's torque range is [-2, 2]
    np.testing.assert_allclose(buffer.rewards[:n], expected.numpy(), rtol=1e-5, atol=1e-5)
    assert not buffer.dones[:n].any()  # Pendulum never terminates
    assert model.model_fit_time > 0 and model.model_rollout_time > 0 and model.sac_train_time > 0


@pytest.mark.mujoco
def test_learns_on_a_mujoco_env_with_float64_observations_and_terminations():
    model = MBPO("MlpPolicy", "InvertedPendulum-v5", seed=0, **TINY)
    model.learn(150)
    buffer = model.mixed_buffer.model_buffer
    assert len(buffer) > 0 and buffer.observations.dtype == np.float32


@pytest.mark.parametrize("terminate_at", [1, 2])
def test_imagined_steps_after_a_termination_are_not_stored(terminate_at: int):
    # A known model that adds 10 to the first observation entry (in [-1, 1] on real states) at every step, so that
    # round(obs[0] / 10) is the step index h; every branch terminates at its step `terminate_at` - 1 (0-based), so
    # with a horizon of 4 only `terminate_at` steps per branch may be stored.
    def reward_fn(obs, action, next_obs):
        return th.round(obs[:, 0] / 10)

    def termination_fn(obs, action, next_obs):
        return next_obs[:, 0] > 10 * terminate_at - 2

    model = MBPO(
        "MlpPolicy", "Pendulum-v1", seed=0, **{**TINY, "min_rollout_horizon": 4, "max_rollout_horizon": 4},
        reward_fn=reward_fn, termination_fn=termination_fn,
    )  # fmt: skip
    model.learn(60)  # learning_starts=50: the dynamics component exists
    offset = th.zeros(model.observation_space.shape[0])
    offset[0] = 10.0
    model.dynamics.model = KnownDynamics(lambda obs, action: obs + offset, model.action_space)
    old = model.mixed_buffer.model_buffer  # drop what learn() imagined
    model.mixed_buffer.model_buffer = ModelTransitionBuffer(old.capacity, old.observations.shape[1], old.actions.shape[1])
    model._imagine()
    stored = model.mixed_buffer.model_buffer.stored()
    n_branches = model.rollouts_per_step * model.model_train_freq
    assert len(stored.rewards) == n_branches * terminate_at
    assert int(stored.terminated.sum()) == n_branches  # one termination per branch, its last stored step
    assert sorted(set(stored.rewards.tolist())) == list(range(terminate_at))


def test_learned_reward_and_termination_heads_train_on_an_env_without_functions():
    model = MBPO("MlpPolicy", UnregisteredBoxEnv(), learn_reward=True, learn_termination=True, seed=0, **TINY)
    model.learn(150)
    assert len(model.mixed_buffer.model_buffer) > 0
    assert model.dynamics.model.learn_reward and model.dynamics.model.learn_termination
    assert model.dynamics.reward_fn is None and model.dynamics.termination_fn is None  # the learned heads score steps


def _record_first_fits(model: MBPO) -> list[bool]:
    """Wrap the dynamics component's fit; the returned list gets its ``first`` flag at every refit."""
    firsts: list[bool] = []
    fit = model.dynamics.fit

    def recording_fit(data, logger=None, first=False):
        firsts.append(first)
        return fit(data, logger, first=first)

    model.dynamics.fit = recording_fit  # type: ignore[method-assign]
    return firsts


def test_save_load_restores_dynamics_state_and_counters(tmp_path):
    model = MBPO("MlpPolicy", "Pendulum-v1", seed=0, **TINY)
    firsts = _record_first_fits(model)
    model.learn(150)
    assert firsts[0] and not any(firsts[1:]) and len(firsts) > 1  # only the run's first fit is uncapped
    model.save(tmp_path / "mbpo")
    loaded = MBPO.load(tmp_path / "mbpo", env=make_vec_env("Pendulum-v1", n_envs=1))
    for name, tensor in model.dynamics.model.state_dict().items():
        th.testing.assert_close(loaded.dynamics.model.state_dict()[name], tensor, msg=name)
    normalizer = loaded.dynamics.model.input_normalizer
    assert not th.allclose(normalizer.std, th.ones_like(normalizer.std))
    saved_opt, loaded_opt = model.dynamics.optimizer.state_dict(), loaded.dynamics.optimizer.state_dict()
    assert saved_opt["state"].keys() == loaded_opt["state"].keys()
    for key, state in saved_opt["state"].items():
        th.testing.assert_close(loaded_opt["state"][key]["exp_avg"], state["exp_avg"])
    assert loaded.last_model_update == model.last_model_update
    assert loaded.model_fit_time == model.model_fit_time
    assert loaded.env_id == "Pendulum-v1" and loaded.dynamics.functions.reward is get_env_functions("Pendulum-v1").reward
    # The model buffer is not saved with the model: empty after load, refilled at the next model update.
    assert len(loaded.mixed_buffer.model_buffer) == 0
    loaded_firsts = _record_first_fits(loaded)
    loaded.learn(100, reset_num_timesteps=False)
    assert loaded.num_timesteps == 250 and loaded.last_model_update > model.last_model_update
    assert loaded_firsts and not any(loaded_firsts)  # resumed training continues the capped refits
    assert len(loaded.mixed_buffer.model_buffer) > 0


class UnregisteredBoxEnv(gym.Env):
    """A small Box env with no spec id (so no known reward function), terminating when |x| > 2."""

    observation_space = spaces.Box(-np.inf, np.inf, (2,))
    action_space = spaces.Box(-1.0, 1.0, (1,))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = self.np_random.normal(size=2).astype(np.float32) * 0.1
        self.t = 0
        return self.state.copy(), {}

    def step(self, action):
        self.t += 1
        self.state = (self.state + np.array([0.1 * self.state[1], 0.2 * float(action[0])])).astype(np.float32)
        terminated = bool(abs(self.state[0]) > 2)
        return self.state.copy(), -float(self.state[0] ** 2), terminated, self.t >= 50, {}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(real_ratio=1.5), "real_ratio"),
        (dict(real_ratio=-0.1), "real_ratio"),
        (dict(min_rollout_horizon=0), "horizon"),
        (dict(min_rollout_horizon=3, max_rollout_horizon=2), "horizon"),
        (dict(horizon_schedule_start=10, horizon_schedule_end=5), "horizon_schedule"),
        (dict(dynamics_kwargs=dict(n_members=3, n_elites=5)), "n_elites"),
        (dict(model_train_freq=0), "model_train_freq"),
        (dict(dynamics_kwargs=dict(holdout_ratio=1.0)), "holdout_ratio"),
        (dict(dynamics_kwargs=dict(max_epochs=0)), "max_epochs"),
        (dict(dynamics_kwargs=dict(n_ensemble=3)), r"unknown `dynamics_kwargs` \['n_ensemble'\].*n_members"),
        (dict(dynamics_kwargs=dict(hidden_sizes=[8], weight_decay=[1e-4] * 3)), "weight_decay"),
        (dict(dynamics_kwargs=dict(activation_fn="gelu")), "activation_fn"),
        (dict(gamma=1.5), "gamma"),
        (dict(gamma="0.99"), "gamma"),
        (dict(tau=2), "tau"),
        (dict(buffer_size=0), "buffer_size"),
        (dict(batch_size=0), "batch_size"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MBPO("MlpPolicy", "Pendulum-v1", **kwargs)


def test_unsupported_spaces_and_missing_functions_are_refused():
    with pytest.raises(ValueError, match="action space"):
        MBPO("MlpPolicy", "CartPole-v1")
    with pytest.raises(ValueError, match="action space"):
        MBPO("MlpPolicy", TupleActionEnv())
    with pytest.raises(ValueError, match=r"no reward function.*learn_reward=True"):
        MBPO("MlpPolicy", UnregisteredBoxEnv())
    with pytest.raises(ValueError, match=r"no termination function.*learn_termination=True"):
        MBPO("MlpPolicy", UnregisteredBoxEnv(), learn_reward=True)
    with pytest.raises(ValueError, match="VecNormalize"):
        MBPO("MlpPolicy", VecNormalize(make_vec_env("Pendulum-v1", n_envs=1)))
    # A user-given pair of functions is enough.
    MBPO(
        "MlpPolicy",
        UnregisteredBoxEnv(),
        reward_fn=lambda o, a, n: -(n[..., 0] ** 2),
        termination_fn=lambda o, a, n: n[..., 0].abs() > 2,
        **TINY,
    )


def test_default_refits_are_capped_at_two_epochs_and_the_zoo_entries_measured_without_the_cap_keep_it_off():
    tiny_model = dict(n_members=2, n_elites=1, hidden_sizes=[8])
    settings = MBPO("MlpPolicy", "Pendulum-v1", dynamics_kwargs=tiny_model).dynamics.settings
    assert (settings.max_epochs, settings.initial_max_epochs) == (2, None)  # the first fit runs to early stopping
    svg = SVG("MlpPolicy", "Pendulum-v1", dynamics_kwargs=tiny_model).dynamics.settings
    assert (svg.max_epochs, svg.initial_max_epochs) == (2, 2)  # SVG's measured results cap the first fit too
    uncapped = MBPO("MlpPolicy", "Pendulum-v1", dynamics_kwargs={**tiny_model, "max_epochs": None})
    assert uncapped.dynamics.settings.max_epochs is None  # early stopping, as the paper
    with open(hyperparams_path("mbpo")) as file:
        entries = yaml.safe_load(file)
    for env_id in ("Pendulum-v1", "InvertedPendulum-v5"):
        assert entries[env_id]["dynamics_kwargs"] == {"max_epochs": None}, env_id
    assert entries["Hopper-v5"]["dynamics_kwargs"] == {"max_epochs": 2}


def test_default_critic_is_sb3_sacs_weight_for_weight():
    from stable_baselines3 import SAC

    mbpo, sac = MBPO("MlpPolicy", "Pendulum-v1", seed=3), SAC("MlpPolicy", "Pendulum-v1", seed=3)
    assert [type(m) for m in mbpo.critic.qf0] == [type(m) for m in sac.critic.qf0]
    for ours, theirs in zip(mbpo.critic.parameters(), sac.critic.parameters()):
        assert th.equal(ours, theirs)


def test_droq_critic_option_adds_dropout_and_layer_norm_and_survives_save_load(tmp_path):
    kwargs = dict(net_arch=[8, 8], critic_dropout=0.5, critic_layer_norm=True)
    settings = {**TINY, "policy_kwargs": kwargs, "learning_starts": 20, "model_train_freq": 20}
    model = MBPO("MlpPolicy", "Pendulum-v1", seed=0, **settings)
    for critic in (model.critic, model.critic_target):
        layers = [type(m) for m in critic.qf1]
        assert layers == [th.nn.Linear, th.nn.Dropout, th.nn.LayerNorm, th.nn.ReLU] * 2 + [th.nn.Linear]
    obs, act = th.zeros(64, 3), th.zeros(64, 1)
    model.critic.set_training_mode(True)
    assert not th.equal(model.critic(obs, act)[0], model.critic(obs, act)[0])  # dropout active when training
    model.critic.set_training_mode(False)
    assert th.equal(model.critic(obs, act)[0], model.critic(obs, act)[0])
    model.learn(40)
    model.save(tmp_path / "droq")
    loaded = MBPO.load(tmp_path / "droq")
    assert (loaded.policy.critic_dropout, loaded.policy.critic_layer_norm) == (0.5, True)
    for ours, theirs in zip(model.critic.state_dict().values(), loaded.critic.state_dict().values()):
        assert th.equal(ours, theirs)
    with pytest.raises(ValueError, match="critic_dropout"):
        MBPO("MlpPolicy", "Pendulum-v1", policy_kwargs=dict(critic_dropout=1.0))


def test_the_model_imagines_once_after_every_refit_with_the_stochastic_policy_and_times_its_parts():
    import time

    model = MBPO("MlpPolicy", "Pendulum-v1", seed=0, **TINY)
    fits, imagined, policies = [], [], []
    refit = model._refit_dynamics_if_due
    model._refit_dynamics_if_due = lambda: (fits.append(model.num_timesteps) if (done := refit()) else None, done)[1]
    imagine = model._imagine
    model._imagine = lambda: (imagined.append(model.num_timesteps), imagine())[1]
    original = model.dynamics.imagine

    def capture(policy, start_obs, horizon):
        policies.append(policy)
        return original(policy, start_obs, horizon)

    model.dynamics.imagine = capture
    began = time.perf_counter()
    model.learn(200)
    elapsed = time.perf_counter() - began
    assert len(fits) >= 2 and imagined == fits  # once after each refit, never between them
    obs = th.zeros(64, 3)
    with th.no_grad():
        assert not th.equal(policies[0](obs), policies[0](obs))  # the policy samples: imagined actions explore
    for timer in (model.sac_train_time, model.model_fit_time, model.model_rollout_time):
        assert 0 < timer < elapsed
    assert model.sac_train_time + model.model_fit_time + model.model_rollout_time < elapsed


def test_the_imagined_buffer_holds_rollouts_per_step_x_retain_steps_x_horizon_and_follows_its_changes():
    model = MBPO("MlpPolicy", "Pendulum-v1", seed=0, **{**TINY, "min_rollout_horizon": 3, "max_rollout_horizon": 3})
    model.learn(120)
    assert model.rollout_horizon() == 3
    assert model.mixed_buffer.model_buffer.capacity == 2 * 64 * 3
    model.rollouts_per_step = 1  # a smaller capacity: the buffer shrinks to it
    model._imagine()
    assert model.mixed_buffer.model_buffer.capacity == 1 * 64 * 3
