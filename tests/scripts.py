"""Importing a module of the ``benchmarks`` package, for the tests of its bookkeeping."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
STUDIES = {p.stem for p in (ROOT / "benchmarks" / "studies").glob("*.py") if p.stem != "__init__"}


def load_benchmark_script(name: str) -> ModuleType:
    """``benchmarks.<name>`` (a harness module) or ``benchmarks.studies.<name>`` (a study)."""
    return importlib.import_module(f"benchmarks.studies.{name}" if name in STUDIES else f"benchmarks.{name}")
