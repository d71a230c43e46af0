"""The benchmark harness's bookkeeping (no training: every run it is asked for is already in the partial file)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.scripts import load_benchmark_script

pytest.importorskip("matplotlib")


def _load_run_module():
    return load_benchmark_script("run")


def test_resume_of_a_subset_keeps_the_other_runs(tmp_path: Path, monkeypatch) -> None:
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

    # --resume of the finished benchmark trains nothing again: its runs come from the final file
    def no_training(*args, **kwargs):
        raise AssertionError(f"trained {args[:3]} again")

    monkeypatch.setattr(run, "run_one", no_training)
    before = (tmp_path / "bench.csv").read_text()
    run.main(["--algos", "reinforce", "ppo", "--seeds", "0", "1", "--reference", "ppo", *common])
    assert (tmp_path / "bench.csv").read_text() == before
    assert not partial.exists()


class _Stop(Exception):
    """A session's end, simulated."""


def test_a_run_stopped_mid_way_resumes_from_its_last_checkpoint(tmp_path: Path, monkeypatch) -> None:
    run = _load_run_module()
    common = ["--algos", "sac", "--envs", "Pendulum-v1", "--seeds", "0", "--defaults", "--n-timesteps", "400",
              "--eval-freq", "100", "--eval-episodes", "1", "--reference", "sac", "--out", str(tmp_path),
              "--name", "bench", "--set", "sac.learning_starts=50", "sac.batch_size=16", "sac.buffer_size=1000",
              "sac.policy_kwargs=dict(net_arch=[8])"]  # fmt: skip
    save, load = run.Checkpoint.save, run.Checkpoint.load
    saved: list = []

    def save_then_stop(self, model, rows, train_time):
        save(self, model, rows, train_time)
        saved.append(([repr(r) for r in rows], train_time))  # repr: NaN columns compare equal
        if model.num_timesteps == 200:
            raise _Stop

    monkeypatch.setattr(run.Checkpoint, "save", save_then_stop)
    with pytest.raises(_Stop):
        run.main([*common, "--checkpoints"])
    assert len(saved[-1][0]) == 3 and "timesteps=200," in saved[-1][0][-1]  # evaluations at 0, 100 and 200 steps
    folder = tmp_path / "checkpoints" / "bench" / "sac_Pendulum-v1_0"
    assert (folder / "model.zip").exists() and (folder / "replay_buffer.pkl").exists()

    # --resume without --checkpoints starts again from step 0; with it, the run continues from step 200
    loaded: list = []

    def load_and_keep(self, model):
        result = load(self, model)
        loaded.append((result[0].num_timesteps, result[0].replay_buffer.size(), [repr(r) for r in result[1]], result[2]))
        return result

    monkeypatch.setattr(run.Checkpoint, "save", save)
    monkeypatch.setattr(run.Checkpoint, "load", load_and_keep)
    run.main([*common, "--resume", "--checkpoints"])
    steps, buffer_size, rows_at_stop, train_time_at_stop = loaded[0]
    # SB3 calls the callback before it stores the step's transition: a resume loses that one transition
    assert steps == 200 and buffer_size == 199
    assert rows_at_stop == saved[-1][0] and train_time_at_stop == saved[-1][1]
    written = run.read_rows(tmp_path / "bench.csv")
    assert [r.timesteps for r in written] == [0, 100, 200, 300, 400]
    assert [repr(r) for r in written[:3]] == saved[-1][0]  # the evaluations before the stop are kept, not rerun
    assert [r.resumed_at for r in written] == [0, 0, 0, 200, 200]
    assert written[3].train_time_s > train_time_at_stop
    report = (tmp_path / "bench.md").read_text()
    assert "sac Pendulum-v1 seed 0 at 200 steps" in report and "--checkpoints" not in report.splitlines()[2]
    assert not folder.exists()  # a finished run's checkpoint is deleted


def test_a_checkpoint_made_with_other_settings_is_not_used(tmp_path: Path) -> None:
    run = _load_run_module()
    args = run.build_parser().parse_args(["--algos", "sac", "--envs", "Pendulum-v1", "--out", str(tmp_path)])
    model = run.build("sac", "Pendulum-v1", 0, {"learning_starts": 10}, defaults=True)[0]
    model.learn(20)
    run.checkpoint_for("sac", "Pendulum-v1", 0, args, 1000).save(model, [], 1.0)
    assert run.checkpoint_for("sac", "Pendulum-v1", 0, args, 2000).load(model) is None
    restored = run.checkpoint_for("sac", "Pendulum-v1", 0, args, 1000).load(model)
    assert restored is not None and restored[0].num_timesteps == 20


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
    assert "CartPole-v1/onpolicy: `python -m benchmarks.run --defaults" in text.split("## Not run yet")[1]

    # 460 on every seed: within one standard deviation of DQN's mean
    rows = [r if r.algo == "dqn" or not r.timesteps else run.EvalRow(**{**r.__dict__, "mean_return": 460.0}) for r in rows]
    run.write_rows(tmp_path / f"{group.bench_name}.csv", rows)
    assert "| yes |" in defaults.report(tmp_path)


def test_defaults_group_with_an_own_budget_passes_it_to_run_py_and_labels_the_row(tmp_path: Path) -> None:
    defaults = load_benchmark_script("defaults")
    run = defaults.run
    group = next(g for g in defaults.SUITE if g.key == "Pendulum-v1/offpolicy")
    argv = group.argv()
    assert argv[argv.index("--set") + 1 :] == ["mbpo.n_timesteps=10000"]
    rows = [
        run.EvalRow(algo, group.task, seed, steps, -150.0, 1.0, steps / 100)
        for algo, budget in (("mbpo", 10_000), ("sac", group.budget))
        for seed in defaults.SEEDS
        for steps in (0, budget)
    ]
    run.write_rows(tmp_path / f"{group.bench_name}.csv", rows)
    text = defaults.report(tmp_path)
    assert "| Pendulum-v1 | 20k | mbpo (10k) | sac | -150.0 +/- 0.0 | -150.0 +/- 0.0 | yes |" in text


def test_an_algorithm_without_a_zoo_entry_runs_with_its_defaults_at_its_own_budget(tmp_path: Path) -> None:
    run = _load_run_module()
    common = ["--envs", "Acrobot-v1", "--seeds", "0", "--eval-freq", "10000", "--eval-episodes", "1", "--out", str(tmp_path)]
    with pytest.raises(KeyError, match="no entry for Acrobot-v1"):  # zoo_hyperparams/npg.yml has no Acrobot-v1 entry
        run.main(["--algos", "npg", "--n-timesteps", "64", "--reference", "npg", "--name", "zoo", *common])
    with pytest.raises(SystemExit):  # the constructor's defaults carry no budget
        run.main(["--algos", "npg", "--defaults-for", "npg", "--reference", "npg", "--name", "nobudget", *common])

    # NPG with its defaults at its own budget (--set beats --n-timesteps), next to PPO from its zoo entry
    run.main(["--algos", "npg", "ppo", "--n-timesteps", "4096", "--set", "npg.n_timesteps=64", "--defaults-for", "npg",
              "--reference", "ppo", "--name", "bench", *common])  # fmt: skip
    rows = run.read_rows(tmp_path / "bench.csv")
    # training stops at the budget: NPG at 64 steps, not at the end of its first 2048-step rollout
    assert {r.algo: r.timesteps for r in rows if r.timesteps} == {"npg": 64, "ppo": 4096}
    text = (tmp_path / "bench.md").read_text()
    assert "except npg 64 (`--set`), npg with the constructor's defaults (no zoo entry)" in text


def _compare_task(compare, task: str, algos=("reinforce", "ppo"), seeds=(0, 1, 2)):
    """A discrete task of the comparison at a tiny budget (the report needs no training)."""
    spec = next(t for t in compare.TASKS if t.task == task)
    return compare.Task(task, "discrete", algos, 1000, 500, spec.threshold, spec.random_score, seeds=seeds)


def test_compare_aggregate_normalizes_final_returns_and_lists_tasks_not_run(tmp_path: Path) -> None:
    compare = load_benchmark_script("compare")
    run = compare.run
    tasks = [_compare_task(compare, t) for t in ("CartPole-v1", "Acrobot-v1", "LunarLander-v3")]
    # normalized final scores: reinforce 1 (the threshold) everywhere; PPO 0, 0.25, 0.5 and 0.75, 0.75, 2
    wanted = {("CartPole-v1", "reinforce"): (1, 1, 1), ("CartPole-v1", "ppo"): (0, 0.25, 0.5),
              ("Acrobot-v1", "reinforce"): (1, 1, 1), ("Acrobot-v1", "ppo"): (0.75, 0.75, 2)}  # fmt: skip
    for task in tasks[:2]:
        rows = [
            run.EvalRow(algo, task.task, seed, steps, task.random_score + score * (task.threshold - task.random_score)
                        * steps / 1000, 1.0, steps / 100)
            for seed in task.seeds for algo in task.algos
            for score, steps in ((wanted[task.task, algo][seed], s) for s in (0, 500, 1000))
        ]  # fmt: skip
        run.write_rows(tmp_path / f"{task.bench_name}.csv", rows)
    text = compare.report(tasks, tmp_path, reps=500)  # 500 resamples: the PPO IQM interval reaches 1.12 (200: 0.94)

    def cells(algo: str) -> list[str]:
        line = next(x for x in text.splitlines() if x.startswith(f"| discrete | CartPole-v1, Acrobot-v1 | {algo} |"))
        return [c.strip() for c in line.split("|")[1:-1]]

    assert cells("reinforce")[3:] == ["6", *["1.00 [1.00, 1.00]"] * 2]
    iqm = cells("ppo")[4]  # IQM of 0, .25, .5, .75, .75, 2: the mean of the middle four, 0.5625
    point, low, high = (float(x) for x in iqm.replace("[", "").replace(",", "").replace("]", "").split())
    assert point == 0.56 and 0.0 <= low < 0.56 < high <= 2.0
    assert cells("ppo")[5].startswith("0.71 [")  # the mean, 0.708
    # run.py's own table: the sample std (ddof 1) of 23.7, 136.5, 249.3 and the threshold judged at the end
    assert "| CartPole-v1 | ppo | 136.5 +/- 112.8 | [23.7, 249.3] | 0/3 | - | 0/3 |" in text
    # the pair on the tasks both ran, and per task: a verdict only where the intervals separate
    assert "| discrete | reinforce | ppo | CartPole-v1, Acrobot-v1 | 1.00 [1.00, 1.00] | 0.56 [" in text
    assert "| discrete | reinforce | ppo | CartPole-v1 | beats | 1.00 [1.00, 1.00] vs 0.25 [0.00, 0.50] |" in text
    assert "| discrete | reinforce | ppo | Acrobot-v1 | matches |" in text
    assert "| reinforce | matches (2) |" in text  # overall: PPO's IQM interval reaches 1.00
    assert "Not run yet (or only in part): LunarLander-v3." in text
    assert "- LunarLander-v3: `python -m benchmarks.run --algos reinforce ppo --envs LunarLander-v3" in text
    assert (tmp_path / "compare_profiles.png").exists()
    assert compare.report(tasks, tmp_path, reps=500) == text  # the bootstrap is seeded: the report is reproducible


def test_compare_suite_runs_five_fresh_seeds_under_one_warmup_rule_in_about_a_day_of_two_cores() -> None:
    compare = load_benchmark_script("compare")
    core_hours, wall_hours = compare.cost()
    assert core_hours <= 27 and wall_hours <= 15  # 26.5 and 14.4 with OffPAC's gradient_steps 2 InvertedPendulum-v5 entry
    assert all(task.seeds == (1000, 1001, 1002, 1003, 1004) for task in compare.TASKS)  # no tuning seed (< 1000)
    for task in compare.TASKS:
        argv = task.argv()
        assert argv[argv.index("--warmup-cap") + 1] == "0.05" and argv[argv.index("--final-eval-episodes") + 1] == "20"
    hopper = next(t for t in compare.TASKS if t.task == "Hopper-v5")
    assert compare.warmup(hopper, "sac") == 1500  # rl_zoo3's 10k, capped at 5% of 30k
    assert compare.warmup(hopper, "ppo") is None  # on-policy: no warm-up


def test_compare_pairs_every_algorithm_of_the_issue_with_every_task_it_fits() -> None:
    compare = load_benchmark_script("compare")
    assert [t.task for t in compare.TASKS if t.domain == "discrete"] == ["CartPole-v1", "Acrobot-v1", "LunarLander-v3"]
    assert [t.task for t in compare.TASKS if t.domain == "continuous"] == [
        "Pendulum-v1", "InvertedPendulum-v5", "HalfCheetah-v5", "Hopper-v5"
    ]  # fmt: skip
    line_up = {algo for domain in compare.OURS for algo in (*compare.OURS[domain], *compare.BUILTINS[domain])}
    for task in compare.TASKS:
        assert all(task.domain in compare.FITS[algo] for algo in task.algos), task.task
        for algo in line_up:
            if task.domain in compare.FITS[algo]:
                left_out = (algo, task.task) in compare.EXCLUDED or (algo, task.domain) in compare.EXCLUDED
                assert (algo in task.algos) != left_out, (algo, task.task)
    # ours without a zoo entry run with their constructor's defaults
    acrobot = next(t for t in compare.TASKS if t.task == "Acrobot-v1").argv()
    assert acrobot[acrobot.index("--defaults-for") + 1 :] == ["npg", "offpac"]


def test_compare_quick_runs_reports_and_writes_the_readme_section(tmp_path: Path) -> None:
    compare = load_benchmark_script("compare")
    with pytest.raises(SystemExit):  # --quick never writes into benchmarks/results/
        compare.main(["run", "all", "--quick"])
    compare.main(["run", "all", "--quick", "--out", str(tmp_path)])
    text = (tmp_path / "compare.md").read_text()
    for name in ("quick_cartpole_CartPole-v1.png", "quick_pendulum_Pendulum-v1.png", "compare_profiles.png"):
        assert (tmp_path / name).exists()
    assert "| Pendulum-v1 | 60 | svg, sac (40) | svg 3, sac 2 |" in text  # warm-up: 5% of each budget
    assert max(r.timesteps for r in compare.run.read_rows(tmp_path / "quick_pendulum.csv") if r.algo == "sac") == 40
    for algo in ("reinforce", "ppo"):
        assert f"| discrete | CartPole-v1 | {algo} | 2 |" in text
    for algo in ("svg", "sac"):
        assert f"| continuous | Pendulum-v1 | {algo} | 2 |" in text
    assert "Not run yet" not in text
    compare.main(["report", "--quick", "--out", str(tmp_path)])
    assert (tmp_path / "compare.md").read_text() == text  # `report` writes what `run` wrote

    readme = tmp_path / "README.md"
    original = (compare.ROOT / "README.md").read_text()
    readme.write_text(original)
    docs = tmp_path / "docs"
    docs.mkdir()
    start, end = compare.VERDICT_MARKERS
    (docs / "svg.md").write_text(f"# SVG\n\n## Results\n\n{start}\nold\n{end}\n\n## Parameters\n")
    with pytest.raises(SystemExit):  # --quick never writes the repository's README or docs
        compare.main(["readme", "--quick", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        compare.main(["readme", "--quick", "--out", str(tmp_path), "--readme", str(readme)])
    compare.main(["readme", "--quick", "--out", str(tmp_path), "--readme", str(readme), "--docs", str(docs)])
    written = readme.read_text()
    start, end = compare.README_MARKERS
    assert written.split(start)[0] == original.split(start)[0] and written.split(end)[1] == original.split(end)[1]
    section = written.split(start)[1].split(end)[0]
    assert "[compare.md](compare.md)" in section and "| continuous | Pendulum-v1 | sac | 2 |" in section
    assert compare.FULL_COMMAND in section
    page = (docs / "svg.md").read_text()  # the generated verdict against SAC replaces the block, nothing else
    assert "old" not in page and page.startswith("# SVG\n\n## Results\n\n") and page.endswith("\n\n## Parameters\n")
    assert "SAC on Pendulum-v1: IQM" in page and "](../compare.md)" in page


def test_svg_speed_writes_the_ratio_and_the_parts_of_a_gradient_step(tmp_path: Path, monkeypatch) -> None:
    speed = load_benchmark_script("svg_speed")
    argv = ["svg_speed.py", "--start", "60", "--chunk", "10", "--repeats", "1", "--calls", "1", "--learning-starts", "50"]
    argv += ["--out", str(tmp_path)]
    monkeypatch.setattr("sys.argv", argv)
    speed.main()
    text = (tmp_path / "svg_speed_pendulum.md").read_text()
    assert "Ratio SVG / SAC: " in text and "Share of SVG's time in model refits" in text
    for part in ("SAC train(1)", "SVG train(1)", "SVG: actor objective through the model"):
        assert f"| {part}" in text


def test_q_bias_soft_return_matches_the_discounted_sum_with_entropy_terms_after_the_first_step() -> None:
    import numpy as np

    q_bias = load_benchmark_script("q_bias")
    rng = np.random.default_rng(0)
    rewards, log_probs = rng.normal(size=7), rng.normal(size=7)
    alpha, gamma = 0.3, 0.9
    brute = [
        rewards[t] + sum(gamma**k * (rewards[t + k] - alpha * log_probs[t + k]) for k in range(1, 7 - t)) for t in range(7)
    ]
    np.testing.assert_allclose(q_bias.soft_returns(rewards, log_probs, alpha, gamma), brute)
    hard = [sum(gamma**k * rewards[t + k] for k in range(7 - t)) for t in range(7)]
    np.testing.assert_allclose(q_bias.soft_returns(rewards, log_probs, 0.0, gamma), hard)


def test_q_bias_probe_leaves_out_the_tail_of_a_truncated_episode() -> None:
    import gymnasium as gym
    from stable_baselines3 import SAC

    q_bias = load_benchmark_script("q_bias")
    model = SAC("MlpPolicy", "Pendulum-v1", policy_kwargs=dict(net_arch=[8]), seed=0)
    full = q_bias.probe(model, gym.make("Pendulum-v1"), episodes=1, tail=0, seed=0)
    cut = q_bias.probe(model, gym.make("Pendulum-v1"), episodes=1, tail=150, seed=0)
    assert (full["states"], cut["states"], full["length"]) == (200, 50, 200.0)
    assert full["bias"] == pytest.approx(full["q"] - full["soft_return"])


def test_model_fit_compares_a_capped_first_fit_with_early_stopping(tmp_path) -> None:
    model_fit = load_benchmark_script("model_fit")
    argv = ["--env", "Pendulum-v1", "--initial", "200", "--cap", "1", "--refits", "2", "--step", "50", "--test", "100",
            "--report-every", "1", "--dynamics-kwargs", "{n_members: 2, n_elites: 1, hidden_sizes: [8]}",
            "--name", "fit", "--out", str(tmp_path)]  # fmt: skip
    model_fit.main(argv)
    rows = list(csv.DictReader(open(tmp_path / "fit.csv")))
    assert [(r["arm"], r["refit"], r["transitions"]) for r in rows] == [
        (arm, str(k), str(200 + 50 * k)) for arm in ("capped at 1", "early stopping") for k in range(3)
    ]
    epochs = {(r["arm"], r["refit"]): int(r["epochs"]) for r in rows}
    assert epochs[("capped at 1", "0")] == 1 and epochs[("early stopping", "0")] > 5  # patience 5: at least 6
    assert all(epochs[(arm, str(k))] == 1 for arm in ("capped at 1", "early stopping") for k in (1, 2))
    assert all(float(r["test_mse"]) > 0 for r in rows)
    report = (tmp_path / "fit.md").read_text()
    assert "python -m benchmarks.studies.model_fit --env Pendulum-v1" in report and report.count("| early stopping |") == 3


def test_model_bootstrap_fits_both_arms_on_the_same_data_and_scores_the_elites(tmp_path) -> None:
    study = load_benchmark_script("model_bootstrap")
    kwargs = "{n_members: 3, n_elites: 2, hidden_sizes: [8]}"
    argv = ["--env", "Pendulum-v1", "--transitions", "200", "--max-epochs", "2", "--seeds", "1", "2", "--test", "100",
            "--dynamics-kwargs", kwargs, "--name", "boot", "--out", str(tmp_path)]  # fmt: skip
    study.main(argv)
    rows = list(csv.DictReader(open(tmp_path / "boot.csv")))
    expected = [(arm, seed) for arm in ("on", "off") for seed in ("1", "2")] + [("on", "mean"), ("off", "mean")]
    assert [(r["bootstrap"], r["seed"]) for r in rows] == expected
    assert all(r["epochs"] in ("2", "2.0") and float(r["disagreement"]) > 0 for r in rows)
    assert all(0 <= float(r["within_2std"]) <= 1 for r in rows)
    report = (tmp_path / "boot.md").read_text()
    assert "python -m benchmarks.studies.model_bootstrap --env Pendulum-v1" in report and report.count("**mean**") == 2
    with pytest.raises(SystemExit):  # the test transitions must not be a training seed's
        study.main([*argv, "--test-seed", "1"])


def test_model_bootstrap_scores_a_single_elite_as_one_gaussian() -> None:
    import torch as th

    from sb3_pg_extras.common.dynamics import DynamicsModel, Transitions
    from sb3_pg_extras.common.dynamics.trainer import holdout_mse

    study = load_benchmark_script("model_bootstrap")
    th.manual_seed(0)
    obs, actions, next_obs = th.randn(50, 3), th.randn(50, 1), th.randn(50, 3)
    test = Transitions(obs, actions, next_obs, th.zeros(50), th.zeros(50))
    model = DynamicsModel(3, 1, n_members=3, n_elites=2, hidden_sizes=[8])
    scores = study.ensemble_scores(model, test)
    assert scores["test_mse"] == pytest.approx(float(holdout_mse(model, test)[:2].mean()))
    model.elites = th.tensor([1])  # one elite: no disagreement, the mixture is the moment-matched Gaussian
    single = study.ensemble_scores(model, test)
    assert single["disagreement"] == 0 and single["mixture_nll"] == pytest.approx(single["gaussian_nll"], rel=1e-5)


def test_optimizer_speed_times_every_adam_variant_with_its_setting(tmp_path: Path) -> None:
    speed = load_benchmark_script("optimizer_speed")
    args = ["--env", "Pendulum-v1", "--net-arch", "8", "--batch-size", "8", "--steps", "2", "--repeats", "1"]
    speed.main([*args, "--out", str(tmp_path)])
    text = (tmp_path / "optimizer_speed.md").read_text()
    assert "benchmarks.studies.optimizer_speed --env Pendulum-v1" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "ms per" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| default", "| foreach=True", "| fused=True"]
    assert rows[0].split(" | ")[2] == "1.00"  # the default against itself


def test_every_report_names_the_command_that_writes_it() -> None:
    reports = load_benchmark_script("reports")
    found = reports.reports()  # raises for a report without a `python -m benchmarks...` command
    assert len(found) > 40
    for report in found:
        if report.module == "benchmarks.run":  # rewritten from its CSV by that command with --report-only
            assert f"--name {report.path.stem}" in report.command and report.rewrite[-1] == "--report-only"
            assert (report.path.parent / f"{report.path.stem}.csv").exists()


@pytest.mark.parametrize(
    ("curve", "fell"),
    [
        ([-500.0, -100.0, -80.0, -90.0], False),  # kept most of its gain
        ([-500.0, -100.0, -80.0, -300.0], True),  # lost more than half of the 420 it gained
        ([10.0, 500.0, 500.0, 156.0], True),  # the OffPAC CartPole-v1 fall (500 -> 156)
        ([-91.4, -500.0, -114.5, -80.4, -93.2], False),  # a lucky initial policy, then learned: not a collapse
        ([-91.4, -85.0, -93.2], True),  # from its lowest point up to its best it gained 6.4, and lost all of it
        ([-100.0, -120.0, -130.0], False),  # never above its start: nothing to lose
    ],
)
def test_a_collapse_is_losing_half_the_gain_from_the_lowest_point_before_the_best(curve, fell) -> None:
    run = _load_run_module()
    rows = [run.EvalRow("npg", "Acrobot-v1", 0, 1000 * i, ret, 1.0, float(i)) for i, ret in enumerate(curve)]
    assert run.collapsed(rows) is fell


def test_sac_discrete_acrobot_probes_run_and_tell_a_goal_from_a_time_limit(tmp_path) -> None:
    import numpy as np

    study = load_benchmark_script("sac_discrete_acrobot")
    assert study.reached_goal(np.array([False, True]), [{}, {"TimeLimit.truncated": False}])
    assert not study.reached_goal(np.array([True, False]), [{"TimeLimit.truncated": True}, {}])
    study.main(["explore", "--episodes", "2", "--name", "explore", "--out", str(tmp_path)])
    assert (tmp_path / "explore.md").read_text().count("% |") == 7
    study.main(["first", "--seeds", "100", "--arms", "entry", "t09", "--steps", "40", "--name", "first",
                "--out", str(tmp_path)])  # fmt: skip
    first = (tmp_path / "first.md").read_text()
    assert "| entry (the entry) | - | 1 of 1 |" in first and "target_entropy" in first  # no goal in 40 random steps
    tiny = ["learning_starts=500", "policy_kwargs={'net_arch': [8]}"]
    study.main(["trace", "--seed", "100", "--steps", "1000", "--set", *tiny, "--name", "trace", "--out", str(tmp_path)])
    rows = [line for line in (tmp_path / "trace.md").read_text().splitlines() if line.startswith("| 1000 |")]
    assert len(rows) == 1 and "learning_starts=500" in (tmp_path / "trace.md").read_text()


def test_mppi_entries_builds_a_candidate_from_the_zoo_entry_with_set_over_it(monkeypatch) -> None:
    import sys

    pytest.importorskip("mujoco")
    bench = load_benchmark_script("mppi")
    seen: dict = {}

    def capture(part, args, build, head) -> None:
        seen.update(part=part, args=args, model=build("InvertedPendulum-v5", 100), head=head)

    monkeypatch.setattr(bench, "_controller_episodes", capture)
    argv = ["mppi.py", "entries", "--envs", "InvertedPendulum-v5", "--seeds", "100", "--set", "n_samples=16",
            "noise_std=0.25", "--tag", "tune_k16"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    bench.main()
    model = seen["model"]
    assert (model.n_samples, model.noise_std) == (16, 0.25)  # the candidate's settings
    assert model.horizon == 30 and model.nominal_sample and model.resolved_dynamics == "simulator"  # the entry's
    assert "{'n_samples': 16, 'noise_std': 0.25} set over it" in seen["head"] and seen["args"].tag == "tune_k16"
