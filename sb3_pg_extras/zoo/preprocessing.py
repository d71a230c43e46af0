"""
What the zoo does to hyperparameters before a constructor sees them: a YAML entry through rl_zoo3's own preprocessing
(:func:`preprocess_hyperparams`, shared with code that builds the model itself), and ``-params`` / ``--env-kwargs``
values parsed once, without evaluation (:func:`parse_params`, :class:`SafeStoreDict`).
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sb3_pg_extras.zoo.registry import register


@dataclass
class ZooEntry:
    """One rl_zoo3 hyperparameter entry after rl_zoo3's own preprocessing (:func:`preprocess_hyperparams`)."""

    kwargs: dict[str, Any]  # constructor keyword arguments, ``policy`` included
    n_timesteps: int
    n_envs: int
    normalize_kwargs: dict[str, Any] | None  # VecNormalize's keyword arguments (None: no normalization)
    env_kwargs: dict[str, Any]
    monitor_kwargs: dict[str, Any]
    env_wrapper: Callable[[Any], Any] | None  # gym.Env -> gym.Env
    vec_env_wrapper: Callable[[Any], Any] | None  # VecEnv -> VecEnv, applied before VecNormalize
    frame_stack: int | None  # VecFrameStack, applied after VecNormalize
    callbacks: list[Any]
    manager: Any = field(repr=False, compare=False)  # the rl_zoo3 ExperimentManager that did the preprocessing

    def constructor_kwargs(self, env: Any) -> dict[str, Any]:
        """``kwargs`` with ``noise_type`` / ``noise_std`` turned into an action noise object for ``env`` (rl_zoo3's step)."""
        return self.manager._preprocess_action_noise(dict(self.kwargs), {}, env)


def preprocess_hyperparams(algo: str, env_id: str, hyperparams: dict[str, Any], n_timesteps: int = 0) -> ZooEntry:
    """
    The YAML-entry-to-kwargs path of ``sb3-pg-zoo train`` (rl_zoo3's ``ExperimentManager._preprocess_hyperparams``),
    for code that builds the model itself (a benchmark harness), so an entry means the same there as in the zoo.

    rl_zoo3 turns ``lin_<x>`` into a schedule for its own keys (``learning_rate``, ``clip_range``, ...); our
    constructors read ``lin_<x>`` / ``auto_<x>`` for their other keys (e.g. ``baseline_learning_rate``) with
    :func:`sb3_pg_extras.common.validation.parse_string_hyperparameter`, so those stay strings here as in the zoo.
    ``n_timesteps`` > 0 overrides the entry's (as ``-n``). ``hyperparams`` is not modified.
    """
    from rl_zoo3.exp_manager import ExperimentManager

    register()
    manager = ExperimentManager(argparse.Namespace(), algo, env_id, log_folder="", n_timesteps=n_timesteps, verbose=0)
    kwargs, env_wrapper, callbacks, vec_env_wrapper = manager._preprocess_hyperparams(copy.deepcopy(hyperparams))
    return ZooEntry(
        kwargs=kwargs,
        n_timesteps=manager.n_timesteps,
        n_envs=manager.n_envs,
        normalize_kwargs=dict(manager.normalize_kwargs) if manager.normalize else None,
        env_kwargs=manager.env_kwargs,
        monitor_kwargs=manager.monitor_kwargs,
        env_wrapper=env_wrapper,
        vec_env_wrapper=vec_env_wrapper,
        frame_stack=manager.frame_stack,
        callbacks=callbacks,
        manager=manager,
    )


# rl_zoo3's string forms, accepted unquoted: "auto", "auto_<x>", "lin_<x>" (rl_zoo3's linear schedules)
_ZOO_STRING_FORM = re.compile(r"(?:lin|auto)(?:_[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)?")
# values that rl_zoo3 evaluates again as Python when they are strings: parsed here instead (replay_buffer_class is
# a class name that only a trusted YAML file may give)
_EVALUATED_BY_ZOO = ("policy_kwargs", "replay_buffer_kwargs", "monitor_kwargs", "normalize")


def parse_param_value(text: str) -> Any:
    """
    One ``-params`` / ``--env-kwargs`` value, parsed without evaluating anything: Python literals (numbers, quoted
    strings, True / False / None, lists, tuples, dicts; :func:`ast.literal_eval`), ``dict(key=value, ...)`` of such
    values, ``float("inf")``-style ``float(<literal>)``, ``nn.<Module>`` (a ``torch.nn`` module class, e.g.
    ``activation_fn=nn.ReLU``), and rl_zoo3's unquoted ``auto``, ``auto_<x>`` and ``lin_<x>`` (kept as strings).

    :raises ValueError: anything else (names, other calls, attributes, operators), saying what is accepted
    """
    stripped = text.strip()
    if _ZOO_STRING_FORM.fullmatch(stripped):
        return stripped
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as error:
        raise ValueError(f"not a Python literal ({error.msg})") from None
    return _parse_node(tree.body)


def _parse_node(node: ast.expr) -> Any:
    if isinstance(node, (ast.Constant, ast.UnaryOp)):
        return ast.literal_eval(node)  # numbers, strings, True / False / None, and signed numbers
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_parse_node(item) for item in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict) and all(key is not None for key in node.keys):
        return {_parse_node(key): _parse_node(value) for key, value in zip(node.keys, node.values)}  # type: ignore[arg-type]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "dict" and not node.args and all(kw.arg is not None for kw in node.keywords):
            return {kw.arg: _parse_node(kw.value) for kw in node.keywords}
        if node.func.id == "float" and len(node.args) == 1 and not node.keywords:
            return float(_parse_node(node.args[0]))
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "nn":
        from torch import nn

        module = getattr(nn, node.attr, None)
        if isinstance(module, type) and issubclass(module, nn.Module):
            return module
    raise ValueError(
        f"{ast.unparse(node)!r} is not accepted: use literals (numbers, quoted strings, lists, dicts, True / False / "
        "None), dict(key=value, ...), float('inf'), nn.<Module> or rl_zoo3's auto / auto_<x> / lin_<x>"
    )


def parse_params(items: Sequence[str], option: str = "-params") -> dict[str, Any]:
    """``key:value`` items of a ``-params`` / ``--env-kwargs`` option, each value parsed once by
    :func:`parse_param_value`; the strings that rl_zoo3 would evaluate again (``policy_kwargs:"dict(...)"``) are parsed
    here too, so rl_zoo3 receives values and evaluates none of them. A bad item exits with a message."""
    parsed: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition(":")
        try:
            parsed[key] = parse_param_value(value)
            if key in _EVALUATED_BY_ZOO and isinstance(parsed[key], str):
                parsed[key] = parse_param_value(parsed[key])
            if key == "replay_buffer_class":
                raise ValueError("a class name, which rl_zoo3 evaluates as Python: set it in a (trusted) YAML file")
        except (ValueError, TypeError) as error:
            raise SystemExit(
                f"{option} {item}: the value {value!r} of {key!r} is refused: {error}. Numbers are written as is "
                f"(learning_rate:0.001); quote other strings inside the shell's quotes, e.g. {key}:\"'MlpPolicy'\"."
            ) from None
    return parsed


class SafeStoreDict(argparse.Action):
    """rl_zoo3's ``StoreDict`` (``key:value`` items into a dict) without its ``eval``: values are parsed by
    :func:`parse_params`. Installed in rl_zoo3's modules by :func:`use_safe_store_dict`."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, parse_params(values, option_string or self.dest))


def use_safe_store_dict() -> None:
    """Make rl_zoo3's scripts parse ``-params`` / ``--env-kwargs`` with :class:`SafeStoreDict` (they import
    ``StoreDict`` from ``rl_zoo3.utils``; modules already imported are patched too)."""
    import rl_zoo3.utils

    rl_zoo3.utils.StoreDict = SafeStoreDict  # type: ignore[misc, assignment]
    for name, module in list(sys.modules.items()):
        if name.startswith("rl_zoo3.") and getattr(module, "StoreDict", None) is not None:
            module.StoreDict = SafeStoreDict  # type: ignore[attr-defined]
