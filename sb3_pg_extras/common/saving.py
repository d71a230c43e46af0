"""
Refusing files written by another algorithm, replay buffers that do not fit, and ``learn()`` on a model loaded
without an env: each with a message that names what is wrong and what to do, instead of an internal error later.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import pathlib
import zipfile
from typing import Any

from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import DictReplayBuffer, ReplayBuffer
from stable_baselines3.common.save_util import open_path

# Constructor arguments that SB3 does not store under their own name in a saved file.
_NOT_SAVED = {"self", "policy", "env", "device", "_init_setup_model", "args", "kwargs", "train_freq_unit"}

# Classes whose files a user may plausibly mix up with ours, used to name the writer of a file saved before this
# package recorded it (and of SB3's own files, which never record it).
_KNOWN_WRITERS = (
    "stable_baselines3.A2C",
    "stable_baselines3.PPO",
    "stable_baselines3.DQN",
    "stable_baselines3.SAC",
    "stable_baselines3.TD3",
    "stable_baselines3.DDPG",
    "sb3_contrib.TRPO",
    "sb3_contrib.QRDQN",
    "sb3_contrib.TQC",
    "sb3_contrib.ARS",
    "sb3_contrib.RecurrentPPO",
    "sb3_pg_extras.REINFORCE",
    "sb3_pg_extras.NPG",
    "sb3_pg_extras.OffPAC",
    "sb3_pg_extras.DiscreteSAC",
    "sb3_pg_extras.MBPO",
    "sb3_pg_extras.SVG",
    "sb3_pg_extras.MPPI",
)


def class_path(cls: type) -> str:
    """The dotted name of a class (module and qualified name)."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _resolve(path: str) -> type | None:
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None


def _saved_settings(cls: type) -> set[str]:
    """The constructor arguments of ``cls`` (and its bases) that SB3 saves as attributes of the same name."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        names.update(inspect.signature(init).parameters)
        break  # the most derived constructor lists what the class takes
    return names - _NOT_SAVED


def read_saved_data(path: str | pathlib.Path | io.BufferedIOBase) -> dict[str, Any]:
    """The JSON ``data`` entry of an SB3 zip file (plain keys; serialized values are left as they are)."""
    if isinstance(path, io.BufferedIOBase):
        start = path.tell()
        try:
            with zipfile.ZipFile(path) as archive:
                return json.loads(archive.read("data").decode())
        finally:
            path.seek(start)
    with open_path(path, "r", verbose=0, suffix="zip") as file, zipfile.ZipFile(file) as archive:
        return json.loads(archive.read("data").decode())


def _holds(keys: set[str], cls: type) -> bool:
    """Whether a file with these attribute names holds every setting ``cls`` saves (SB3 keeps some as ``_<name>``)."""
    return all(name in keys or f"_{name}" in keys for name in _saved_settings(cls))


def guess_writer(keys: set[str]) -> str | None:
    """The most specific known class all of whose saved settings appear in ``keys`` (None if none does)."""
    best: tuple[int, str] | None = None
    for path in _KNOWN_WRITERS:
        cls = _resolve(path)
        if cls is None:
            continue
        size = len(_saved_settings(cls))
        if _holds(keys, cls) and (best is None or size > best[0]):
            best = (size, cls.__name__)
    return None if best is None else best[1]


def known_class_paths(cls: type) -> dict[str, str]:
    """``{dotted class path: class name}`` of every algorithm class this package knows (its own, SB3's and
    sb3-contrib's, with their bases) and of ``cls`` and its bases: what a ``saved_by`` entry is compared against."""
    classes = [klass for path in _KNOWN_WRITERS if (klass := _resolve(path)) is not None] + [cls]
    return {class_path(k): k.__name__ for klass in classes for k in klass.__mro__ if issubclass(k, BaseAlgorithm)}


def _damaged(recorded: Any) -> ValueError:
    return ValueError(
        f"This file is damaged: its `saved_by` entry is {recorded!r}, which names no algorithm class of sb3_pg_extras, "
        "Stable-Baselines3 or sb3-contrib (it should list the dotted names of the class that saved the file and its "
        "bases). Nothing was imported from it; save the model again from a working copy."
    )


def check_saved_class(cls: type, data: dict[str, Any]) -> None:
    """Refuse ``data`` (a saved file's attributes) when another algorithm than ``cls`` (or a subclass) wrote it, or
    when its ``saved_by`` entry is damaged. The entry is compared by name with the known classes: nothing it names is
    imported."""
    if "saved_by" in data:  # the writing class, then its algorithm bases
        recorded = data["saved_by"]
        if not isinstance(recorded, list) or not recorded or not all(isinstance(entry, str) for entry in recorded):
            raise _damaged(recorded)
        if class_path(cls) in recorded or recorded[0] in {class_path(k) for k in cls.__mro__}:
            return  # written by cls, a subclass of it, or a base class of it
        known = known_class_paths(cls)
        if not any(entry in known for entry in recorded):
            raise _damaged(recorded)
        name = known.get(recorded[0], recorded[0].rpartition(".")[2])
    else:  # an SB3 file, or one written by an earlier version of this package: judge by the settings it holds
        keys = set(data)
        if _holds(keys, cls):
            return
        guess = guess_writer(keys)
        if guess is None:
            missing = sorted(n for n in _saved_settings(cls) if n not in keys and f"_{n}" not in keys)
            raise ValueError(
                f"This file was not written by {cls.__name__}: it lacks {cls.__name__}'s settings "
                f"{', '.join(missing)}. Load it with the class that saved it."
            )
        name = guess
    raise ValueError(
        f"This file was written by {name}, not by {cls.__name__}: load it with {name}.load(...) instead "
        f"({cls.__name__} would misread its networks and settings)."
    )


def check_replay_buffer(model: Any, buffer: Any) -> None:
    """Refuse a replay buffer that ``model`` cannot train from, before it replaces the model's own buffer."""
    algo = type(model).__name__
    expected = model.replay_buffer_class
    if expected is None:
        expected = DictReplayBuffer if isinstance(model.observation_space, spaces.Dict) else ReplayBuffer
    if not isinstance(buffer, ReplayBuffer) or not isinstance(buffer, expected):
        raise ValueError(
            f"{algo} cannot use this replay buffer: it is a {type(buffer).__name__}, {algo} needs a "
            f"{expected.__name__}. Load a buffer saved by the same kind of model (`model.save_replay_buffer`)."
        )
    problems = []
    if buffer.n_envs != model.n_envs:
        problems.append(f"it was filled by {buffer.n_envs} envs, the model runs {model.n_envs}")
    if buffer.observation_space != model.observation_space:
        problems.append(f"its observation space is {buffer.observation_space}, the model's {model.observation_space}")
    if buffer.action_space != model.action_space:
        problems.append(f"its action space is {buffer.action_space}, the model's {model.action_space}")
    if problems:
        raise ValueError(
            f"{algo} cannot use this replay buffer: {'; '.join(problems)}. Load it into a model built on the same "
            "env with the same number of envs."
        )


class CheckedFiles:
    """
    Mixin for every algorithm of the package (first in the bases): saved files record the class that wrote them,
    ``load`` refuses a file written by another algorithm, and ``learn()`` on a model loaded without an env says how
    to give it one.
    """

    saved_by: list[str]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.saved_by = [class_path(k) for k in type(self).__mro__ if issubclass(k, BaseAlgorithm)]  # type: ignore[misc]
        super().save(*args, **kwargs)  # type: ignore[misc]

    @classmethod
    def load(cls, path: str | pathlib.Path | io.BufferedIOBase, *args: Any, **kwargs: Any) -> Any:
        try:
            data = read_saved_data(path)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            data = None  # not a readable SB3 file: let SB3 report it
        if data is not None:
            check_saved_class(cls, data)
        return super().load(path, *args, **kwargs)  # type: ignore[misc]

    def _setup_learn(self, *args: Any, **kwargs: Any) -> Any:
        if self.env is None:  # type: ignore[attr-defined]
            raise ValueError(
                f"This {type(self).__name__} has no env (it was loaded without one): pass `env=` to "
                f"{type(self).__name__}.load(...) or call `model.set_env(env)` before `learn()`."
            )
        return super()._setup_learn(*args, **kwargs)  # type: ignore[misc]


class CheckedReplayBuffer:
    """Mixin for the off-policy algorithms: ``load_replay_buffer`` refuses a buffer that does not fit the model."""

    replay_buffer: ReplayBuffer | None

    def load_replay_buffer(self, *args: Any, **kwargs: Any) -> None:
        previous = getattr(self, "replay_buffer", None)
        super().load_replay_buffer(*args, **kwargs)  # type: ignore[misc]
        loaded = self.replay_buffer
        self.replay_buffer = previous
        check_replay_buffer(self, loaded)
        self.replay_buffer = loaded
