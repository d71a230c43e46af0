"""SVG: the SVG(n) policy gradient against finite differences on a linear-quadratic system (n = 0, 1, 3, inf), noise
inference round trips, terminated branches, construction errors, save/load of the model parts."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.vec_env import VecNormalize

from sb3_pg_extras import SVG
from sb3_pg_extras.common.buffers import BehaviorReplayBufferSamples
from sb3_pg_extras.common.dynamics import DynamicsModel, Transitions
from sb3_pg_extras.common.value_gradients import (
    infer_squashed_gaussian_noise,
    soft_value_expansion,
    squashed_gaussian_action,
)
from tests.algos import TupleActionEnv

th.set_num_threads(1)

A = th.tensor([[1.0, 0.1], [-0.2, 0.9]], dtype=th.float64)
B = th.tensor([[0.0], [0.3]], dtype=th.float64)
SIGMA = 0.05


class LQEnv(gym.Env):
    """s' = A s + B a + sigma xi, r = -|s'|^2 - 0.1 a^2; terminates when |s'_0| > 3 (no spec id)."""

    observation_space = spaces.Box(-np.inf, np.inf, (2,), dtype=np.float64)
    action_space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = self.np_random.normal(size=2)
        return self.s.copy(), {}

    def step(self, action):
        self.s = A.numpy() @ self.s + B.numpy() @ action + SIGMA * self.np_random.normal(size=2)
        reward = -float(self.s @ self.s) - 0.1 * float(action[0] ** 2)
        return self.s.copy(), reward, bool(abs(self.s[0]) > 3), False, {}


def lq_reward(obs, action, next_obs):
    return -(next_obs**2).sum(-1) - 0.1 * action[..., 0] ** 2


def lq_termination(obs, action, next_obs):
    return next_obs[..., 0].abs() > 3


class LQModel:
    """The known linear-Gaussian dynamics with the interface of a DynamicsModel (one 'member')."""

    learn_reward = False
    learn_termination = False

    def sample_members(self, batch, mode="random", generator=None):
        return th.zeros(batch, dtype=th.long)

    def predict(self, obs, actions, members, deterministic=False, generator=None, noise=None):
        if noise is None:
            noise = th.randn(obs.shape, generator=generator, dtype=obs.dtype)
        return obs @ A.T + actions @ B.T + SIGMA * noise, None, None

    def infer_noise(self, transitions, members):
        t = transitions
        return (t.next_observations - t.observations @ A.T - t.actions @ B.T) / SIGMA

    def eval(self):
        return self


def lq_q(obs, actions):
    """A fixed quadratic critic."""
    return -(obs**2).sum(-1) * 3.0 - 0.5 * actions[:, 0] ** 2 + 0.2 * obs[:, 0] * actions[:, 0]


def lq_svg(horizon, noise_inference=True) -> SVG:
    # the model-free SVG(0) refuses model settings
    model_settings = (
        {}
        if horizon == 0
        else dict(
            reward_fn=lq_reward, termination_fn=lq_termination, dynamics_kwargs=dict(n_members=1, n_elites=1, hidden_sizes=[4])
        )
    )
    model = SVG(
        "MlpPolicy",
        LQEnv(),
        horizon=horizon,
        inf_unroll_length=4,
        noise_inference=noise_inference,
        ent_coef=0.1,
        gamma=0.9,
        policy_kwargs=dict(net_arch=[8]),
        seed=0,
        **model_settings,
    )
    model.actor.double()
    # SB3's preprocessing casts observations to float32; the finite differences need float64 all the way
    model.actor.extract_features = lambda obs, extractor: extractor(obs)  # type: ignore[method-assign]
    if model.dynamics is not None:
        model.dynamics.model = LQModel()  # type: ignore[assignment]
    model._min_q = lq_q  # type: ignore[method-assign]
    return model


def lq_batch(n=6, seed=0) -> BehaviorReplayBufferSamples:
    gen = th.Generator().manual_seed(seed)
    obs = th.randn(n, 2, generator=gen, dtype=th.float64)
    actions = th.rand(n, 1, generator=gen, dtype=th.float64) * 1.8 - 0.9
    next_obs = obs @ A.T + actions @ B.T + SIGMA * th.randn(n, 2, generator=gen, dtype=th.float64)
    rewards = lq_reward(obs, actions, next_obs).unsqueeze(1)
    behavior = th.full((n,), -0.5, dtype=th.float64) + th.rand(n, generator=gen, dtype=th.float64)
    return BehaviorReplayBufferSamples(obs, actions, next_obs, th.zeros(n, 1, dtype=th.float64), rewards, None, behavior)


def objective(model: SVG, data: BehaviorReplayBufferSamples, noise=None, seed: int = 123) -> th.Tensor:
    th.manual_seed(seed)  # the same fresh noise at every evaluation: the noise is held fixed
    return model.actor_objective(data, 0.1, noise).mean()


@pytest.mark.parametrize("horizon", [0, 1, 3, "inf"])
@pytest.mark.parametrize("noise_inference", [True, False])
def test_svg_policy_gradient_equals_finite_differences(horizon, noise_inference):
    model = lq_svg(horizon, noise_inference)
    data = lq_batch()
    params = list(model.actor.parameters())
    # inferred noise depends on the policy: infer it once, then hold it fixed for every evaluation
    noise = model.path_noise(data) if model.uses_model else None
    model.actor.zero_grad()
    objective(model, data, noise).backward()
    analytic = th.cat([p.grad.flatten() for p in params])
    assert analytic.abs().max() > 1e-3
    flat = th.nn.utils.parameters_to_vector(params).detach()
    gen = np.random.default_rng(0)
    for i in gen.choice(len(flat), size=12, replace=False):
        delta, values = 1e-6, []
        for sign in (1, -1):
            shifted = flat.clone()
            shifted[i] += sign * delta
            th.nn.utils.vector_to_parameters(shifted, params)
            with th.no_grad():
                values.append(float(objective(model, data, noise)))
        th.nn.utils.vector_to_parameters(flat, params)
        numeric = (values[0] - values[1]) / (2 * delta)
        assert abs(numeric - float(analytic[i])) <= 1e-5 + 1e-4 * abs(numeric), (i, numeric, float(analytic[i]))


def test_svg_objective_equals_a_hand_unrolled_loop():
    # SVG(2) with noise inference on the LQ system, written out step by step.
    model = lq_svg(2)
    data = lq_batch(4)
    alpha, gamma = 0.1, 0.9
    th.manual_seed(5)
    got = model.actor_objective(data, alpha)
    th.manual_seed(5)
    model.dynamics.model.sample_members(4, "particle")  # the objective draws the members first (no randomness here)
    mean, log_std, _ = model.actor.get_action_dist_params(data.observations)
    eps0 = infer_squashed_gaussian_noise(mean, log_std, data.actions)
    a0, lp0 = squashed_gaussian_action(mean, log_std, eps0)
    th.testing.assert_close(a0, data.actions)  # the replayed action is reproduced
    s1 = data.observations @ A.T + a0 @ B.T + (data.next_observations - data.observations @ A.T - data.actions @ B.T)
    th.testing.assert_close(s1, data.next_observations)  # and the replayed next state
    r0 = lq_reward(data.observations, a0, s1)
    a1, lp1 = model._policy(s1)
    s2 = s1 @ A.T + a1 @ B.T + SIGMA * th.randn(s1.shape, dtype=s1.dtype)
    r1 = lq_reward(s1, a1, s2)
    a2, lp2 = model._policy(s2)
    alive1 = ~lq_termination(data.observations, a0, s1)
    alive2 = alive1 & ~lq_termination(s1, a1, s2)
    expected = (r0 - alpha * lp0) + gamma * alive1 * (r1 - alpha * lp1) + gamma**2 * alive2 * (lq_q(s2, a2) - alpha * lp2)
    # each path is weighted by its truncated importance weight min(pi(a_0|s_0) / b(a_0|s_0), 1)
    weights = th.clamp(th.exp(lp0 - data.behavior_log_probs), max=1.0).detach()
    assert (weights < 1).all() and (weights > 0.1).all()
    th.testing.assert_close(got, weights * expected)


def test_importance_weights_of_noise_inference_are_truncated():
    model = lq_svg(1)
    data = lq_batch(6)
    likely = model.path_noise(data._replace(behavior_log_probs=th.full((6,), -50.0, dtype=th.float64)))
    assert th.equal(likely.weights, th.ones(6, dtype=th.float64))  # rho >> 1: truncated at is_clip
    model.is_clip = 10.0
    unlikely = model.path_noise(data._replace(behavior_log_probs=th.full((6,), 50.0, dtype=th.float64)))
    assert th.all(unlikely.weights < 1e-10)  # actions the current policy would not take get (almost) no weight
    model.noise_inference = False
    assert model.path_noise(data).weights is None  # re-simulated paths need no weight


def test_untruncated_weights_past_float_range_stop_training_with_what_to_change():
    model = lq_svg(1)
    model.is_clip = math.inf
    data = lq_batch(6)
    huge = data._replace(behavior_log_probs=th.full((6,), -1e4, dtype=th.float64))  # rho = exp(~1e4): inf
    with pytest.raises(FloatingPointError, match="finite `is_clip`"):
        model.path_noise(huge)
    model.is_clip = 10.0
    assert th.equal(model.path_noise(huge).weights, th.full((6,), 10.0, dtype=th.float64))


def test_soft_value_expansion_matches_a_loop_and_drops_terminated_branches():
    gen = th.Generator().manual_seed(0)
    n, batch, gamma, alpha = 4, 5, 0.8, 0.3
    rewards, log_probs = th.randn(n, batch, generator=gen), th.randn(n, batch, generator=gen)
    terminated = th.rand(n, batch, generator=gen) < 0.3
    valid = th.ones(n, batch, dtype=th.bool)
    for h in range(1, n):
        valid[h] = valid[h - 1] & ~terminated[h - 1]
    alive = valid[-1] & ~terminated[-1]
    bootstrap = th.randn(batch, generator=gen)
    got = soft_value_expansion(rewards, log_probs, valid, gamma, alpha, bootstrap, alive)
    for i in range(batch):
        total, discount = 0.0, 1.0
        for h in range(n):
            total += discount * (float(rewards[h, i]) - alpha * float(log_probs[h, i]))
            if bool(terminated[h, i]):
                break
            discount *= gamma
        else:
            total += discount * float(bootstrap[i])
        assert abs(total - float(got[i])) < 1e-5
    # a path that terminated at its first step is worth its first reward only, whatever the critic says
    only_first = soft_value_expansion(
        rewards[:, :1], log_probs[:, :1], th.tensor([[True], [False], [False], [False]]), gamma, alpha,
        th.tensor([1e6]), th.tensor([False]),
    )  # fmt: skip
    th.testing.assert_close(only_first, rewards[0, :1] - alpha * log_probs[0, :1])
    with pytest.raises(ValueError, match="bootstrap_alive"):
        soft_value_expansion(rewards, log_probs, valid, gamma, alpha, bootstrap)


def test_terminated_paths_get_no_critic_gradient():
    # Start states whose replayed next state terminates: SVG(3)'s objective is r_0 - alpha log pi_0, for any critic.
    model = lq_svg(3)
    data = lq_batch(4)
    far = data.observations.clone()
    far[:, 0] = 5.0  # |s'_0| > 3 after one step: terminated
    next_obs = far @ A.T + data.actions @ B.T
    terminal = data._replace(observations=far, next_observations=next_obs, dones=th.ones(4, 1, dtype=th.float64))
    first = objective(model, terminal)
    model._min_q = lambda obs, actions: 1e6 * lq_q(obs, actions)  # type: ignore[method-assign]
    th.testing.assert_close(objective(model, terminal), first)


@pytest.mark.parametrize("dtype", [th.float64, th.float32])
def test_policy_noise_inference_round_trips_near_the_bounds(dtype):
    gen = th.Generator().manual_seed(1)
    mean = (th.randn(200, 3, generator=gen) * 2.0).to(dtype)
    log_std = (th.rand(200, 3, generator=gen) - 0.5).to(dtype)
    noise = (th.randn(200, 3, generator=gen) * 2.0).to(dtype)
    actions, _ = squashed_gaussian_action(mean, log_std, noise)
    near_bound = (mean + log_std.exp() * noise).abs() > 3.0  # |a| > 0.995
    assert near_bound.sum() > 20
    recovered = infer_squashed_gaussian_noise(mean, log_std, actions)
    if dtype == th.float64:
        th.testing.assert_close(recovered, noise, rtol=1e-7, atol=1e-7)
    else:  # float32 actions keep ~7 digits of 1 - |a|: the pre-squash value is recovered to ~1e-3 there
        inside = (mean + log_std.exp() * noise).abs() < 4.0
        th.testing.assert_close(recovered[inside], noise[inside], rtol=0, atol=2e-3)
    # exact bounds (SB3's uniform warm-up actions) give a finite noise
    assert th.isfinite(infer_squashed_gaussian_noise(mean[:2], log_std[:2], th.ones(2, 3, dtype=dtype))).all()


def test_squashed_gaussian_log_prob_is_sb3s():
    from stable_baselines3.common.distributions import SquashedDiagGaussianDistribution

    gen = th.Generator().manual_seed(2)
    mean, log_std, noise = th.randn(7, 2, generator=gen), th.randn(7, 2, generator=gen) * 0.3, th.randn(7, 2, generator=gen)
    actions, log_prob = squashed_gaussian_action(mean, log_std, noise)
    dist = SquashedDiagGaussianDistribution(2).proba_distribution(mean, log_std)
    th.testing.assert_close(log_prob, dist.log_prob(actions, mean + log_std.exp() * noise), rtol=1e-5, atol=1e-5)
    # any leading batch shape: the log-probability sums the action axis (the last)
    batched, batched_log_prob = squashed_gaussian_action(mean.view(7, 1, 2), log_std.view(7, 1, 2), noise.view(7, 1, 2))
    th.testing.assert_close(batched.view(7, 2), actions)
    th.testing.assert_close(batched_log_prob.view(7), log_prob)


@pytest.mark.parametrize("learn_reward", [False, True])
def test_model_noise_inference_round_trips_for_every_member(learn_reward):
    th.manual_seed(3)
    model = DynamicsModel(3, 2, n_members=4, n_elites=4, hidden_sizes=[16], learn_reward=learn_reward)
    with th.no_grad():
        model.target_normalizer.std.uniform_(0.5, 2.0)
        model.target_normalizer.mean.normal_()
    obs, actions = th.randn(40, 3), th.rand(40, 2) * 2 - 1
    members = th.arange(40) % 4
    xi = th.randn(40, 3 + int(learn_reward))
    with th.no_grad():
        next_obs, reward, _ = model.predict(obs, actions, members, noise=xi)
    rewards = reward if reward is not None else th.zeros(40)
    recovered = model.infer_noise(Transitions(obs, actions, next_obs, rewards, th.zeros(40)), members)
    th.testing.assert_close(recovered, xi, rtol=1e-4, atol=1e-4)


def test_svg_learns_the_model_and_saves_every_part(tmp_path):
    model = SVG(
        "MlpPolicy", "Pendulum-v1", horizon=2, learning_starts=32, batch_size=16, model_train_freq=32,
        dynamics_kwargs=dict(n_members=2, n_elites=1, hidden_sizes=[8], batch_size=16, max_epochs=2),
        policy_kwargs=dict(net_arch=[8]), seed=0,
    )  # fmt: skip
    model.learn(100)
    assert model.last_model_update >= 64 and model.model_fit_time > 0  # refit after the first fit
    model.save(tmp_path / "svg")
    loaded = SVG.load(tmp_path / "svg", env=make_vec_env("Pendulum-v1"))
    for name, tensor in model.dynamics.model.state_dict().items():
        th.testing.assert_close(loaded.dynamics.model.state_dict()[name], tensor, msg=name)
    assert loaded.horizon == 2 and loaded.last_model_update == model.last_model_update
    loaded.learn(50, reset_num_timesteps=False)
    assert loaded.num_timesteps == 150 and loaded.last_model_update > model.last_model_update


def test_svg_zero_builds_no_model_and_svg_inf_trains_no_critic():
    zero = SVG("MlpPolicy", "Pendulum-v1", horizon=0, learning_starts=32, batch_size=8, policy_kwargs=dict(net_arch=[8]))
    assert zero.dynamics is None and not zero.uses_model
    zero.learn(64)
    inf = SVG(
        "MlpPolicy", "Pendulum-v1", horizon="inf", inf_unroll_length=3, learning_starts=32, batch_size=8,
        dynamics_kwargs=dict(n_members=2, n_elites=2, hidden_sizes=[8], max_epochs=1), policy_kwargs=dict(net_arch=[8]),
    )  # fmt: skip
    critic_before = [p.detach().clone() for p in inf.critic.parameters()]
    inf.learn(64)
    assert inf.unroll_length == 3 and not inf.uses_critic
    assert all(th.equal(a, b) for a, b in zip(critic_before, inf.critic.parameters()))


class NoSpecEnv(LQEnv):
    pass


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(horizon=-1), "horizon"),
        (dict(horizon=1.5), "horizon"),
        (dict(horizon="infinite"), "horizon"),
        (dict(horizon=True), "horizon"),
        (dict(inf_unroll_length=0), "inf_unroll_length"),
        (dict(noise_inference=1), "noise_inference"),
        (dict(is_clip=0), "is_clip"),
        (dict(is_clip="infinite"), "is_clip"),
        (dict(action_noise=NormalActionNoise(np.zeros(1), np.ones(1))), "action_noise"),
        (dict(gamma=1.5), "gamma"),
        (dict(tau=0), "tau"),
        (dict(model_train_freq=0), "model_train_freq"),
        (dict(dynamics_kwargs=dict(n_members=2, n_elites=3)), "n_elites"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SVG("MlpPolicy", "Pendulum-v1", **kwargs)


@pytest.mark.parametrize("given", ["inf", " INF ", math.inf])
def test_is_clip_inf_as_python_or_a_yaml_file_writes_it_means_untruncated(given):
    assert SVG("MlpPolicy", "Pendulum-v1", is_clip=given).is_clip == math.inf


def test_unsupported_envs_are_refused_with_what_to_change():
    with pytest.raises(ValueError, match="action space"):
        SVG("MlpPolicy", "CartPole-v1")
    with pytest.raises(ValueError, match="action space"):
        SVG("MlpPolicy", TupleActionEnv())
    with pytest.raises(ValueError, match=r"no reward function.*learn_reward=True"):
        SVG("MlpPolicy", NoSpecEnv(), horizon=1)
    with pytest.raises(ValueError, match="VecNormalize"):
        SVG("MlpPolicy", VecNormalize(make_vec_env("Pendulum-v1")), horizon=1)
    # the model-free member of the family needs no model, no functions
    SVG("MlpPolicy", NoSpecEnv(), horizon=0)
    SVG("MlpPolicy", NoSpecEnv(), horizon=1, learn_reward=True, learn_termination=True)
    assert math.isinf(SVG("MlpPolicy", "Pendulum-v1", horizon=float("inf")).horizon)


@pytest.mark.parametrize("horizon", [1, 3, "inf"])
@pytest.mark.parametrize("noise_inference", [True, False])
def test_float64_observations_train_the_learned_model_path(horizon, noise_inference):
    # MuJoCo envs (InvertedPendulum-v5, HalfCheetah-v5) observe float64, and SB3's buffer keeps that dtype: the
    # replayed batch must reach the float32 ensemble as float32 (it raised "Input dtypes must be the same")
    model = SVG(
        "MlpPolicy", LQEnv(), horizon=horizon, noise_inference=noise_inference, reward_fn=lq_reward,
        termination_fn=lq_termination, learning_starts=32, batch_size=8, model_train_freq=32, inf_unroll_length=3,
        dynamics_kwargs=dict(n_members=2, n_elites=1, hidden_sizes=[8], batch_size=8, max_epochs=1),
        policy_kwargs=dict(net_arch=[8]), seed=0,
    )  # fmt: skip
    assert model.observation_space.dtype == np.float64
    before = [p.detach().clone() for p in model.actor.parameters()]
    model.learn(64)
    assert model.last_model_update >= 32
    assert any(not th.equal(p, q) for p, q in zip(before, model.actor.parameters()))


def _svg_zero(**kwargs) -> SVG:
    return SVG("MlpPolicy", "Pendulum-v1", horizon=0, learning_starts=0, batch_size=8, seed=0, **{
        "policy_kwargs": dict(net_arch=[8]), **kwargs})  # fmt: skip


def _real_batch(n: int = 8):
    """A hand-made batch of Pendulum-v1 transitions, three of them terminal."""
    from stable_baselines3.common.type_aliases import ReplayBufferSamples

    gen = th.Generator().manual_seed(0)
    obs, next_obs = th.randn(n, 3, generator=gen), th.randn(n, 3, generator=gen)
    actions = 2 * th.rand(n, 1, generator=gen) - 1
    dones = th.zeros(n, 1)
    dones[[1, 4, 6]] = 1.0
    return ReplayBufferSamples(obs, actions, next_obs, dones, th.randn(n, 1, generator=gen))


def test_the_critic_step_regresses_on_the_soft_bellman_target_of_the_target_critics() -> None:
    """_update_critic's loss is 0.5 sum_j mean((Q_j(s, a) - y)^2), y = r + gamma (1 - d)(min_j Q'_j(s', a') - alpha log
    pi(a'|s')), a' drawn from the policy at s', written here from the networks' outputs."""
    from collections import defaultdict

    model = _svg_zero(ent_coef=0.2, gamma=0.9)
    with th.no_grad():  # target critics that differ from the critics
        for param in model.critic_target.parameters():
            param.add_(0.3 * th.randn_like(param))
    data = _real_batch()
    th.manual_seed(3)
    with th.no_grad():
        next_actions, next_log_prob = model.actor.action_log_prob(data.next_observations)
        q_next = th.stack(model.critic_target(data.next_observations, next_actions)).min(0).values.flatten()
        target = data.rewards.flatten() + 0.9 * (1 - data.dones.flatten()) * (q_next - 0.2 * next_log_prob)
        expected = 0.5 * sum(((q.flatten() - target) ** 2).mean() for q in model.critic(data.observations, data.actions))
    stats = defaultdict(list)
    th.manual_seed(3)
    model._update_critic(data, th.tensor(0.2), stats)
    assert stats["critic_loss"] == [pytest.approx(float(expected), rel=1e-5)]


def test_the_svg_zero_objective_is_the_min_critic_minus_alpha_log_pi_at_a_fresh_action() -> None:
    model = _svg_zero()
    data = _real_batch()
    th.manual_seed(4)
    got = model.actor_objective(data, 0.3)
    th.manual_seed(4)
    mean, log_std, _ = model.actor.get_action_dist_params(data.observations)
    actions, log_prob = squashed_gaussian_action(mean, log_std, th.randn_like(mean))
    q = th.stack(model.critic(data.observations, actions)).min(0).values.flatten()
    th.testing.assert_close(got, q - 0.3 * log_prob)


def test_train_logs_its_losses_and_copies_the_batch_norm_statistics_to_the_target_critics() -> None:
    from tests.algos import BatchNormExtractor

    model = _svg_zero(policy_kwargs=dict(net_arch=[8], features_extractor_class=BatchNormExtractor))
    model.learn(40)
    running = model.critic.features_extractor.norm.running_mean
    assert running.abs().sum() > 0  # moved by the training batches
    th.testing.assert_close(model.critic_target.features_extractor.norm.running_mean, running)  # copied, not averaged
    logged = model.logger.name_to_value
    for key in ("train/critic_loss", "train/actor_loss", "train/ent_coef", "train/ent_coef_loss"):
        assert key in logged and np.isfinite(logged[key]), key  # (name_to_value is a defaultdict)


def test_a_gradient_step_moves_the_target_critics_by_tau_and_the_temperature_follows_the_learning_rate_schedule() -> None:
    model = _svg_zero(tau=0.1, learning_rate=lambda progress: 1e-3 * progress)
    model.learn(20)
    before = [p.detach().clone() for p in model.critic_target.parameters()]
    model._current_progress_remaining = 0.25
    model.train(gradient_steps=1, batch_size=8)
    for old, new, critic in zip(before, model.critic_target.parameters(), model.critic.parameters()):
        th.testing.assert_close(new, 0.9 * old + 0.1 * critic)
    for optimizer in (model.actor.optimizer, model.critic.optimizer, model.ent_coef_optimizer):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(2.5e-4)
    fixed = _svg_zero(ent_coef=0.1)  # no temperature optimizer
    fixed.learn(20)
    assert fixed.ent_coef_optimizer is None and fixed.logger.name_to_value["train/ent_coef"] == pytest.approx(0.1)


def test_every_gradient_step_updates_the_target_critics_at_the_interval() -> None:
    for interval, copied_last in ((1, True), (2, False)):
        model = _svg_zero(tau=1.0, target_update_interval=interval)
        model.learn(20)
        model.train(gradient_steps=2, batch_size=8)  # tau = 1: an update copies the critics
        same = all(th.equal(t, c) for t, c in zip(model.critic_target.parameters(), model.critic.parameters()))
        assert same is copied_last, interval  # interval 2: only step 0 updated, before step 1 moved the critics


def test_the_temperature_step_descends_sacs_temperature_loss() -> None:
    """loss = -mean(log alpha (log pi(a|s) + target)) at fresh actions: with a target entropy far below the policy's
    entropy, alpha must fall (Adam's first step moves log alpha by the learning rate against the loss's gradient)."""
    from collections import defaultdict

    model = _svg_zero(target_entropy=-20.0, learning_rate=1e-2)
    with th.no_grad():  # log alpha away from 0 (alpha = 1), where log alpha x ... and log alpha / ... both vanish
        model.log_ent_coef.fill_(-1.2)
    data = _real_batch()
    before = float(model.log_ent_coef.detach())
    th.manual_seed(6)
    with th.no_grad():
        _, log_prob = model._policy(data.observations)
    expected_loss = -(before * (log_prob - 20.0)).mean()
    stats = defaultdict(list)
    th.manual_seed(6)
    alpha = model._update_temperature(data.observations, stats)
    assert float(alpha) == pytest.approx(math.exp(before))  # the step's alpha is the one before the update
    assert stats["ent_coef_loss"] == [pytest.approx(float(expected_loss), rel=1e-5)]
    assert float(model.log_ent_coef.detach()) == pytest.approx(before - 1e-2, abs=1e-5)  # log pi - 20 < 0: the gradient is > 0


def test_an_actor_step_raises_the_objective() -> None:
    from collections import defaultdict

    model = _svg_zero(learning_rate=1e-2)
    data = _real_batch()

    def objective() -> float:
        th.manual_seed(7)
        with th.no_grad():
            return float(model.actor_objective(data, 0.1).mean())

    before = objective()
    th.manual_seed(7)
    model._update_actor(data, 0.1, defaultdict(list))
    assert objective() > before
