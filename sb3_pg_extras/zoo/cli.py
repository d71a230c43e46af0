"""
The command line (``python -m sb3_pg_extras.zoo`` and ``sb3-pg-zoo``): registers our algorithms, checks and completes
the arguments, then runs the rl_zoo3 script asked for.
"""

from __future__ import annotations

import importlib
import runpy
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sb3_pg_extras.zoo.preprocessing import use_safe_store_dict
from sb3_pg_extras.zoo.registry import ALGOS, hyperparams_path, register

_ZOO_SCRIPTS = ("train", "enjoy", "plot_train", "plot_from_file", "all_plots")
_MAIN_MODULES = {"record_video": "rl_zoo3.record_video", "record_training": "rl_zoo3.record_training"}


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
