"""OffPAC: behavior log-probs in the buffer, clipped IS weights, expected-SARSA target, on-policy limit, errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnvMultiBinary, IdentityEnvMultiDiscrete, SimpleMultiObsEnv
from stable_baselines3.common.noise import NormalActionNoise

from sb3_pg_extras import OffPAC
from sb3_pg_extras.common.buffers import BehaviorReplayBuffer
from sb3_pg_extras.common.critics import DiscreteCritic
from sb3_pg_extras.common.off_policy import (
    clipped_importance_weights,
    expected_sarsa_target,
    off_policy_policy_gradient_loss,
    uniform_log_prob,
)
from sb3_pg_extras.common.policies import CategoricalQPolicy

TINY = dict(learning_starts=50, buffer_size=1000, batch_size=16, policy_kwargs=dict(net_arch=[8]))


def collect_only(env_id: Any, steps: int = 200, learning_starts: int = 50, **kwargs) -> OffPAC:
    """A model that fills its buffer without training, so the policy that collected is the current one."""
    model = OffPAC("MlpPolicy", env_id, seed=0, gradient_steps=0, **{**TINY, "learning_starts": learning_starts, **kwargs})
    return model.learn(steps)


def stored(model: OffPAC, env_index: int = 0) -> tuple[th.Tensor, th.Tensor, np.ndarray]:
    buffer = model.replay_buffer
    n = buffer.pos
    obs = th.as_tensor(buffer.observations[:n, env_index])
    actions = th.as_tensor(buffer.actions[:n, env_index])
    return obs, actions, buffer.behavior_log_probs[:n, env_index]


def test_buffer_pairs_log_probs_with_transitions_across_envs() -> None:
    buffer = BehaviorReplayBuffer(100, spaces.Box(-1, 1, (2,)), spaces.Discrete(3), n_envs=3)
    rng = np.random.default_rng(0)
    for _ in range(50):
        obs = rng.normal(size=(3, 2)).astype(np.float32)
        buffer.set_behavior_log_probs(-np.abs(obs[:, 0]))
        buffer.add(obs, obs, np.zeros(3), np.zeros(3), np.zeros(3), [{}] * 3)
    np.random.seed(3)  # noqa: NPY002 (SB3 samples from the global generator)
    samples = buffer.sample(256)
    np.testing.assert_allclose(samples.behavior_log_probs.numpy(), -np.abs(samples.observations[:, 0].numpy()))
    with pytest.raises(RuntimeError, match="set_behavior_log_probs"):
        buffer.add(obs, obs, np.zeros(3), np.zeros(3), np.zeros(3), [{}] * 3)


@pytest.mark.parametrize("n_envs", [1, 2])
def test_stored_log_prob_discrete_is_the_collecting_policy_s(n_envs: int) -> None:
    env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=0)
    model = collect_only(env, steps=200 * n_envs, learning_starts=50 * n_envs)
    for env_index in range(n_envs):
        obs, actions, log_b = stored(model, env_index)
        np.testing.assert_allclose(log_b[:50], -math.log(2), rtol=1e-6)  # warm-up: uniform over 2 actions
        with th.no_grad():
            logits = model.actor.action_logits(obs[50:])
        expected = th.distributions.Categorical(logits=logits).log_prob(actions[50:].long().flatten())
        np.testing.assert_allclose(log_b[50:], expected.numpy(), rtol=1e-5, atol=1e-6)


def test_stored_log_prob_box_is_the_density_of_the_stored_scaled_action() -> None:
    model = collect_only("Pendulum-v1")  # actions in [-2, 2], stored scaled to [-1, 1]
    obs, actions, log_b = stored(model)
    assert np.all(np.abs(actions.numpy()) <= 1.0)
    np.testing.assert_allclose(log_b[:50], -math.log(2), rtol=1e-6)  # uniform density on [-1, 1]
    with th.no_grad():
        mean, log_std, _ = model.actor.get_action_dist_params(obs[50:])
    a = actions[50:].double()
    u = th.atanh(a)
    gaussian = th.distributions.Normal(mean.double(), log_std.double().exp()).log_prob(u).sum(-1)
    expected = gaussian - th.log(1 - a**2).sum(-1)  # change of variables a = tanh(u)
    inside = (a.abs() < 0.999).flatten()
    assert inside.sum() > 100
    np.testing.assert_allclose(log_b[50:][inside.numpy()], expected[inside].numpy(), rtol=1e-3, atol=1e-3)


def test_clipped_weights_by_hand() -> None:
    log_pi = th.log(th.tensor([0.5, 0.2, 0.9, 0.05]))
    log_b = th.log(th.tensor([0.25, 0.4, 0.3, 0.05]))
    rho, rho_bar = clipped_importance_weights(log_pi, log_b, is_clip=2.0)
    np.testing.assert_allclose(rho.numpy(), [2.0, 0.5, 3.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(rho_bar.numpy(), [2.0, 0.5, 2.0, 1.0], rtol=1e-6)
    _, unclipped = clipped_importance_weights(log_pi, log_b, is_clip=math.inf)
    np.testing.assert_allclose(unclipped.numpy(), rho.numpy())


def test_clipped_weights_refuse_non_finite() -> None:
    # a log-ratio past float32's range (SVG on HalfCheetah-v5 with is_clip=inf met 2.4e5 on saturated actions)
    log_pi, log_b = th.tensor([0.0, 1000.0]), th.tensor([0.0, 0.0])
    rho, rho_bar = clipped_importance_weights(log_pi, log_b, is_clip=2.0)  # truncated: finite
    assert math.isinf(float(rho[1]))
    np.testing.assert_allclose(rho_bar.numpy(), [1.0, 2.0])
    with pytest.raises(FloatingPointError, match=r"largest log-ratio 1000.*finite `is_clip`"):
        clipped_importance_weights(log_pi, log_b, is_clip=math.inf)
    with pytest.raises(FloatingPointError, match="not finite"):
        clipped_importance_weights(th.tensor([0.0, float("nan")]), log_b, is_clip=2.0)


def test_pure_functions_equal_loops() -> None:
    rng = np.random.default_rng(0)
    r, d, v = (th.as_tensor(rng.normal(size=5), dtype=th.float32) for _ in range(3))
    d = (d > 0).float()
    y = expected_sarsa_target(r, d, v, 0.9)
    for i in range(5):
        assert y[i].item() == pytest.approx(r[i].item() + 0.9 * (1 - d[i].item()) * v[i].item(), rel=1e-6)
    log_pi = th.tensor(rng.normal(size=5), dtype=th.float32, requires_grad=True)
    adv, w = (th.as_tensor(rng.normal(size=5), dtype=th.float32) for _ in range(2))
    off_policy_policy_gradient_loss(log_pi, adv, w).backward()
    np.testing.assert_allclose(log_pi.grad.numpy(), -(w * adv).numpy() / 5, rtol=1e-6)
    assert uniform_log_prob(spaces.Discrete(4)) == pytest.approx(-math.log(4))
    assert uniform_log_prob(spaces.Box(-3, 5, (2, 3))) == pytest.approx(-6 * math.log(2))


def test_expected_sarsa_target_equals_per_action_loop() -> None:
    model = OffPAC("MlpPolicy", "CartPole-v1", gamma=0.9, seed=0, **{**TINY, "policy_kwargs": dict(net_arch=[8], n_critics=2)})
    model.learn(100)
    data = model.replay_buffer.sample(8)
    with th.no_grad():
        value = model.expected_q(data.next_observations, model.critic_target)
    for i in range(8):
        s_next = data.next_observations[i : i + 1]
        with th.no_grad():
            probs = th.softmax(model.actor.action_logits(s_next)[0], -1)
            qs = model.critic_target(s_next)
        loop = sum(probs[a].item() * min(q[0, a].item() for q in qs) for a in range(2))
        assert value[i].item() == pytest.approx(loop, rel=1e-5, abs=1e-6)


def test_sampled_expected_q_has_the_deterministic_limit() -> None:
    """With a (numerically) deterministic policy, the sampled E_{a~pi} Q(s, a) is Q(s, tanh(mean))."""
    model = OffPAC("MlpPolicy", "Pendulum-v1", seed=0, n_action_samples=5, **TINY)
    obs = th.as_tensor(np.stack([model.observation_space.sample() for _ in range(6)]))
    with th.no_grad():
        model.actor.log_std.weight.zero_()
        model.actor.log_std.bias.fill_(-20.0)  # clamped to SB3's LOG_STD_MIN
        mean, _, _ = model.actor.get_action_dist_params(obs)
        expected = model.critic(obs, th.tanh(mean))[0].flatten()
    got = model.expected_q(obs, model.critic)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_on_policy_data_with_huge_clip_gives_the_on_policy_gradient(env_id: str) -> None:
    model = collect_only(env_id, learning_starts=0, is_clip=1e9, normalize_advantage=False, ent_coef=0.0)
    model.actor.optimizer.step = lambda *args, **kwargs: None  # keep the parameters, inspect the gradient
    data = model.replay_buffer.sample(32)
    th.manual_seed(1)
    stats = model._update_actor(data)
    got = [p.grad.clone() for p in model.actor.parameters() if p.grad is not None]
    assert stats["is_ratio_mean"] == pytest.approx(1.0, abs=1e-5) and stats["is_clip_fraction"] == 0.0

    model.actor.optimizer.zero_grad()
    th.manual_seed(1)  # same action samples for the Box estimate of V(s)
    if isinstance(model.action_space, spaces.Discrete):
        log_all = th.log_softmax(model.actor.action_logits(data.observations), -1)
        log_pi = log_all.gather(1, data.actions.long()).flatten()
        with th.no_grad():
            q_all = model.critic(data.observations)[0]
            advantage = q_all.gather(1, data.actions.long()).flatten() - (log_all.exp() * q_all).sum(-1)
    else:
        mean, log_std, _ = model.actor.get_action_dist_params(data.observations)
        log_pi = model.actor.action_dist.proba_distribution(mean, log_std).log_prob(data.actions)
        with th.no_grad():
            advantage = model.critic(data.observations, data.actions)[0].flatten() - model.expected_q(
                data.observations, model.critic
            )
    (-(log_pi * advantage).mean()).backward()
    want = [p.grad for p in model.actor.parameters() if p.grad is not None]
    for g, w in zip(got, want):
        th.testing.assert_close(g, w, rtol=1e-4, atol=1e-6)


def test_default_policies_follow_the_action_space() -> None:
    discrete = OffPAC("MlpPolicy", "CartPole-v1", **TINY)
    assert isinstance(discrete.policy, CategoricalQPolicy) and isinstance(discrete.critic, DiscreteCritic)
    assert discrete.critic.n_critics == 1  # twin critics are opt-in
    box = OffPAC("MlpPolicy", "Pendulum-v1", **TINY)
    assert not isinstance(box.policy, CategoricalQPolicy) and box.policy.squash_output
    multi = OffPAC("MultiInputPolicy", SimpleMultiObsEnv(random_start=False), **TINY).learn(80)
    assert multi.replay_buffer.behavior_log_probs[:80].min() < 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(is_clip=0.5), "is_clip"),
        (dict(is_clip=float("nan")), "is_clip"),
        (dict(n_action_samples=0), "n_action_samples"),
        (dict(ent_coef=-0.1), "ent_coef"),
        (dict(ent_coef="lin_x"), "ent_coef"),
        (dict(ent_coef="auto"), "ent_coef"),
        (dict(tau=0.0), "tau"),
        (dict(gamma=1.5), "gamma"),
        (dict(policy_kwargs=dict(n_critics=0)), "n_critics"),
        (dict(replay_buffer_class=ReplayBuffer), "behavior log-probs"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        OffPAC("MlpPolicy", "CartPole-v1", **kwargs)


def test_bad_setups_are_refused() -> None:
    with pytest.raises(ValueError, match="action noise"):
        OffPAC("MlpPolicy", "Pendulum-v1", action_noise=NormalActionNoise(np.zeros(1), 0.1 * np.ones(1)))
    with pytest.raises(ValueError, match="MultiDiscrete"):
        OffPAC("MlpPolicy", IdentityEnvMultiDiscrete(dim=3))
    with pytest.raises(ValueError, match="MultiBinary"):
        OffPAC("MlpPolicy", IdentityEnvMultiBinary(dim=3))
    with pytest.raises(ValueError, match="categorical policy"):
        from stable_baselines3.sac.policies import MlpPolicy as SACMlpPolicy

        OffPAC(SACMlpPolicy, "CartPole-v1")


def test_unbounded_box_is_refused() -> None:
    import gymnasium as gym

    class Unbounded(gym.Env):
        observation_space = spaces.Box(-1.0, 1.0, (2,))
        action_space = spaces.Box(-np.inf, np.inf, (1,))

        def reset(self, *, seed=None, options=None):
            return self.observation_space.sample(), {}

        def step(self, action):
            return self.observation_space.sample(), 0.0, False, False, {}

    with pytest.raises(ValueError, match="bounded Box"):
        OffPAC("MlpPolicy", Unbounded())


def test_logs_ratio_and_clip_fraction() -> None:
    model = OffPAC("MlpPolicy", "CartPole-v1", seed=0, **TINY).learn(200)
    values = model.logger.name_to_value
    for key in ("train/critic_loss", "train/actor_loss", "train/is_ratio_mean", "train/is_clip_fraction", "train/entropy"):
        assert key in values and np.isfinite(values[key])
    assert 0.0 <= values["train/is_clip_fraction"] <= 1.0


def test_entropy_coefficient_schedule_decays_and_survives_save_load(tmp_path) -> None:
    model = OffPAC("MlpPolicy", "CartPole-v1", ent_coef="lin_0.1", learning_starts=20, batch_size=8, seed=0,
                   policy_kwargs=dict(net_arch=[8]))  # fmt: skip
    model.learn(200)
    # The last train() call ran at the end of the budget, where the linear decay reaches 0.
    assert model._current_progress_remaining == pytest.approx(0.0)
    assert model._current_ent_coef == pytest.approx(0.0)
    assert model.ent_coef_schedule(0.75) == pytest.approx(0.075)
    model.save(tmp_path / "offpac")
    loaded = OffPAC.load(tmp_path / "offpac")
    assert loaded.ent_coef == "lin_0.1"
    assert loaded.ent_coef_schedule(0.5) == pytest.approx(0.05)


def test_target_critics_move_every_target_update_interval_gradient_steps() -> None:
    # tau = 1: an update copies the critics, so the target equals the critic right after one and differs otherwise
    model = collect_only("CartPole-v1", steps=100, tau=1.0, target_update_interval=3)

    def target_is_critic() -> bool:
        pairs = zip(model.critic.parameters(), model.critic_target.parameters(), strict=True)
        return all(th.equal(p, q) for p, q in pairs)

    copied = []
    for _ in range(7):
        model.train(gradient_steps=1, batch_size=16)
        copied.append(target_is_critic())
    assert model._n_updates == 7
    assert copied == [False, False, True, False, False, True, False]


def test_critic_regression_loss_is_half_the_sum_of_mses() -> None:
    from sb3_pg_extras.common.off_policy import ActorCriticOffPolicyAlgorithm

    weight = th.nn.Parameter(th.tensor([1.0, -2.0]))

    class Owner:  # the one attribute the step uses
        critic = th.nn.Module()

    Owner.critic.optimizer = th.optim.SGD([weight], lr=0.1)
    target = th.tensor([0.5, 0.5])
    # Q_1 = w, Q_2 = 2w: loss = 0.5 (mean (w - y)^2 + mean (2w - y)^2)
    loss = ActorCriticOffPolicyAlgorithm._critic_regression_step(Owner(), [weight, 2 * weight], target)
    w, y = th.tensor([1.0, -2.0]), target
    assert loss == pytest.approx(float(0.5 * (((w - y) ** 2).mean() + ((2 * w - y) ** 2).mean())))
    gradient = ((w - y) + 2 * (2 * w - y)) / 2  # d loss / d w_i = 0.5 * (2 (w - y) + 4 (2w - y)) / 2
    th.testing.assert_close(weight.data, w - 0.1 * gradient)


def test_target_critics_copy_the_batch_norm_statistics() -> None:
    from tests.algos import BatchNormExtractor

    policy_kwargs = dict(net_arch=[8], features_extractor_class=BatchNormExtractor)
    model = collect_only("CartPole-v1", steps=100, policy_kwargs=policy_kwargs)
    model.train(gradient_steps=1, batch_size=16)
    running = model.critic.features_extractor.norm.running_mean
    assert running.abs().sum() > 0  # moved by the training batch
    th.testing.assert_close(model.critic_target.features_extractor.norm.running_mean, running)  # copied, not averaged


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
@pytest.mark.parametrize(
    ("normalize", "ent_coef", "batch_size"), [(False, 0.0, 16), (True, 0.0, 16), (True, 0.3, 16), (True, 0.0, 2)]
)
def test_the_actor_loss_is_the_clipped_is_gradient_loss_minus_the_entropy_bonus(
    env_id, normalize, ent_coef, batch_size
) -> None:
    """_update_actor's loss, against its formula from the pure functions: -mean(w log pi(a|s) A) with A = Q - V
    (standardized when asked, from a batch of two on: the smallest batch with a std), minus ent_coef times the mean
    entropy."""
    from sb3_pg_extras.common.off_policy import clipped_importance_weights, off_policy_policy_gradient_loss

    model = OffPAC(
        "MlpPolicy", env_id, learning_starts=50, batch_size=batch_size, normalize_advantage=normalize,
        ent_coef=ent_coef, policy_kwargs=dict(net_arch=[8]), seed=0,
    )  # fmt: skip
    model.learn(60)
    data = model.replay_buffer.sample(batch_size, model._vec_normalize_env)
    th.manual_seed(1)
    log_probs, q_values, values, policy_entropy = model._policy_terms(data.observations, data.actions)
    advantages = (q_values - values).detach()
    if normalize:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    _, weights = clipped_importance_weights(log_probs, data.behavior_log_probs, model.is_clip)
    expected = off_policy_policy_gradient_loss(log_probs, advantages, weights) - ent_coef * policy_entropy.mean()
    th.manual_seed(1)  # the same sampled action for the Box entropy estimate
    assert model._update_actor(data)["actor_loss"] == pytest.approx(float(expected), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_the_logged_clip_fraction_counts_ratios_strictly_above_the_clip(env_id) -> None:
    """is_clip_fraction = mean(rho > is_clip) over the batch and is_ratio_mean = mean(rho), with the clip set to one of
    the batch's own ratios (which a clip at rho does not change: it is not counted)."""
    from sb3_pg_extras.common.off_policy import clipped_importance_weights

    model = OffPAC("MlpPolicy", env_id, learning_starts=50, batch_size=16, policy_kwargs=dict(net_arch=[8]), seed=0)
    model.learn(300)  # the policy has moved since its first samples: ratios differ from 1
    data = model.replay_buffer.sample(16, model._vec_normalize_env)
    th.manual_seed(1)
    log_probs = model._policy_terms(data.observations, data.actions)[0]
    ratios, _ = clipped_importance_weights(log_probs, data.behavior_log_probs, math.inf)
    ratios = ratios.detach()
    assert len(th.unique(ratios)) > 8
    model.is_clip = float(ratios.sort().values[8])
    th.manual_seed(1)
    stats = model._update_actor(data)
    assert stats["is_clip_fraction"] == pytest.approx(float((ratios > model.is_clip).float().mean()))
    assert stats["is_clip_fraction"] == pytest.approx(7 / 16)
    assert stats["is_ratio_mean"] == pytest.approx(float(ratios.mean()), rel=1e-6)


def test_a_one_sample_batch_is_not_standardized() -> None:
    """The std of one advantage is undefined (NaN): a batch of one keeps its raw advantage, and the step stays finite."""
    model = OffPAC(
        "MlpPolicy", "CartPole-v1", learning_starts=20, batch_size=1, normalize_advantage=True, seed=0,
        policy_kwargs=dict(net_arch=[8]),
    )  # fmt: skip
    model.learn(30)
    stats = model._update_actor(model.replay_buffer.sample(1, model._vec_normalize_env))
    assert np.isfinite(stats["actor_loss"])
    assert all(th.isfinite(p).all() for p in model.actor.parameters())


@pytest.mark.parametrize("ent_coef", [0.0, 0.3])
def test_the_actor_gradient_includes_the_entropy_bonus_on_discrete_actions(ent_coef) -> None:
    """The actor's gradient (not only its loss value) is that of -mean(w log pi(a|s) A) - ent_coef H(pi(.|s)), with the
    exact entropy and A = Q - V written here from the actor's and critics' outputs."""
    from sb3_pg_extras.common.off_policy import clipped_importance_weights

    model = OffPAC(
        "MlpPolicy", "CartPole-v1", learning_starts=50, batch_size=16, ent_coef=ent_coef, normalize_advantage=False,
        policy_kwargs=dict(net_arch=[8]), seed=0,
    )  # fmt: skip
    model.learn(200)
    data = model.replay_buffer.sample(16, model._vec_normalize_env)
    probs, log_probs = model.actor.action_log_probs(data.observations)
    with th.no_grad():
        q = th.stack(model.critic(data.observations)).min(0).values
        actions = data.actions.long().flatten()
        advantages = q.gather(1, actions[:, None]).flatten() - (probs * q).sum(-1)
    taken = log_probs.gather(1, actions[:, None]).flatten()
    _, weights = clipped_importance_weights(taken, data.behavior_log_probs, model.is_clip)
    expected = -(weights * taken * advantages).mean() + ent_coef * (probs * log_probs).sum(-1).mean()
    params = list(model.actor.parameters())
    expected_grads = th.autograd.grad(expected, params, allow_unused=True)
    model.actor.optimizer.step = lambda *args, **kwargs: None  # keep the parameters, read the gradient
    model._current_ent_coef = ent_coef
    model._update_actor(data)
    for param, grad in zip(params, expected_grads):
        th.testing.assert_close(param.grad, th.zeros_like(param) if grad is None else grad, rtol=1e-4, atol=1e-6)


def test_an_ent_coef_schedule_that_returns_a_negative_weight_is_refused() -> None:
    with pytest.raises(ValueError, match=r"`ent_coef` schedule returned -0\.1"):
        OffPAC("MlpPolicy", "CartPole-v1", ent_coef=lambda progress: -0.1)
    model = OffPAC("MlpPolicy", "CartPole-v1", ent_coef=lambda progress: progress - 0.5, learning_starts=10, batch_size=8)
    with pytest.raises(ValueError, match=r"it must return a finite number >= 0"):
        model.learn(200)  # fine while progress_remaining >= 0.5, refused past half of training


def test_the_actor_gradient_includes_the_entropy_bonus_on_box_actions() -> None:
    """Box actions: the entropy bonus is the one-sample estimate -log pi(a~|s) of a reparameterized sample, and its
    gradient reaches the actor (through the sample and its log-prob) when ent_coef > 0."""
    from sb3_pg_extras.common.off_policy import clipped_importance_weights, stored_actions_log_prob

    model = OffPAC(
        "MlpPolicy", "Pendulum-v1", learning_starts=50, batch_size=16, ent_coef=0.3, normalize_advantage=False,
        policy_kwargs=dict(net_arch=[8]), seed=0,
    )  # fmt: skip
    model.learn(200)
    data = model.replay_buffer.sample(16, model._vec_normalize_env)
    th.manual_seed(1)
    log_probs = stored_actions_log_prob(model.actor, data.observations, data.actions)
    with th.no_grad():
        q_values = th.stack(model._q_taken(model.critic, data.observations, data.actions)).min(0).values
        values = model.expected_q(data.observations, model.critic)  # draws the samples of V(s) first, as the update
    _, sampled_log_prob = model.actor.action_log_prob(data.observations)
    _, weights = clipped_importance_weights(log_probs, data.behavior_log_probs, model.is_clip)
    expected = -(weights * log_probs * (q_values - values)).mean() - 0.3 * (-sampled_log_prob).mean()
    params = list(model.actor.parameters())
    expected_grads = th.autograd.grad(expected, params, allow_unused=True)
    model.actor.optimizer.step = lambda *args, **kwargs: None  # keep the parameters, read the gradient
    model._current_ent_coef = 0.3
    th.manual_seed(1)
    model._update_actor(data)
    for param, grad in zip(params, expected_grads):
        th.testing.assert_close(param.grad, th.zeros_like(param) if grad is None else grad, rtol=1e-4, atol=1e-6)
