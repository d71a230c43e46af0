"""Rollout and replay buffers shared by the algorithms of sb3_pg_extras."""

from __future__ import annotations

import numpy as np
import torch as th
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.type_aliases import DictRolloutBufferSamples, RolloutBufferSamples

from sb3_pg_extras.common.returns import discounted_returns_to_go, episode_step_indices


class _MonteCarloReturnsMixin:
    """
    Turns an SB3 rollout buffer into one for Monte-Carlo methods:

    - ``returns`` are discounted returns-to-go summed to each episode's end (``gae_lambda`` is ignored),
      closed with the value of the next observation only where the rollout cuts an episode;
      ``advantages = returns - values`` (values at collection time);
    - ``episode_steps`` holds each step's index within its episode, counted across rollouts;
    - :meth:`ordered_batch` hands back the whole rollout in storage order with those indices.
    """

    # attributes provided by the SB3 buffer this is mixed into
    buffer_size: int
    n_envs: int
    gamma: float
    rewards: np.ndarray
    values: np.ndarray
    episode_starts: np.ndarray
    returns: np.ndarray
    advantages: np.ndarray
    generator_ready: bool
    _carried_step: np.ndarray | None = None

    def reset(self) -> None:
        super().reset()  # type: ignore[misc]
        self.episode_steps = np.zeros((self.buffer_size, self.n_envs), dtype=np.int64)

    def compute_returns_and_advantage(self, last_values: th.Tensor, dones: np.ndarray) -> None:
        last = last_values.clone().cpu().numpy().flatten()
        self.returns = discounted_returns_to_go(self.rewards, self.episode_starts, last, dones, self.gamma)
        self.advantages = self.returns - self.values
        carried = np.zeros(self.n_envs, dtype=np.int64) if self._carried_step is None else self._carried_step
        self.episode_steps, self._carried_step = episode_step_indices(self.episode_starts, carried)

    def ordered_batch(self) -> tuple[RolloutBufferSamples | DictRolloutBufferSamples, th.Tensor]:
        """
        The whole rollout as one batch in storage order (env-major after SB3's flattening), with each
        sample's step index within its episode.
        """
        if not self.generator_ready:
            # Let SB3's ``get`` flatten the arrays in place (its first batch is discarded) rather than
            # copying its flattening code; later ``get`` calls keep working.
            next(self.get(batch_size=self.buffer_size * self.n_envs))  # type: ignore[attr-defined]
        indices = np.arange(self.buffer_size * self.n_envs)
        steps = th.as_tensor(self.swap_and_flatten(self.episode_steps)).flatten()  # type: ignore[attr-defined]
        return self._get_samples(indices), steps.to(self.device)  # type: ignore[attr-defined]


class MonteCarloRolloutBuffer(_MonteCarloReturnsMixin, RolloutBuffer):
    """Rollout buffer with Monte-Carlo returns-to-go (see ``_MonteCarloReturnsMixin``)."""


class DictMonteCarloRolloutBuffer(_MonteCarloReturnsMixin, DictRolloutBuffer):
    """Dict-observation rollout buffer with Monte-Carlo returns-to-go (see ``_MonteCarloReturnsMixin``)."""
