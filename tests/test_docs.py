"""Every algorithm's docs page generates its "## Parameters" section from the class docstring (autodoc), and that
docstring documents every constructor argument, in signature order; the signature autodoc renders carries the
defaults, so the page cannot drift from the code."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import sb3_pg_extras

DOCS = Path(__file__).resolve().parent.parent / "docs"
SKIPPED = {"self"}
ALGORITHMS = [
    cls
    for cls in (getattr(sb3_pg_extras, name) for name in sb3_pg_extras.__all__)
    if inspect.isclass(cls) and callable(getattr(cls, "learn", None))
]


def constructor_parameters(cls: type) -> list[str]:
    return [
        name
        for name, param in inspect.signature(cls.__init__).parameters.items()
        if name not in SKIPPED and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD)
    ]


def page(cls: type) -> Path:
    return DOCS / f"{cls.__module__.split('.')[1]}.md"


def parameters_section(cls: type) -> str:
    match = re.search(r"^## Parameters\n(.*?)(?=^## |\Z)", page(cls).read_text(), flags=re.MULTILINE | re.DOTALL)
    assert match, f'{page(cls).name} has no "## Parameters" section'
    return match.group(1)


@pytest.mark.parametrize("cls", ALGORITHMS, ids=lambda cls: cls.__name__)
def test_parameters_are_generated_from_the_docstring(cls: type) -> None:
    section = parameters_section(cls)
    assert re.search(rf"```{{eval-rst}}\n\.\. autoclass:: sb3_pg_extras\.{cls.__name__}\n", section), (
        f"{page(cls).name}: the Parameters section does not autodoc sb3_pg_extras.{cls.__name__}"
    )
    assert "| parameter |" not in section, f"{page(cls).name}: a hand-written parameter table beside the generated one"

    total_timesteps = inspect.signature(cls.learn).parameters["total_timesteps"].default
    match = re.search(r"`learn\(total_timesteps=([\d_]+)", section)
    assert match, f"{cls.__name__}: the section does not state learn()'s total_timesteps"
    assert int(match.group(1)) == total_timesteps


@pytest.mark.parametrize("cls", ALGORITHMS, ids=lambda cls: cls.__name__)
def test_docstring_documents_every_parameter_in_order(cls: type) -> None:
    documented = re.findall(r"^\s*:param (\w+):", inspect.getdoc(cls) or "", flags=re.MULTILINE)
    expected = constructor_parameters(cls)
    assert len(documented) == len(set(documented)), f"{cls.__name__}: a parameter documented twice"
    assert not set(expected) - set(documented), f"{cls.__name__}: undocumented parameters {set(expected) - set(documented)}"
    assert not set(documented) - set(expected), f"{cls.__name__}: :param for unknown names {set(documented) - set(expected)}"
    assert documented == expected, f"{cls.__name__}: :param lines not in signature order"


@pytest.mark.parametrize("cls", ALGORITHMS, ids=lambda cls: cls.__name__)
def test_results_section_has_the_generated_block(cls: type) -> None:
    text = page(cls).read_text()
    match = re.search(r"^## Results\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    assert match, f'{page(cls).name} has no "## Results" section'
    results = match.group(1)
    assert "<!-- verdicts:start -->" in results and "<!-- verdicts:end -->" in results
    assert "../benchmarks/results/compare/compare.md" in results


def test_every_algorithm_is_checked() -> None:
    assert {cls.__name__ for cls in ALGORITHMS} == {"MBPO", "MPPI", "NPG", "OffPAC", "REINFORCE", "DiscreteSAC", "SVG"}


VERDICT = re.compile(r"\b(beats?|beaten|loses to|outperforms?|wins? against)\b", re.I)  # a comparison of algorithms
GENERATED = re.compile(r"<!-- (compare|verdicts):start -->.*?<!-- \1:end -->", re.S)


@pytest.mark.parametrize("path", [DOCS.parent / "README.md", *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_no_verdict_outside_the_blocks_the_report_script_generates(path: Path) -> None:
    """Issue 41: every "beats / loses to" sentence in README.md and docs/*.md comes from `python -m benchmarks.compare
    readme`, which writes them between its markers; none is written by hand around them."""
    outside = GENERATED.sub("", path.read_text())
    found = [line.strip() for line in outside.splitlines() if VERDICT.search(line)]
    assert not found, f"{path.name}: verdicts written by hand (generate them with benchmarks.compare readme): {found}"
