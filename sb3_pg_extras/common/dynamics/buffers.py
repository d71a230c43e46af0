"""Buffers of the model-based algorithms: imagined transitions, SB3's replay buffer mixed with them, and the free
functions that read an SB3 replay buffer's real transitions for the model fit and the rollout start states."""

from __future__ import annotations

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

from sb3_pg_extras.common.dynamics.transitions import Transitions


def _stored(buffer: ReplayBuffer) -> int:
    """Number of filled rows (each holds ``n_envs`` transitions)."""
    return buffer.buffer_size if buffer.full else buffer.pos


def real_transitions(buffer: ReplayBuffer, device: th.device | str = "cpu") -> Transitions:
    """Every transition stored in an SB3 replay buffer, flattened over envs, as float32 tensors on ``device``.

    ``terminated`` counts episode ends that are not time-limit truncations (SB3 records those in ``timeouts``).

    :param buffer: an SB3 ``ReplayBuffer`` with explicit next observations (``optimize_memory_usage=False``)
    :param device: where the tensors go
    """
    if buffer.optimize_memory_usage:
        raise ValueError("Fitting a dynamics model needs explicit next observations: use optimize_memory_usage=False")
    upper = _stored(buffer)
    terminated = buffer.dones[:upper] * (1 - buffer.timeouts[:upper])
    return Transitions.from_numpy(
        buffer.observations[:upper].reshape(upper * buffer.n_envs, -1),
        buffer.actions[:upper].reshape(upper * buffer.n_envs, -1),
        buffer.next_observations[:upper].reshape(upper * buffer.n_envs, -1),
        buffer.rewards[:upper].reshape(-1),
        terminated.reshape(-1),
        device,
    )


def sample_observations(buffer: ReplayBuffer, n: int, device: th.device | str = "cpu") -> th.Tensor:
    """``n`` observations drawn uniformly (with replacement) from an SB3 replay buffer, as float32 (n, obs_dim): the
    start states of branched model rollouts (MBPO, Janner et al. 2019, Algorithm 2 line 7)."""
    upper = _stored(buffer)
    idx = np.random.randint(0, upper * buffer.n_envs, size=n)  # noqa: NPY002 (SB3's buffers use the same generator)
    observations = buffer.observations[:upper].reshape(upper * buffer.n_envs, -1)[idx]
    return th.as_tensor(observations, device=device, dtype=th.float32)


class ModelTransitionBuffer:
    """A circular buffer of imagined (model) transitions with vectorized insertion of whole rollout batches.

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

    def extend(self, transitions: Transitions) -> None:
        """Append ``n`` transitions; keeps the newest ``capacity`` of them. ``terminated`` is stored as SB3's ``dones``
        (a float 0/1: imagined steps are never truncated)."""
        n = len(transitions)
        if n > self.capacity:  # only the newest fit
            transitions = transitions.index(slice(n - self.capacity, n))
            n = self.capacity
        idx = (self.pos + np.arange(n)) % self.capacity
        self.observations[idx] = transitions.observations.cpu().numpy()
        self.actions[idx] = transitions.actions.cpu().numpy()
        self.rewards[idx] = transitions.rewards.cpu().numpy()
        self.next_observations[idx] = transitions.next_observations.cpu().numpy()
        self.dones[idx] = transitions.terminated.float().cpu().numpy()
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def stored(self) -> Transitions:
        """The stored transitions, oldest first."""
        idx = (self.pos - self.size + np.arange(self.size)) % self.capacity
        arrays = (self.observations, self.actions, self.next_observations, self.rewards, self.dones)
        return Transitions(*(th.as_tensor(a[idx]) for a in arrays))

    def resized(self, capacity: int) -> ModelTransitionBuffer:
        """A buffer of the new capacity holding the newest transitions of this one (oldest first)."""
        new = ModelTransitionBuffer(capacity, self.observations.shape[1], self.actions.shape[1])
        new.extend(self.stored())
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
    (Janner et al. 2019, Algorithm 2 line 10). ``add()`` is SB3's: real transitions only.

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
