"""Rollout and replay buffers shared by the algorithms of sb3_pg_extras."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch as th
from stable_baselines3.common.buffers import DictReplayBuffer, DictRolloutBuffer, ReplayBuffer, RolloutBuffer
from stable_baselines3.common.type_aliases import (
    DictRolloutBufferSamples,
    PyTorchObs,
    RolloutBufferSamples,
)
from stable_baselines3.common.vec_env import VecNormalize

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


class BehaviorReplayBufferSamples(NamedTuple):
    """SB3's replay samples plus log b(a|s), the behavior policy's log-probability of each stored action."""

    observations: PyTorchObs
    actions: th.Tensor
    next_observations: PyTorchObs
    dones: th.Tensor
    rewards: th.Tensor
    discounts: th.Tensor | None
    behavior_log_probs: th.Tensor  # (batch,)


class _BehaviorLogProbMixin:
    """
    Adds the behavior log-probability log b(a_t|s_t) of every stored action to an SB3 replay buffer: the
    denominator of the importance ratio pi(a|s) / b(a|s) of the off-policy actor-critic (Degris, White, Sutton,
    "Off-Policy Actor-Critic", ICML 2012), which must be recorded when the action is taken.

    The algorithm hands the log-probs of the actions it is about to store to :meth:`set_behavior_log_probs` (one
    per env) before SB3's ``_store_transition`` calls ``add``; ``add`` refuses to store a transition without them,
    so a transition can never be paired with a stale probability. They must be the log-probs *of the stored
    action*: for Box spaces SB3 stores actions scaled to [-1, 1], so the log-density is the one on [-1, 1].
    """

    # attributes provided by the SB3 buffer this is mixed into
    buffer_size: int
    n_envs: int
    pos: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.behavior_log_probs = np.zeros((self.buffer_size, self.n_envs), dtype=np.float32)
        self._pending_log_probs: np.ndarray | None = None

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A buffer pickled by ``save_replay_buffer`` before the American spelling holds its log-probs under the old
        # attribute name: load it under the new one.
        state = dict(state)
        if "behaviour_log_probs" in state:  # codespell:ignore behaviour
            state["behavior_log_probs"] = state.pop("behaviour_log_probs")  # codespell:ignore behaviour
        self.__dict__.update(state)

    def set_behavior_log_probs(self, log_probs: np.ndarray | th.Tensor) -> None:
        """log b(a|s) of the actions the next ``add`` stores, one per env."""
        if isinstance(log_probs, th.Tensor):
            log_probs = log_probs.detach().cpu().numpy()
        self._pending_log_probs = np.asarray(log_probs, dtype=np.float32).reshape(self.n_envs)

    def add(self, *args: Any, **kwargs: Any) -> None:
        if self._pending_log_probs is None:
            raise RuntimeError(
                f"{type(self).__name__}.add() needs the behavior log-probs of the stored actions: call "
                "set_behavior_log_probs() before each add()."
            )
        self.behavior_log_probs[self.pos] = self._pending_log_probs
        self._pending_log_probs = None
        super().add(*args, **kwargs)  # type: ignore[misc]

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> BehaviorReplayBufferSamples:
        # SB3 draws each sample's env index inside ``_get_samples`` from numpy's global generator. Rather than copy
        # its sampler, replay that same draw from the saved generator state to pair each transition with its
        # log-prob (tests/test_offpac.py checks the pairing with several envs).
        state = np.random.get_state()  # noqa: NPY002 (SB3 samples from the legacy global generator)
        samples = super()._get_samples(batch_inds, env)  # type: ignore[misc]
        after = np.random.get_state()  # noqa: NPY002
        np.random.set_state(state)  # noqa: NPY002
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))  # noqa: NPY002
        np.random.set_state(after)  # noqa: NPY002
        log_probs = th.as_tensor(self.behavior_log_probs[batch_inds, env_indices], device=samples.actions.device)
        return BehaviorReplayBufferSamples(**samples._asdict(), behavior_log_probs=log_probs)


class BehaviorReplayBuffer(_BehaviorLogProbMixin, ReplayBuffer):  # type: ignore[misc]
    """Replay buffer that also stores the behavior log-prob of each action (see ``_BehaviorLogProbMixin``)."""


class DictBehaviorReplayBuffer(_BehaviorLogProbMixin, DictReplayBuffer):  # type: ignore[misc]
    """Dict-observation replay buffer that also stores behavior log-probs (see ``_BehaviorLogProbMixin``)."""


# The British spellings of the names above, deprecated: a model saved before the rename records its replay buffer
# class under these names, and ``save_replay_buffer`` pickled its buffers as instances of them (both are looked up
# by module + name when loaded). They are the same classes.
BehaviourReplayBuffer = BehaviorReplayBuffer  # codespell:ignore behaviour
DictBehaviourReplayBuffer = DictBehaviorReplayBuffer  # codespell:ignore behaviour
BehaviourReplayBufferSamples = BehaviorReplayBufferSamples  # codespell:ignore behaviour
