"""
Every report in ``benchmarks/results/`` and the command that writes it.

    python -m benchmarks.reports            # list every report with its command and how it is regenerated
    python -m benchmarks.reports --rewrite  # rewrite every report that can be rewritten without training
    python -m benchmarks.reports --check    # rewrite each and put it back: exit 1 if any report would change

A report of the harness (``benchmarks/run.py``) is rewritten from its CSV by its own command with ``--report-only``;
the suites' reports (``compare.md``, ``defaults.md``) by their ``report`` action, the mutation report by
``--report``. The studies' reports (``benchmarks/studies/``, ``benchmarks/mppi.py``) are written at the end of the
measurement itself: their command reruns it.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks import run

COMMAND = re.compile(r"`?(python -m benchmarks\.[\w.]+[^`\n]*)`?")


@dataclass(frozen=True)
class Report:
    path: Path
    command: str  # the command the report gives

    @property
    def module(self) -> str:
        return self.command.split()[2]

    @property
    def rewrite(self) -> list[str] | None:
        """The arguments of ``main`` that rewrite the report without training (None: only a rerun does)."""
        argv = shlex.split(self.command)[3:]
        if self.module == "benchmarks.run":
            return [*argv, "--report-only"]
        if self.module in ("benchmarks.compare", "benchmarks.defaults") and argv[:1] == ["report"]:
            return argv
        return None


def reports(root: Path = run.RESULTS) -> list[Report]:
    """Every Markdown report under ``root`` with the first command it gives."""
    found = []
    for path in sorted(root.glob("*/*.md")):
        match = COMMAND.search(path.read_text())
        if match is None:
            raise ValueError(f"{path}: no `python -m benchmarks...` command in it; a report names its command")
        found.append(Report(path, match.group(1).strip()))
    return found


def rewrite(report: Report) -> None:
    """Rewrites ``report`` (and what its command writes beside it) in place."""
    import importlib

    importlib.import_module(report.module).main(list(report.rewrite or []))


def unchanged(report: Report) -> bool:
    """Whether rewriting ``report`` gives its text again; every file of its folder is put back afterwards."""
    folder = report.path.parent
    before = report.path.read_text()
    with tempfile.TemporaryDirectory() as scratch:
        backup = Path(scratch) / folder.name
        shutil.copytree(folder, backup, ignore=shutil.ignore_patterns("checkpoints"))
        try:
            rewrite(report)
            return report.path.read_text() == before
        finally:
            for path in folder.iterdir():
                if path.is_file() and not (backup / path.name).exists():
                    path.unlink()  # written by the rewrite, not there before
            for path in backup.iterdir():
                if path.is_file():
                    shutil.copy2(path, folder / path.name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rewrite", action="store_true", help="rewrite every report that needs no training")
    parser.add_argument("--check", action="store_true", help="exit 1 if a rewrite would change a report")
    args = parser.parse_args(argv)
    changed = []
    for report in reports():
        how = "rewritten from its data" if report.rewrite is not None else "rerun the measurement"
        print(f"{report.path.relative_to(run.ROOT)}: {how}: {report.command}")
        if report.rewrite is None:
            continue
        if args.rewrite:
            rewrite(report)
        elif args.check and not unchanged(report):
            changed.append(report.path)
    if changed:
        print("would change: " + ", ".join(str(p.relative_to(run.ROOT)) for p in changed))
        sys.exit(1)


if __name__ == "__main__":
    main()
