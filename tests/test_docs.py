"""Every algorithm's docs page lists its constructor arguments, with the code's defaults, in a "## Parameters" table."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import sb3_pg_extras

DOCS = Path(__file__).resolve().parent.parent / "docs"
SKIPPED = {"self", "policy", "env", "_init_setup_model"}
ALGORITHMS = [
    cls
    for cls in (getattr(sb3_pg_extras, name) for name in sb3_pg_extras.__all__)
    if inspect.isclass(cls) and callable(getattr(cls, "learn", None))
]


def constructor_defaults(cls: type) -> dict[str, object]:
    return {
        name: param.default
        for name, param in inspect.signature(cls.__init__).parameters.items()
        if name not in SKIPPED and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD)
    }


def parameters_section(cls: type) -> str:
    page = DOCS / f"{cls.__module__.split('.')[1]}.md"
    match = re.search(r"^## Parameters\n(.*?)(?=^## |\Z)", page.read_text(), flags=re.MULTILINE | re.DOTALL)
    assert match, f'{page.name} has no "## Parameters" section'
    return match.group(1)


def table_rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        # split on pipes not escaped as \| (the meaning column may contain \|A\|)
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if cells[0] == "parameter" or set(cells[0]) <= set("-: "):
            continue  # header and separator
        rows.append(cells)
    return rows


def parse_default(cell: str) -> object:
    text = cell.strip().strip("`").strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a name such as th.nn.ReLU or a class: compared by name in same_default


def same_default(documented: object, actual: object) -> bool:
    if inspect.isclass(actual) or inspect.isfunction(actual):
        return isinstance(documented, str) and (documented == actual.__name__ or documented.endswith("." + actual.__name__))
    if isinstance(documented, str) and not isinstance(actual, str):
        return documented == repr(actual)
    # strict on type, so that `1` does not pass for 1.0 or True
    return type(documented) is type(actual) and documented == actual


@pytest.mark.parametrize("cls", ALGORITHMS, ids=lambda cls: cls.__name__)
def test_parameters_table_matches_constructor(cls: type) -> None:
    defaults = constructor_defaults(cls)
    section = parameters_section(cls)
    rows = table_rows(section)
    names = []
    for row in rows:
        assert len(row) == 3, f"{cls.__name__}: malformed row {row}"
        match = re.fullmatch(r"`(\w+)`", row[0])
        assert match, f"{cls.__name__}: first column of {row} is not `name`"
        names.append(match.group(1))

    assert len(names) == len(set(names)), f"{cls.__name__}: duplicated rows"
    assert not set(defaults) - set(names), f"{cls.__name__}: undocumented parameters {set(defaults) - set(names)}"
    assert not set(names) - set(defaults), f"{cls.__name__}: rows for unknown parameters {set(names) - set(defaults)}"
    for name, row in zip(names, rows):
        documented = parse_default(row[1])
        assert same_default(documented, defaults[name]), (
            f"{cls.__name__}.{name}: docs say {row[1]}, the code's default is {defaults[name]!r}"
        )

    total_timesteps = inspect.signature(cls.learn).parameters["total_timesteps"].default
    match = re.search(r"`learn\(total_timesteps=([\d_]+)", section)
    assert match, f"{cls.__name__}: the section does not state learn()'s total_timesteps"
    assert int(match.group(1)) == total_timesteps


def test_every_algorithm_is_checked() -> None:
    assert {cls.__name__ for cls in ALGORITHMS} == {"MBPO", "MPPI", "NPG", "OffPAC", "REINFORCE", "DiscreteSAC", "SVG"}
