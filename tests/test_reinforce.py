"""REINFORCE-specific behavior: returns at truncations and rollout cuts, the estimator, the baseline fit, errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.distributions import StateDependentNoiseDistribution
from stable_baselines3.common.envs import FakeImageEnv, IdentityEnv, SimpleMultiObsEnv

from sb3_pg_extras import REINFORCE
from sb3_pg_extras.common.buffers import DictMonteCarloRolloutBuffer, MonteCarloRolloutBuffer

TINY = dict(policy_kwargs=dict(net_arch=[8]))


class ConstantRewardEnv(gym.Env):
    """Reward 1 every step, never terminates: only the time limit ends an episode."""

    observation_space = spaces.Box(-1.0, 1.0, (1,))
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(1, dtype=np.float32), 1.0, False, False, {}


def collected_returns(model: REINFORCE) -> np.ndarray:
    """Returns-to-go of one rollout, as train() would see them."""
    seen = {}

    def record() -> None:
        batch, _ = model.rollout_buffer.ordered_batch()
        seen["returns"] = batch.returns.numpy().copy()

    model.train = record  # type: ignore[method-assign]
    model.learn(model.n_steps)
    return seen["returns"]


def time_limited(limit: int = 5) -> gym.Env:
    return gym.wrappers.TimeLimit(ConstantRewardEnv(), max_episode_steps=limit)


def test_vanilla_returns_stop_at_truncation_and_rollout_end() -> None:
    gamma = 0.9
    model = REINFORCE("MlpPolicy", time_limited(5), n_steps=7, gamma=gamma, baseline=None, **TINY)
    returns = collected_returns(model)
    episode1 = [(1 - gamma ** (5 - t)) / (1 - gamma) for t in range(5)]
    np.testing.assert_allclose(returns, [*episode1, 1 + gamma, 1.0], rtol=1e-6)


def test_learned_baseline_bootstraps_truncation_and_rollout_end() -> None:
    gamma, c = 0.9, 3.0
    model = REINFORCE("MlpPolicy", time_limited(5), n_steps=7, gamma=gamma, **TINY)
    with th.no_grad():  # V(s) == c everywhere
        model.policy.value_net.weight.zero_()
        model.policy.value_net.bias.fill_(c)
    returns = collected_returns(model)
    episode1 = [(1 - gamma ** (5 - t)) / (1 - gamma) + gamma ** (5 - t) * c for t in range(5)]
    episode2 = [1 + gamma + gamma**2 * c, 1 + gamma * c]
    np.testing.assert_allclose(returns, [*episode1, *episode2], rtol=1e-5)


def test_policy_gradient_matches_per_sample_score_function() -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_steps=16, seed=0, **TINY)
    obs = th.as_tensor(np.stack([model.observation_space.sample() for _ in range(6)]))
    actions = th.tensor([0, 1, 1, 0, 1, 0], dtype=th.float32)
    weights = th.tensor([0.5, -1.0, 2.0, 0.0, 1.5, -0.3])
    params = [p for group in model.policy.optimizer.param_groups for p in group["params"]]
    loss, _ = model.policy_loss(obs, actions, weights)
    grads = th.autograd.grad(loss, params)
    # brute force: -(1/N) sum_i w_i grad log pi(a_i|s_i), one sample at a time
    expected = [th.zeros_like(p) for p in params]
    for i in range(6):
        log_prob = model.policy.get_distribution(obs[i : i + 1]).log_prob(actions[i : i + 1].long())
        for acc, g in zip(expected, th.autograd.grad(log_prob.sum(), params)):
            acc -= weights[i] * g / 6
    for got, want in zip(grads, expected):
        th.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_optimizers_split_actor_and_baseline() -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_steps=16, **TINY)
    actor = {id(p) for g in model.policy.optimizer.param_groups for p in g["params"]}
    critic = {id(p) for g in model.baseline_optimizer.param_groups for p in g["params"]}
    assert not actor & critic
    assert actor | critic == {id(p) for p in model.policy.parameters()}
    assert {id(p) for p in model.policy.value_net.parameters()} <= critic
    assert {id(p) for p in model.policy.action_net.parameters()} <= actor


def test_baseline_fit_reduces_loss_and_stops_on_tolerance() -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_steps=128, baseline_epochs=30, seed=0, **TINY)
    model.learn(128)
    values = model.logger.name_to_value
    assert values["train/value_loss"] < values["train/value_loss_first_epoch"]
    assert values["train/baseline_epochs"] == 30  # the loss still falls fast from scratch
    # an enormous tolerance counts every epoch as converged: stop after 1 + patience epochs
    model = REINFORCE(
        "MlpPolicy", "CartPole-v1", n_steps=128, baseline_epochs=30, baseline_tol=1e9, baseline_patience=3, **TINY
    )
    model.learn(128)
    assert model.logger.name_to_value["train/baseline_epochs"] == 4
    # a loss that does not move (a learning rate of 1e-30, one batch) improves by exactly 0, not below a tolerance of 0
    model = REINFORCE(
        "MlpPolicy", "CartPole-v1", n_steps=128, baseline_epochs=6, baseline_tol=0.0, baseline_patience=1,
        baseline_learning_rate=1e-30, baseline_batch_size=128, **TINY,
    )  # fmt: skip
    model.learn(128)
    assert model.logger.name_to_value["train/baseline_epochs"] == 6


def reference_baseline_fit(policy, optimizer, obs, returns, batch_size, epochs, tol, patience):
    """The baseline fit written as a plain loop: minibatch SGD epochs over a fresh permutation (none when one batch
    holds every sample), the epoch loss the sample-weighted mean of its minibatch losses, stopped after ``patience``
    epochs in a row whose relative improvement ``(L_prev - L) / max(1, |L_prev|)`` is below ``tol``."""
    n, losses, converged = len(returns), [], 0
    for _ in range(epochs):
        order = th.randperm(n) if batch_size < n else th.arange(n)
        total = 0.0
        for chunk in order.split(batch_size):
            loss = ((policy.predict_values(obs[chunk]).flatten() - returns[chunk]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(chunk)
        losses.append(total / n)
        if len(losses) > 1:
            converged = converged + 1 if (losses[-2] - losses[-1]) / max(1.0, abs(losses[-2])) < tol else 0
            if converged == patience:
                break
    return losses


@pytest.mark.parametrize("batch_size", [None, 7])  # 7: 30 samples in chunks of 7, 7, 7, 7, 2
def test_baseline_fit_equals_a_reference_loop(batch_size) -> None:
    import copy

    model = REINFORCE(
        "MlpPolicy", "CartPole-v1", n_steps=30, baseline_batch_size=batch_size, baseline_epochs=60, baseline_tol=0.01,
        baseline_patience=2, baseline_learning_rate=0.03, seed=0, **TINY,
    )  # fmt: skip
    model._setup_learn(30)
    gen = th.Generator().manual_seed(1)
    obs, returns = th.randn(30, 4, generator=gen), 2.0 + th.randn(30, generator=gen)
    policy, optimizer = copy.deepcopy((model.policy, model.baseline_optimizer))  # one memo: the copy keeps its params
    th.manual_seed(2)
    rng = th.random.get_rng_state()
    model._fit_baseline(obs, returns)
    if batch_size is None:  # one batch of every sample: no permutation is drawn
        assert th.equal(th.random.get_rng_state(), rng)
    th.manual_seed(2)
    losses = reference_baseline_fit(policy, optimizer, obs, returns, batch_size or 30, 60, 0.01, 2)
    assert 3 < len(losses) < 60  # the tolerance stopped it, after a few epochs
    logged = model.logger.name_to_value
    assert logged["train/baseline_epochs"] == len(losses)
    assert logged["train/value_loss_first_epoch"] == pytest.approx(losses[0], rel=1e-6)
    assert logged["train/value_loss"] == pytest.approx(losses[-1], rel=1e-6)
    for fitted, expected in zip(model.policy.parameters(), policy.parameters()):
        th.testing.assert_close(fitted, expected)


def test_policy_step_logs_the_std_of_its_weights() -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_steps=8, seed=0, **TINY)
    model._setup_learn(8)
    obs, actions = th.zeros(3, 4), th.tensor([0, 1, 1])
    weights = th.tensor([1.0, -2.0, 4.0])
    model._policy_step(obs, actions, weights)
    assert model.logger.name_to_value["train/advantage_std"] == pytest.approx(float(weights.std()))
    model._policy_step(obs[:1], actions[:1], weights[:1])  # the std of one weight is undefined: logged as 0
    assert model.logger.name_to_value["train/advantage_std"] == 0.0


def test_minibatched_baseline_fit() -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_steps=64, baseline_batch_size=16, baseline_epochs=2, **TINY)
    model.learn(128)
    assert model._n_updates == 2


def test_one_policy_step_per_rollout() -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_steps=32, **TINY)
    model.learn(32 * 5)
    assert model._n_updates == 5


def test_vanilla_has_zero_frozen_baseline(tmp_path) -> None:
    model = REINFORCE("MlpPolicy", "CartPole-v1", n_steps=32, baseline=None, **TINY)
    model.learn(64)
    assert model.baseline_optimizer is None
    obs = th.as_tensor(np.stack([model.observation_space.sample() for _ in range(5)]))
    assert th.all(model.policy.predict_values(obs) == 0)
    model.save(tmp_path / "vanilla")
    loaded = REINFORCE.load(tmp_path / "vanilla")
    assert loaded.baseline is None and loaded.baseline_optimizer is None


@pytest.mark.parametrize("gamma_weighting", [False, True])
def test_gamma_weighting_scales_each_step_by_gamma_to_its_episode_index(gamma_weighting: bool) -> None:
    env = IdentityEnv(dim=2, ep_length=20)
    model = REINFORCE(
        "MlpPolicy", env, n_steps=32, gamma=0.9, baseline=None, normalize_advantage=False,
        gamma_weighting=gamma_weighting, **TINY,
    )  # fmt: skip
    seen = {}
    step = model._policy_step
    model._policy_step = lambda obs, actions, weights: (seen.update(weights=weights), step(obs, actions, weights))
    model.learn(32)
    t = th.as_tensor(np.arange(32) % 20)  # episodes of 20 steps
    returns = th.as_tensor(model.rollout_buffer.returns.flatten(), dtype=th.float32)
    expected = returns * 0.9**t if gamma_weighting else returns
    assert th.allclose(seen["weights"], expected, atol=1e-5)


def test_gamma_weighting_index_follows_the_env_after_a_callback_stop_and_resume() -> None:
    class StopAt13(BaseCallback):
        def _on_step(self) -> bool:
            return self.num_timesteps < 13

    model = REINFORCE("MlpPolicy", IdentityEnv(dim=2, ep_length=100), n_steps=8, gamma_weighting=True, **TINY)
    model.learn(100, callback=StopAt13())  # stops after 13 env steps, 5 of them in an unfinished rollout
    model.learn(8, reset_num_timesteps=False)
    assert model.num_timesteps == 21
    np.testing.assert_array_equal(model.rollout_buffer.episode_steps[:, 0], np.arange(13, 21))


def test_cnn_and_multi_input_policies() -> None:
    image_env = FakeImageEnv(screen_height=40, screen_width=40, n_channels=1, discrete=True)
    model = REINFORCE("CnnPolicy", image_env, n_steps=16, baseline_epochs=2, policy_kwargs=dict(net_arch=[8]))
    model.learn(32)
    assert isinstance(model.rollout_buffer, MonteCarloRolloutBuffer)
    model = REINFORCE("MultiInputPolicy", SimpleMultiObsEnv(), n_steps=16, baseline_epochs=2, baseline_batch_size=8, **TINY)
    model.learn(32)
    assert isinstance(model.rollout_buffer, DictMonteCarloRolloutBuffer)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n_steps=0), "n_steps"),
        (dict(n_steps=-5), "n_steps"),
        (dict(gamma=0.0), "gamma"),
        (dict(gamma=1.5), "gamma"),
        (dict(baseline="mean"), "baseline"),
        (dict(baseline_epochs=0), "baseline_epochs"),
        (dict(baseline_batch_size=0), "baseline_batch_size"),
        (dict(baseline_tol=-1.0), "baseline_tol"),
        (dict(learning_rate=-1e-3), "learning_rate"),
        (dict(ent_coef=-0.1), "ent_coef"),
        (dict(max_grad_norm=0.0), "max_grad_norm"),
        (dict(n_steps=1), "normalize_advantage"),
        (dict(rollout_buffer_class=RolloutBuffer), "rollout_buffer_class"),
    ],
)
def test_bad_hyperparameters_are_refused_at_construction(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        REINFORCE("MlpPolicy", "CartPole-v1", **kwargs)


def test_gsde_on_box_actions() -> None:
    model = REINFORCE("MlpPolicy", "Pendulum-v1", n_steps=32, use_sde=True, sde_sample_freq=4, **TINY)
    assert isinstance(model.policy.action_dist, StateDependentNoiseDistribution)
    log_std = model.policy.log_std.detach().clone()
    model.learn(64)
    assert np.isfinite(model.logger.name_to_value["train/policy_loss"])
    assert not th.equal(log_std, model.policy.log_std)  # gSDE's exploration parameters are trained


def test_the_entropy_bonus_raises_the_entropy_and_its_loss_is_minus_the_mean_entropy() -> None:
    from stable_baselines3.common.logger import configure

    model = REINFORCE("MlpPolicy", "CartPole-v1", ent_coef=0.0, learning_rate=0.01, seed=0)
    model.set_logger(configure(None, []))
    obs = th.as_tensor(np.random.default_rng(0).normal(size=(16, 4)), dtype=th.float32)
    actions = th.zeros(16, 1)
    for _ in range(5):  # away from the uniform policy (maximal entropy) first: action 0 made likelier
        model._policy_step(obs, actions, th.ones(16))
    model.policy.optimizer.state.clear()  # no momentum carried into the bonus's steps
    model.ent_coef = 1.0
    with th.no_grad():
        before = model.policy.get_distribution(obs).entropy().mean()
    pg_loss, entropy_loss = model.policy_loss(obs, actions, th.zeros(16))
    assert float(pg_loss) == 0.0 and th.isclose(entropy_loss, -before)
    for _ in range(5):  # zero advantages: only the bonus moves the policy
        model._policy_step(obs, actions, th.zeros(16))
    with th.no_grad():
        assert model.policy.get_distribution(obs).entropy().mean() > before + 0.1
