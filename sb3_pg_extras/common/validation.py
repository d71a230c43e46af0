"""Construction-time checks of hyperparameters, with messages that say what to change."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from gymnasium import spaces


def check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")


def check_optional_positive_int(name: str, value: Any) -> None:
    if value is not None:
        check_positive_int(name, value)


def check_gamma(gamma: Any) -> None:
    if not isinstance(gamma, (int, float)) or not 0.0 < gamma <= 1.0:
        raise ValueError(f"`gamma` must be in (0, 1], got {gamma!r}.")


def check_non_negative(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"`{name}` must be a non-negative number, got {value!r}.")


def check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive number, got {value!r}.")


def check_learning_rate(name: str, value: float | Callable[[float], float]) -> None:
    """A learning rate is a positive float or a schedule (callable of the remaining progress)."""
    if not callable(value):
        check_positive(name, value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"Unknown `{name}`={value!r}: use one of {', '.join(repr(c) for c in choices)}.")


def check_action_space(algo: str, action_space: Any, supported: tuple[type, ...]) -> None:
    """Refuse an action space the algorithm cannot act in, naming it and the supported kinds."""
    if action_space is not None and not isinstance(action_space, supported):
        names = ", ".join(cls.__name__ for cls in supported)
        raise ValueError(
            f"{algo} does not support the action space {action_space} ({type(action_space).__name__}); "
            f"use an environment whose action space is one of: {names}."
        )


def check_normalizable_batch(normalize_advantage: bool, n_steps: int, n_envs: int | None) -> None:
    """Batch standardisation of advantages needs at least two samples per update."""
    if normalize_advantage and n_envs is not None and n_steps * n_envs < 2:
        raise ValueError(
            "`normalize_advantage=True` needs at least two samples per update: increase `n_steps` (or the number "
            f"of envs), got n_steps * n_envs = {n_steps * n_envs}."
        )


def check_tau(tau: Any) -> None:
    if not isinstance(tau, (int, float)) or not 0.0 < tau <= 1.0:
        raise ValueError(f"`tau` must be in (0, 1], got {tau!r}.")


def check_n_critics(policy_kwargs: dict[str, Any] | None, default: int) -> None:
    """``policy_kwargs['n_critics']`` (``default`` when absent) must be an integer >= 1."""
    n_critics = (policy_kwargs or {}).get("n_critics", default)
    if isinstance(n_critics, bool) or not isinstance(n_critics, int) or n_critics < 1:
        raise ValueError(f"`policy_kwargs['n_critics']` must be an integer >= 1, got {n_critics!r}.")


def coefficient_schedule(name: str, value: Any) -> Callable[[float], float]:
    """
    A non-negative coefficient given as a number, ``"lin_<x>"`` (decays linearly from x to 0 over training, the
    rl_zoo3 convention) or a schedule (a callable of the remaining progress, 1 -> 0), as a schedule.
    """
    from stable_baselines3.common.utils import ConstantSchedule, LinearSchedule

    if callable(value):
        return value
    if isinstance(value, str) and value.startswith("lin_"):
        try:
            start = float(value[len("lin_") :])
        except ValueError:
            start = -1.0
        if start >= 0:
            return LinearSchedule(start, 0.0, 1.0)
    elif not isinstance(value, bool) and isinstance(value, (int, float)) and value >= 0:
        return ConstantSchedule(float(value))
    raise ValueError(
        f"`{name}` must be a non-negative number, 'lin_<x>' (linear decay from x to 0) or a schedule, got {value!r}."
    )


def check_n_step_returns(n_steps: Any, observation_space: Any, replay_buffer_class: Any) -> None:
    """``n_steps`` >= 1; SB3 sets up n-step returns only for non-Dict observations and its own buffer choice."""
    check_positive_int("n_steps", n_steps)
    if n_steps > 1 and isinstance(observation_space, spaces.Dict):
        raise ValueError(
            "n-step returns (`n_steps` > 1) are not supported for Dict observation spaces (SB3 has no n-step Dict "
            f"replay buffer): use `n_steps=1`, got n_steps={n_steps}."
        )
    if n_steps > 1 and replay_buffer_class is not None:
        raise ValueError(
            f"`n_steps={n_steps}` would be ignored with a custom `replay_buffer_class` ({replay_buffer_class.__name__}):"
            " leave `replay_buffer_class=None`, or pass `n_steps=1` and configure the buffer's own n-step arguments "
            "in `replay_buffer_kwargs`."
        )
