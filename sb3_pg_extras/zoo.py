"""
rl_zoo3 integration: registers every algorithm of sb3_pg_extras with the zoo and runs the zoo's own scripts.

Usage (same arguments as ``python -m rl_zoo3.cli``)::

    python -m sb3_pg_extras.zoo train --algo reinforce --env CartPole-v1
    python -m sb3_pg_extras.zoo enjoy --algo reinforce --env CartPole-v1 -f logs/
    python -m sb3_pg_extras.zoo record_video --algo reinforce --env CartPole-v1 -f logs/
    python -m sb3_pg_extras.zoo plot_train / all_plots / plot_from_file ...
    sb3-pg-zoo train --algo reinforce --env CartPole-v1 -optimize --n-trials 10 --storage study.log --study-name s

The registration has to happen before the zoo parses its arguments (``--algo`` choices are read from
``rl_zoo3.utils.ALGOS`` at parse time), which is why ``--gym-packages`` cannot do it. Built-in keys are
never overwritten. When the user gives no ``--conf-file``, ``train`` on one of our algorithms reads this
package's ``zoo_hyperparams/<algo>.yml``.
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib
import re
import runpy
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm

from sb3_pg_extras.mbpo import MBPO
from sb3_pg_extras.mppi import MPPI
from sb3_pg_extras.npg import NPG
from sb3_pg_extras.offpac import OffPAC
from sb3_pg_extras.reinforce import REINFORCE
from sb3_pg_extras.sac_discrete import DiscreteSAC
from sb3_pg_extras.svg import SVG

ALGOS: dict[str, type[BaseAlgorithm]] = {
    "reinforce": REINFORCE,
    "npg": NPG,
    "sac_discrete": DiscreteSAC,
    "offpac": OffPAC,
    "mbpo": MBPO,
    "svg": SVG,
    "mppi": MPPI,
}

_ZOO_SCRIPTS = ("train", "enjoy", "plot_train", "plot_from_file", "all_plots")
_MAIN_MODULES = {"record_video": "rl_zoo3.record_video", "record_training": "rl_zoo3.record_training"}

_NET_ARCH = {
    "tiny": dict(pi=[64], vf=[64]),
    "small": dict(pi=[64, 64], vf=[64, 64]),
    "medium": dict(pi=[256, 256], vf=[256, 256]),
}


def _activation(name: str) -> Any:
    from torch import nn

    return {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}[name]


# Off-policy critics / actors (one list shared by both networks).
_OFF_POLICY_NET_ARCH = {"small": [64, 64], "medium": [256, 256], "big": [400, 300]}


def _suggest_one_minus_gamma(trial: Any, low: float, high: float) -> float:
    """Sample ``1 - gamma`` on a log scale and record gamma on the trial (as rl_zoo3's samplers do)."""
    one_minus_gamma = trial.suggest_float("one_minus_gamma", low, high, log=True)
    trial.set_user_attr("gamma", 1 - one_minus_gamma)
    return one_minus_gamma


def _pop_gamma_and_net_arch(sampled_params: dict[str, Any], net_archs: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Copy of the sampled values with ``one_minus_gamma`` turned into ``gamma``, and the named ``net_arch`` popped."""
    params = dict(sampled_params)
    params["gamma"] = 1 - params.pop("one_minus_gamma")
    return params, net_archs[params.pop("net_arch")]


def convert_reinforce_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Turn the raw values an Optuna trial sampled for REINFORCE into constructor arguments."""
    params, net_arch = _pop_gamma_and_net_arch(sampled_params, _NET_ARCH)
    activation_fn = _activation(params.pop("activation_fn"))
    return {"policy_kwargs": {"net_arch": net_arch, "activation_fn": activation_fn}, **params}


def sample_reinforce_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for REINFORCE (zoo sampler signature)."""
    one_minus_gamma = _suggest_one_minus_gamma(trial, 1e-4, 0.05)
    sampled = {
        "n_steps": trial.suggest_categorical("n_steps", [64, 128, 256, 512, 1024, 2048]),
        "one_minus_gamma": one_minus_gamma,
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        "baseline_learning_rate": trial.suggest_float("baseline_learning_rate", 1e-4, 1e-2, log=True),
        "baseline_epochs": trial.suggest_categorical("baseline_epochs", [5, 10, 20, 50]),
        "normalize_advantage": trial.suggest_categorical("normalize_advantage", [True, False]),
        "ent_coef": trial.suggest_float("ent_coef", 1e-8, 0.05, log=True),
        "net_arch": trial.suggest_categorical("net_arch", ["tiny", "small", "medium"]),
        "activation_fn": trial.suggest_categorical("activation_fn", ["tanh", "relu"]),
    }
    return convert_reinforce_params(sampled)


def convert_npg_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Raw Optuna values of an NPG trial -> constructor arguments (rl_zoo3's on-policy conversion)."""
    from rl_zoo3.hyperparams_opt import convert_onpolicy_params

    return convert_onpolicy_params(sampled_params)


def sample_npg_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for NPG (zoo sampler signature); the trust-region step rule is tuned through target_kl."""
    one_minus_gamma = _suggest_one_minus_gamma(trial, 1e-4, 0.03)
    n_steps_pow = trial.suggest_int("n_steps_pow", 7, 12)
    batch_size_pow = trial.suggest_int("batch_size_pow", 5, 10)
    trial.set_user_attr("n_steps", 2**n_steps_pow)
    trial.set_user_attr("batch_size", 2**batch_size_pow)
    sampled = {
        "n_steps_pow": n_steps_pow,
        "batch_size_pow": batch_size_pow,
        "one_minus_gamma": one_minus_gamma,
        "one_minus_gae_lambda": trial.suggest_float("one_minus_gae_lambda", 1e-4, 0.1, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "target_kl": trial.suggest_float("target_kl", 1e-3, 0.1, log=True),
        "cg_max_steps": trial.suggest_int("cg_max_steps", 5, 30),
        "cg_damping": trial.suggest_float("cg_damping", 1e-4, 0.2, log=True),
        "n_critic_updates": trial.suggest_int("n_critic_updates", 5, 30),
        "net_arch": trial.suggest_categorical("net_arch", ["small", "medium"]),
        "activation_fn": trial.suggest_categorical("activation_fn", ["tanh", "relu"]),
    }
    return convert_npg_params(sampled)


def convert_sac_discrete_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Raw Optuna values of a DiscreteSAC trial -> constructor arguments."""
    params, net_arch = _pop_gamma_and_net_arch(sampled_params, _OFF_POLICY_NET_ARCH)
    params["target_entropy"] = f"auto_{params.pop('target_entropy_ratio')}"
    return {"policy_kwargs": {"net_arch": net_arch}, **params}


def sample_sac_discrete_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for DiscreteSAC (zoo sampler signature)."""
    one_minus_gamma = _suggest_one_minus_gamma(trial, 1e-4, 0.03)
    sampled = {
        "one_minus_gamma": one_minus_gamma,
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256, 512]),
        "buffer_size": trial.suggest_categorical("buffer_size", [10_000, 100_000, 1_000_000]),
        "learning_starts": trial.suggest_categorical("learning_starts", [100, 1000, 5000]),
        "train_freq": trial.suggest_categorical("train_freq", [1, 4, 8]),
        "tau": trial.suggest_categorical("tau", [0.001, 0.005, 0.01, 0.02, 0.05]),
        "target_entropy_ratio": trial.suggest_categorical("target_entropy_ratio", [0.2, 0.3, 0.5, 0.7, 0.9]),
        "n_steps": trial.suggest_categorical("n_steps", [1, 3, 5]),
        "backup_entropy": trial.suggest_categorical("backup_entropy", [True, False]),
        "net_arch": trial.suggest_categorical("net_arch", ["small", "medium", "big"]),
    }
    sampled["gradient_steps"] = sampled["train_freq"]
    return convert_sac_discrete_params(sampled)


def convert_offpac_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Raw Optuna values of an OffPAC trial -> constructor arguments."""
    params, net_arch = _pop_gamma_and_net_arch(sampled_params, _OFF_POLICY_NET_ARCH)
    return {"policy_kwargs": {"net_arch": net_arch, "n_critics": params.pop("n_critics")}, **params}


def sample_offpac_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for OffPAC (zoo sampler signature)."""
    one_minus_gamma = _suggest_one_minus_gamma(trial, 1e-3, 0.05)
    sampled = {
        "one_minus_gamma": one_minus_gamma,
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
        "buffer_size": trial.suggest_categorical("buffer_size", [10_000, 100_000]),
        "tau": trial.suggest_categorical("tau", [0.005, 0.01, 0.02]),
        "is_clip": trial.suggest_categorical("is_clip", [1.0, 2.0, 5.0]),
        "ent_coef": trial.suggest_float("ent_coef", 1e-4, 0.1, log=True),
        "n_critics": trial.suggest_categorical("n_critics", [1, 2]),
        "net_arch": trial.suggest_categorical("net_arch", ["small", "medium"]),
    }
    return convert_offpac_params(sampled)


def convert_sac_policy_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Raw Optuna values of a trial of an algorithm with SAC's policy (MBPO, SVG) -> constructor arguments."""
    params, net_arch = _pop_gamma_and_net_arch(sampled_params, _OFF_POLICY_NET_ARCH)
    return {"policy_kwargs": {"net_arch": net_arch}, **params}


def sample_mbpo_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for MBPO (zoo sampler signature): the model-based knobs plus SAC's main ones."""
    one_minus_gamma = _suggest_one_minus_gamma(trial, 1e-3, 0.05)
    sampled = {
        "one_minus_gamma": one_minus_gamma,
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [128, 256]),
        "gradient_steps": trial.suggest_categorical("gradient_steps", [5, 10, 20]),
        "real_ratio": trial.suggest_categorical("real_ratio", [0.05, 0.1, 0.5]),
        "model_train_freq": trial.suggest_categorical("model_train_freq", [100, 250, 500]),
        "rollouts_per_step": trial.suggest_categorical("rollouts_per_step", [50, 100, 400]),
        "max_rollout_horizon": trial.suggest_categorical("max_rollout_horizon", [1, 3, 5]),
        "net_arch": trial.suggest_categorical("net_arch", ["small", "medium"]),
    }
    return convert_sac_policy_params(sampled)


def sample_svg_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for SVG: the horizon n (0 is model-free, "inf" has no critic), noise inference or
    re-simulation, the model refit frequency, plus SAC's main knobs."""
    one_minus_gamma = _suggest_one_minus_gamma(trial, 1e-3, 0.05)
    sampled = {
        "one_minus_gamma": one_minus_gamma,
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [128, 256]),
        "gradient_steps": trial.suggest_categorical("gradient_steps", [1, 2, 4]),
        "horizon": trial.suggest_categorical("horizon", [0, 1, 2, 3, 5, "inf"]),
        "noise_inference": trial.suggest_categorical("noise_inference", [True, False]),
        "model_train_freq": trial.suggest_categorical("model_train_freq", [250, 500, 1000]),
        "net_arch": trial.suggest_categorical("net_arch", ["small", "medium"]),
    }
    params = convert_sac_policy_params(sampled)
    if params["horizon"] == 0:
        # SVG(0) is model-free and refuses model settings: a trial at horizon 0 drops those of the YAML entry
        params.update(dynamics_kwargs=None, learn_reward=False, learn_termination=False)
    return params


def convert_mppi_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Raw Optuna values of an MPPI trial -> constructor arguments (MPPI has no policy network)."""
    return dict(sampled_params)


def sample_mppi_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for MPPI: the planner's temperature, noise, horizon, samples and smoothing."""
    sampled = {
        "temperature": trial.suggest_float("temperature", 0.01, 10.0, log=True),
        "noise_std": trial.suggest_float("noise_std", 0.1, 1.0, log=True),
        "horizon": trial.suggest_categorical("horizon", [10, 20, 30, 50]),
        "n_samples": trial.suggest_categorical("n_samples", [100, 300, 1000]),
        "smoothing": trial.suggest_categorical("smoothing", [0.0, 0.5, 0.8]),
    }
    return convert_mppi_params(sampled)


SAMPLERS: dict[str, Callable[..., dict[str, Any]]] = {
    "reinforce": sample_reinforce_params,
    "npg": sample_npg_params,
    "sac_discrete": sample_sac_discrete_params,
    "offpac": sample_offpac_params,
    "mbpo": sample_mbpo_params,
    "svg": sample_svg_params,
    "mppi": sample_mppi_params,
}
CONVERTERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "reinforce": convert_reinforce_params,
    "npg": convert_npg_params,
    "sac_discrete": convert_sac_discrete_params,
    "offpac": convert_offpac_params,
    "mbpo": convert_sac_policy_params,
    "svg": convert_sac_policy_params,
    "mppi": convert_mppi_params,
}


def _add_without_overwrite(registry: dict[str, Any], ours: dict[str, Any], what: str) -> None:
    for key, value in ours.items():
        existing = registry.get(key)
        if existing is not None and existing is not value:
            raise RuntimeError(
                f"rl_zoo3 already has a {what} named {key!r} ({existing!r}); sb3_pg_extras never overwrites a built-in key."
            )
        registry[key] = value


def register() -> None:
    """Add our algorithms, samplers and converters to rl_zoo3's registries (idempotent)."""
    from rl_zoo3 import hyperparams_opt, utils

    _add_without_overwrite(utils.ALGOS, ALGOS, "algorithm")
    _add_without_overwrite(hyperparams_opt.HYPERPARAMS_SAMPLER, SAMPLERS, "hyperparameter sampler")
    _add_without_overwrite(hyperparams_opt.HYPERPARAMS_CONVERTER, CONVERTERS, "hyperparameter converter")


def hyperparams_path(algo: str) -> Path:
    """Path of the zoo hyperparameter file of one of our algorithms, for editable and regular installs."""
    name = f"{algo}.yml"
    try:
        packaged = Path(str(resources.files("sb3_pg_extras.zoo_hyperparams").joinpath(name)))
        if packaged.is_file():
            return packaged
    except ModuleNotFoundError:
        pass
    in_repo = Path(__file__).resolve().parent.parent / "zoo_hyperparams" / name
    if in_repo.is_file():
        return in_repo
    raise FileNotFoundError(f"No zoo hyperparameter file for {algo!r} (looked for {name} in sb3_pg_extras.zoo_hyperparams).")


@dataclass
class ZooEntry:
    """One rl_zoo3 hyperparameter entry after rl_zoo3's own preprocessing (:func:`preprocess_hyperparams`)."""

    kwargs: dict[str, Any]  # constructor keyword arguments, ``policy`` included
    n_timesteps: int
    n_envs: int
    normalize_kwargs: dict[str, Any] | None  # VecNormalize's keyword arguments (None: no normalisation)
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


def _option_value(argv: Sequence[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def with_default_conf_file(argv: list[str]) -> list[str]:
    """Append ``--conf-file <our yml>`` to a ``train`` command line for one of our algorithms that has none."""
    algo = _option_value(argv, "--algo")
    if algo in ALGOS and _option_value(argv, "-conf", "--conf-file") is None:
        return [*argv, "--conf-file", str(hyperparams_path(algo))]
    return argv


def _option_values(argv: Sequence[str], *names: str) -> list[str]:
    """The values after a ``nargs="+"`` option (up to the next option)."""
    for i, arg in enumerate(argv):
        if arg in names:
            values = []
            for value in argv[i + 1 :]:
                if value.startswith("-") and len(value) > 1 and (value[1].isalpha() or value[1] == "-"):
                    break
                values.append(value)
            return values
    return []


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


def check_command_line(argv: Sequence[str]) -> None:
    """
    Refuse, with a message that says what to change, the command-line mistakes on which rl_zoo3 fails with a bare
    traceback: a ``--conf-file`` that is empty or is not a mapping of env ids to hyperparameter entries. (``-params``
    values are parsed, once and without evaluation, by :class:`SafeStoreDict`, which exits with a message.)
    """
    conf = _option_value(argv, "-conf", "--conf-file")
    if conf is not None and conf.endswith((".yml", ".yaml")) and Path(conf).is_file():
        import yaml

        with open(conf) as file:
            content = yaml.safe_load(file)
        if not isinstance(content, dict) or not content:
            kind = "empty" if not content else f"a {type(content).__name__}"
            raise SystemExit(
                f"--conf-file {conf} is {kind}: it must map env ids to hyperparameter entries, e.g.\n"
                "Pendulum-v1:\n  n_timesteps: 20000\n  policy: 'MlpPolicy'"
            )


def prepare_shared_storage(url: str, attempts: int = 10) -> None:
    """
    Create the tables of an Optuna SQL storage, tolerating a concurrent worker that does the same.

    Two ``-optimize`` workers started together on a fresh SQL URL otherwise race on the schema creation and
    one of them dies: with an IntegrityError (SQLite; PostgreSQL's duplicate ``pg_type`` row) or a
    ProgrammingError (PostgreSQL: ``type "studydirection" already exists``). Once the tables exist,
    ``create_study(load_if_exists=True)`` in rl_zoo3 is safe to run concurrently. Journal files (``*.log``)
    need nothing.
    """
    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    for attempt in range(attempts):
        try:
            optuna.storages.RDBStorage(url)
            return
        except (IntegrityError, OperationalError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m sb3_pg_extras.zoo`` and ``sb3-pg-zoo``: ``<script> [zoo arguments]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    scripts = (*_ZOO_SCRIPTS, *_MAIN_MODULES)
    if not args or args[0] not in scripts:
        raise SystemExit(f"usage: python -m sb3_pg_extras.zoo {{{','.join(scripts)}}} [rl_zoo3 arguments]")
    script, rest = args[0], args[1:]
    register()
    if script == "train":
        check_command_line(rest)
        rest = with_default_conf_file(rest)
        storage = _option_value(rest, "--storage")
        if (
            storage is not None
            and not storage.endswith(".log")
            and ("-optimize" in rest or "--optimize-hyperparameters" in rest)
        ):
            prepare_shared_storage(storage)
    use_safe_store_dict()
    sys.argv = [f"sb3_pg_extras.zoo {script}", *rest]
    if script in _MAIN_MODULES:
        runpy.run_module(_MAIN_MODULES[script], run_name="__main__", alter_sys=True)
        return
    # Import only the script asked for: the plotting ones need seaborn, which training does not.
    module, function = {
        "train": ("rl_zoo3.train", "train"),
        "enjoy": ("rl_zoo3.enjoy", "enjoy"),
        "plot_train": ("rl_zoo3.plots.plot_train", "plot_train"),
        "plot_from_file": ("rl_zoo3.plots.plot_from_file", "plot_from_file"),
        "all_plots": ("rl_zoo3.plots.all_plots", "all_plots"),
    }[script]
    getattr(importlib.import_module(module), function)()


if __name__ == "__main__":
    main()
