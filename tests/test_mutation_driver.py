"""benchmarks/mutation.py's exclusion rules (no mutant is run): which mutants count as equivalent, and why."""

from __future__ import annotations

from tests.scripts import load_benchmark_script


def _load_driver():
    return load_benchmark_script("mutation")


def test_pragma_marks_a_line_or_only_the_named_operators() -> None:
    driver = _load_driver()
    lines = [
        "x = a + 1  # pragma: no mutate: the floor is never reached",
        "y = a + 1  # pragma: no mutate[NumberReplacer, ReplaceBinaryOperator_Add_*]: a reason",
        "z = a + 1",
        "w = a + 1  # pragma: no mutate",
    ]

    def reason(line: int, operator: str) -> str | None:
        mutant = driver.Mutant("id", operator, 0, line, 4, None)
        return driver.pragma_exclusion(lines, mutant, line, 9)

    assert reason(1, "ReplaceBinaryOperator_Add_Sub") == "the floor is never reached"
    assert reason(2, "NumberReplacer") == "a reason"
    assert reason(2, "ReplaceBinaryOperator_Add_Mul") == "a reason"
    assert reason(2, "AddNot") is None  # not among the named operators
    assert reason(3, "NumberReplacer") is None
    assert reason(4, "NumberReplacer") == "(no reason given)"
    # cosmic-ray's rule: a mutant ending at column 0 belongs to the line before
    assert driver.pragma_exclusion(lines, driver.Mutant("id", "AddNot", 0, 1, 0, None), 2, 0) is not None


def test_annotations_are_equivalent_only_when_postponed() -> None:
    driver = _load_driver()
    body = "def f(a: int | None, b: float = 1.0) -> tuple[int, int] | None:\n    c: int | str = 1\n    return a | b\n"
    spans = driver.annotation_spans("from __future__ import annotations\n\n" + body)

    def covered(start: tuple[int, int], end: tuple[int, int]) -> bool:
        return any(s <= start and end <= e for s, e in spans)

    assert covered((3, 13), (3, 14))  # the | of "int | None"
    assert covered((3, 56), (3, 57))  # the | of the return annotation
    assert covered((4, 11), (4, 12))  # the | of "c: int | str"
    assert not covered((3, 32), (3, 35))  # the default value 1.0
    assert not covered((5, 13), (5, 14))  # the | of "a | b"
    # evaluated annotations can raise when mutated: not equivalent
    assert driver.annotation_spans(body) == []


def test_stored_entries_round_trip_and_go_stale(tmp_path, monkeypatch) -> None:
    driver = _load_driver()
    monkeypatch.setattr(driver, "RESULTS", tmp_path)
    module = "common/returns.py"
    mutants = [
        driver.Mutant("a", "NumberReplacer", 0, 3, 4, "f", "survived", "", "-x = 1\n+x = 2\n"),
        driver.Mutant("b", "AddNot", 0, 5, 4, "f", "killed", "", "-y\n+not y\n"),
        driver.Mutant("c", "ReplaceBinaryOperator_Add_BitOr", 0, 6, 4, "f", "excluded", "why", ""),
        driver.Mutant("d", "NumberReplacer", 1, 7, 4, None, "equivalent", "the floor is never reached", ""),
    ]
    result = driver.ModuleResult(module, ["tests/test_returns.py"], mutants, fingerprint=driver.fingerprint(module))
    driver.store_entry("m", result)
    other = driver.ModuleResult("envs/classic.py", ["tests/test_envs.py"], [], fingerprint="old")
    driver.store_entry("m", other)  # another module's entry is added, this one's kept
    assert set(driver.load_stored("m")) == {module, "envs/classic.py"}
    assert driver.load_stored("m")["envs/classic.py"].stale
    loaded = driver.load_stored("m")[module]
    assert not loaded.stale
    assert (loaded.killed, loaded.survived, loaded.generated, loaded.count("equivalent")) == (1, 1, 3, 1)
    assert [m.diff for m in loaded.mutants] == ["-x = 1\n+x = 2\n", "", "", ""]  # only a survivor's edit is kept
    assert loaded.mutants[3].reason == "the floor is never reached"
    assert driver.edit_of(loaded.mutants[0]) == ("x = 1", "x = 2")

    # the module's files changed since: stale, and left out of the report's totals
    monkeypatch.setattr(driver, "fingerprint", lambda module: "changed")
    stale = driver.load_stored("m")[module]
    assert stale.stale
    args = driver.parse_args(["--name", "m"])
    driver.write_report({module: stale}, args, "cmd", 0.0)
    report = (tmp_path / "m.md").read_text()
    assert "`common/returns.py` (stale)" in report
    assert "| **all** |  | 0 | 0 |" in report
