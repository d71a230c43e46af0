"""A NaN/inf guard for vectorized environments that also inspects the observations kept at episode ends."""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecCheckNan, VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn


def _env_name(venv: VecEnv) -> str:
    specs = venv.get_attr("spec")
    spec = specs[0] if specs else None
    return spec.id if spec is not None else type(venv.unwrapped).__name__


class VecCheckFinite(VecCheckNan):
    """
    Raise a ``ValueError`` naming the env, the field and the env index as soon as an observation, a reward, an
    action or a terminal observation (``infos[i]["terminal_observation"]``, which SB3 stores in replay buffers and
    uses to bootstrap truncated episodes) holds NaN or inf, so that the bad value never reaches an update.

    SB3's ``VecCheckNan`` does not inspect terminal observations and only warns by default; this guard costs one
    ``np.isfinite`` per array per step. Usage::

        env = VecCheckFinite(make_vec_env("Pendulum-v1", n_envs=4))
        model = SVG("MlpPolicy", env)

    From the zoo: ``vec_env_wrapper: sb3_pg_extras.common.vec_env.VecCheckFinite`` in the hyperparameter entry.
    """

    def __init__(self, venv: VecEnv, check_inf: bool = True) -> None:
        super().__init__(venv, raise_exception=True, warn_once=False, check_inf=check_inf)
        self.env_name = _env_name(venv)

    def _first_bad(self, value: Any) -> int | None:
        """Index (along the env axis) of the first env whose entry of ``value`` is not finite, else None."""
        arrays = value.values() if isinstance(value, dict) else value if isinstance(value, tuple) else [value]
        for array in arrays:
            array = np.asarray(array, dtype=np.float64)
            flat = array.reshape(array.shape[0], -1) if array.ndim else array.reshape(1, 1)
            bad = ~np.isfinite(flat) if self.check_inf else np.isnan(flat)
            rows = np.flatnonzero(bad.any(axis=1))
            if rows.size:
                return int(rows[0])
        return None

    def _raise_if_bad(self, field: str, value: Any, actions: np.ndarray | None = None) -> None:
        index = self._first_bad(value)
        if index is not None:
            where = f" after action {actions[index]!r}" if actions is not None else ""
            raise ValueError(
                f"Environment {self.env_name} (env index {index}) returned a non-finite value in `{field}`{where}. "
                "Fix the environment (or clip/clean the value in a wrapper) before training on it."
            )

    def step_async(self, actions: np.ndarray) -> None:
        index = self._first_bad(actions)
        if index is not None:
            raise ValueError(
                f"The model produced a non-finite action for {self.env_name} (env index {index}): its weights or "
                "inputs already hold NaN/inf."
            )
        self._actions = actions
        self.venv.step_async(actions)

    def step_wait(self) -> VecEnvStepReturn:
        observations, rewards, dones, infos = self.venv.step_wait()
        self._raise_if_bad("observations", observations, self._actions)
        self._raise_if_bad("rewards", rewards, self._actions)
        for i, info in enumerate(infos):
            if "terminal_observation" in info and self._first_bad(_batched(info["terminal_observation"])) is not None:
                raise ValueError(
                    f"Environment {self.env_name} (env index {i}) returned a non-finite value in "
                    f"`infos[{i}]['terminal_observation']` (the last observation of an episode) after action "
                    f"{self._actions[i]!r}. Fix the environment before training on it."
                )
        self._observations = observations
        return observations, rewards, dones, infos

    def reset(self) -> Any:
        observations = self.venv.reset()
        self._raise_if_bad("observations (at reset)", observations)
        self._observations = observations
        return observations


def _batched(value: Any) -> Any:
    """One env's observation with a leading axis of one, so that ``_first_bad`` can read it like a batch."""
    if isinstance(value, dict):
        return {key: np.asarray(item)[None] for key, item in value.items()}
    return np.asarray(value)[None]
