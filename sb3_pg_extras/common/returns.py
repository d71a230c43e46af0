"""
Monte-Carlo returns-to-go and policy-gradient weights, as pure functions.

References: R. S. Sutton, A. G. Barto, "Reinforcement Learning: An Introduction", 2nd ed., 2018, §13.3 (discounted
returns-to-go and the gamma^t factor of REINFORCE) and §13.4 (a learned state-value baseline). Standardizing the
advantages over the batch is common practice, not part of either algorithm.
"""

from __future__ import annotations

import numpy as np
import torch as th


def discounted_returns_to_go(
    rewards: np.ndarray,
    episode_starts: np.ndarray,
    last_values: np.ndarray,
    last_dones: np.ndarray,
    gamma: float,
) -> np.ndarray:
    """
    Discounted return-to-go ``g_t = sum_{t'>=t} gamma^(t'-t) r_t'`` of every step of a rollout, summed
    to the end of each episode (no bootstrapping inside an episode).

    Where the rollout cuts an episode (the last step is not an episode end), the sum is closed with
    ``gamma^k * last_values``: the baseline's estimate of the rest of that episode. A time-limit
    truncation is handled by the caller by adding ``gamma * V(terminal_obs)`` to that step's reward
    (SB3's ``collect_rollouts`` does so); pass zero values for a plain Monte-Carlo sum.

    :param rewards: rewards, shape (n_steps, n_envs)
    :param episode_starts: 1 where the observation of step t is the first of an episode, shape (n_steps, n_envs)
    :param last_values: value of the observation after the last step, shape (n_envs,)
    :param last_dones: 1 where the last step ended an episode, shape (n_envs,)
    :param gamma: discount factor
    :return: returns-to-go, shape (n_steps, n_envs), float32
    """
    n_steps = rewards.shape[0]
    returns = np.zeros_like(rewards, dtype=np.float32)
    # g_{T} = V(s_T) unless the episode ended at the last step
    next_return = np.asarray(last_values, dtype=np.float32) * (1.0 - np.asarray(last_dones, dtype=np.float32))
    for step in reversed(range(n_steps)):
        next_return = rewards[step] + gamma * next_return
        returns[step] = next_return
        # step t starts an episode: nothing before it may see its return
        next_return = next_return * (1.0 - episode_starts[step])
    return returns


def episode_step_indices(episode_starts: np.ndarray, carried: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """
    Index ``t`` of each stored step within its episode (the ``t`` of the ``gamma^t`` factor), for episodes
    that may have begun in an earlier rollout.

    :param episode_starts: 1 where step t starts an episode, shape (n_steps, n_envs)
    :param carried: index the first step of this rollout would have if it did not start an episode, shape (n_envs,)
    :return: indices, shape (n_steps, n_envs), and the carry for the next rollout, shape (n_envs,)
    """
    indices = np.zeros(episode_starts.shape, dtype=np.int64)
    current = np.asarray(carried, dtype=np.int64).copy()
    for step in range(episode_starts.shape[0]):
        current = np.where(episode_starts[step].astype(bool), 0, current)
        indices[step] = current
        current = current + 1
    return indices, current


def policy_gradient_weights(
    returns: th.Tensor,
    baseline_values: th.Tensor | None,
    episode_steps: th.Tensor,
    gamma: float,
    normalize: bool,
    gamma_weighting: bool,
    eps: float = 1e-8,
) -> th.Tensor:
    """
    Per-sample weights ``w_t`` of the REINFORCE pseudo-loss ``-mean_t(w_t log pi(a_t|s_t))``: the advantage
    ``g_t - V(s_t)``, optionally standardized over the batch, optionally times ``gamma^t`` (the standardization
    comes first, then the ``gamma^t`` factor).

    :param returns: returns-to-go g_t, shape (N,)
    :param baseline_values: baseline V(s_t), shape (N,), or None for no baseline
    :param episode_steps: index t of each sample within its episode, shape (N,)
    :param gamma: discount factor
    :param normalize: standardize the advantages over the batch
    :param gamma_weighting: multiply by gamma^t
    :param eps: added to the standard deviation
    :return: weights, shape (N,)
    """
    advantages = returns if baseline_values is None else returns - baseline_values
    if normalize:
        advantages = (advantages - advantages.mean()) / (advantages.std() + eps)
    if gamma_weighting:
        advantages = advantages * th.pow(th.as_tensor(gamma, dtype=advantages.dtype), episode_steps.to(advantages.dtype))
    return advantages


def relative_improvement(previous: float, current: float) -> float:
    """
    Relative decrease of a loss between two checks, ``(L_prev - L) / max(1, |L_prev|)``: the convergence test of
    the baseline fit.
    """
    return (previous - current) / max(1.0, abs(previous))
