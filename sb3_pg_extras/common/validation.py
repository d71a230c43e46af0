"""Construction-time checks of hyperparameters, with messages that say what to change."""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
from gymnasium import spaces

if TYPE_CHECKING:
    from stable_baselines3.common.utils import LinearSchedule


def is_number(value: Any, allow_inf: bool = False) -> bool:
    """A real number: Python's and numpy's ints and floats, not a bool (``True`` is no number here), never NaN, and
    finite unless ``allow_inf`` (for the few settings where inf has a meaning, e.g. ``is_clip``: no truncation)."""
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)) or math.isnan(value):
        return False
    return allow_inf or math.isfinite(value)


def is_integer(value: Any) -> bool:
    """A Python or numpy integer, not a bool (numpy integers come from YAML files and ``-optimize`` samplers; SB3's
    own algorithms accept them)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_positive_int(name: str, value: Any) -> None:
    if not is_integer(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")


def check_optional_positive_int(name: str, value: Any) -> None:
    if value is not None:
        check_positive_int(name, value)


def check_in_range(name: str, value: Any, low: float, high: float, closed_low: bool = True, closed_high: bool = True) -> None:
    """A finite number in the interval from ``low`` to ``high`` (closed or open at either end)."""
    if (
        not is_number(value)
        or not (value >= low if closed_low else value > low)
        or not (value <= high if closed_high else value < high)
    ):
        interval = f"{'[' if closed_low else '('}{low:g}, {high:g}{']' if closed_high else ')'}"
        raise ValueError(f"`{name}` must be in {interval}, got {value!r}.")


def check_gamma(gamma: Any) -> None:
    check_in_range("gamma", gamma, 0.0, 1.0, closed_low=False)


def check_finite(name: str, value: Any) -> None:
    """Any finite number (NaN and inf are refused: they end in a torch error, or a silent NaN, during training)."""
    if not is_number(value):
        raise ValueError(f"`{name}` must be a finite number, got {value!r}.")


def check_non_negative(name: str, value: Any) -> None:
    if not is_number(value) or value < 0:
        raise ValueError(f"`{name}` must be a non-negative number (finite), got {value!r}.")


def check_positive(name: str, value: Any) -> None:
    if not is_number(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive number (finite), got {value!r}.")


def check_learning_rate(name: str, value: float | Callable[[float], float]) -> None:
    """A learning rate is a positive float or a schedule (callable of the remaining progress)."""
    if not callable(value):
        check_positive(name, value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"Unknown `{name}`={value!r}: use one of {', '.join(repr(c) for c in choices)}.")


def check_action_space(algo: str, action_space: Any, supported: tuple[type, ...], env: Any = None) -> None:
    """Refuse an action space the algorithm cannot act in, naming it and the supported kinds, and an unbounded Box
    (SB3 asserts that Box actions are bounded: its policies scale them into the bounds), naming the env."""
    if action_space is not None and not isinstance(action_space, supported):
        names = ", ".join(cls.__name__ for cls in supported)
        raise ValueError(
            f"{algo} does not support the action space {action_space} ({type(action_space).__name__}); "
            f"use an environment whose action space is one of: {names}."
        )
    if isinstance(action_space, spaces.Box) and not np.all(np.isfinite([action_space.low, action_space.high])):
        raise ValueError(
            f"{algo} needs a bounded Box action space (actions are scaled into the bounds), but the env "
            f"{describe_env(env)} has {action_space}: give it finite action bounds (an ActionWrapper whose "
            "action_space is a bounded Box)."
        )


def describe_env(env: Any) -> str:
    """The env's versioned id (``spec.id``) for messages, else its class name (``env`` may be a gymnasium env, a VecEnv
    or None)."""
    if env is None:
        return "(none)"
    try:
        spec = env.get_attr("spec")[0] if hasattr(env, "get_attr") else getattr(env, "spec", None)
    except AttributeError:
        spec = None
    if spec is not None:
        return repr(spec.id)
    return type(getattr(env, "unwrapped", env)).__name__


ObservationKind = Literal["any", "box", "flat_box"]

_OBSERVATION_TEXT = {
    "box": "Box observations (vectors, or images with CnnPolicy)",
    "flat_box": "flat (1-D) Box observations only, with MlpPolicy",
}


def check_env_spaces(
    algo: str, env: Any, action_spaces: tuple[type, ...], observations: ObservationKind = "any", hint: str = ""
) -> None:
    """
    The one check of an env's spaces at construction, before SB3 sees the env (SB3's own checks loop a user between
    "use MultiInputPolicy" and "unknown policy" for an algorithm that has no such policy):

    - the action space is of a ``action_spaces`` kind, and a Box is bounded (the message names the env);
    - the observation space is what the algorithm models: anything (``"any"``), a Box (``"box"``: no Dict) or a flat
      Box (``"flat_box"``: a learned model or planner works on vectors).

    :param algo: the algorithm's name, for messages
    :param env: a gymnasium env or VecEnv (None: nothing to check, e.g. ``load`` without env)
    :param action_spaces: the supported action space classes
    :param observations: the supported observations
    :param hint: what else the user may do (e.g. "or use horizon=0 (model-free)"), appended to the observation error
    """
    if env is None:
        return
    check_action_space(algo, env.action_space, action_spaces, env)
    space = env.observation_space
    fits = {
        "any": True,
        "box": isinstance(space, spaces.Box),
        "flat_box": isinstance(space, spaces.Box) and len(space.shape) == 1,
    }[observations]
    if not fits:
        raise ValueError(
            f"{algo} supports {_OBSERVATION_TEXT[observations]}, but the env {describe_env(env)} observes {space}: "
            "flatten the observations (gymnasium.wrappers.FlattenObservation; for images, a feature vector)"
            + (f" {hint}" if hint else "")
            + "."
        )


def check_no_vec_normalize(algo: str, env: Any, remedy: str = "") -> None:
    """Refuse a VecNormalize anywhere in the wrapper chain of ``env`` (not only the outermost wrapper): a learned model
    and the reward / termination functions work on raw observations and rewards."""
    from stable_baselines3.common.vec_env import VecEnvWrapper, VecNormalize

    wrapper = env
    while isinstance(wrapper, VecEnvWrapper):
        if isinstance(wrapper, VecNormalize):
            raise ValueError(
                f"{algo} cannot train on a VecNormalize env (found in the wrapper chain of {type(env).__name__}): its "
                "model and reward / termination functions work on raw observations and rewards. Remove the "
                "normalization (normalize: false in the zoo)" + (f" {remedy}" if remedy else "") + "."
            )
        wrapper = wrapper.venv


def _probe_batch(space: spaces.Box, batch: int, generator: Any) -> Any:
    """``batch`` points of a Box, uniform within finite bounds and standard normal where a bound is infinite."""
    import torch as th

    low = th.as_tensor(np.array(np.broadcast_to(space.low, space.shape)), dtype=th.float32)
    high = th.as_tensor(np.array(np.broadcast_to(space.high, space.shape)), dtype=th.float32)
    uniform = th.rand((batch, *space.shape), generator=generator)
    normal = th.randn((batch, *space.shape), generator=generator)
    finite = th.isfinite(low) & th.isfinite(high)
    return th.where(finite, low + uniform * (high - low).nan_to_num(0.0), normal)


def check_user_functions(
    algo: str,
    observation_space: Any,
    action_space: Any,
    reward_fn: Any = None,
    termination_fn: Any = None,
    dynamics_fn: Any = None,
    device: Any = "cpu",
) -> None:
    """
    Check a user's ``reward_fn`` / ``termination_fn`` (``(obs, action, next_obs) -> (batch,)``, float / bool) and
    ``dynamics_fn`` (``(obs, action) -> (batch, obs_dim)``, float) once, on a probe batch of float32 tensors drawn from
    the spaces (actions in env units): each must be callable, run, and return a torch tensor of that shape and dtype.
    A wrong shape would otherwise broadcast silently (a (batch, 1) reward makes a (batch, batch) objective) or fail
    deep inside a rollout. The batch size differs from every dimension so that a transposed output cannot pass.

    :raises TypeError: a function that is not callable
    :raises ValueError: a function that fails on the probe batch or returns the wrong shape or dtype
    """
    import torch as th

    given = {"reward_fn": reward_fn, "termination_fn": termination_fn, "dynamics_fn": dynamics_fn}
    for name, fn in given.items():
        if fn is not None and not callable(fn):
            signature = "(obs, action)" if name == "dynamics_fn" else "(obs, action, next_obs)"
            raise TypeError(f"{algo}: `{name}` must be a batched torch function of {signature} or None, got {fn!r}.")
    if all(fn is None for fn in given.values()) or not (
        isinstance(observation_space, spaces.Box) and isinstance(action_space, spaces.Box)
    ):
        return
    obs_dim, act_dim = int(np.prod(observation_space.shape)), int(np.prod(action_space.shape))
    batch = obs_dim + act_dim + 2
    generator = th.Generator().manual_seed(0)
    obs, next_obs = (_probe_batch(observation_space, batch, generator).to(device) for _ in range(2))
    actions = _probe_batch(action_space, batch, generator).to(device)
    expected = {
        "reward_fn": ((batch,), "a float tensor", lambda dtype: dtype.is_floating_point),
        "termination_fn": ((batch,), "a bool tensor", lambda dtype: dtype == th.bool),
        "dynamics_fn": ((batch, *observation_space.shape), "a float tensor", lambda dtype: dtype.is_floating_point),
    }
    for name, fn in given.items():
        if fn is None:
            continue
        shape, kind, dtype_ok = expected[name]
        arguments = (obs, actions) if name == "dynamics_fn" else (obs, actions, next_obs)
        shapes = ", ".join(str(tuple(a.shape)) for a in arguments)
        try:
            out = fn(*arguments)
        except Exception as error:
            raise ValueError(
                f"{algo}: `{name}` failed on a probe batch of float32 tensors of shapes {shapes}: "
                f"{type(error).__name__}: {error}"
            ) from error
        if not isinstance(out, th.Tensor) or tuple(out.shape) != shape or not dtype_ok(out.dtype):
            got = (
                f"{type(out).__name__} of shape {tuple(out.shape)} and dtype {out.dtype}"
                if isinstance(out, th.Tensor)
                else (repr(type(out).__name__))
            )
            raise ValueError(
                f"{algo}: `{name}` must return {kind} of shape {shape} for inputs of shapes {shapes} (one value per "
                f"row of the batch), got {got}."
            )


def check_normalizable_batch(normalize_advantage: bool, n_steps: int, n_envs: int | None) -> None:
    """Batch standardization of advantages needs at least two samples per update."""
    if normalize_advantage and n_envs is not None and n_steps * n_envs < 2:
        raise ValueError(
            "`normalize_advantage=True` needs at least two samples per update: increase `n_steps` (or the number "
            f"of envs), got n_steps * n_envs = {n_steps * n_envs}."
        )


def check_tau(tau: Any) -> None:
    check_in_range("tau", tau, 0.0, 1.0, closed_low=False)


def check_n_critics(policy_kwargs: dict[str, Any] | None, default: int) -> None:
    """``policy_kwargs['n_critics']`` (``default`` when absent) must be an integer >= 1."""
    n_critics = (policy_kwargs or {}).get("n_critics", default)
    if not is_integer(n_critics) or n_critics < 1:
        raise ValueError(f"`policy_kwargs['n_critics']` must be an integer >= 1, got {n_critics!r}.")


StringForm = Literal["lin", "auto"]

_FORM_TEXT = {"lin": ["'lin_<x>' (linear decay from x to 0 over training)"], "auto": ["'auto'", "'auto_<x>'"]}


@dataclass(frozen=True)
class Auto:
    """A parsed ``"auto"`` (``value`` None: the argument's own default) or ``"auto_<x>"`` (``value`` x)."""

    value: float | None = None

    def value_or(self, default: float) -> float:
        return default if self.value is None else self.value


@overload
def parse_string_hyperparameter(
    name: str, value: Any, forms: tuple[Literal["lin"]], *, positive: bool = ..., others: str = ..., x_is: str = ...
) -> LinearSchedule: ...


@overload
def parse_string_hyperparameter(
    name: str, value: Any, forms: tuple[Literal["auto"]], *, positive: bool = ..., others: str = ..., x_is: str = ...
) -> Auto: ...


@overload
def parse_string_hyperparameter(
    name: str, value: Any, forms: tuple[StringForm, ...], *, positive: bool = ..., others: str = ..., x_is: str = ...
) -> LinearSchedule | Auto: ...


def parse_string_hyperparameter(
    name: str, value: Any, forms: tuple[StringForm, ...], *, positive: bool = False, others: str = "", x_is: str = ""
) -> LinearSchedule | Auto:
    """
    The one parser of the string forms of hyperparameters (rl_zoo3's and SB3's conventions), for the ``forms`` the
    argument ``name`` accepts:

    - ``"lin_<x>"`` -> ``LinearSchedule(x, 0, 1)``: x at the start of training, 0 at the end (rl_zoo3's ``lin_``);
    - ``"auto"`` -> ``Auto(None)`` and ``"auto_<x>"`` -> ``Auto(x)`` (SB3's ``ent_coef="auto_0.1"``).

    x must be a finite number, >= 0 (> 0 with ``positive``). Anything else, non-strings included, raises a ValueError
    that names the argument and every form it accepts: ``others`` first (what it takes besides these strings, e.g.
    "a positive number"), then the string forms, with the bound on x and ``x_is`` (what x means, e.g. "the initial
    value").
    """
    if isinstance(value, str):
        if "auto" in forms and value == "auto":
            return Auto()
        for form in forms:
            if value.startswith(f"{form}_"):
                x = _finite_float(value[len(form) + 1 :])
                if x is not None and (x > 0 if positive else x >= 0):
                    if form == "auto":
                        return Auto(x)
                    from stable_baselines3.common.utils import LinearSchedule

                    return LinearSchedule(x, 0.0, 1.0)
    accepted = [others] if others else []
    accepted += [text for form in forms for text in _FORM_TEXT[form]]
    listed = accepted[0] if len(accepted) == 1 else ", ".join(accepted[:-1]) + " or " + accepted[-1]
    where = f"where x is a finite number {'>' if positive else '>='} 0" + (f" ({x_is})" if x_is else "")
    raise ValueError(f"`{name}` must be {listed}, {where}; got {value!r}.")


def _finite_float(text: str) -> float | None:
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def coefficient_schedule(name: str, value: Any) -> Callable[[float], float]:
    """
    A non-negative coefficient given as a number, ``"lin_<x>"`` (decays linearly from x to 0 over training, the
    rl_zoo3 convention) or a schedule (a callable of the remaining progress, 1 -> 0), as a schedule.
    """
    from stable_baselines3.common.utils import ConstantSchedule

    if callable(value):
        return value
    if is_number(value) and value >= 0:
        return ConstantSchedule(float(value))
    return parse_string_hyperparameter(name, value, ("lin",), others="a non-negative number, a schedule")


def scheduled_coefficient(name: str, schedule: Callable[[float], float], progress_remaining: float) -> float:
    """The value of a coefficient's schedule at ``progress_remaining``, refused unless a finite number >= 0 (a user's
    schedule is a callable that no construction-time check can run over all of training)."""
    value = schedule(progress_remaining)
    if not (is_number(value) and math.isfinite(value) and value >= 0):
        raise ValueError(
            f"The `{name}` schedule returned {value!r} at progress_remaining={progress_remaining:.4f}: it must return a "
            f"finite number >= 0 at every point of training (1 -> 0)"
        )
    return float(value)


def learning_rate_schedule(name: str, value: Any) -> float | Callable[[float], float]:
    """A learning rate given as a positive number, a schedule or ``"lin_<x>"`` (x > 0, linear decay to 0)."""
    if callable(value):
        return value
    if isinstance(value, str):
        return parse_string_hyperparameter(name, value, ("lin",), positive=True, others="a positive number, a schedule")
    check_positive(name, value)
    return value


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


def check_bool(name: str, value: Any) -> None:
    """Booleans must be ``True`` or ``False`` (not 1, 0 or "yes": a typo should not silently pick a branch)."""
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False, got {value!r}.")


def check_int_at_least(name: str, value: Any, minimum: int, meaning: str = "") -> None:
    if not is_integer(value) or value < minimum:
        extra = f" ({meaning})" if meaning else ""
        raise ValueError(f"`{name}` must be an integer >= {minimum}{extra}, got {value!r}.")


def _check_train_freq(train_freq: Any) -> None:
    frequency, unit = (train_freq, "step") if not isinstance(train_freq, (tuple, list)) else (*train_freq, "")[:2]
    # a Python int: SB3's OffPolicyAlgorithm refuses numpy integers here (and only here)
    if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 1 or unit not in ("step", "episode"):
        raise ValueError(
            f"`train_freq` must be a Python integer >= 1 or a tuple (n >= 1, 'step' | 'episode'), got {train_freq!r}."
        )


def _check_max_grad_norm(value: Any) -> None:
    if value is not None:
        check_positive("max_grad_norm", value)


def _check_stats_window_size(value: Any) -> None:
    # SB3 gives it to collections.deque, which takes a Python integer only (a numpy one fails at learn())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`stats_window_size` must be a Python integer >= 1 (episodes averaged in logs), got {value!r}.")


def _check_verbose(value: Any) -> None:
    # SB3 compares it with 1 and 2; True is accepted there (verbose=True is common), so it is here
    if not (is_integer(value) or isinstance(value, bool)) or value < 0:
        raise ValueError(f"`verbose` must be an integer >= 0 (0: no output, 1: info, 2: debug), got {value!r}.")


def _check_seed(value: Any) -> None:
    if value is not None:
        check_int_at_least("seed", value, 0, "or None for a random seed")


# Arguments that several algorithms take (most are SB3's, forwarded to its base classes, which check few of them).
_COMMON_CHECKS: dict[str, Callable[[Any], None]] = {
    "learning_rate": lambda v: check_learning_rate("learning_rate", v),
    "gamma": check_gamma,
    "tau": check_tau,
    "n_steps": lambda v: check_positive_int("n_steps", v),
    "batch_size": lambda v: check_positive_int("batch_size", v),
    "buffer_size": lambda v: check_positive_int("buffer_size", v),
    "learning_starts": lambda v: check_int_at_least("learning_starts", v, 0),
    "train_freq": _check_train_freq,
    "gradient_steps": lambda v: check_int_at_least("gradient_steps", v, -1, "-1: as many as env steps collected"),
    "target_update_interval": lambda v: check_positive_int("target_update_interval", v),
    "sde_sample_freq": lambda v: check_int_at_least("sde_sample_freq", v, -1, "-1: only at the start of a rollout"),
    "max_grad_norm": _check_max_grad_norm,
    "stats_window_size": _check_stats_window_size,
    "verbose": _check_verbose,
    "seed": _check_seed,
    **{
        name: functools.partial(check_bool, name)
        for name in (
            "use_sde",
            "use_sde_at_warmup",
            "optimize_memory_usage",
            "normalize_advantage",
            "gamma_weighting",
            "backup_entropy",
            "noise_inference",
            "learn_reward",
            "learn_termination",
        )
    },
}


def check_common_arguments(args: dict[str, Any]) -> None:
    """
    Check every argument of ``args`` (an algorithm's ``locals()`` in ``__init__``) that several algorithms share:
    SB3's loop and optimization settings and the package's booleans, each with a message that says what to change.
    """
    for name, check in _COMMON_CHECKS.items():
        if name in args:
            check(args[name])


def check_sac_temperature(ent_coef: Any, target_entropy: Any) -> None:
    """
    SAC's temperature: a number >= 0, "auto" or "auto_<x>" (SB3 takes a negative one, which rewards low entropy), and
    its target entropy: "auto" (-dim(A)) or a number.
    """
    if isinstance(ent_coef, str):
        parse_string_hyperparameter("ent_coef", ent_coef, ("auto",), positive=True, others="a non-negative number")
    else:
        check_non_negative("ent_coef", ent_coef)
    if target_entropy != "auto" and not is_number(target_entropy):
        raise ValueError(f"`target_entropy` must be 'auto' (-dim(A)) or a finite number, got {target_entropy!r}.")
