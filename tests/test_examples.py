"""The scripts in examples/: every algorithm has one, and each runs as written (slow: ``make test-slow``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sb3_pg_extras

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# script -> the lowest mean return it must print (None: only that it prints one). Loose thresholds: far below what
# each printed when checked (in the comments; 500 is CartPole's maximum) and far above a random policy (CartPole
# about 20, Pendulum about -1200), so they catch an example that stopped learning, not a slightly worse seed.
SCRIPTS: dict[str, float | None] = {
    "reinforce.py": 200.0,  # 500.0
    "npg.py": 200.0,  # 500.0
    "offpac.py": 200.0,  # 500.0
    "sac_discrete.py": 200.0,  # 500.0
    "svg.py": -400.0,  # -89.2
    "mbpo.py": -400.0,  # -86.2
    "mppi.py": -400.0,  # -86.1
}
MEAN_RETURN = re.compile(r"^mean return over \d+ episodes: (-?\d+(?:\.\d+)?) \+/- ", re.MULTILINE)


def test_every_algorithm_has_an_example() -> None:
    algorithms = [name for name in sb3_pg_extras.__all__ if isinstance(getattr(sb3_pg_extras, name), type)]
    assert algorithms
    for name in algorithms:
        module = getattr(sb3_pg_extras, name).__module__.split(".")[1]  # sb3_pg_extras.<module>.<file>
        assert (EXAMPLES / f"{module}.py").is_file(), f"{name} has no example: add examples/{module}.py"
        assert f"{module}.py" in SCRIPTS, f"add examples/{module}.py to SCRIPTS"


@pytest.mark.slow
@pytest.mark.parametrize("script", list(SCRIPTS))
def test_example_runs(script: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200
    )
    assert result.returncode == 0, result.stdout + result.stderr
    match = MEAN_RETURN.search(result.stdout)
    assert match is not None, result.stdout
    threshold = SCRIPTS[script]
    if threshold is not None:
        assert float(match.group(1)) >= threshold, result.stdout
