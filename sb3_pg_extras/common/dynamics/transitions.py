"""The one transition record of the model-based code: real data for the model fit, imagined data for the buffers."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch as th


@dataclass
class Transitions:
    """A batch of transitions ``(s, a, s', r, terminated)`` as tensors with the same leading shape (n, ...).

    ``terminated`` is 1 / True where the episode ended in a terminal state, never for a time-limit truncation (the
    model must not learn that time limits end the world). Actions are in the units the model works in (SB3's [-1, 1]
    scaled actions for the algorithms of this package).
    """

    observations: th.Tensor  # (n, obs_dim)
    actions: th.Tensor  # (n, action_dim)
    next_observations: th.Tensor  # (n, obs_dim)
    rewards: th.Tensor  # (n,)
    terminated: th.Tensor  # (n,)

    def __len__(self) -> int:
        return len(self.observations)

    def tensors(self) -> tuple[th.Tensor, ...]:
        """The fields in declaration order."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def index(self, idx: th.Tensor | slice) -> Transitions:
        """The transitions at ``idx`` along the leading dimension (any indexing torch accepts)."""
        return Transitions(*(t[idx] for t in self.tensors()))

    @staticmethod
    def cat(parts: list[Transitions]) -> Transitions:
        """Concatenate along the leading dimension."""
        return Transitions(*(th.cat(column) for column in zip(*(p.tensors() for p in parts))))

    @staticmethod
    def from_numpy(
        observations: np.ndarray,
        actions: np.ndarray,
        next_observations: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        device: th.device | str = "cpu",
    ) -> Transitions:
        """float32 tensors on ``device`` from arrays of any float dtype (MuJoCo observations are float64)."""
        arrays = (observations, actions, next_observations, rewards, terminated)
        return Transitions(*(th.as_tensor(a, device=device, dtype=th.float32) for a in arrays))
