"""
Our algorithms against SB3's built-ins on a fixed task suite, each with its rl_zoo3 hyperparameters (ours from
zoo_hyperparams/, the built-ins from rl_zoo3's own files), through ``benchmarks/run.py``:

  discrete    CartPole-v1, Acrobot-v1, LunarLander-v3: REINFORCE, NPG, OffPAC, DiscreteSAC against PPO, A2C, DQN
  continuous  Pendulum-v1, InvertedPendulum-v5, HalfCheetah-v5, Hopper-v5: NPG, OffPAC, SVG, MBPO, MPPI against
              PPO, SAC, TD3, DDPG (the pairs left out and why: EXCLUDED below, also printed by --list)

Each task is one run.py benchmark named ``compare_<task>`` with all of its algorithms (so the env steps/s ratios
compare within one run), on the fresh seeds 1000-1004 that no tuning run used (SEEDS_FRESH); its CSV, Markdown
table and learning curves land in ``benchmarks/results/compare/``.

    python -m benchmarks.compare --list                   # the suite, and the estimated cost of every run
    python -m benchmarks.compare run CartPole-v1 --jobs 2 # one task (--resume after a stop)
    python -m benchmarks.compare run all --jobs 2         # the whole suite: about 14 hours on 2 cores (--list)
    python -m benchmarks.compare report                   # benchmarks/results/compare/compare.md + compare_profiles.png
    python -m benchmarks.compare readme                   # README.md's Results section, from compare.md
    python -m benchmarks.compare random                   # re-measures the random-policy scores stated in TASKS

``--quick`` (with run / report / readme) runs a two-task subset at tiny budgets (CartPole-v1: REINFORCE and PPO;
Pendulum-v1: SVG and SAC; 2 seeds, 2 evaluation episodes) in about 15 s of CPU time, into the ``--out``
folder it needs (never benchmarks/results/; ``readme --quick`` needs ``--readme`` other than README.md).

Budgets: one env-step budget per task, the same for every algorithm of the task (a sample-efficiency comparison),
except the model-based methods whose env steps cost 10-20x SAC's: they get their zoo entry's budget (or less) through
``--set <algo>.n_timesteps=N``, their final return is at that budget, and compare.md says so. The budgets are
chosen from the env steps/s measured in the reports in benchmarks/results/ (SPEED) so that the whole suite with 5
seeds fits about a day of both cores (26.2 core-hours); ``--list`` prints the estimate of every run. They are far
below the zoo's budgets for the on-policy methods on MuJoCo (which use 1M steps): at these budgets those do not learn
the MuJoCo tasks.

Zoo entries: a built-in without an rl_zoo3 entry for a task uses the file's ``default`` entry (run.py's rule: the
constructor's defaults); one of ours without an entry in zoo_hyperparams/ is built with its constructor's defaults
(run.py ``--defaults-for``), so both are untuned there, and compare.md marks those pairs.

Aggregate (``report``, with the ``rliable`` package): each run's final return normalized as (return - random) /
(threshold - random), with the task's random-policy score and threshold stated in TASKS (0: uniformly random
actions, 1: the threshold); per domain, the interquartile mean (IQM) and the mean over all runs of all tasks
with 95% stratified-bootstrap confidence intervals, over the tasks every algorithm of the domain ran; for each of
ours against each built-in, the IQM of both and the probability of improvement on exactly the tasks both ran (the
pairwise table); and performance profiles. A verdict ("beats", "matches", "falls short of") is written only from
these numbers: a win where the confidence intervals separate.
"""

from __future__ import annotations

import os
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import run, suite

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REPORT = "compare.md"
PROFILES = "compare_profiles.png"
README_MARKERS = ("<!-- compare:start -->", "<!-- compare:end -->")
VERDICT_MARKERS = ("<!-- verdicts:start -->", "<!-- verdicts:end -->")  # in each algorithm's docs page
DOCS = ROOT / "docs"
SUMMARY_MARKERS = ("<!-- summary:start -->", "<!-- summary:end -->")
FULL_COMMAND = (
    "python -m benchmarks.compare run all --jobs 2 && python -m benchmarks.compare report "
    "&& python -m benchmarks.compare readme"
)
REPS = 5000  # bootstrap resamples of the confidence intervals
QUICK_REPS = 100  # --quick: the same tables, cheaper intervals
# The protocol: seeds that no tuning run, pilot or earlier report used (tuning uses seeds >= 100 and < 1000; TUNED
# lists the seeds each of our entries was tuned on); every off-policy algorithm, ours and the built-ins, takes at most
# 5% of its budget in uniformly random warm-up steps (run.py --warmup-cap: learning_starts = min(its own value, 5%
# of its budget)); a run's final score is one final evaluation of 20 episodes at its budget.
SEEDS_FRESH = (1000, 1001, 1002, 1003, 1004)
WARMUP_CAP = 0.05
FINAL_EPISODES = 20

# The line-up: ours against the built-ins, per domain (the action space of its tasks)
OURS = {"discrete": ("reinforce", "npg", "offpac", "sac_discrete"), "continuous": ("npg", "offpac", "svg", "mbpo", "mppi")}
BUILTINS = {"discrete": ("ppo", "a2c", "dqn"), "continuous": ("ppo", "sac", "td3", "ddpg")}
# the domains whose action space each algorithm accepts (Discrete / Box)
FITS = {
    **dict.fromkeys(("reinforce", "npg", "offpac", "ppo", "a2c"), ("discrete", "continuous")),
    **dict.fromkeys(("sac_discrete", "dqn"), ("discrete",)),
    **dict.fromkeys(("svg", "mbpo", "mppi", "sac", "td3", "ddpg"), ("continuous",)),
}
REFERENCE = {"discrete": "ppo", "continuous": "sac"}  # whose env steps/s the ratios divide by


@dataclass(frozen=True)
class Task:
    """One task of the suite: all its algorithms in one run.py benchmark."""

    task: str
    domain: str  # "discrete" or "continuous" (the action space)
    algos: tuple[str, ...]  # ours first, then the built-ins
    budget: int  # env steps of every algorithm ...
    eval_freq: int
    threshold: float
    random_score: float  # mean return of uniformly random actions (``compare.py random`` measures it)
    own_budgets: tuple[tuple[str, int], ...] = ()  # ... except these (run.py --set <algo>.n_timesteps=N)
    seeds: tuple[int, ...] = SEEDS_FRESH
    eval_episodes: int = 10
    prefix: str = "compare"
    final_episodes: int = FINAL_EPISODES

    @property
    def key(self) -> str:
        return self.task

    @property
    def bench_name(self) -> str:
        return suite.bench_name(self.prefix, self.task)

    @property
    def reference(self) -> str:
        return REFERENCE[self.domain]

    def steps(self, algo: str) -> int:
        return dict(self.own_budgets).get(algo, self.budget)

    def untuned(self) -> list[str]:
        """Ours without a zoo entry for the task: run with their constructor's defaults."""
        return [algo for algo in self.algos if not has_zoo_entry(algo, self.task)]

    def argv(self) -> list[str]:
        argv = suite.run_argv(
            self.algos, self.task, self.seeds, self.budget, self.eval_freq, self.threshold, self.reference,
            self.bench_name, self.eval_episodes,
        )  # fmt: skip
        argv += ["--warmup-cap", str(WARMUP_CAP), "--final-eval-episodes", str(self.final_episodes)]
        if self.own_budgets:
            argv += ["--set", *(f"{algo}.n_timesteps={steps}" for algo, steps in self.own_budgets)]
        untuned = self.untuned()
        return argv + (["--defaults-for", *untuned] if untuned else [])


def has_zoo_entry(algo: str, task: str) -> bool:
    """Whether run.py finds a zoo entry for ``algo`` on ``task`` (always, for a built-in: rl_zoo3's ``default``)."""
    from sb3_pg_extras.zoo import ALGOS

    if algo not in ALGOS:
        return True
    try:
        run.zoo_hyperparams(algo, task)
    except KeyError:
        return False
    return True


# Thresholds: levels the better algorithms reach within these budgets (CartPole, Acrobot, LunarLander: the usual
# "solved" levels; HalfCheetah and Hopper: below them, as 30k steps are an early stage of learning there).
# Random scores: `python -m benchmarks.compare random` (100 episodes of uniformly random actions, env seeds 0-99).
# Model-based budgets: MBPO and MPPI at their zoo entries' n_timesteps (MPPI learns nothing in its known-dynamics
# and simulator modes: its budget only sets how long it runs), SVG at its entry's 10k, MBPO on Hopper at 10k of its
# entry's 30k (it runs at ~6 env steps/s: 30k would cost ~4 core-hours over 3 seeds).
TASKS = [
    Task("CartPole-v1", "discrete", (*OURS["discrete"], *BUILTINS["discrete"]), 100_000, 10_000, 475, 23.7),
    Task("Acrobot-v1", "discrete", (*OURS["discrete"], *BUILTINS["discrete"]), 50_000, 10_000, -100, -497.1),
    Task("LunarLander-v3", "discrete", (*OURS["discrete"], *BUILTINS["discrete"]), 100_000, 20_000, 200, -192.0),
    Task("Pendulum-v1", "continuous", ("npg", "offpac", "svg", "mbpo", "mppi", *BUILTINS["continuous"]), 20_000, 2_000,
         -200, -1207.6, own_budgets=(("svg", 10_000), ("mbpo", 5_000), ("mppi", 2_000))),
    Task("InvertedPendulum-v5", "continuous", ("npg", "offpac", "svg", "mbpo", "mppi", *BUILTINS["continuous"]), 10_000,
         2_000, 950, 5.2, own_budgets=(("mbpo", 5_000), ("mppi", 1_000))),
    Task("HalfCheetah-v5", "continuous", ("npg", "svg", *BUILTINS["continuous"]), 30_000, 10_000, 1500, -282.5),
    Task("Hopper-v5", "continuous", ("npg", "mbpo", *BUILTINS["continuous"]), 30_000, 10_000, 1000, 16.7,
         own_budgets=(("mbpo", 10_000),)),
]  # fmt: skip

# Every pair of the line-up that TASKS leaves out (or a domain's algorithm its action space fits), and why.
EXCLUDED = {
    ("reinforce", "continuous"): "the issue compares REINFORCE on the discrete tasks only",
    ("a2c", "continuous"): "the issue's continuous built-ins are PPO, SAC, TD3 and DDPG",
    ("svg", "Hopper-v5"): "no zoo entry, and ~32 env steps/s",
    ("offpac", "HalfCheetah-v5"): "no zoo entry; with its constructor's defaults it runs at ~26 env steps/s here "
    "(a 30k-step run: ~20 min, ~60 core-minutes over 3 seeds for an untuned run)",
    ("offpac", "Hopper-v5"): "as on HalfCheetah-v5: no zoo entry, ~26 env steps/s with its defaults",
    ("mbpo", "HalfCheetah-v5"): "no zoo entry, and ~6 env steps/s on MuJoCo (a 10k-step run: ~30 min)",
    ("mppi", "HalfCheetah-v5"): "plans in the simulator at 0.2-0.45 s per action: one 10-episode evaluation takes "
    "~1 hour (its one-episode result, 5374, is in mppi_halfcheetah.md)",
    ("mppi", "Hopper-v5"): (
        "its zoo entry plans in the simulator (K = 64, H = 100) at about 0.6 s per action: one 10-episode evaluation "
        "of 1000-step episodes takes about 2 hours; its episodes on the fresh seeds are in mppi_entries_hopper.md"
    ),
}

# --quick: two tasks at tiny budgets (a smoke test of the pipeline, which the default test suite runs: it learns
# nothing), 2 seeds (the bootstrap needs two runs per task), 2 evaluation episodes, QUICK_REPS bootstrap resamples;
# SAC has its own budget (as the model-based methods of TASKS)
QUICK = [
    Task("CartPole-v1", "discrete", ("reinforce", "ppo"), 1024, 512, 475, 23.7, seeds=(0, 1), eval_episodes=2,
         prefix="quick", final_episodes=2),
    Task("Pendulum-v1", "continuous", ("svg", "sac"), 60, 60, -200, -1207.6, own_budgets=(("sac", 40),),
         seeds=(0, 1), eval_episodes=2, prefix="quick", final_episodes=2),
]  # fmt: skip

# Cost model of --list: env steps per second of one training on one core while another training runs on the other
# core (the suite's --jobs 2), from the env steps/s column of a report in benchmarks/results/ (named), else measured
# ("m": run.build + learn() for 20k steps, or 600-800 steps after learning_starts for the off-policy ones, on this
# 2-core machine with two other trainings running, so on the slow side).
SPEED = {
    "CartPole-v1": {"reinforce": 13920, "npg": 4940, "offpac": 134, "sac_discrete": 357, "ppo": 4191, "a2c": 7894,
                    "dqn": 879},  # reinforce_cartpole, npg_cartpole, offpac_cartpole, sac_discrete_vs_dqn; a2c m
    "Acrobot-v1": {"reinforce": 7203, "npg": 1986, "offpac": 80, "sac_discrete": 82, "ppo": 4465, "a2c": 9020,
                   "dqn": 344},  # sac_discrete and dqn: sac_discrete_vs_dqn; the others m (npg, offpac: defaults)
    "LunarLander-v3": {"reinforce": 3742, "npg": 1427, "offpac": 82, "sac_discrete": 101, "ppo": 1966, "a2c": 1719,
                       "dqn": 209},  # as on Acrobot-v1
    "Pendulum-v1": {"npg": 2712, "offpac": 150, "svg": 51, "mbpo": 5, "mppi": 390, "ppo": 1968, "sac": 85,
                    "td3": 85, "ddpg": 85},  # offpac_pendulum, svg_pendulum_defaults, mbpo_pendulum, docs/mppi.md;
    # npg, ppo m; TD3 and DDPG as SAC (their zoo entries start learning after 10k of the 20k steps: faster than that)
    "InvertedPendulum-v5": {"npg": 1000, "offpac": 34, "svg": 28, "mbpo": 16, "mppi": 8, "ppo": 1000, "sac": 51,
                            "td3": 51, "ddpg": 51},  # mbpo_inverted_pendulum, svg_invertedpendulum; mppi (0.12-0.13 s
    # per action: mppi_entries_invertedpendulum_tune_k128_n03_nominal), sac m; npg, ppo: guessed below their Pendulum
    # speed, offpac: offpac_invertedpendulum_tune (its entry, gradient_steps 2), TD3 and DDPG as SAC
    "HalfCheetah-v5": {"npg": 2105, "svg": 82, "ppo": 625, "sac": 99, "td3": 49, "ddpg": 49},  # npg_halfcheetah;
    # svg, sac: svg_halfcheetah (one training at a time, other benchmarks on the machine); td3, ddpg: mbpo_hopper's SAC
    "Hopper-v5": {"npg": 2611, "mbpo": 6, "ppo": 625, "sac": 55, "td3": 49, "ddpg": 49},  # npg_hopper, mbpo_hopper
}  # fmt: skip
EVAL_SPEED = 2000  # env steps/s of an evaluation by a policy network (measured 2400-4800 on the busy machine)
PLANNERS = ("mppi",)  # evaluate by planning, at their training speed
EPISODE = {"CartPole-v1": 500, "Acrobot-v1": 500, "LunarLander-v3": 1000, "Pendulum-v1": 200,
           "InvertedPendulum-v5": 1000, "HalfCheetah-v5": 1000, "Hopper-v5": 1000}  # longest episode  # fmt: skip
OVERHEAD = 15  # seconds per run: worker start, imports, env creation
JOBS = 2


def run_cost(task: Task, algo: str) -> float:
    """Estimated wall seconds of one run (one seed): training, every evaluation (at 0, every eval_freq, the end)."""
    steps = task.steps(algo)
    evals = steps // task.eval_freq + 1 + (steps % task.eval_freq > 0)
    eval_speed = SPEED[task.task][algo] if algo in PLANNERS else EVAL_SPEED
    return OVERHEAD + steps / SPEED[task.task][algo] + evals * task.eval_episodes * EPISODE[task.task] / eval_speed


def cost(tasks: list[Task] = TASKS) -> tuple[float, float]:
    """Estimated core-hours of the suite, and its wall hours with --jobs 2 (each task's runs share the 2 cores; the
    last run of a task may leave one core idle, counted as half the task's longest run)."""
    core = sum(run_cost(t, a) * len(t.seeds) for t in tasks for a in t.algos)
    wall = sum(sum(run_cost(t, a) * len(t.seeds) for a in t.algos) / JOBS + max(run_cost(t, a) for a in t.algos) / 2
               for t in tasks)  # fmt: skip
    return core / 3600, wall / 3600


def listing(tasks: list[Task]) -> str:
    """--list: the suite, every run's budget and estimated cost, the totals, and the pairs left out."""
    lines = [f"{'task':20} {'algo':13} {'env steps':>9} {'steps/s':>8} {'min/run':>8} {'core-min':>9}  notes"]
    for task in tasks:
        untuned = task.untuned()
        for algo in task.algos:
            minutes = run_cost(task, algo) / 60
            notes = ("own budget " if algo in dict(task.own_budgets) else "") + ("defaults" if algo in untuned else "")
            lines.append(f"{task.task:20} {algo:13} {task.steps(algo):>9} {SPEED[task.task][algo]:>8.0f} "
                         f"{minutes:>8.1f} {minutes * len(task.seeds):>9.1f}  {notes}")  # fmt: skip
        total = sum(run_cost(task, a) for a in task.algos) * len(task.seeds) / 60
        lines.append(f"{task.task:20} {'(all)':13} {'':>9} {'':>8} {'':>8} {total:>9.1f}  threshold {task.threshold:g}, "
                     f"random {task.random_score:g}, eval every {task.eval_freq}, seeds {list(task.seeds)}")  # fmt: skip
    core, wall = cost(tasks)
    lines += [f"total: {core:.1f} core-hours; with --jobs {JOBS}: about {wall:.1f} hours", "", "left out:"]
    lines += [f"  {algo} on {where}: {why}" for (algo, where), why in EXCLUDED.items()]
    return "\n".join(lines)


def normalized(task: Task, rows: list[run.EvalRow]) -> dict[str, np.ndarray]:
    """Each complete algorithm's final returns (one per seed), normalized: 0 random actions, 1 the threshold."""
    done = suite.complete(rows, task.seeds)
    return {
        algo: (suite.finals(rows, algo, task.seeds)[0] - task.random_score) / (task.threshold - task.random_score)
        for algo in task.algos
        if algo in done
    }


def bootstrap(matrices: dict[str, Any], func: Any, reps: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """rliable's stratified-bootstrap point estimates and 95% intervals of ``func`` over each entry of ``matrices``
    (a runs x tasks matrix, or a pair of them), reproducible: arch 7.2 (rliable's bootstrap) draws from NumPy's
    global generator whatever random_state it is given, so the global one is seeded too (and restored after)."""
    from rliable import library as rly

    global_state = np.random.get_state()  # noqa: NPY002
    np.random.seed(0)  # noqa: NPY002
    try:
        with warnings.catch_warnings():  # arch's notice that random_state will give way to a Generator
            warnings.simplefilter("ignore", FutureWarning)
            return rly.get_interval_estimates(matrices, func, reps=reps, random_state=np.random.RandomState(0))
    finally:
        np.random.set_state(global_state)  # noqa: NPY002


def matrix(scores: dict[str, dict[str, np.ndarray]], algo: str, tasks: list[str]) -> np.ndarray:
    """runs x tasks: the algorithm's normalized final scores on ``tasks`` (one column each)."""
    return np.stack([scores[algo][task] for task in tasks], axis=1)


def verdict(ours: tuple[float, float], theirs: tuple[float, float]) -> str:
    """ "beats" / "loses to" only where the two 95% confidence intervals (low, high) do not overlap."""
    if ours[0] > theirs[1]:
        return "beats"
    if ours[1] < theirs[0]:
        return "loses to"
    return "matches"


def interval(point: float, low: float, high: float) -> str:
    return f"{point:.2f} [{low:.2f}, {high:.2f}]"


@dataclass(frozen=True)
class Pair:
    """One of ours against one built-in on the tasks both ran: IQMs, probability of improvement, the verdict."""

    domain: str
    ours: str
    builtin: str
    tasks: tuple[str, ...]
    iqm_ours: tuple[float, float, float]  # point, low, high
    iqm_builtin: tuple[float, float, float]
    improvement: tuple[float, float, float]  # P(a run of ours scores above a run of the built-in)

    @property
    def verdict(self) -> str:
        return verdict(self.iqm_ours[1:], self.iqm_builtin[1:])


def pairs(scores: dict[str, dict[str, dict[str, np.ndarray]]], reps: int) -> list[Pair]:
    """Every (ours, built-in) pair of a domain on exactly the tasks both ran."""
    from rliable import metrics

    result = []
    for domain, algos in scores.items():
        for ours in (a for a in OURS[domain] if a in algos):
            for builtin in (b for b in BUILTINS[domain] if b in algos):
                common = [t for t in algos[ours] if t in algos[builtin]]
                if not common:
                    continue
                x, y = matrix(algos, ours, common), matrix(algos, builtin, common)
                iqm_points, iqm_cis = bootstrap({"x": x, "y": y}, lambda m: np.array([metrics.aggregate_iqm(m)]), reps)
                poi_point, poi_ci = bootstrap(
                    {"xy": [x, y]}, lambda a, b: np.array([metrics.probability_of_improvement(a, b)]), reps
                )
                estimate = {k: (float(iqm_points[k][0]), float(iqm_cis[k][0][0]), float(iqm_cis[k][1][0])) for k in "xy"}
                poi = (float(poi_point["xy"][0]), float(poi_ci["xy"][0][0]), float(poi_ci["xy"][1][0]))
                result.append(Pair(domain, ours, builtin, tuple(common), estimate["x"], estimate["y"], poi))
    return result


def task_verdicts(scores: dict[str, dict[str, dict[str, np.ndarray]]]) -> list[tuple[str, str, str, str, str, str]]:
    """(domain, ours, built-in, task, verdict, detail) for every task both ran: the mean normalized score over seeds
    with its 95% bootstrap interval (run.mean_ci), judged by the same rule as the aggregates."""
    result = []
    for domain, algos in scores.items():
        for ours in (a for a in OURS[domain] if a in algos):
            for builtin in (b for b in BUILTINS[domain] if b in algos):
                for task in (t for t in algos[ours] if t in algos[builtin]):
                    a, b = algos[ours][task], algos[builtin][task]
                    ci_a, ci_b = run.mean_ci(a), run.mean_ci(b)
                    detail = f"{interval(a.mean(), *ci_a)} vs {interval(b.mean(), *ci_b)}"
                    result.append((domain, ours, builtin, task, verdict(ci_a, ci_b), detail))
    return result


def aggregate(
    scores: dict[str, dict[str, dict[str, np.ndarray]]], tasks: list[Task], out: Path, reps: int = REPS
) -> tuple[list[str], list[str]]:
    """The aggregate tables (domain -> algo -> task -> normalized score per seed), with rliable: per domain, IQM and
    mean over the tasks that every algorithm of the domain ran; every (ours, built-in) pair on exactly the tasks
    both ran (IQMs, probability of improvement, verdict); the verdict matrix; and the performance profiles plotted
    into ``out/compare_profiles.png``. Returns the summary (domain table and verdicts: README's block) and the
    pairwise table."""
    from rliable import metrics

    lines = [
        "### Per domain, on the tasks every algorithm of the domain ran",
        "",
        "| domain | tasks | algorithm | runs | IQM [95% CI] | mean [95% CI] |",
        "|---|---|---|---|---|---|",
    ]
    for domain in (d for d in OURS if scores.get(d)):
        algos = scores[domain]
        order = [a for a in (*OURS[domain], *BUILTINS[domain]) if a in algos]
        common = [t.task for t in tasks if t.domain == domain and all(t.task in algos[a] for a in order)]
        if not common:
            lines.append(f"| {domain} | none in common yet | | | | |")
            continue
        points, cis = bootstrap(
            {a: matrix(algos, a, common) for a in order},
            lambda m: np.array([metrics.aggregate_iqm(m), metrics.aggregate_mean(m)]),
            reps,
        )
        for algo in order:
            cells = [interval(p, lo, hi) for p, lo, hi in zip(points[algo], *cis[algo])]
            runs = len(common) * len(algos[algo][common[0]])
            lines.append(f"| {domain} | {', '.join(common)} | {algo} | {runs} | " + " | ".join(cells) + " |")
    found = pairs(scores, reps)
    detail = [
        "### Each of ours against each built-in, on exactly the tasks both ran",
        "",
        "| domain | ours | built-in | tasks | IQM ours [95% CI] | IQM built-in [95% CI] "
        "| P(ours > built-in) [95% CI] | verdict |",
        "|---|---|---|---|---|---|---|---|",
        *(f"| {p.domain} | {p.ours} | {p.builtin} | {', '.join(p.tasks)} | {interval(*p.iqm_ours)} "
          f"| {interval(*p.iqm_builtin)} | {interval(*p.improvement)} | {p.verdict} |" for p in found),
        "",
        "### Per task",
        "",
        "Mean normalized final score over seeds [95% bootstrap interval], ours vs the built-in; the same rule.",
        "",
        "| domain | ours | built-in | task | verdict | ours vs built-in |",
        "|---|---|---|---|---|---|",
        *(f"| {d} | {a} | {b} | {t} | {v} | {x} |" for d, a, b, t, v, x in task_verdicts(scores)),
    ]  # fmt: skip
    lines += [
        "",
        "### Verdicts",
        "",
        "Ours (rows) against the built-ins (columns), on the tasks both ran: **beats** / **loses to** where the 95% "
        "confidence intervals of the two IQMs do not overlap, otherwise matches; (n) = number of tasks.",
    ]  # fmt: skip
    for domain in (d for d in OURS if scores.get(d)):
        builtins = [b for b in BUILTINS[domain] if b in scores[domain]]
        lines += ["", f"| {domain} | " + " | ".join(builtins) + " |", "|---" * (len(builtins) + 1) + "|"]
        for ours in (a for a in OURS[domain] if a in scores[domain]):
            cell = {p.builtin: p for p in found if p.domain == domain and p.ours == ours}
            row = [f"{_bold(cell[b].verdict)} ({len(cell[b].tasks)})" if b in cell else "-" for b in builtins]
            lines.append(f"| {ours} | " + " | ".join(row) + " |")
    profiles(scores, tasks, out, reps)
    return lines, detail


def _bold(word: str) -> str:
    return word if word == "matches" else f"**{word}**"


# 11 algorithms told apart: ours solid, the built-ins dashed, each its own color
COLORS = {
    "reinforce": "#1f77b4", "npg": "#ff7f0e", "offpac": "#2ca02c", "sac_discrete": "#d62728", "svg": "#9467bd",
    "mbpo": "#8c564b", "mppi": "#e377c2", "ppo": "#000000", "a2c": "#7f7f7f", "dqn": "#bcbd22", "sac": "#17becf",
    "td3": "#bcbd22", "ddpg": "#7f7f7f",
}  # fmt: skip


def profiles(scores: dict[str, dict[str, dict[str, np.ndarray]]], tasks: list[Task], out: Path, reps: int) -> None:
    """Performance profiles per domain (every task each algorithm ran), into ``out/compare_profiles.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import library as rly

    domains = [d for d in OURS if scores.get(d)]
    fig, axes = plt.subplots(1, max(len(domains), 1), figsize=(6.5 * max(len(domains), 1), 4.8), squeeze=False)
    for domain, ax in zip(domains, axes[0]):
        algos = scores[domain]
        order = [a for a in (*OURS[domain], *BUILTINS[domain]) if a in algos]
        matrices = {a: matrix(algos, a, list(algos[a])) for a in order}
        top = max(float(m.max()) for m in matrices.values())
        taus = np.linspace(0.0, max(1.25, min(3.0, top)), 101)
        global_state = np.random.get_state()  # noqa: NPY002
        np.random.seed(0)  # noqa: NPY002
        curves, bands = rly.create_performance_profile(matrices, taus, reps=min(reps, 2000))
        np.random.set_state(global_state)  # noqa: NPY002
        for algo in order:
            style = "-" if algo in OURS[domain] else "--"
            ax.plot(taus, curves[algo], style, color=COLORS.get(algo), label=f"{algo} ({len(algos[algo])} tasks)")
            ax.fill_between(taus, *bands[algo], color=COLORS.get(algo), alpha=0.15, linewidth=0)
        ax.axvline(1.0, color="gray", linestyle=":", label="threshold (score 1)")
        names = [t.task for t in tasks if t.domain == domain]
        ax.set(xlabel=r"normalized score $\tau$", ylabel=r"fraction of runs with score > $\tau$", ylim=(0, 1.02),
               title=f"{domain}: {len({t for a in order for t in algos[a]})} of {len(names)} tasks")  # fmt: skip
        ax.legend(loc="upper right", fontsize=7, ncol=2)
    # the caption wrapped to the figure's width (one panel is narrower than the one-line caption)
    caption = textwrap.wrap(
        "Solid: ours; dashed: SB3 built-ins. Shading: 95% stratified-bootstrap confidence interval. "
        "Score 0: uniformly random actions; 1: the task's threshold.",
        width=int(15 * fig.get_figwidth()),
    )
    fig.text(0.5, 0.01, "\n".join(caption), ha="center", va="bottom", fontsize=8)
    fig.tight_layout(rect=(0, 0.01 + 0.035 * len(caption), 1, 1))
    fig.savefig(out / PROFILES, dpi=100)
    plt.close(fig)


# The seeds each of our zoo entries was tuned, piloted or reported on before the fresh seeds (from the entries'
# comments and the earlier reports); no entry has seen SEEDS_FRESH. From now on, tuning uses seeds 100-999.
TUNED = {
    "reinforce": "0-4 (its reports; entries chosen after them)",
    ("reinforce", "Acrobot-v1"): (
        "0-2 (report), then 100-104 (the 4 x 32-step entry), 105-114 (ent_coef 0.01) and 115-129 (a rate decay, not kept)"
    ),
    ("reinforce", "LunarLander-v3"): "0-4 (reports), then 100-109 (100k-budget studies: ent_coef 0.01 chosen)",
    "npg": "pilots on 10-12; reports on 0-4",
    ("npg", "InvertedPendulum-v5"): "100-104 (the 10k-step entry: batch size and normalization chosen on 100-102)",
    ("offpac", "CartPole-v1"): "tuned on 0 (pilots), then 0-4 (reports), 100-104 (twin critics)",
    ("offpac", "Pendulum-v1"): "pilots on 0-1, report on 0-4",
    ("offpac", "InvertedPendulum-v5"): "100-104 (gradient_steps 2 chosen against the defaults and two other candidates)",
    ("sac_discrete", "CartPole-v1"): "tuned on 0, reports on 0-2",
    ("sac_discrete", "Acrobot-v1"): (
        "0-2 (report), 100-107 (target entropy studies: 0.9 log|A| chosen on 100-105), 100-109 (held warm-up actions: "
        "5 chosen on 100-104)"
    ),
    ("sac_discrete", "LunarLander-v3"): "tuned on 10, reports on 0-2",
    "svg": "0-2 (Pendulum-v1 horizons, InvertedPendulum-v5 gradient_steps and HalfCheetah-v5 horizon chosen after them)",
    "mbpo": "pilots and reports on 0-2",
    "mppi": "checks on 0-2",
    ("mppi", "InvertedPendulum-v5"): "checks on 0-2, then 100-104 (the K = 128, noise 0.3, nominal-sample entry)",
}


def _tuning_rows(tasks: list[Task]) -> dict[tuple[str, str], list[str]]:
    """(algorithm, tuned on) -> its tasks, ours first."""
    rows: dict[tuple[str, str], list[str]] = {}
    for algo in dict.fromkeys(a for d in (OURS, BUILTINS) for group in d.values() for a in group):
        for task in (t for t in tasks if algo in t.algos):
            rows.setdefault((algo, tuned_on(algo, task.task)), []).append(task.task)
    return rows


def tuned_on(algo: str, task: str) -> str:
    """The seeds our entry for ``task`` was tuned on (a built-in: rl_zoo3's own tuning)."""
    if algo not in {a for d in OURS.values() for a in d}:
        return "rl_zoo3's own tuning"
    if not has_zoo_entry(algo, task):
        return "no entry (constructor defaults)"
    return TUNED.get((algo, task), TUNED.get(algo, "not recorded"))


def warmup(task: Task, algo: str) -> int | None:
    """The learning_starts of ``algo`` on ``task`` under the protocol (None: it takes no random warm-up steps)."""
    hyperparams = run.zoo_hyperparams(algo, task.task) if has_zoo_entry(algo, task.task) and algo not in task.untuned() else {}
    return run.warmup_steps(algo, hyperparams, task.steps(algo), WARMUP_CAP)


def kilo(steps: int) -> str:
    return f"{steps // 1000}k" if steps % 1000 == 0 else str(steps)


def collect(tasks: list[Task], out: Path) -> tuple[dict[str, list[run.EvalRow]], dict[str, dict[str, dict[str, np.ndarray]]]]:
    """The rows of every task run so far, and the normalized scores (domain -> algo -> task -> one per seed) of the
    algorithms that completed every seed of a task."""
    results = {t.task: rows for t in tasks if (rows := suite.load(t, out)) is not None}
    scores: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for task in tasks:
        for algo, values in normalized(task, results.get(task.task, [])).items():
            scores.setdefault(task.domain, {}).setdefault(algo, {})[task.task] = values
    return results, scores


def report(tasks: list[Task], out: Path, reps: int = REPS, command: str = "python -m benchmarks.compare report") -> str:
    """compare.md: the suite, every task's table and curves, the aggregate, and the tasks not run yet."""
    results, scores = collect(tasks, out)
    core_hours, wall_hours = cost(tasks)
    missing = [t for t in tasks if t.task not in results or suite.complete(results[t.task], t.seeds) != set(t.algos)]
    lines = [
        "# Our algorithms against SB3's built-ins",
        "",
        f"Generated by `{command}` (do not edit by hand) from the runs of "
        "`python -m benchmarks.compare run all --jobs 2`, one `benchmarks/run.py` benchmark per task (its command is "
        "listed below). Every algorithm with its rl_zoo3 hyperparameters (ours: `zoo_hyperparams/`, built-ins: "
        "rl_zoo3's files), deterministic evaluation; train time excludes evaluation; env steps/s ratios are against "
        "PPO (discrete) or SAC (continuous) within the same run. The suite, its budgets and estimated cost: "
        "`python -m benchmarks.compare --list`; how budgets and scores are chosen: the docstring of "
        "`benchmarks/compare.py`.",
        "",
        "## Protocol",
        "",
        f"- Seeds {', '.join(map(str, tasks[0].seeds))} for every run: no tuning run, pilot or earlier report used "
        "them (the seeds each entry was tuned on: the table below). Tuning uses seeds 100-999 only.",
        f"- One warm-up rule: every off-policy algorithm, ours and the built-ins, takes `learning_starts = min(its zoo "
        f"value, {WARMUP_CAP:.0%} of its budget)` uniformly random steps (rl_zoo3's SAC, TD3 and DDPG entries take "
        "10k, a third of a 30k budget). On-policy runs stop at the budget (SB3 would finish the rollout past it).",
        f"- Final score of a run: one deterministic evaluation of {tasks[0].final_episodes} episodes at its budget "
        "(one evaluation of the final policy, with more episodes than the periodic ones so that the noise of one "
        "evaluation does not decide it; the mean of the last two evaluations would mix two policies). Threshold "
        "reached: judged on that final score. Collapsed: final score below half of the run's best gain, measured from "
        "its lowest evaluation up to its best (from the initial one, a lucky initial policy would make a dip of a few "
        "points a collapse).",
        "- Per task: mean, sample standard deviation (ddof 1) and a 95% percentile-bootstrap interval of the mean "
        "over seeds. Aggregates: `rliable`'s IQM with 95% stratified-bootstrap intervals, per domain on the tasks "
        "every algorithm ran, and per (ours, built-in) pair on exactly the tasks both ran, with the probability of "
        "improvement. A verdict says beats or loses to only where the two intervals do not overlap.",
        "",
        "## Suite",
        "",
        "| task | budget (env steps) | algorithms | warm-up steps | evaluation | threshold | random score "
        "| estimated core-minutes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task in tasks:
        untuned = task.untuned()
        names = [a + (f" ({kilo(task.steps(a))})" if a in dict(task.own_budgets) else "")
                 + (" (defaults)" if a in untuned else "") for a in task.algos]  # fmt: skip
        warm = ", ".join(f"{a} {w}" for a in task.algos if (w := warmup(task, a)) is not None)
        lines.append(f"| {task.task} | {kilo(task.budget)} | {', '.join(names)} | {warm or '-'} "
                     f"| {task.eval_episodes} episodes every {kilo(task.eval_freq)}, {task.final_episodes} at the end "
                     f"| {task.threshold:g} | {task.random_score:g} "
                     f"| {sum(run_cost(task, a) for a in task.algos) * len(task.seeds) / 60:.0f} |")  # fmt: skip
    lines += [
        "",
        "(Nk): that algorithm's own, smaller budget (its final return is at that budget). (defaults): no zoo entry "
        "for the task, built with its constructor's defaults; a built-in without an rl_zoo3 entry uses its file's "
        f"`default` entry. Seeds {', '.join(map(str, tasks[0].seeds))}. Estimated cost (from the env steps/s of "
        f"earlier reports, `--list` gives every run's): {core_hours:.1f} core-hours, about {wall_hours:.1f} hours "
        "with `--jobs 2`. Left out:",
        "",
        *(f"- {algo} on {where}: {why}" for (algo, where), why in EXCLUDED.items()),
        "",
        "## Seeds each entry was tuned on",
        "",
        "| algorithm | tasks | tuned on |",
        "|---|---|---|",
        *(f"| {algo} | {', '.join(ts)} | {seeds} |" for (algo, seeds), ts in _tuning_rows(tasks).items()),
        "",
        "## Results per task",
        "",
    ]
    table: list[str] = []
    for task in tasks:
        if task.task in results:
            rows = run.summary_table(results[task.task], run.build_parser().parse_args(task.argv()))
            table += rows if not table else rows[2:]
    lines += table or ["No task has been run yet."]
    if results:
        lines += ["", "Learning curves (mean +/- std over seeds): "
                  + ", ".join(f"[{t.task}]({t.bench_name}_{t.task}.png)" for t in tasks if t.task in results)]  # fmt: skip
    tables, detail = aggregate(scores, tasks, out, reps) if scores else (["No task has been run yet."], [])
    summary = [
        "Normalized score of a run: (final score - random score) / (threshold - random score), 0 for uniformly "
        f"random actions, 1 at the task's threshold; {len(tasks[0].seeds)} seeds per task. IQM: interquartile mean "
        f"over runs, with 95% stratified-bootstrap confidence intervals ({reps} resamples, `rliable`).",
        "",
        *tables,
    ]
    if missing:
        summary += ["", "Not run yet (or only in part): " + ", ".join(t.task for t in missing) + "."]
    lines += ["", "## Aggregate", "", SUMMARY_MARKERS[0], *summary, SUMMARY_MARKERS[1], *(["", *detail] if detail else [])]
    if scores:
        lines += ["", f"Performance profiles (fraction of runs above each normalized score): [{PROFILES}]({PROFILES})"]
    if results:
        lines += ["", "## Commands", "", *(f"- {t.task}: `{suite.command(t, out)}` -> [{t.bench_name}.md]({t.bench_name}.md)"
                                           for t in tasks if t.task in results)]  # fmt: skip
    lines += suite.not_run_section(missing, out)
    return "\n".join(lines) + "\n"


def readme(out: Path, path: Path, tasks: list[Task] = TASKS) -> str:
    """``path`` with the text between README_MARKERS (added in a Results section at its end, before a License
    section, when missing) replaced by compare.md's summary and the command that re-creates it."""
    text = (out / REPORT).read_text()
    summary = text.split(SUMMARY_MARKERS[0], 1)[1].split(SUMMARY_MARKERS[1], 1)[0].strip("\n")
    link = Path(os.path.relpath(out / REPORT, path.parent)).as_posix()
    block = [
        README_MARKERS[0],
        "<!-- generated by `python -m benchmarks.compare readme` from compare.md: do not edit by hand -->",
        "",
        f"Our algorithms against SB3's built-ins on a fixed task suite, {len(tasks[0].seeds)} seeds each, every "
        f"algorithm with its rl_zoo3 hyperparameters: per-task tables, learning curves, the suite and its budgets in "
        f"[compare.md]({link}).",
        "",
        summary,
        "",
        f"Re-created in about {cost(TASKS)[1]:.0f} hours on 2 cores (`--resume` continues after a stop):",
        "",
        "```bash",
        FULL_COMMAND,
        "```",
        README_MARKERS[1],
    ]
    current = path.read_text()
    if README_MARKERS[0] not in current:
        head, sep, tail = current.partition("\n## License")
        current = (
            head.rstrip("\n")
            + f"\n\n## Results\n\n{README_MARKERS[0]}\n{README_MARKERS[1]}\n"
            + (f"{sep}{tail}" if sep else "")
        )
    before, rest = current.split(README_MARKERS[0], 1)
    return before + "\n".join(block) + rest.split(README_MARKERS[1], 1)[1]


def verdict_block(algo: str, found: list[Pair], per_task: list[tuple[str, ...]], link: str) -> list[str]:
    """The generated lines of ``algo``'s docs page: its verdict against each built-in, and every task where its
    interval lies below a built-in's."""
    mine = [p for p in found if p.ours == algo]
    if not mine:
        return [f"Not run yet under the comparison's protocol ([compare.md]({link}))."]
    lines = [
        f"Against SB3's built-ins in the comparison ([compare.md]({link}): fresh seeds, IQM of normalized final "
        "scores with 95% bootstrap intervals; beats / loses to only where the intervals do not overlap):",
        "",
        *(f"- {p.verdict} {p.builtin.upper()} on {', '.join(p.tasks)}: IQM {interval(*p.iqm_ours)} vs "
          f"{interval(*p.iqm_builtin)}, P(better) {interval(*p.improvement)}" for p in mine),
    ]  # fmt: skip
    short = [(b, t, x) for _, a, b, t, v, x in per_task if a == algo and v == "loses to"]
    lines += [
        "",
        "Falls short of a built-in on: " + "; ".join(f"{t} against {b.upper()} ({x})" for b, t, x in short) + "."
        if short
        else "On no task does its interval lie below a built-in's.",
    ]
    return lines


def write_verdicts(out: Path, docs: Path, tasks: list[Task], reps: int = REPS) -> list[Path]:
    """Fills the VERDICT_MARKERS block of every algorithm page in ``docs`` that has one; returns the pages written."""
    _, scores = collect(tasks, out)
    found, per_task = pairs(scores, reps), task_verdicts(scores)
    written = []
    for algo in dict.fromkeys(a for group in OURS.values() for a in group):
        page = docs / f"{algo}.md"
        if not page.exists() or VERDICT_MARKERS[0] not in page.read_text():
            continue
        link = Path(os.path.relpath(out / REPORT, docs)).as_posix()
        block = [VERDICT_MARKERS[0], "<!-- generated by `python -m benchmarks.compare readme`: do not edit by hand -->",
                 "", *verdict_block(algo, found, per_task, link), VERDICT_MARKERS[1]]  # fmt: skip
        before, rest = page.read_text().split(VERDICT_MARKERS[0], 1)
        page.write_text(before + "\n".join(block) + rest.split(VERDICT_MARKERS[1], 1)[1])
        written.append(page)
    return written


def random_score(task: str, episodes: int = 100) -> float:
    """Mean return of uniformly random actions (action space seeded 0, env seeds 0 .. episodes - 1)."""
    import gymnasium as gym

    env = gym.make(task)
    env.action_space.seed(0)
    returns = []
    for episode in range(episodes):
        env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def main(argv: list[str] | None = None) -> None:
    parser = suite.parser(__doc__, "tasks", "task", run.RESULTS / "compare", actions=("run", "report", "readme", "random"))
    parser.add_argument("--quick", action="store_true", help="the two-task subset at tiny budgets (needs --out)")
    parser.add_argument("--readme", type=Path, default=README, help="the README whose Results section `readme` writes")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the docs pages whose verdict blocks `readme` writes")
    args: Any = parser.parse_args(argv)
    tasks = QUICK if args.quick else TASKS
    if args.quick and run.RESULTS.resolve() in (args.out.resolve(), *args.out.resolve().parents):
        parser.error("--quick writes into an --out folder other than benchmarks/results/")
    if (
        args.quick
        and args.action == "readme"
        and (args.readme.resolve() == README.resolve() or args.docs.resolve() == DOCS.resolve())
    ):
        parser.error("readme --quick writes into a --readme other than README.md and --docs other than docs/")
    if args.list:
        print(listing(tasks))
        return
    if args.action == "random":
        for task in tasks:
            print(f"{task.task:20} stated {task.random_score:8.1f}  measured {random_score(task.task):8.1f}")
        return
    if args.action == "readme":
        if not (args.out / REPORT).exists():
            parser.error(f"no {args.out / REPORT}: run `report` first")
        args.readme.write_text(readme(args.out, args.readme, tasks))
        write_verdicts(args.out, args.docs, tasks, QUICK_REPS if args.quick else REPS)
        return
    if args.action == "run":
        suite.run_benchmarks(
            suite.select(parser, tasks, args.tasks, "tasks"),
            args.out,
            args.jobs,
            args.resume,
            args.checkpoints,
            args.only,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.compare report" + (f" --quick --out {args.out}" if args.quick else "")
    (args.out / REPORT).write_text(report(tasks, args.out, QUICK_REPS if args.quick else REPS, command=command))


if __name__ == "__main__":
    main()
