"""Small tensor helpers shared by the algorithms."""

from __future__ import annotations

from typing import TypeVar

import torch as th
from stable_baselines3.common.type_aliases import PyTorchObs

SamplesT = TypeVar("SamplesT", bound=tuple)


def float32_samples(data: SamplesT) -> SamplesT:
    """A replay batch (SB3's samples named tuple) with every float64 tensor as float32. SB3's buffers keep the
    observation space's dtype (float64 for MuJoCo envs); its policies cast on the way in, but code that feeds the
    samples to float32 networks of its own (a dynamics model, a reward function) needs them cast once."""
    fields = (x.float() if isinstance(x, th.Tensor) and x.dtype == th.float64 else x for x in data)
    return type(data)(*fields)  # type: ignore[call-arg]


def take_observations(observations: PyTorchObs, index: th.Tensor | slice | None) -> PyTorchObs:
    """Rows ``index`` of a tensor observation or of every tensor of a dict observation (all rows for None)."""
    if index is None:
        return observations
    if isinstance(observations, dict):
        return {key: value[index] for key, value in observations.items()}
    return observations[index]


def optimized_parameters(optimizer: th.optim.Optimizer) -> list[th.Tensor]:
    """Every parameter an optimizer updates, in its param-group order."""
    return [param for group in optimizer.param_groups for param in group["params"]]


def repeat_observations(observations: PyTorchObs, n: int) -> PyTorchObs:
    """``n`` copies of a batch stacked block-wise, (n * batch, ...): row k * batch + i is a copy of row i."""
    if isinstance(observations, dict):
        return {key: value.repeat(n, *([1] * (value.dim() - 1))) for key, value in observations.items()}
    return observations.repeat(n, *([1] * (observations.dim() - 1)))
