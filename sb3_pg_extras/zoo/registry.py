"""
Registration of our algorithms, samplers and converters with rl_zoo3, and the zoo hyperparameter files of this package.
"""

from __future__ import annotations

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
from sb3_pg_extras.zoo.samplers import CONVERTERS, SAMPLERS

ALGOS: dict[str, type[BaseAlgorithm]] = {
    "reinforce": REINFORCE,
    "npg": NPG,
    "sac_discrete": DiscreteSAC,
    "offpac": OffPAC,
    "mbpo": MBPO,
    "svg": SVG,
    "mppi": MPPI,
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
    in_repo = Path(__file__).resolve().parents[2] / "zoo_hyperparams" / name
    if in_repo.is_file():
        return in_repo
    raise FileNotFoundError(f"No zoo hyperparameter file for {algo!r} (looked for {name} in sb3_pg_extras.zoo_hyperparams).")
