"""
Machinery shared by the suites built on ``benchmarks/run.py`` (``defaults.py``, ``compare.py``).

A suite is a list of benchmarks, each one ``run.py`` invocation (its ``argv()``) whose results land in the results
folder as ``<bench_name>.csv`` / ``.md`` / ``_<env>.png``. A suite script lists its benchmarks (``--list``), runs a
selection of them (``run <key> ... | all``, ``--resume`` to complete one that stopped or was run in part) and writes
its report from whatever has been run, giving the command of each benchmark and listing those not run yet.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from benchmarks import run

SEEDS = [0, 1, 2]
NOT_RUN = "## Not run yet (or only in part: the command with --resume runs the rest)"


class Benchmark(Protocol):
    """One ``run.py`` invocation of a suite."""

    @property
    def key(self) -> str: ...  # what ``run <key>`` selects it by

    @property
    def bench_name(self) -> str: ...  # run.py's --name: the stem of its result files

    def argv(self) -> list[str]: ...  # run.py's arguments


def bench_name(prefix: str, task: str, name: str = "") -> str:
    """``<prefix>_<task without version, lower case>[_<name>]``, e.g. ``defaults_cartpole_onpolicy``."""
    return f"{prefix}_{task.split('-v')[0].lower()}" + (f"_{name}" if name else "")


def run_argv(
    algos: Sequence[str],
    task: str,
    seeds: Iterable[int],
    budget: int,
    eval_freq: int,
    threshold: float,
    reference: str,
    name: str,
    eval_episodes: int = 10,
) -> list[str]:
    """run.py's arguments for one task, every algorithm at once (the ratios then compare within one run)."""
    return [
        "--algos", *algos, "--envs", task, "--seeds", *map(str, seeds), "--n-timesteps", str(budget),
        "--eval-freq", str(eval_freq), "--eval-episodes", str(eval_episodes), "--threshold", str(threshold),
        "--reference", reference, "--name", name,
    ]  # fmt: skip


def command(bench: Benchmark, out: Path) -> str:
    """The run.py command of a benchmark that writes into ``out`` (named relative to the repository)."""
    return "python -m benchmarks.run " + " ".join(shlex.quote(a) for a in [*bench.argv(), "--out", run.display_path(out)])


def load(bench: Benchmark, out: Path) -> list[run.EvalRow] | None:
    """The benchmark's rows, or None when it has not been run (its CSV is written when the run.py command ends)."""
    path = out / f"{bench.bench_name}.csv"
    return run.read_rows(path) if path.exists() else None


def complete(rows: list[run.EvalRow], seeds: Iterable[int]) -> set[str]:
    """The algorithms that have rows for every seed (a benchmark is run in parts with run.py --resume)."""
    runs = {(r.algo, r.seed) for r in rows}
    return {r.algo for r in rows if {(r.algo, s) for s in seeds} <= runs}


def finals(rows: list[run.EvalRow], algo: str, seeds: Iterable[int] = SEEDS) -> tuple[np.ndarray, np.ndarray]:
    """Each seed's last evaluation return, and its wall time per env step."""
    last = [max((r for r in rows if r.algo == algo and r.seed == s), key=lambda r: r.timesteps) for s in seeds]
    return np.array([r.mean_return for r in last]), np.array([r.train_time_s / r.timesteps for r in last])


def not_run_section(missing: Sequence[Benchmark], out: Path) -> list[str]:
    """The report's closing section: each benchmark not run yet (or in part) with its command."""
    if not missing:
        return []
    return ["", NOT_RUN, "", *(f"- {b.key}: `{command(b, out)}`" for b in missing)]


def parser(
    doc: str | None, what: str, keys: str, out: Path, actions: Sequence[str] = ("run", "report")
) -> argparse.ArgumentParser:
    """``<action> [<key> ... | all] [--list] [--out DIR] [--resume] [--checkpoints] [--jobs N]``; the keys land in
    ``args.<what>``."""
    result = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    result.add_argument("action", nargs="?", choices=actions, default="report")
    result.add_argument(what, nargs="*", help=f"{keys} keys, or all")
    result.add_argument("--list", action="store_true", help="print the suite and exit")
    result.add_argument("--out", type=Path, default=out)
    result.add_argument("--resume", action="store_true")
    result.add_argument(
        "--checkpoints", action="store_true", help="run.py --checkpoints: --resume continues a stopped run mid-way"
    )
    result.add_argument("--jobs", type=int, default=1)
    result.add_argument(
        "--only", nargs="+", metavar="ALGO",
        help="run: only these algorithms of each benchmark (the full command with --resume later runs the rest)",
    )  # fmt: skip
    return result


def select(parser: argparse.ArgumentParser, suite: Sequence[Benchmark], keys: Sequence[str], what: str) -> list:
    """The benchmarks named by ``keys`` (``all``: every one), in suite order; a usage error for an unknown key."""
    known = {b.key for b in suite}
    unknown = [k for k in keys if k != "all" and k not in known]
    if unknown or not keys:
        parser.error(f"name {what} to run (or all); unknown: {unknown}; known: {sorted(known)}")
    return [b for b in suite if "all" in keys or b.key in keys]


def only_algos(argv: list[str], only: Sequence[str] | None) -> list[str] | None:
    """``argv`` with its ``--algos`` narrowed to ``only`` (None when none of them is in it)."""
    if not only:
        return argv
    start = argv.index("--algos") + 1
    end = next((i for i in range(start, len(argv)) if argv[i].startswith("--")), len(argv))
    kept = [a for a in argv[start:end] if a in only]
    return [*argv[:start], *kept, *argv[end:]] if kept else None


def run_benchmarks(
    benches: Iterable[Benchmark],
    out: Path,
    jobs: int,
    resume: bool,
    checkpoints: bool = False,
    only: Sequence[str] | None = None,
) -> None:
    """Runs each benchmark's run.py command (into ``out``; ``resume``: keep the runs it already has, and with
    ``checkpoints`` continue a stopped run from its last evaluation; ``only``: just these algorithms of each)."""
    for bench in benches:
        argv = only_algos(bench.argv(), only)
        if argv is None:
            continue
        extra = ["--jobs", str(jobs), "--out", run.display_path(out)]
        extra += ["--resume"] if resume else []
        extra += ["--checkpoints"] if checkpoints else []
        done, partial = out / f"{bench.bench_name}.csv", out / f"{bench.bench_name}.partial.csv"
        if resume and done.exists() and not partial.exists():
            # a benchmark run in part earlier (run.py with fewer --algos): keep those runs, run the rest
            run.write_rows(partial, run.read_rows(done))
        run.main(argv + extra)
