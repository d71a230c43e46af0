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
    import subprocess
    import sys

    wheel_dir, site = tmp_path / "wheel", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheel_dir), str(REPO)], check=True)
    wheel = next(wheel_dir.glob("*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    code = "import sb3_pg_extras.zoo as z; print(z.hyperparams_path('reinforce'))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(site)
