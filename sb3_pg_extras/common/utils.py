"""Small tensor helpers shared by the algorithms."""

from __future__ import annotations

import torch as th
from stable_baselines3.common.type_aliases import PyTorchObs


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
