"""
Defaults that learn (issue 22): every algorithm of the package built as ``Algo("MlpPolicy", env)``, with no
hyperparameter, against the SB3 / sb3-contrib built-in a user would otherwise pick, also with its defaults: same
seeds, same budget, same evaluation, through ``benchmarks/run.py --defaults``.

Each (task, group) below is one ``run.py`` benchmark named ``defaults_<task>_<group>`` (its CSV, Markdown table and
curves land in ``benchmarks/results/``); ``report`` then writes ``defaults.md`` from every group that has been run,
with each of our algorithms against each of its built-ins: final return, steps to the threshold and wall time per env
step, and whether ours is within one standard deviation (over seeds) of the built-in or better.

    python -m benchmarks.defaults --list                       # the suite: tasks, groups, budgets
    python -m benchmarks.defaults run CartPole-v1/onpolicy      # one group (3 seeds; --resume after a stop, or
                                                                # to complete a group run in part with run.py)
    python -m benchmarks.defaults run all                       # everything (many hours on 2 cores)
    python -m benchmarks.defaults report                        # benchmarks/results/defaults/defaults.md

Budgets are ones at which the built-ins' defaults learn the task (or come close), so that "ours does not learn with
its defaults" shows; a task where an algorithm's action space does not fit is left out of its group.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import run, suite
from benchmarks.suite import SEEDS, command, finals


@dataclass(frozen=True)
class Group:
    """Our algorithms against the built-ins they are compared with, on one task at one budget."""

    task: str
    name: str
    ours: tuple[str, ...]
    builtins: tuple[str, ...]
    budget: int
    threshold: float
    eval_freq: int
    own_budgets: tuple[tuple[str, int], ...] = ()  # ours that stop earlier, for cost (run.py --set <algo>.n_timesteps)

    @property
    def key(self) -> str:
        return f"{self.task}/{self.name}"

    def label(self, algo: str) -> str:
        own = dict(self.own_budgets).get(algo)
        return algo if own is None else f"{algo} ({own // 1000}k)"

    @property
    def bench_name(self) -> str:
        return suite.bench_name("defaults", self.task, self.name)

    def argv(self) -> list[str]:
        argv = [
            "--defaults",
            *suite.run_argv((*self.ours, *self.builtins), self.task, SEEDS, self.budget, self.eval_freq, self.threshold,
                            self.builtins[0], self.bench_name),
        ]  # fmt: skip
        if self.own_budgets:
            argv += ["--set", *(f"{algo}.n_timesteps={steps}" for algo, steps in self.own_budgets)]
        return argv


# MBPO's own budgets: with its defaults (20 SAC gradient steps per env step, the paper's ratio) an env step costs
# 10-20x SAC's (docs/mbpo.md): the full budgets would take ~1.4 h per Pendulum-v1 seed and ~4 h per HalfCheetah-v5
# seed on one core. It starts training after 5000 warm-up steps, so these leave it 5k-10k steps of training.
# Who is compared with whom (issue 22): REINFORCE and NPG with A2C, PPO and TRPO; OffPAC with SAC (Box) and A2C
# (Discrete); DiscreteSAC with DQN; MBPO, SVG and MPPI (its default mode: known dynamics, else the simulator, else a
# learned model) with SAC.
ON_POLICY = ("reinforce", "npg")
ON_POLICY_BUILTINS = ("a2c", "ppo", "trpo")
SUITE = [
    Group("CartPole-v1", "onpolicy", (*ON_POLICY, "offpac"), ON_POLICY_BUILTINS, 100_000, 475, 10_000),
    Group("CartPole-v1", "value", ("sac_discrete",), ("dqn",), 100_000, 475, 10_000),
    Group("Pendulum-v1", "offpolicy", ("offpac", "mbpo", "svg", "mppi"), ("sac",), 20_000, -200, 2_000,
          own_budgets=(("mbpo", 10_000),)),
    Group("Pendulum-v1", "onpolicy", ON_POLICY, ON_POLICY_BUILTINS, 200_000, -200, 20_000),
    Group("InvertedPendulum-v5", "offpolicy", ("offpac", "mbpo", "svg"), ("sac",), 15_000, 950, 1_500,
          own_budgets=(("mbpo", 10_000),)),
    Group("InvertedPendulum-v5", "onpolicy", ON_POLICY, ON_POLICY_BUILTINS, 100_000, 950, 10_000),
    Group("HalfCheetah-v5", "offpolicy", ("offpac", "mbpo", "svg"), ("sac",), 50_000, 3000, 5_000,
          own_budgets=(("mbpo", 15_000),)),
    Group("HalfCheetah-v5", "onpolicy", ON_POLICY, ON_POLICY_BUILTINS, 200_000, 1000, 20_000),
    Group("LunarLander-v3", "onpolicy", (*ON_POLICY, "offpac"), ON_POLICY_BUILTINS, 200_000, 200, 20_000),
    Group("LunarLander-v3", "value", ("sac_discrete",), ("dqn",), 200_000, 200, 20_000),
]  # fmt: skip
# Pairs the suite leaves out, and why (the report lists them; each algorithm's docs page says the same)
LEFT_OUT = {
    ("mppi", "InvertedPendulum-v5"): "not trained through the suite: MPPI's default mode there is the MuJoCo "
    "simulator with K = 1000 samples and H = 30 steps, 30,000 simulator steps per action (0.9-1.6 s on a loaded core), "
    "so a 15k-step run takes 4-7 hours per seed and learns nothing (the simulator is the model). Its default "
    "controller is measured directly instead, as the suite evaluates (`python -m benchmarks.mppi defaults --envs "
    "InvertedPendulum-v5 --episodes 1`, mppi_defaults_invertedpendulum.md): 1000.0 on each of 3 seeds (one "
    "deterministic 1000-step episode each), above SAC's 946.5 +/- 75.7 at 15k",
    ("mppi", "HalfCheetah-v5"): "not trained through the suite, as on InvertedPendulum-v5: the simulator with "
    "K = 1000, H = 30, 1.1-1.8 s per action, about 20-30 hours for a 50k-step run. Measured directly on 3 seeds "
    "(`python -m benchmarks.mppi defaults --envs HalfCheetah-v5 --seeds 0 1 2 --episodes 1`, "
    "mppi_defaults_halfcheetah.md): 2150992.0 +/- 1091531.1, above SAC's 1727.3 +/- 512.8 but not a result: the "
    "planner somersaults forward ever faster (20-365 net turns) until the simulated body moves at 1747-8579 m/s, an "
    "unphysical regime that HalfCheetah's reward (forward speed in any posture) pays for. Fewer samples only slow "
    "the somersault (K = 100, H = 20: 5374.5, 10 turns, mppi_halfcheetah_100x20.md); planned on a reward that "
    "penalizes the root's rotation (reward_fn), K = 100, H = 20 runs upright: 4864.4 +/- 17.5 over 3 seeds, above "
    "SAC (mppi_upright_k100_h20.md; docs/mppi.md, Defaults)",
}
# whom each of ours is judged against (OffPAC: A2C on discrete tasks, SAC on Box ones, whichever the group has)
RIVALS = {"reinforce": ON_POLICY_BUILTINS, "npg": ON_POLICY_BUILTINS, "offpac": ("sac", "a2c"),
          "sac_discrete": ("dqn",), "mbpo": ("sac",), "svg": ("sac",), "mppi": ("sac",)}  # fmt: skip


def compare(group: Group, rows: list[run.EvalRow]) -> tuple[list[str], list[str]]:
    """Table lines, and the pairs not run yet (a group is run in parts with run.py --resume)."""
    lines, missing = [], []
    done = suite.complete(rows, SEEDS)
    for ours in group.ours:
        for builtin in (b for b in RIVALS[ours] if b in group.builtins):
            if not {ours, builtin} <= done:
                missing.append(f"{ours} vs {builtin}")
                continue
            mine, my_time = finals(rows, ours)
            theirs, their_time = finals(rows, builtin)
            holds = mine.mean() >= theirs.mean() - theirs.std()
            reached = [run.steps_to_threshold([r for r in rows if r.algo == a and r.seed == s], group.threshold)
                       for a in (ours, builtin) for s in SEEDS]  # fmt: skip
            to_threshold = [
                f"{sum(x is not None for x in part)}/{len(SEEDS)}"
                + (f" ({np.mean([x for x in part if x is not None]) / 1000:.0f}k)" if any(part) else "")
                for part in (reached[: len(SEEDS)], reached[len(SEEDS) :])
            ]
            lines.append(
                f"| {group.task} | {group.budget // 1000}k | {group.label(ours)} | {builtin} "
                f"| {mine.mean():.1f} +/- {mine.std():.1f} "
                f"| {theirs.mean():.1f} +/- {theirs.std():.1f} | {'yes' if holds else '**no**'} "
                f"| {to_threshold[0]} | {to_threshold[1]} | {my_time.mean() / their_time.mean():.2f} |"
            )
    return lines, missing


def report(out: Path) -> str:
    lines = [
        "# Defaults that learn",
        "",
        "Generated by `python -m benchmarks.defaults report` (do not edit by hand) from the groups below, each made by "
        'the command listed with it. Every algorithm is built with its constructor\'s defaults (`Algo("MlpPolicy", '
        f'env)`, one env), seeds {SEEDS}, deterministic evaluation on 10 episodes. "Holds": our mean final return '
        ">= the built-in's mean minus one standard deviation over seeds. Time ratio: our wall time per env step over "
        "the built-in's (same script, one torch thread each; evaluation excluded). An algorithm shown as `algo (Nk)` "
        "stops at its own, smaller budget of N thousand env steps (for cost), so its final return is compared with "
        "the built-in's at the full budget: a stricter test.",
        "",
        "| task | budget | ours | built-in | ours: final return | built-in: final return | holds "
        "| ours: seeds >= threshold (mean steps) | built-in: seeds >= threshold | time ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    missing, commands = [], []
    for group in SUITE:
        rows = suite.load(group, out)
        if rows is None:
            missing.append(group)
            continue
        table, not_yet = compare(group, rows)
        lines += table
        if not_yet:
            missing.append(group)
        commands.append(f"- {group.key} (threshold {group.threshold:g}): `{command(group, out)}` -> "
                        f"[{group.bench_name}.md]({group.bench_name}.md)")  # fmt: skip
    lines += ["", "## Commands", "", *commands, *suite.not_run_section(missing, out)]
    lines += ["", "## Left out", "", *(f"- {algo} on {task}: {why}." for (algo, task), why in LEFT_OUT.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = suite.parser(__doc__, "groups", "<task>/<group>", run.RESULTS / "defaults")
    args = parser.parse_args(argv)
    if args.list:
        for group in SUITE:
            print(f"{group.key:32} {group.budget:>8} steps  {' '.join(group.ours)} vs {' '.join(group.builtins)}")
        return
    if args.action == "run":
        suite.run_benchmarks(
            suite.select(parser, SUITE, args.groups, "groups"),
            args.out,
            args.jobs,
            args.resume,
            args.checkpoints,
            args.only,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "defaults.md").write_text(report(args.out))


if __name__ == "__main__":
    main()
