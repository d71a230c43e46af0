"""Small tensor helpers shared by the algorithms."""

from __future__ import annotations

import os
import sys
from typing import TypeVar

import stable_baselines3
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


# frames a warning is never attributed to: this package's, and those of the frameworks its calls pass through (SB3's
# learn loop, torch's decorators such as inference_mode)
_INTERNAL_DIRS = tuple(
    os.path.dirname(os.path.abspath(module.__file__)) + os.sep
    for module in (sys.modules[__name__.split(".")[0]], th, stable_baselines3)
    if module.__file__ is not None
)


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a ``warnings.warn`` issued by the caller of this function point at the first
    frame outside this package (and outside SB3 and torch, whose code lies between the package's frames in a
    ``learn()`` or under a torch decorator): the user's line (``MBPO(..., learn_reward=True)``, ``model.predict(obs)``),
    however many of the package's own calls lie between it and the warning."""
    frame = sys._getframe(1)  # the function that calls warnings.warn: stacklevel 1
    level = 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(_INTERNAL_DIRS):
        frame = frame.f_back
        level += 1
    return level
