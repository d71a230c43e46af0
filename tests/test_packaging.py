"""The package metadata ships every subpackage and the zoo hyperparameter files."""

from __future__ import annotations

from pathlib import Path

import tomllib

import sb3_pg_extras
from sb3_pg_extras.zoo import ALGOS, hyperparams_path

REPO = Path(__file__).resolve().parent.parent


def test_every_subpackage_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "sb3_pg_extras").rglob("__init__.py")}
    assert found | {"sb3_pg_extras.zoo_hyperparams"} == listed


def test_every_algorithm_has_a_zoo_file() -> None:
    for key in ALGOS:
        assert hyperparams_path(key).is_file()


def test_version_and_typed_marker() -> None:
    assert sb3_pg_extras.__version__
    assert (Path(sb3_pg_extras.__file__).parent / "py.typed").is_file()


def test_zoo_files_found_from_a_non_editable_install(tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess
    import sys
    import zipfile

    wheel_dir, site, source = tmp_path / "wheel", tmp_path / "site", tmp_path / "source"
    # built from a copy without build/: setuptools reuses a build/lib left by an earlier build, whose stale files
    # would let a missing package-data entry pass
    skip = shutil.ignore_patterns(
        ".*", "build", "dist", "*.egg-info", "__pycache__", "benchmarks", "docs", "tests", "examples"
    )
    shutil.copytree(REPO, source, ignore=skip)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheel_dir), str(source)], check=True)
    wheel = next(wheel_dir.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:  # a pure-Python wheel installs by unpacking it (pip install --target)
        archive.extractall(site)
    code = "import sb3_pg_extras.zoo as z; print(z.hyperparams_path('reinforce'))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(site)


def test_core_works_without_mujoco() -> None:
    """mujoco is an extra: importing the package and the non-MuJoCo algorithms must not need it."""
    import subprocess
    import sys

    # sys.modules[name] = None makes every later ``import mujoco`` raise ImportError, as if it were not installed
    code = """
import sys
sys.modules["mujoco"] = None
import gymnasium as gym
import sb3_pg_extras
import sb3_pg_extras.envs
from sb3_pg_extras import MPPI, NPG, REINFORCE, DiscreteSAC, OffPAC
REINFORCE("MlpPolicy", "CartPole-v1", n_steps=32, seed=0).learn(64)
NPG("MlpPolicy", "CartPole-v1", n_steps=32, seed=0)
DiscreteSAC("MlpPolicy", "CartPole-v1", seed=0)
OffPAC("MlpPolicy", "CartPole-v1", seed=0)
MPPI("MlpPolicy", "Pendulum-v1", seed=0)
try:
    gym.make("InvertedPendulum-v5")
except gym.error.DependencyNotInstalled:
    print("mujoco blocked")
assert "mujoco" not in {name.split(".")[0] for name, module in sys.modules.items() if module is not None}
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    # the simulation is effective: a MuJoCo env cannot be made in that process
    assert "mujoco blocked" in out.stdout


def test_mujoco_is_an_extra_not_a_dependency() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not [dep for dep in project["dependencies"] if dep.lower().startswith("mujoco")]
    assert any(dep.startswith("mujoco") for dep in project["optional-dependencies"]["mujoco"])


def test_docs_and_docstrings_cite_papers_not_paths_users_do_not_have() -> None:
    # the textbook chapters the math was written from are not shipped: users must be able to follow every citation
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for folder in ("sb3_pg_extras", "docs")
        for path in (REPO / folder).rglob("*")
        if path.suffix in (".py", ".md", ".yml")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "shared/reference" in line
    ]
    assert not offenders, offenders
