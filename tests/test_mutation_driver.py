"""benchmarks/mutation.py's exclusion rules (no mutant is run): which mutants count as equivalent, and why."""

from __future__ import annotations

import pytest

from tests.scripts import load_benchmark_script


def _load_driver():
    return load_benchmark_script("mutation")


def test_equivalent_entries_cover_their_one_line_and_only_the_named_operators_and_edits() -> None:
    driver = _load_driver()
    Equivalent = driver.Equivalent
    source = "def f(a):\n    x = a[..., 0]\n    return x + 1\n\n\ndef g(a):\n    x = a[..., 0]\n    return x * 2\n"
    entries = [
        Equivalent("m.py", "return x + 1", ("ReplaceBinaryOperator_Add_*", "NumberReplacer"), "why f"),
        Equivalent("m.py", "x = a[..., 0]", ("NumberReplacer",), "why g", becomes="a[..., -1]", within="g"),
    ]
    by_line = driver.equivalent_lines("m.py", source, entries)
    assert {line: [e.reason for e in found] for line, found in by_line.items()} == {3: ["why f"], 7: ["why g"]}

    def covering(line: int, operator: str, mutated: str = "") -> str | None:
        entry = driver.equivalent_entry(by_line, driver.Mutant("id", operator, 0, line, 4, None), lambda m: mutated)
        return None if entry is None else entry.reason

    assert covering(3, "ReplaceBinaryOperator_Add_Mul") == "why f"
    assert covering(3, "NumberReplacer") == "why f"
    assert covering(3, "ReplaceBinaryOperator_Mul_Add") is None  # not a named operator
    assert covering(2, "NumberReplacer", "x = a[..., -1]") is None  # same code, but in f: not covered
    assert covering(7, "NumberReplacer", "    x = a[...,  -1]") == "why g"  # spaces ignored
    assert covering(7, "NumberReplacer", "    x = a[..., 1]") is None  # the other edit of the same operator
    assert covering(8, "NumberReplacer", "x = a[..., -1]") is None  # another line

    # an entry that matches no line, or several, or names a missing scope, is an error (the list cannot rot)
    for stale in [
        Equivalent("m.py", "return x - 1", ("NumberReplacer",), "gone"),
        Equivalent("m.py", "x = a[..., 0]", ("NumberReplacer",), "ambiguous"),
        Equivalent("m.py", "x = a[..., 0]", ("NumberReplacer",), "no such scope", within="h"),
        Equivalent("m.py", "return x + 1", ("NumberReplacer",), "not in g", within="g"),
    ]:
        with pytest.raises(ValueError, match=r"m\.py"):
            driver.equivalent_lines("m.py", source, [stale])
    assert driver.equivalent_lines("other.py", source, entries) == {}  # entries of other modules are ignored

    # a snippet on several lines of one scope: the block below an anchor line (deeper indented) tells them apart
    table = 'T = {\n    "a": dict(\n        tol=1.0,\n    ),\n\n    "b": dict(\n        tol=1.0,\n    ),\n}\n'
    by_line = driver.equivalent_lines("t.py", table, [Equivalent("t.py", "tol=1.0,", ("NumberReplacer",), "r", after='"b"')])
    assert list(by_line) == [7]
    with pytest.raises(ValueError, match="on 2 lines"):
        driver.equivalent_lines("t.py", table, [Equivalent("t.py", "tol=1.0,", ("NumberReplacer",), "r")])
    with pytest.raises(ValueError, match="anchor"):
        driver.equivalent_lines("t.py", table, [Equivalent("t.py", "tol=1.0,", ("NumberReplacer",), "r", after="dict(")])
    with pytest.raises(ValueError, match="on 0 lines"):  # the block ends where the indentation returns
        driver.equivalent_lines("t.py", table, [Equivalent("t.py", "}", ("NumberReplacer",), "r", after='"a"')])
    # the fingerprints hash the entries' repr: a field added later shows only where it is set
    assert "after" not in repr(entries[0]) and "within='g'" in repr(entries[1])
    assert "after='\"b\"'" in repr(Equivalent("t.py", "tol=1.0,", ("NumberReplacer",), "r", after='"b"'))


def test_every_equivalent_entry_matches_one_line_of_a_listed_module() -> None:
    driver = _load_driver()
    modules = {entry.module for entry in driver.EQUIVALENT}
    assert modules <= set(driver.MODULES)
    for module in modules:
        source = (driver.ROOT / driver.PACKAGE / module).read_text()
        by_line = driver.equivalent_lines(module, source)  # raises on a stale entry
        assert sum(map(len, by_line.values())) == sum(e.module == module for e in driver.EQUIVALENT)


def test_every_scope_names_functions_of_its_module_and_every_algorithm_file_is_scoped() -> None:
    import ast

    driver = _load_driver()
    assert set(driver.SCOPES) <= set(driver.MODULES)
    for module, functions in driver.SCOPES.items():
        tree = ast.parse((driver.ROOT / driver.PACKAGE / module).read_text())
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        assert set(functions) <= defined, f"{module}: {set(functions) - defined} not defined"
    algorithms = {
        p.relative_to(driver.ROOT / driver.PACKAGE).as_posix() for p in (driver.ROOT / driver.PACKAGE).glob("*/*.py")
    }
    algorithms = {m for m in algorithms if m.split("/")[0] == m.split("/")[1].removesuffix(".py")}
    assert algorithms == set(driver.SCOPES)  # each algorithm's own file, e.g. svg/svg.py


def test_library_code_has_no_mutation_pragmas() -> None:
    driver = _load_driver()
    marked = [p for p in (driver.ROOT / driver.PACKAGE).rglob("*.py") if "no mutate" in p.read_text()]
    assert marked == []  # equivalent mutants are listed in benchmarks/mutation.py's EQUIVALENT


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


def test_the_score_bound_of_a_sample_matches_the_closed_form_and_a_brute_force_coverage() -> None:
    driver = _load_driver()
    # every mutant killed: the bound solves p ** n = 1 - confidence
    assert driver.score_lower_bound(40, 40) == pytest.approx(0.05 ** (1 / 40), abs=1e-9)
    assert driver.score_lower_bound(0, 40) == 0.0
    # k of n: at the bound, k or more kills have probability 5% (brute-force sum over outcomes)
    from math import comb

    p = driver.score_lower_bound(35, 40)
    assert sum(comb(40, i) * p**i * (1 - p) ** (40 - i) for i in range(35, 41)) == pytest.approx(0.05, abs=1e-9)
    assert 0.75 < p < 35 / 40
