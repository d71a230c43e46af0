"""DiscreteSAC: targets and losses against explicit per-action loops, the actor-loss gradient, temperature, safety, errors."""

from __future__ import annotations

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import FakeImageEnv, SimpleMultiObsEnv
from stable_baselines3.common.torch_layers import CombinedExtractor, NatureCNN
from stable_baselines3.common.type_aliases import ReplayBufferSamples

from sb3_pg_extras import DiscreteSAC
from sb3_pg_extras.common.critics import discrete_sac_actor_loss, entropy, soft_state_value, temperature_loss
from sb3_pg_extras.sac_discrete.sac_discrete import resolve_target_entropy

TINY = dict(learning_starts=50, buffer_size=1000, batch_size=16, policy_kwargs=dict(net_arch=[8]))


def random_batch(model: DiscreteSAC, n: int = 6, seed: int = 0) -> ReplayBufferSamples:
    rng = np.random.default_rng(seed)
    obs = th.as_tensor(rng.normal(size=(n, 4)), dtype=th.float32)
    next_obs = th.as_tensor(rng.normal(size=(n, 4)), dtype=th.float32)
    actions = th.as_tensor(rng.integers(0, 2, size=(n, 1)))
    rewards = th.as_tensor(rng.normal(size=(n, 1)), dtype=th.float32)
    dones = th.as_tensor(rng.integers(0, 2, size=(n, 1)), dtype=th.float32)
    return ReplayBufferSamples(obs, actions, next_obs, dones, rewards)


def soft_value_loop(model: DiscreteSAC, next_obs: th.Tensor, alpha: float) -> float:
    """sum_a pi(a|s') (min_j Q_targ_j(s', a) - alpha log pi(a|s')) for one state, action by action."""
    with th.no_grad():
        logits = model.actor.action_logits(next_obs)[0]
        qs = [
            q(model.critic_target.extract_features(next_obs, model.critic_target.features_extractor))[0]
            for q in model.critic_target.q_networks
        ]
    value = 0.0
    for a in range(len(logits)):
        prob = math.exp(logits[a].item()) / sum(math.exp(x.item()) for x in logits)
        q_min = min(q[a].item() for q in qs)
        value += prob * (q_min - alpha * math.log(prob))
    return value


def test_soft_target_equals_per_action_loop() -> None:
    model = DiscreteSAC("MlpPolicy", "CartPole-v1", gamma=0.9, policy_kwargs=dict(net_arch=[8], n_critics=3), seed=0)
    data = random_batch(model)
    alpha = 0.3
    got = model.soft_target(data, alpha)
    for i in range(len(got)):
        value = soft_value_loop(model, data.next_observations[i : i + 1], alpha)
        expected = data.rewards[i].item() + 0.9 * (1 - data.dones[i].item()) * value
        assert got[i].item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_target_without_entropy_backup_is_expected_min_q() -> None:
    """backup_entropy=False: y = r + gamma (1 - d) sum_a' pi(a'|s') min_j Q_targ_j(s', a'), whatever alpha is."""
    model = DiscreteSAC("MlpPolicy", "CartPole-v1", gamma=0.9, backup_entropy=False, policy_kwargs=dict(net_arch=[8]), seed=0)
    data = random_batch(model)
    got = model.soft_target(data, 0.7)
    for i in range(len(got)):
        value = soft_value_loop(model, data.next_observations[i : i + 1], 0.0)
        expected = data.rewards[i].item() + 0.9 * (1 - data.dones[i].item()) * value
        assert got[i].item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    model.backup_entropy = True
    assert not th.allclose(model.soft_target(data, 0.7), got)
    with pytest.raises(ValueError, match="backup_entropy"):
        DiscreteSAC("MlpPolicy", "CartPole-v1", backup_entropy="False")


def test_n_step_target_uses_each_samples_discount() -> None:
    """With n-step samples the bootstrap is discounted by the buffer's gamma^k of each sample, not by gamma."""
    model = DiscreteSAC("MlpPolicy", "CartPole-v1", gamma=0.9, n_steps=3, policy_kwargs=dict(net_arch=[8]), seed=0)
    assert model.replay_buffer.__class__.__name__ == "NStepReplayBuffer"
    data = random_batch(model)
    discounts = th.tensor([[0.9], [0.81], [0.729], [0.729], [0.9], [0.81]])
    data = ReplayBufferSamples(*data[:5], discounts=discounts)
    got = model.soft_target(data, 0.2)
    for i in range(len(got)):
        value = soft_value_loop(model, data.next_observations[i : i + 1], 0.2)
        expected = data.rewards[i].item() + discounts[i].item() * (1 - data.dones[i].item()) * value
        assert got[i].item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_n_step_returns_train_and_reload(tmp_path) -> None:
    model = DiscreteSAC("MlpPolicy", "CartPole-v1", n_steps=3, backup_entropy=False, seed=0, **TINY).learn(100)
    model.save(tmp_path / "model")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "n_steps is ignored" warning: the reloaded buffer is the n-step one
        loaded = DiscreteSAC.load(tmp_path / "model", env=make_vec_env("CartPole-v1", n_envs=1))
    assert loaded.n_steps == 3 and loaded.replay_buffer.__class__.__name__ == "NStepReplayBuffer"
    assert loaded.backup_entropy is False
    loaded.learn(20, reset_num_timesteps=False)


def test_losses_equal_loops() -> None:
    rng = np.random.default_rng(1)
    logits = th.as_tensor(rng.normal(size=(5, 3)), dtype=th.float32)
    log_probs = th.log_softmax(logits, -1)
    probs = log_probs.exp()
    q = th.as_tensor(rng.normal(size=(5, 3)), dtype=th.float32)
    alpha = 0.7
    loop_actor = np.mean([sum(probs[s, a] * (alpha * log_probs[s, a] - q[s, a]) for a in range(3)) for s in range(5)])
    assert discrete_sac_actor_loss(probs, log_probs, q, alpha).item() == pytest.approx(float(loop_actor), rel=1e-5)
    loop_value = [sum(probs[s, a] * (q[s, a] - alpha * log_probs[s, a]) for a in range(3)).item() for s in range(5)]
    np.testing.assert_allclose(soft_state_value(probs, log_probs, q, alpha), loop_value, rtol=1e-5)
    loop_entropy = [-sum(probs[s, a] * log_probs[s, a] for a in range(3)).item() for s in range(5)]
    np.testing.assert_allclose(entropy(probs, log_probs), loop_entropy, rtol=1e-5)


def test_actor_gradient_matches_eq_3_66() -> None:
    model = DiscreteSAC("MlpPolicy", "CartPole-v1", seed=0, **TINY)
    obs = random_batch(model, n=4).observations
    alpha = 0.2
    params = list(model.actor.parameters())
    q = th.as_tensor(np.random.default_rng(2).normal(size=(4, 2)), dtype=th.float32)
    probs, log_probs = model.actor.action_log_probs(obs)
    grads = th.autograd.grad(discrete_sac_actor_loss(probs, log_probs, q, alpha), params)
    # actor-loss gradient: mean_s sum_a grad pi(a|s) (alpha (1 + log pi(a|s)) - Q(s, a))
    expected = [th.zeros_like(p) for p in params]
    for s in range(4):
        for a in range(2):
            prob, log_prob = (t[s, a] for t in model.actor.action_log_probs(obs))
            weight = (alpha * (1 + log_prob) - q[s, a]).item() / 4
            for acc, g in zip(expected, th.autograd.grad(prob, params, allow_unused=True)):
                if g is not None:
                    acc += weight * g
    for got, want in zip(grads, expected):
        th.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)


def test_temperature_moves_toward_target() -> None:
    log_alpha = th.zeros(1, requires_grad=True)
    # policy more random than the target: alpha must decrease (positive gradient on log alpha)
    (grad,) = th.autograd.grad(temperature_loss(log_alpha, th.tensor([0.6, 0.7]), 0.3), [log_alpha])
    assert grad.item() == pytest.approx(0.35)
    (grad,) = th.autograd.grad(temperature_loss(log_alpha, th.tensor([0.1]), 0.3), [log_alpha])
    assert grad.item() == pytest.approx(-0.2)


def test_log_probs_stay_finite_when_probabilities_underflow() -> None:
    model = DiscreteSAC("MlpPolicy", "CartPole-v1", **TINY)
    with th.no_grad():
        model.actor.logits.weight.zero_()
        model.actor.logits.bias.copy_(th.tensor([500.0, -500.0]))
    probs, log_probs = model.actor.action_log_probs(th.zeros(3, 4))
    assert probs[0, 1].item() == 0.0
    assert th.isfinite(log_probs).all()
    q = th.zeros(3, 2)
    assert th.isfinite(discrete_sac_actor_loss(probs, log_probs, q, 0.2))
    assert th.isfinite(entropy(probs, log_probs)).all()
    model.learn(100)
    assert np.isfinite(model.logger.name_to_value["train/actor_loss"])


def test_resolve_target_entropy() -> None:
    assert resolve_target_entropy("auto", 4) == pytest.approx(0.5 * math.log(4))
    assert resolve_target_entropy("auto_0.3", 4) == pytest.approx(0.3 * math.log(4))
    assert resolve_target_entropy(0.2, 4) == 0.2
    assert resolve_target_entropy("auto_1", 4) == pytest.approx(math.log(4))
    # the bound log|A| is inclusive, with a tolerance of 1e-9 nats for a ratio of 1 that rounds above it
    edge = float(np.log(4)) + 1e-9
    assert resolve_target_entropy(edge, 4) == edge
    for bad in (0.0, -0.1, 2.0, float(np.log(4)) + 2e-9, "auto_1.5", "max"):
        with pytest.raises(ValueError, match="target_entropy"):
            resolve_target_entropy(bad, 4)


def test_learned_temperature_changes_and_fixed_stays() -> None:
    model = DiscreteSAC("MlpPolicy", "CartPole-v1", ent_coef="auto_0.5", seed=0, **TINY)
    model.learn(200)
    assert model.log_ent_coef.exp().item() != pytest.approx(0.5)
    model = DiscreteSAC("MlpPolicy", "CartPole-v1", ent_coef=0.1, **TINY)
    model.learn(200)
    assert model.ent_coef_optimizer is None
    assert model.logger.name_to_value["train/ent_coef"] == pytest.approx(0.1)


def test_hard_target_updates() -> None:
    model = DiscreteSAC("MlpPolicy", "CartPole-v1", tau=1.0, target_update_interval=5, gradient_steps=5, train_freq=5, **TINY)
    model.learn(100)
    assert model._n_updates % 5 == 0
    for p, p_target in zip(model.critic.parameters(), model.critic_target.parameters()):
        assert th.equal(p, p_target)


def test_shared_features_extractor_and_policy_save(tmp_path) -> None:
    model = DiscreteSAC(
        "MlpPolicy", "CartPole-v1", **{**TINY, "policy_kwargs": dict(net_arch=[8], share_features_extractor=True)}
    )
    model.learn(100)
    assert model.critic.features_extractor is model.actor.features_extractor
    model.policy.save(tmp_path / "policy")
    loaded = type(model.policy).load(tmp_path / "policy")
    assert loaded.share_features_extractor


def test_cnn_and_multi_input_policies() -> None:
    image_env = FakeImageEnv(screen_height=40, screen_width=40, n_channels=1, discrete=True)
    for policy, env, extractor in (
        ("CnnPolicy", image_env, NatureCNN),
        ("MultiInputPolicy", SimpleMultiObsEnv(), CombinedExtractor),
    ):
        model = DiscreteSAC(policy, env, learning_starts=10, buffer_size=100, batch_size=4, policy_kwargs=dict(net_arch=[8]))
        before = [p.detach().clone() for p in model.actor.parameters()]
        model.learn(20)
        assert isinstance(model.actor.features_extractor, extractor) and model._n_updates == 10
        assert any(not th.equal(b, p) for b, p in zip(before, model.actor.parameters()))  # the actor trained


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(policy_kwargs=dict(n_critics=0)), "n_critics"),
        (dict(target_entropy=5.0), "target_entropy"),
        (dict(target_entropy="auto_2"), "target_entropy"),
        (dict(ent_coef=-0.1), "ent_coef"),
        (dict(ent_coef="auto_-1"), "ent_coef"),
        (dict(ent_coef="learned"), "ent_coef"),
        (dict(tau=0.0), "tau"),
        (dict(gamma=1.5), "gamma"),
        (dict(target_update_interval=0), "target_update_interval"),
        (dict(n_steps=0), "n_steps"),
        (dict(n_steps=3, replay_buffer_class=ReplayBuffer), "replay_buffer_class"),
        (dict(warmup_action_repeat=0), "warmup_action_repeat"),
        (dict(warmup_action_repeat=2.5), "warmup_action_repeat"),
    ],
)
def test_bad_hyperparameters_are_refused_at_construction(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DiscreteSAC("MlpPolicy", "CartPole-v1", **kwargs)


def test_n_step_returns_with_dict_observations_are_refused() -> None:
    with pytest.raises(ValueError, match="Dict"):
        DiscreteSAC("MultiInputPolicy", SimpleMultiObsEnv(), n_steps=3)


def test_box_action_space_is_refused() -> None:
    with pytest.raises(ValueError, match="Box"):
        DiscreteSAC("MlpPolicy", "Pendulum-v1")


def test_unbounded_box_actions_are_refused_before_sb3_sees_the_env() -> None:
    """SB3's own check of an unbounded Box is a bare AssertionError; ours comes first and names the space."""
    from tests.test_env_checks import UnboundedActions

    for env in ["UnboundedActions-v0", UnboundedActions()]:
        with pytest.raises(ValueError, match=r"DiscreteSAC does not support the action space Box\(-inf, inf"):
            DiscreteSAC("MlpPolicy", env)


def test_expectations_over_actions_sum_the_last_axis_of_any_batch_shape() -> None:
    rng = np.random.default_rng(2)
    log_probs = th.log_softmax(th.as_tensor(rng.normal(size=(2, 3, 4)), dtype=th.float32), -1)
    probs, q, alpha = log_probs.exp(), th.as_tensor(rng.normal(size=(2, 3, 4)), dtype=th.float32), 0.3
    for i in range(2):  # each (3, 4) slice is a batch of 3 states with 4 actions
        np.testing.assert_allclose(
            soft_state_value(probs, log_probs, q, alpha)[i], soft_state_value(probs[i], log_probs[i], q[i], alpha), rtol=1e-6
        )
        np.testing.assert_allclose(entropy(probs, log_probs)[i], entropy(probs[i], log_probs[i]), rtol=1e-6)
    per_slice = [discrete_sac_actor_loss(probs[i], log_probs[i], q[i], alpha) for i in range(2)]
    assert discrete_sac_actor_loss(probs, log_probs, q, alpha).item() == pytest.approx(float(sum(per_slice) / 2), rel=1e-6)


def test_discrete_critic_defaults_and_gradient_into_the_features_extractor() -> None:
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, FlattenExtractor

    from sb3_pg_extras.common.critics import DiscreteCritic

    observation_space, action_space = gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2)
    critic = DiscreteCritic(observation_space, action_space, [4], FlattenExtractor(observation_space), 3)
    assert (critic.n_critics, len(critic.q_networks), critic.share_features_extractor) == (2, 2, False)
    assert critic.normalize_images
    obs = th.ones(5, 3)

    class LinearExtractor(BaseFeaturesExtractor):
        def __init__(self, space: gym.spaces.Box) -> None:
            super().__init__(space, 3)
            self.linear = th.nn.Linear(3, 3)

        def forward(self, observations: th.Tensor) -> th.Tensor:
            return self.linear(observations)

    for shared in (False, True):
        extractor = LinearExtractor(observation_space)
        critic = DiscreteCritic(observation_space, action_space, [4], extractor, 3, share_features_extractor=shared)
        sum(q.sum() for q in critic(obs)).backward()
        # a shared extractor is trained by the actor's loss only (SB3's SAC convention)
        assert (extractor.linear.weight.grad is None) == shared


def warmup_actions(n_envs: int, steps: int, **kwargs) -> np.ndarray:
    """The actions (vec-env steps, n_envs) of a DiscreteSAC on CartPole-v1 with 48 warm-up steps, then learning."""
    env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=0)
    model = DiscreteSAC("MlpPolicy", env, seed=0, **{**TINY, "learning_starts": 48, **kwargs})
    actions: list[np.ndarray] = []
    model._last_obs = model.env.reset()  # type: ignore[union-attr]
    for _ in range(steps // n_envs):
        action, buffer_action = model._sample_action(model.learning_starts, None, n_envs)
        np.testing.assert_array_equal(action, buffer_action)
        actions.append(action)
        model.num_timesteps += n_envs
    return np.array(actions)


@pytest.mark.parametrize("n_envs", [1, 2])
def test_warmup_actions_are_held_for_warmup_action_repeat_steps(n_envs: int) -> None:
    actions = warmup_actions(n_envs, 96, warmup_action_repeat=4)
    warmup = actions[: 48 // n_envs]
    blocks = warmup.reshape(-1, 4, n_envs)  # every env's action constant within each block of 4 vec-env steps
    assert (blocks == blocks[:, :1]).all()
    assert len({tuple(b[0]) for b in blocks}) > 1  # random from block to block (CartPole: 2 actions)
    assert set(np.unique(warmup)) == {0, 1}
    after = actions[48 // n_envs :]  # the policy's samples once learning starts: not held
    assert not (after.reshape(-1, 4, n_envs) == after.reshape(-1, 4, n_envs)[:, :1]).all()


def test_warmup_action_repeat_1_keeps_sb3s_uniform_warmup() -> None:
    """The default draws exactly what SB3's warm-up draws (a fresh action_space.sample() per env and step)."""
    actions = warmup_actions(2, 48, warmup_action_repeat=1)
    space = gym.spaces.Discrete(2)
    space.seed(0)  # as set_random_seed(0) seeds the model's action space
    np.testing.assert_array_equal(actions, [[space.sample() for _ in range(2)] for _ in range(24)])


def test_warmup_action_repeat_is_saved_and_held_actions_are_not(tmp_path) -> None:
    model = DiscreteSAC("MlpPolicy", "CartPole-v1", warmup_action_repeat=5, **TINY)
    model.learn(22)  # stops inside a block of 5
    model.save(tmp_path / "m")
    loaded = DiscreteSAC.load(tmp_path / "m", env=make_vec_env("CartPole-v1", n_envs=1))
    assert loaded.warmup_action_repeat == 5 and len(loaded._held_actions) == 0
    loaded.learn(10, reset_num_timesteps=False)  # resumes the warm-up with a new held action
    assert loaded.num_timesteps == 32 and len(loaded._held_actions) == 1
