"""Rollout and replay buffers shared by the algorithms of sb3_pg_extras."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictReplayBuffer, DictRolloutBuffer, ReplayBuffer, RolloutBuffer
from stable_baselines3.common.type_aliases import (
    DictRolloutBufferSamples,
    PyTorchObs,
    ReplayBufferSamples,
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


class BehaviourReplayBufferSamples(NamedTuple):
    """SB3's replay samples plus log b(a|s), the behaviour policy's log-probability of each stored action."""

    observations: PyTorchObs
    actions: th.Tensor
    next_observations: PyTorchObs
    dones: th.Tensor
    rewards: th.Tensor
    discounts: th.Tensor | None
    behaviour_log_probs: th.Tensor  # (batch,)


class _BehaviourLogProbMixin:
    """
    Adds the behaviour log-probability log b(a_t|s_t) of every stored action to an SB3 replay buffer (the p_t^b
    of the experience-replay off-policy actor-critic, ../shared/reference 004 §3.3.4, step 1).

    The algorithm hands the log-probs of the actions it is about to store to :meth:`set_behaviour_log_probs` (one
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
        self.behaviour_log_probs = np.zeros((self.buffer_size, self.n_envs), dtype=np.float32)
        self._pending_log_probs: np.ndarray | None = None

    def set_behaviour_log_probs(self, log_probs: np.ndarray | th.Tensor) -> None:
        """log b(a|s) of the actions the next ``add`` stores, one per env."""
        if isinstance(log_probs, th.Tensor):
            log_probs = log_probs.detach().cpu().numpy()
        self._pending_log_probs = np.asarray(log_probs, dtype=np.float32).reshape(self.n_envs)

    def add(self, *args: Any, **kwargs: Any) -> None:
        if self._pending_log_probs is None:
            raise RuntimeError(
                f"{type(self).__name__}.add() needs the behaviour log-probs of the stored actions: call "
                "set_behaviour_log_probs() before each add()."
            )
        self.behaviour_log_probs[self.pos] = self._pending_log_probs
        self._pending_log_probs = None
        super().add(*args, **kwargs)  # type: ignore[misc]

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> BehaviourReplayBufferSamples:
        # SB3 draws each sample's env index inside ``_get_samples`` from numpy's global generator. Rather than copy
        # its sampler, replay that same draw from the saved generator state to pair each transition with its
        # log-prob (tests/test_offpac.py checks the pairing with several envs).
        state = np.random.get_state()  # noqa: NPY002 (SB3 samples from the legacy global generator)
        samples = super()._get_samples(batch_inds, env)  # type: ignore[misc]
        after = np.random.get_state()  # noqa: NPY002
        np.random.set_state(state)  # noqa: NPY002
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))  # noqa: NPY002
        np.random.set_state(after)  # noqa: NPY002
        log_probs = th.as_tensor(self.behaviour_log_probs[batch_inds, env_indices], device=samples.actions.device)
        return BehaviourReplayBufferSamples(**samples._asdict(), behaviour_log_probs=log_probs)


class BehaviourReplayBuffer(_BehaviourLogProbMixin, ReplayBuffer):  # type: ignore[misc]
    """Replay buffer that also stores the behaviour log-prob of each action (see ``_BehaviourLogProbMixin``)."""


class DictBehaviourReplayBuffer(_BehaviourLogProbMixin, DictReplayBuffer):  # type: ignore[misc]
    """Dict-observation replay buffer that also stores behaviour log-probs (see ``_BehaviourLogProbMixin``)."""


class ModelTransitionBuffer:
    """A circular buffer of imagined (model) transitions with vectorised insertion of whole rollout batches.

    Only flat Box observations; actions are stored as the algorithm uses them (SB3's [-1, 1] scaled actions). Not an
    SB3 ``ReplayBuffer``: its ``add()`` stores one step of ``n_envs`` transitions, while a model update inserts
    ~10^5 imagined transitions at once.

    :param capacity: number of transitions kept (the oldest are overwritten)
    :param obs_dim: observation size
    :param action_dim: action size
    """

    def __init__(self, capacity: int, obs_dim: int, action_dim: int) -> None:
        self.capacity = capacity
        self.observations = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_observations = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros((capacity, action_dim), dtype=np.float32)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.dones = np.zeros(capacity, dtype=np.float32)
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def extend(
        self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray, dones: np.ndarray
    ) -> None:
        """Append ``n`` transitions (arrays with leading dimension ``n``); keeps the newest ``capacity`` of them."""
        n = len(obs)
        if n > self.capacity:  # only the newest fit
            obs, actions, rewards, next_obs, dones = (x[-self.capacity :] for x in (obs, actions, rewards, next_obs, dones))
            n = self.capacity
        idx = (self.pos + np.arange(n)) % self.capacity
        self.observations[idx] = obs
        self.actions[idx] = actions
        self.rewards[idx] = rewards
        self.next_observations[idx] = next_obs
        self.dones[idx] = dones
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def resized(self, capacity: int) -> ModelTransitionBuffer:
        """A buffer of the new capacity holding the newest transitions of this one (oldest first)."""
        new = ModelTransitionBuffer(capacity, self.observations.shape[1], self.actions.shape[1])
        idx = (self.pos - self.size + np.arange(self.size)) % self.capacity
        new.extend(self.observations[idx], self.actions[idx], self.rewards[idx], self.next_observations[idx], self.dones[idx])
        return new

    def sample(self, batch_size: int, device: th.device | str = "cpu") -> ReplayBufferSamples:
        idx = np.random.randint(0, self.size, size=batch_size)  # noqa: NPY002 (same generator as SB3's buffers)
        return ReplayBufferSamples(
            observations=th.as_tensor(self.observations[idx], device=device),
            actions=th.as_tensor(self.actions[idx], device=device),
            next_observations=th.as_tensor(self.next_observations[idx], device=device),
            dones=th.as_tensor(self.dones[idx], device=device).reshape(-1, 1),
            rewards=th.as_tensor(self.rewards[idx], device=device).reshape(-1, 1),
        )


class MixedReplayBuffer(ReplayBuffer):
    """SB3's replay buffer of real transitions, plus a buffer of model transitions; ``sample()`` mixes the two.

    A minibatch holds ``round(real_ratio * batch_size)`` real transitions and the rest from the model buffer (all
    real while the model buffer is empty), so an unchanged SB3 ``train()`` (SAC's) trains on MBPO's mixture
    (../shared/reference/ 004 §3.5 step 4). ``add()`` is SB3's: real transitions only.

    :param model_buffer_size: capacity of the model buffer
    :param real_ratio: fraction of real transitions in every minibatch, in [0, 1]
    (the other parameters are SB3's ``ReplayBuffer`` ones)
    """

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: th.device | str = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
        model_buffer_size: int = 100_000,
        real_ratio: float = 0.05,
    ) -> None:
        if optimize_memory_usage:
            raise ValueError("MixedReplayBuffer needs next observations stored explicitly: set optimize_memory_usage=False")
        super().__init__(
            buffer_size, observation_space, action_space, device, n_envs, optimize_memory_usage, handle_timeout_termination
        )
        self.real_ratio = real_ratio
        self.model_buffer = ModelTransitionBuffer(model_buffer_size, self.obs_shape[0], self.action_dim)

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> ReplayBufferSamples:
        n_model = 0 if len(self.model_buffer) == 0 else batch_size - round(self.real_ratio * batch_size)
        real = super().sample(batch_size - n_model, env) if n_model < batch_size else None
        if n_model == 0:
            assert real is not None
            return real
        model = self.model_buffer.sample(n_model, self.device)
        if real is None:
            return model
        return ReplayBufferSamples(*(th.cat([r, m]) for r, m in zip(real[:5], model[:5])))

    def real_transitions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every stored real transition, flattened over envs: obs, actions, rewards, next obs, and ``terminated``
        (episode ends that are not time-limit truncations)."""
        upper = self.buffer_size if self.full else self.pos
        terminated = self.dones[:upper] * (1 - self.timeouts[:upper])
        return (
            self.observations[:upper].reshape(upper * self.n_envs, -1),
            self.actions[:upper].reshape(upper * self.n_envs, -1),
            self.rewards[:upper].reshape(-1),
            self.next_observations[:upper].reshape(upper * self.n_envs, -1),
            terminated.reshape(-1),
        )

    def recent_observations(self, n: int) -> np.ndarray:
        """Up to ``n`` observations drawn uniformly from the real buffer (its window is the recent data: MBPO seeds
        branched rollouts from the real buffer)."""
        upper = self.buffer_size if self.full else self.pos
        idx = np.random.randint(0, upper * self.n_envs, size=n)  # noqa: NPY002
        return self.observations[:upper].reshape(upper * self.n_envs, -1)[idx]
