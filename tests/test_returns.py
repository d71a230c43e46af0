"""Pure return / advantage functions against brute-force loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th

from sb3_pg_extras.common.returns import (
    discounted_returns_to_go,
    episode_step_indices,
    policy_gradient_weights,
    relative_improvement,
)


def brute_force_returns(rewards, episode_starts, last_values, last_dones, gamma):
    """Per env, per step: sum rewards forward until the episode ends; close a cut episode with gamma^k V."""
    n_steps, n_envs = rewards.shape
    out = np.zeros_like(rewards)
    for env in range(n_envs):
        for t in range(n_steps):
            total, discount, k = 0.0, 1.0, t
            while True:
                total += discount * rewards[k, env]
                discount *= gamma
                k += 1
                if k == n_steps:  # the rollout cuts here
                    if not last_dones[env]:
                        total += discount * last_values[env]
                    break
                if episode_starts[k, env]:  # next step starts a new episode
                    break
            out[t, env] = total
    return out


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("gamma", [0.9, 0.99, 1.0])
def test_returns_to_go_match_brute_force(seed: int, gamma: float) -> None:
    rng = np.random.default_rng(seed)
    n_steps, n_envs = 17, 3
    rewards = rng.normal(size=(n_steps, n_envs)).astype(np.float32)
    episode_starts = (rng.random((n_steps, n_envs)) < 0.2).astype(np.float32)
    episode_starts[0] = 1.0
    last_values = rng.normal(size=n_envs).astype(np.float32)
    last_dones = (rng.random(n_envs) < 0.5).astype(np.float32)
    got = discounted_returns_to_go(rewards, episode_starts, last_values, last_dones, gamma)
    want = brute_force_returns(rewards, episode_starts, last_values, last_dones, gamma)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_returns_closed_form_constant_reward() -> None:
    # one episode of 5 steps of reward 1 ending exactly at the rollout end: g_t = (1 - gamma^(5-t)) / (1 - gamma)
    gamma = 0.9
    rewards = np.ones((5, 1), dtype=np.float32)
    starts = np.zeros((5, 1), dtype=np.float32)
    starts[0] = 1
    got = discounted_returns_to_go(rewards, starts, np.array([123.0]), np.array([1.0]), gamma)[:, 0]
    want = [(1 - gamma ** (5 - t)) / (1 - gamma) for t in range(5)]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # the same episode cut by the rollout (not done): closed with gamma^(5-t) * V
    got = discounted_returns_to_go(rewards, starts, np.array([10.0]), np.array([0.0]), gamma)[:, 0]
    np.testing.assert_allclose(got, [w + gamma ** (5 - t) * 10.0 for t, w in enumerate(want)], rtol=1e-6)


def test_episode_step_indices_carry_across_rollouts() -> None:
    starts = np.array([[1, 0], [0, 0], [0, 1], [1, 0]], dtype=np.float32)
    indices, carry = episode_step_indices(starts, np.array([0, 7]))
    np.testing.assert_array_equal(indices, [[0, 7], [1, 8], [2, 0], [0, 1]])
    np.testing.assert_array_equal(carry, [1, 2])
    # brute force: count steps since the last start, continuing the carried count
    rng = np.random.default_rng(0)
    starts = (rng.random((30, 4)) < 0.1).astype(np.float32)
    carried = np.array([3, 0, 5, 9])
    indices, _ = episode_step_indices(starts, carried)
    for env in range(4):
        count = carried[env]
        for t in range(30):
            count = 0 if starts[t, env] else count
            assert indices[t, env] == count
            count += 1


def test_policy_gradient_weights() -> None:
    returns = th.tensor([3.0, 1.0, 2.0, 5.0])
    values = th.tensor([1.0, 1.0, 1.0, 1.0])
    steps = th.tensor([0, 1, 2, 0])
    gamma = 0.5
    np.testing.assert_allclose(policy_gradient_weights(returns, values, steps, gamma, False, False), [2, 0, 1, 4])
    np.testing.assert_allclose(policy_gradient_weights(returns, None, steps, gamma, False, False), returns)
    np.testing.assert_allclose(policy_gradient_weights(returns, values, steps, gamma, False, True), [2, 0, 0.25, 4], rtol=1e-6)
    adv = th.tensor([2.0, 0.0, 1.0, 4.0])
    normalized = (adv - adv.mean()) / (adv.std() + 1e-8)
    np.testing.assert_allclose(policy_gradient_weights(returns, values, steps, gamma, True, False), normalized, rtol=1e-6)
    # standardization first, then gamma^t
    np.testing.assert_allclose(
        policy_gradient_weights(returns, values, steps, gamma, True, True),
        normalized * th.tensor([1.0, 0.5, 0.25, 1.0]),
        rtol=1e-6,
    )


def test_relative_improvement() -> None:
    assert relative_improvement(200.0, 100.0) == pytest.approx(0.5)
    assert relative_improvement(0.5, 0.25) == pytest.approx(0.25)  # denominator floored at 1
    assert relative_improvement(1.0, 2.0) < 0


def test_policy_gradient_weights_eps_on_a_near_constant_batch() -> None:
    # the standardization divides by std + eps: on a batch whose spread is of the order of eps the weights shrink
    # (std - eps would blow them up, std alone would give them unit variance), and equal returns give zeros, not NaN
    returns = th.tensor([0.0, 1.0, 2.0, 3.0], dtype=th.float64) * 1e-8
    steps = th.zeros(4)
    centered, std = returns - returns.mean(), returns.std()
    got = policy_gradient_weights(returns, None, steps, 0.9, True, False)
    np.testing.assert_allclose(got, centered / (std + 1e-8), rtol=1e-9)
    assert got.abs().max() < 1.0
    got = policy_gradient_weights(returns, None, steps, 0.9, True, False, eps=1e-6)
    np.testing.assert_allclose(got, centered / (std + 1e-6), rtol=1e-9)
    constant = policy_gradient_weights(th.full((4,), 5.0), None, steps, 0.9, True, False)
    assert th.equal(constant, th.zeros(4))
