"""The benchmark harness's bookkeeping (no training: every run it is asked for is already in the partial file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scripts import load_benchmark_script

pytest.importorskip("matplotlib")


def _load_run_module():
    return load_benchmark_script("run")


def test_resume_of_a_subset_keeps_the_other_runs(tmp_path: Path) -> None:
    run = _load_run_module()
    rows = [
        run.EvalRow(algo, "CartPole-v1", seed, steps, ret, 1.0, steps / 1000)
        for algo in ("reinforce", "ppo")
        for seed in (0, 1)
        for steps, ret in ((0, 10.0), (1000, 50.0 + seed))
    ]
    partial = tmp_path / "bench.partial.csv"
    run.write_rows(partial, rows)
    common = ["--envs", "CartPole-v1", "--eval-freq", "1000", "--out", str(tmp_path), "--name", "bench", "--resume"]

    # a subset (one algo, one seed): its rows only, and the partial file keeps everything for the full command
    run.main(["--algos", "reinforce", "--seeds", "0", "--reference", "reinforce", *common])
    written = run.read_rows(tmp_path / "bench.csv")
    assert {(r.algo, r.seed) for r in written} == {("reinforce", 0)}
    assert len(run.read_rows(partial)) == len(rows)
    assert "--resume" not in (tmp_path / "bench.md").read_text()

    # the full command: every run, in seed-major order, and the partial file is consumed
    run.main(["--algos", "reinforce", "ppo", "--seeds", "0", "1", "--reference", "ppo", *common])
    written = run.read_rows(tmp_path / "bench.csv")
    assert [(r.algo, r.seed, r.timesteps) for r in written] == [
        (algo, seed, steps) for seed in (0, 1) for algo in ("reinforce", "ppo") for steps in (0, 1000)
    ]
    assert not partial.exists()


def test_a_variant_of_an_algorithm_is_built_from_its_zoo_entry_with_its_overrides() -> None:
    run = _load_run_module()
    overrides = run.parse_overrides(["svg/h3.horizon=3", "svg/inf.horizon=inf"])
    assert overrides == {"svg/h3": {"horizon": 3}, "svg/inf": {"horizon": "inf"}}
    model, n_timesteps, _ = run.build("svg/h3", "Pendulum-v1", 0, overrides["svg/h3"])
    assert type(model).__name__ == "SVG" and model.horizon == 3 and n_timesteps > 0
    assert run.build("svg", "Pendulum-v1", 0)[0].horizon == 1  # the zoo entry's own horizon


def test_evaluation_rows_carry_the_temperature_and_training_episode_length(tmp_path: Path) -> None:
    from sb3_pg_extras import DiscreteSAC

    run = _load_run_module()
    model = DiscreteSAC("MlpPolicy", "CartPole-v1", ent_coef="auto_0.25", learning_starts=10**6, seed=0)
    model.learn(120)
    lengths = [info["l"] for info in model.ep_info_buffer]
    extra = run.diagnostics(model)
    assert extra["temperature"] == pytest.approx(0.25) and extra["train_episode_length"] == pytest.approx(
        sum(lengths) / len(lengths)
    )
    assert run.diagnostics(DiscreteSAC("MlpPolicy", "CartPole-v1", ent_coef=0.5))["temperature"] == pytest.approx(0.5)

    # rows written before these columns existed still read back
    row = run.EvalRow("sac_discrete", "CartPole-v1", 0, 120, 9.0, 1.0, 1.0, 0.5, train_episode_length=20.0, temperature=0.25)
    run.write_rows(tmp_path / "new.csv", [row])
    assert run.read_rows(tmp_path / "new.csv") == [row]
    old = tmp_path / "old.csv"
    old.write_text("algo,env,seed,timesteps,mean_return,std_return,train_time_s\nppo,CartPole-v1,0,10,9.0,1.0,2.0\n")
    assert run.read_rows(old)[0].timesteps == 10


def test_defaults_report_judges_each_of_ours_against_its_builtins(tmp_path: Path) -> None:
    defaults = load_benchmark_script("defaults")
    run = defaults.run
    group = next(g for g in defaults.SUITE if g.key == "CartPole-v1/value")
    finals = {"sac_discrete": (400.0, 420.0, 440.0), "dqn": (500.0, 450.0, 490.0)}  # ours: 420; DQN: 480 +/- 21.6
    rows = [
        run.EvalRow(algo, group.task, seed, steps, ret if steps else 20.0, 1.0, steps / (500 if algo == "dqn" else 250))
        for algo, rets in finals.items()
        for seed, ret in zip(defaults.SEEDS, rets)
        for steps in (0, group.budget)
    ]
    run.write_rows(tmp_path / f"{group.bench_name}.csv", rows)
    text = defaults.report(tmp_path)
    line = next(x for x in text.splitlines() if x.startswith("| CartPole-v1 | 100k | sac_discrete | dqn |"))
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[4:] == ["420.0 +/- 16.3", "480.0 +/- 21.6", "**no**", "0/3", "2/3 (100k)", "2.00"]
    assert "CartPole-v1/onpolicy: `python benchmarks/run.py --defaults" in text.split("## Not run yet")[1]

    # 460 on every seed: within one standard deviation of DQN's mean
    rows = [r if r.algo == "dqn" or not r.timesteps else run.EvalRow(**{**r.__dict__, "mean_return": 460.0}) for r in rows]
    run.write_rows(tmp_path / f"{group.bench_name}.csv", rows)
    assert "| yes |" in defaults.report(tmp_path)
