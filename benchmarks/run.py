"""
Benchmark harness: train algorithms of sb3_pg_extras and SB3 built-ins on the same tasks, with the same seeds and
step budget, using each algorithm's rl_zoo3 hyperparameters (ours from zoo_hyperparams/, built-ins from rl_zoo3),
preprocessed by the zoo's own code (sb3_pg_extras.zoo.preprocess_hyperparams: ``lin_`` schedules, policy_kwargs strings,
n_envs, normalize, env / VecEnv wrappers, frame stacking, action noise), so an entry means the same here as in the zoo.

Writes into ``benchmarks/results/`` (or ``--out``):
  <name>.csv      one row per evaluation (algo, env, seed, timesteps, mean/std return, train time)
  <name>.partial.csv  the same, appended as each training finishes (``--resume`` skips those runs after a stop)
  <name>.md       final mean return +/- std over seeds, steps to a threshold, wall time, env steps/s and the
                  throughput ratio against ``--reference``, with the exact command
  <name>_<env>.png learning curves (mean +/- std over seeds)

Example::

    python -m benchmarks.run --algos reinforce ppo --envs CartPole-v1 --seeds 0 1 2 3 4 \
        --n-timesteps 100000 --eval-freq 10000 --threshold 475 --reference ppo --name reinforce_cartpole

``--set <algo>.n_timesteps=N`` gives one algorithm its own budget (it beats ``--n-timesteps``: e.g. MBPO, whose
env steps cost ~10x SAC's); ``--defaults-for <algo> ...`` builds those algorithms with their constructor's defaults
(as ``--defaults`` does for all), for a task their zoo file has no entry for.

``--checkpoints`` saves each unfinished run at every evaluation (model, replay buffer, VecNormalize statistics, rows,
train time, RNG states) under ``<out>/checkpoints/<name>/``, so that ``--resume`` continues a run stopped mid-way from
its last evaluation, not from step 0 (for runs longer than a session). A resumed run is not bit-identical to an
uninterrupted one (the training env starts a new episode, the envs' random streams restart); the report names every
resumed run and the step it was resumed at.

Training time excludes evaluation time. Runs are interleaved (seed-major), so machine noise hits every algorithm
alike; quote ratios, not absolute times. ``--jobs N`` runs N trainings at once in worker processes (one torch thread
each); keep N at most the number of free cores, or the throughput columns measure contention.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import pickle
import random
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
import yaml
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv, VecFrameStack, VecNormalize, unwrap_vec_normalize

from sb3_pg_extras.zoo import ZooEntry, preprocess_hyperparams

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
STUDIES = RESULTS / "studies"  # the default --out: one-off runs and studies (the suites write into their own folders)


@dataclass
class EvalRow:
    algo: str
    env: str
    seed: int
    timesteps: int
    mean_return: float
    std_return: float
    train_time_s: float
    # time inside SAC's own gradient steps, for algorithms that report it (MBPO's ``sac_train_time``)
    sac_gradient_time_s: float = float("nan")
    # diagnostics at the evaluation: mean length of the last 100 training episodes, and the entropy temperature of
    # the SAC family (its current value, learned or fixed)
    train_episode_length: float = float("nan")
    temperature: float = float("nan")
    # env steps at which this run was last resumed from a checkpoint before this evaluation (0: never resumed)
    resumed_at: int = 0
    # episodes of this evaluation (0: not recorded, rows written before the column existed); the final evaluation
    # of a run may use more (``--final-eval-episodes``)
    eval_episodes: int = 0


def zoo_hyperparams(algo: str, env_id: str) -> dict[str, Any]:
    """The rl_zoo3 hyperparameters of ``algo`` on ``env_id`` (ours or the zoo's own file), ``default`` otherwise."""
    import rl_zoo3

    from sb3_pg_extras.zoo import ALGOS, hyperparams_path

    path = hyperparams_path(algo) if algo in ALGOS else Path(rl_zoo3.__file__).parent / "hyperparams" / f"{algo}.yml"
    with open(path) as file:
        table = yaml.safe_load(file)
    if env_id in table:
        return dict(table[env_id])
    # rl_zoo3 tunes MuJoCo on -v4 only: use the newest other version of the same task (same dynamics and reward)
    name = env_id.rsplit("-v", 1)[0]
    versions = sorted((key for key in table if key.rsplit("-v", 1)[0] == name), key=lambda k: int(k.rsplit("-v", 1)[1]))
    if versions:
        print(f"  note: {path.name} has no {env_id}; using its {versions[-1]} entry")
        return dict(table[versions[-1]])
    if "default" in table:
        return dict(table["default"])
    raise KeyError(f"{path} has no entry for {env_id} and no default")


def make_env(entry: ZooEntry, env_id: str, n_envs: int, seed: int, eval_env: bool = False) -> VecEnv:
    """The env rl_zoo3's ``ExperimentManager.create_envs`` makes for the entry (same wrappers, same order), seeded here."""
    env = make_vec_env(
        env_id,
        n_envs=n_envs,
        seed=seed,
        env_kwargs=entry.env_kwargs,
        wrapper_class=entry.env_wrapper,
        monitor_kwargs=entry.monitor_kwargs,
    )
    if entry.vec_env_wrapper is not None:
        env = entry.vec_env_wrapper(env)
    if entry.normalize_kwargs is not None:
        # as the zoo's eval env: no reward normalization, statistics not updated (copied from training in PeriodicEval)
        env = VecNormalize(env, **{**entry.normalize_kwargs, **(dict(training=False, norm_reward=False) if eval_env else {})})
    if entry.frame_stack is not None:
        env = VecFrameStack(env, entry.frame_stack)
    return env


# ``--defaults``: the constructor's defaults, as ``Algo("MlpPolicy", env)`` (the budget comes from --n-timesteps)
DEFAULTS = {"policy": "MlpPolicy", "n_timesteps": 1}


def warmup_steps(algo: str, kwargs: dict[str, Any], budget: int, cap: float | None) -> int | None:
    """The ``learning_starts`` an off-policy algorithm gets under ``--warmup-cap``: its own value (the entry's, else
    the constructor's default) or ``cap`` times its budget, whichever is smaller; None for an algorithm without
    ``learning_starts`` (the on-policy ones) or without a cap."""
    import inspect

    from rl_zoo3.utils import ALGOS

    from sb3_pg_extras.zoo import ALGOS as OURS

    parameter = inspect.signature({**ALGOS, **OURS}[algo.split("/", 1)[0]].__init__).parameters.get("learning_starts")
    if cap is None or parameter is None:
        return None
    return min(int(kwargs.get("learning_starts", parameter.default)), int(cap * budget))


def build(
    algo: str,
    env_id: str,
    seed: int,
    overrides: dict[str, Any] | None = None,
    defaults: bool = False,
    budget: int | None = None,
    warmup_cap: float | None = None,
) -> tuple[Any, int, Any]:
    """Model, step budget from the YAML, and a matching eval env, from the zoo hyperparameters (preprocessed as the
    zoo does it: sb3_pg_extras.zoo.preprocess_hyperparams), or from the constructor's defaults (``defaults``: one
    env, no wrapper, as a user who passes no hyperparameter gets). ``algo`` is a zoo key, or ``<zoo key>/<label>``
    for a variant of it that ``--set <zoo key>/<label>.key=value`` configures (e.g. ``svg/h3`` with
    ``--set svg/h3.horizon=3``): it is reported under its full name. ``budget`` (default: the entry's
    ``n_timesteps``) is the run's step budget, and ``warmup_cap`` caps ``learning_starts`` at that fraction of it
    (:func:`warmup_steps`)."""
    from rl_zoo3.utils import ALGOS

    algo = algo.split("/", 1)[0]
    hyperparams = dict(DEFAULTS) if defaults else zoo_hyperparams(algo, env_id)
    entry = preprocess_hyperparams(algo, env_id, {**hyperparams, **(overrides or {})})
    if entry.callbacks:
        # they would run inside the timed training loop (and some, e.g. ParallelTrainCallback, change the loop itself)
        raise ValueError("benchmarks/run.py does not run YAML `callback` entries: train that entry through the zoo.")
    env = make_env(entry, env_id, entry.n_envs, seed)
    eval_env = make_env(entry, env_id, 1, seed + 10_000, eval_env=True)
    kwargs = entry.constructor_kwargs(env)
    n_timesteps = budget or entry.n_timesteps
    warmup = warmup_steps(algo, kwargs, n_timesteps, warmup_cap)
    if warmup is not None:
        kwargs["learning_starts"] = warmup
    model = ALGOS[algo](kwargs.pop("policy"), env, seed=seed, verbose=0, **kwargs)
    return model, n_timesteps, eval_env


def diagnostics(model: Any) -> dict[str, float]:
    """What a learning curve alone does not show: training episode length, and the SAC family's temperature."""
    lengths = [info["l"] for info in (model.ep_info_buffer or [])]
    temperature = float("nan")
    if getattr(model, "log_ent_coef", None) is not None:
        temperature = float(th.exp(model.log_ent_coef.detach()).item())
    elif isinstance(getattr(model, "ent_coef_tensor", None), th.Tensor):
        temperature = float(model.ent_coef_tensor.item())
    return {"train_episode_length": float(np.mean(lengths)) if lengths else float("nan"), "temperature": temperature}


class PeriodicEval(BaseCallback):
    """Evaluates every ``eval_freq`` env steps (and at the end); training time excludes evaluation (and
    ``after_eval``, e.g. a checkpoint). A resumed run passes the train time it had (``train_time_offset``) and is
    not evaluated again at its start (``evaluate_at_start=False``). With a ``budget``, training stops at the first
    env step at or past it (an on-policy algorithm would otherwise finish its rollout, up to ``n_steps * n_envs``
    steps past the budget; the steps of that unfinished rollout are not trained on), and the evaluation there uses
    ``final_episodes`` episodes."""

    def __init__(
        self,
        eval_env: Any,
        eval_freq: int,
        n_episodes: int,
        record: Any,
        train_time_offset: float = 0.0,
        evaluate_at_start: bool = True,
        after_eval: Callable[[float], None] | None = None,
        budget: int | None = None,
        final_episodes: int | None = None,
    ):
        super().__init__()
        self.eval_env, self.eval_freq, self.n_episodes, self.record = eval_env, eval_freq, n_episodes, record
        self.train_time_offset, self.evaluate_at_start, self.after_eval = train_time_offset, evaluate_at_start, after_eval
        self.budget, self.final_episodes = budget, final_episodes or n_episodes
        self.next_eval = eval_freq
        self.eval_time = 0.0
        self.start = 0.0

    def _on_training_start(self) -> None:
        self.start = time.perf_counter()
        self.next_eval = (self.num_timesteps // self.eval_freq + 1) * self.eval_freq
        if self.evaluate_at_start:
            self.evaluate()

    def at_budget(self) -> bool:
        return self.budget is not None and self.num_timesteps >= self.budget

    def _on_step(self) -> bool:
        if self.at_budget():
            self.evaluate()
            return False
        if self.num_timesteps >= self.next_eval:
            self.next_eval += self.eval_freq
            self.evaluate()
        return True

    def evaluate(self) -> None:
        t0 = time.perf_counter()
        eval_normalize = unwrap_vec_normalize(self.eval_env)
        if eval_normalize is not None:
            eval_normalize.obs_rms = self.model.get_vec_normalize_env().obs_rms  # type: ignore[union-attr]
        episodes = self.final_episodes if self.at_budget() else self.n_episodes
        mean, std = evaluate_policy(self.model, self.eval_env, n_eval_episodes=episodes, deterministic=True)
        train_time = self.train_time() - (time.perf_counter() - t0)
        self.record(self.num_timesteps, float(mean), float(std), train_time, eval_episodes=episodes, **diagnostics(self.model))
        if self.after_eval is not None:
            self.after_eval(train_time)
        self.eval_time += time.perf_counter() - t0

    def train_time(self) -> float:
        return self.train_time_offset + time.perf_counter() - self.start - self.eval_time


class Checkpoint:
    """The saved state of one unfinished run (``--checkpoints``), in ``<out>/checkpoints/<name>/<algo>_<env>_<seed>``:
    the model (``save``), its replay buffer (``save_replay_buffer``; MBPO's imagined data live in it), VecNormalize
    statistics, the evaluation rows so far, the train time so far and the Python, NumPy and torch RNG states. Written
    to a new folder that then replaces the old one, so a stop while saving leaves the previous checkpoint. A
    checkpoint made with other settings (budget, evaluation, overrides) is not used. SB3 calls the callback before it
    stores the step's transition, so a resumed off-policy run lacks that one transition, and an on-policy run starts
    its current rollout again."""

    def __init__(self, args: argparse.Namespace, algo: str, env_id: str, seed: int, settings: dict[str, Any]):
        self.path = args.out / "checkpoints" / args.name / f"{algo.replace('/', '--')}_{env_id}_{seed}"
        self.settings = settings

    def _sibling(self, suffix: str) -> Path:
        return self.path.with_name(self.path.name + suffix)

    def save(self, model: Any, rows: list[EvalRow], train_time: float) -> None:
        new, old = self._sibling(".new"), self._sibling(".old")
        shutil.rmtree(new, ignore_errors=True)
        new.mkdir(parents=True)
        model.save(new / "model.zip")
        if getattr(model, "replay_buffer", None) is not None:
            model.save_replay_buffer(new / "replay_buffer.pkl")
        normalize = model.get_vec_normalize_env()
        state = {
            "settings": self.settings,
            "rows": [asdict(r) for r in rows],
            "train_time": train_time,
            "normalize": None if normalize is None else (normalize.obs_rms, normalize.ret_rms),
            # SB3 seeds and draws from NumPy's global (legacy) generator, so that is the state to keep
            "rng": (random.getstate(), np.random.get_state(), th.get_rng_state()),  # noqa: NPY002
        }
        with open(new / "state.pkl", "wb") as file:
            pickle.dump(state, file)
        shutil.rmtree(old, ignore_errors=True)
        if self.path.exists():
            self.path.rename(old)
        new.rename(self.path)
        shutil.rmtree(old, ignore_errors=True)

    def load(self, model: Any) -> tuple[Any, list[EvalRow], float] | None:
        """(the model with its replay buffer, the rows, the train time) from the checkpoint, or None if there is no
        usable one. ``model`` is the freshly built one: its class and env are reused."""
        found = [p for p in (self.path, self._sibling(".old")) if (p / "state.pkl").exists()]
        if not found:
            return None
        with open(found[0] / "state.pkl", "rb") as file:
            state = pickle.load(file)
        if state["settings"] != self.settings:
            print(f"  note: {found[0]} was made with other settings; starting this run from step 0")
            return None
        loaded = type(model).load(found[0] / "model.zip", env=model.get_env(), device=model.device)
        if (found[0] / "replay_buffer.pkl").exists():
            loaded.load_replay_buffer(found[0] / "replay_buffer.pkl")
        if state["normalize"] is not None:
            normalize = loaded.get_vec_normalize_env()
            normalize.obs_rms, normalize.ret_rms = state["normalize"]
        python_state, numpy_state, torch_state = state["rng"]
        random.setstate(python_state)
        np.random.set_state(numpy_state)  # noqa: NPY002
        th.set_rng_state(torch_state)
        return loaded, [EvalRow(**row) for row in state["rows"]], float(state["train_time"])

    def remove(self) -> None:
        for path in (self.path, self._sibling(".new"), self._sibling(".old")):
            shutil.rmtree(path, ignore_errors=True)


def parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """``algo.key=value`` (value read as YAML; ``5e-4`` is a float, unlike in plain YAML) -> {algo: {key: value}}."""
    overrides: dict[str, dict[str, Any]] = {}
    for item in items:
        target, value = item.split("=", 1)
        algo, key = target.split(".", 1)
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str) and any(c.isdigit() for c in parsed):  # "5e-4" -> 5e-4; "inf" stays a string
            try:
                parsed = float(parsed)
            except ValueError:
                pass
        overrides.setdefault(algo, {})[key] = parsed
    return overrides


def budgets(args: argparse.Namespace) -> dict[str, int]:
    """Per-algorithm step budgets (``--set <algo>.n_timesteps=N``): they take precedence over ``--n-timesteps``."""
    return {algo: int(values["n_timesteps"]) for algo, values in parse_overrides(args.set).items() if "n_timesteps" in values}


def checkpoint_for(algo: str, env_id: str, seed: int, args: argparse.Namespace, n_timesteps: int = 0) -> Checkpoint:
    """The checkpoint of one run; its settings are everything that shapes the run besides the code."""
    settings = {
        "n_timesteps": n_timesteps,
        "eval_freq": args.eval_freq,
        "eval_episodes": args.eval_episodes,
        "defaults": bool(args.defaults or algo in args.defaults_for),
        "overrides": parse_overrides(args.set).get(algo),
        "threads": args.threads,
        "warmup_cap": args.warmup_cap,
        "final_eval_episodes": args.final_eval_episodes,
    }
    return Checkpoint(args, algo, env_id, seed, settings)


def run_one(algo: str, env_id: str, seed: int, args: argparse.Namespace) -> list[EvalRow]:
    th.manual_seed(seed)
    defaults = args.defaults or algo in args.defaults_for
    budget = budgets(args).get(algo) or args.n_timesteps or None
    overrides = parse_overrides(args.set).get(algo)
    model, n_timesteps, eval_env = build(algo, env_id, seed, overrides, defaults, budget, args.warmup_cap)
    rows: list[EvalRow] = []
    train_time, resumed, resumed_at = 0.0, False, 0
    checkpoint = checkpoint_for(algo, env_id, seed, args, n_timesteps) if getattr(args, "checkpoints", False) else None
    if checkpoint is not None:
        restored = checkpoint.load(model) if args.resume else None
        if restored is None:
            checkpoint.remove()
        else:
            model, rows, train_time = restored
            resumed, resumed_at = True, model.num_timesteps
            print(f"  {algo:>10} {env_id} seed={seed} resumed at {resumed_at} steps from {checkpoint.path}")

    def record(steps: int, mean: float, std: float, train_time: float, **extra: float) -> None:
        rows.append(EvalRow(algo, env_id, seed, steps, mean, std, train_time, **extra, resumed_at=resumed_at))
        print(f"  {algo:>10} {env_id} seed={seed} steps={steps:>8} return={mean:8.1f} +/- {std:6.1f} "
              f"train={train_time:7.1f}s " + " ".join(f"{k}={v:.3g}" for k, v in extra.items()))  # fmt: skip

    def save(train_time: float) -> None:
        if checkpoint is not None and model.num_timesteps > 0:
            checkpoint.save(model, rows, train_time)

    callback = PeriodicEval(eval_env, args.eval_freq, args.eval_episodes, record, train_time, not resumed, save,
                            n_timesteps, args.final_eval_episodes)  # fmt: skip
    model.learn(n_timesteps - model.num_timesteps, callback=callback, reset_num_timesteps=not resumed)
    if rows[-1].timesteps != model.num_timesteps:  # learn() ended before the callback saw the budget
        callback.budget = model.num_timesteps
        callback.evaluate()
    # throughput: all training time, evaluation excluded
    rows[-1].train_time_s = callback.train_time()
    rows[-1].sac_gradient_time_s = float(getattr(model, "sac_train_time", float("nan")))
    return rows


BOOTSTRAP = 10_000  # resamples of a confidence interval


def mean_ci(values: np.ndarray, reps: int = BOOTSTRAP, level: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the mean of ``values`` (one per seed), from a fixed generator so
    that a report regenerates to the same text."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float("nan"), float("nan")
    means = np.random.default_rng(0).choice(values, size=(reps, len(values)), replace=True).mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def collapsed(rows: list[EvalRow]) -> bool:
    """Whether a run ended below half of its best gain: (final - low) < 0.5 (best - low), the gain measured from the
    lowest evaluation up to the best one (so that it reads the same for negative returns, and a lucky initial policy
    that training first makes worse does not make a later dip of a few points a collapse)."""
    returns = [r.mean_return for r in rows]
    best_at = int(np.argmax(returns))
    low, best, final = min(returns[: best_at + 1]), returns[best_at], returns[-1]
    return best > low and final - low < 0.5 * (best - low)


def steps_to_threshold(rows: list[EvalRow], threshold: float) -> int | None:
    """First evaluation after some training at or above the threshold (a lucky initial policy does not count)."""
    for row in rows:
        if row.timesteps > 0 and row.mean_return >= threshold:
            return row.timesteps
    return None


def summarize(rows: list[EvalRow], args: argparse.Namespace, command: str) -> str:
    own = budgets(args)
    lines = [
        f"# Benchmark `{args.name}`",
        "",
        f"Command: `{command}`",
        "",
        f"Seeds {args.seeds}, budget {args.n_timesteps or 'from the zoo file'} env steps, "
        + (f"except {', '.join(f'{a} {n}' for a, n in own.items())} (`--set`), " if own else "")
        + ("every algorithm with its constructor's defaults (no zoo entry), " if getattr(args, "defaults", False) else "")
        + (
            f"{', '.join(args.defaults_for)} with the constructor's defaults (no zoo entry), "
            if getattr(args, "defaults_for", None)
            else ""
        )
        + f"deterministic evaluation "
        f"on {args.eval_episodes} episodes every {args.eval_freq} steps. Train time excludes evaluation. "
        f"Machine: {th.get_num_threads()} torch thread(s) per training, {args.jobs} training(s) at once; ratios against "
        f"`{args.reference}` come from this same run.",
        "",
        *summary_table(rows, args),
    ]
    if args.threshold is not None:
        lines += ["", f"Threshold: mean evaluation return >= {args.threshold}."]
    resumed = sorted({(r.algo, r.env, r.seed, r.resumed_at) for r in rows if r.resumed_at})
    if resumed:
        lines += [
            "",
            "Resumed from a checkpoint after a stop (`--checkpoints`; the training env started a new episode there, so "
            "these runs are not bit-identical to uninterrupted ones): "
            + "; ".join(f"{algo} {env} seed {seed} at {step} steps" for algo, env, seed, step in resumed)
            + ".",
        ]
    lines += [
        "",
        "Time outside SAC gradient steps: share of the train time not spent in SAC's own `train()` (model-based "
        "methods: model fitting, imagined rollouts, env steps), for algorithms that report it.",
    ]
    return "\n".join(lines) + "\n"


def summary_table(rows: list[EvalRow], args: argparse.Namespace) -> list[str]:
    """The Markdown table of :func:`summarize`: one line per (env, algo) with rows, after a header. Final return:
    each seed's last evaluation (at the budget, on ``--final-eval-episodes`` episodes), mean, sample std (ddof 1)
    and a 95% bootstrap confidence interval of the mean over seeds; "seeds >= threshold" is judged on that final
    return; "steps to threshold" is the first evaluation at or above it (mean over the seeds that got there);
    "collapsed": seeds whose final return is below half of their best gain over their lowest evaluation before it
    (:func:`collapsed`)."""
    lines = [
        "| env | algo | final return (mean +/- std over seeds) | 95% CI of the mean | seeds >= threshold at the end "
        "| steps to threshold (mean) | collapsed | train time s | env steps/s | steps/s ratio vs reference "
        "| time outside SAC gradient steps |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for env_id in args.envs:
        speeds: dict[str, float] = {}
        table = []
        for algo in args.algos:
            per_seed = [[r for r in rows if r.algo == algo and r.env == env_id and r.seed == s] for s in args.seeds]
            per_seed = [p for p in per_seed if p]
            if not per_seed:
                continue
            finals = np.array([p[-1].mean_return for p in per_seed])
            times = np.array([p[-1].train_time_s for p in per_seed])
            steps = np.array([p[-1].timesteps for p in per_seed])
            speeds[algo] = float(np.mean(steps / times))
            reached = [steps_to_threshold(p, args.threshold) for p in per_seed] if args.threshold is not None else []
            hit = [s for s in reached if s is not None]
            sac_times = np.array([p[-1].sac_gradient_time_s for p in per_seed])
            outside = f"{100 * np.mean(1 - sac_times / times):.0f}%" if np.all(np.isfinite(sac_times)) else "n/a"
            fell = sum(collapsed(p) for p in per_seed)
            table.append((algo, finals, hit, len(per_seed), times, outside, fell))
        for algo, finals, hit, n, times, outside, fell in table:
            ref = speeds.get(args.reference)
            ratio = f"{speeds[algo] / ref:.2f}" if ref else "n/a"
            at_end = int(np.sum(finals >= args.threshold)) if args.threshold is not None else 0
            threshold = f"{at_end}/{n}" if args.threshold is not None else "n/a"
            to_threshold = f"{np.mean(hit):.0f}" if hit else "-"
            low, high = mean_ci(finals)
            std = finals.std(ddof=1) if n > 1 else float("nan")
            lines.append(
                f"| {env_id} | {algo} | {finals.mean():.1f} +/- {std:.1f} | [{low:.1f}, {high:.1f}] | {threshold} "
                f"| {to_threshold} | {fell}/{n} | {times.mean():.1f} | {speeds[algo]:.0f} | {ratio} | {outside} |"
            )
    return lines


def plot(rows: list[EvalRow], args: argparse.Namespace, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for env_id in args.envs:
        fig, ax = plt.subplots(figsize=(6, 4))
        for algo in args.algos:
            curves = [[r for r in rows if r.algo == algo and r.env == env_id and r.seed == s] for s in args.seeds]
            curves = [c for c in curves if c]
            if not curves:
                continue
            length = min(len(c) for c in curves)
            x = np.array([r.timesteps for r in curves[0][:length]])
            y = np.array([[r.mean_return for r in c[:length]] for c in curves])
            ax.plot(x, y.mean(0), label=algo)
            ax.fill_between(x, y.mean(0) - y.std(0), y.mean(0) + y.std(0), alpha=0.2)
        if args.threshold is not None:
            ax.axhline(args.threshold, color="gray", linestyle="--", linewidth=1)
        ax.set(title=f"{env_id} ({len(args.seeds)} seeds)", xlabel="env steps", ylabel="mean eval return")
        ax.legend()
        fig.tight_layout()
        path = out / f"{args.name}_{env_id}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def _run_one_packed(run: tuple[str, str, int, argparse.Namespace]) -> list[EvalRow]:
    return run_one(*run)


def module_name(script: str) -> str:
    """``benchmarks.studies.q_bias`` for the script ``<root>/benchmarks/studies/q_bias.py`` (its ``__file__``)."""
    return ".".join(Path(script).resolve().relative_to(ROOT).with_suffix("").parts)


def display_path(path: Path) -> str:
    """``path`` relative to the repository root when it is inside it (as a report's command gives it), else as is."""
    try:
        return Path(path).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def script_command(script: str, argv: Sequence[str]) -> str:
    """The command line that ran a benchmark module (its ``__file__``) with these arguments, for its report."""
    return f"python -m {module_name(script)} " + " ".join(shlex.quote(a) for a in argv)


def write_rows(path: Path, rows: list[EvalRow]) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=[f.name for f in fields(EvalRow)])
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)


def append_rows(path: Path, rows: list[EvalRow]) -> None:
    names = [f.name for f in fields(EvalRow)]
    if path.exists():
        with open(path, newline="") as file:
            header = next(csv.reader(file), None)
        if header != names:  # written before a column was added: rewrite it with today's columns
            write_rows(path, read_rows(path) + rows)
            return
    new = not path.exists()
    with open(path, "a", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=[f.name for f in fields(EvalRow)])
        if new:
            writer.writeheader()
        writer.writerows(asdict(r) for r in rows)


def read_rows(path: Path) -> list[EvalRow]:
    types = {f.name: f.type for f in fields(EvalRow)}
    convert = {"str": str, "int": int, "float": float}
    names = {k: t if isinstance(t, str) else t.__name__ for k, t in types.items()}
    with open(path, newline="") as file:
        return [EvalRow(**{k: convert[names[k]](v) for k, v in row.items()}) for row in csv.DictReader(file)]


def _init_worker(threads: int) -> None:
    th.set_num_threads(threads)
    from sb3_pg_extras.zoo import register

    register()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--algos", nargs="+", required=True,
        help="zoo keys: ours (reinforce, ...) and built-ins (ppo, ...); <key>/<label> for a variant set by --set",
    )  # fmt: skip
    parser.add_argument("--envs", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--n-timesteps", type=int, default=0, help="step budget (0: each zoo file's n_timesteps)")
    parser.add_argument("--eval-freq", type=int, default=10_000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--reference", default="ppo", help="algo whose env steps/s the ratios divide by")
    parser.add_argument("--name", default="benchmark")
    parser.add_argument("--out", type=Path, default=STUDIES)
    parser.add_argument(
        "--final-eval-episodes", type=int, default=None,
        help="episodes of the final evaluation, at the budget (default: --eval-episodes); the final score of a run",
    )  # fmt: skip
    parser.add_argument(
        "--warmup-cap", type=float, default=None, metavar="FRACTION",
        help="learning_starts of every off-policy algorithm: min(its own value, FRACTION x its budget)",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="trainings run at once (worker processes)")
    parser.add_argument(
        "--set", nargs="*", default=[],
        help="hyperparameter overrides: algo.key=value (YAML value); algo.n_timesteps=N: that algorithm's own budget",
    )  # fmt: skip
    parser.add_argument(
        "--defaults", action="store_true",
        help="every algorithm with its constructor's defaults instead of its zoo entry (needs --n-timesteps)",
    )  # fmt: skip
    parser.add_argument(
        "--defaults-for", nargs="+", default=[], metavar="ALGO",
        help="these algorithms (e.g. ours on a task their zoo file has no entry for) with their constructor's defaults",
    )  # fmt: skip
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs already in <name>.partial.csv (written as each run finishes) and run only the others",
    )
    parser.add_argument(
        "--checkpoints", action="store_true",
        help="save each unfinished run at every evaluation (<out>/checkpoints/<name>/); --resume continues it from there",
    )  # fmt: skip
    parser.add_argument(
        "--report-only", action="store_true",
        help="train nothing: rewrite <name>.md and the curves from <name>.csv (the command the report gives)",
    )  # fmt: skip
    return parser


def write_report(rows: list[EvalRow], args: argparse.Namespace, command: str) -> str:
    """<name>.md and the learning curves, from the rows of every run."""
    summary = summarize(rows, args, command)
    pngs = plot(rows, args, args.out)
    summary += "\nLearning curves: " + ", ".join(f"`{p.name}`" for p in pngs) + "\n"
    (args.out / f"{args.name}.md").write_text(summary)
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    if args.defaults and not args.n_timesteps:
        parser.error("--defaults needs a step budget: --n-timesteps N")
    if args.n_timesteps == 0 and any(algo not in budgets(args) for algo in args.defaults_for):
        parser.error("--defaults-for needs a step budget: --n-timesteps N, or --set <algo>.n_timesteps=N")
    # SIGTERM exits through the Pool's context manager, which terminates the worker processes with us
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    _init_worker(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    cli = [a for a in (argv if argv is not None else sys.argv[1:]) if a not in ("--resume", "--checkpoints", "--report-only")]
    command = script_command(__file__, cli)
    if args.report_only:
        write_report(read_rows(args.out / f"{args.name}.csv"), args, command)
        return
    partial, final = args.out / f"{args.name}.partial.csv", args.out / f"{args.name}.csv"
    rows = read_rows(partial) if args.resume and partial.exists() else []
    if args.resume and not partial.exists() and final.exists():
        # a finished benchmark: --resume keeps its runs (and trains only runs it lacks, e.g. new seeds), through the
        # partial file, so that a stop during those does not lose them
        rows = read_rows(final)
        write_rows(partial, rows)
    if not args.resume:
        partial.unlink(missing_ok=True)
    runs = [(algo, env_id, seed, args) for seed in args.seeds for env_id in args.envs for algo in args.algos]
    order = {run[:3]: i for i, run in enumerate(runs)}
    # a resumed subset (fewer seeds, envs or algos) leaves the partial file's other runs there for the full command
    others = any((r.algo, r.env, r.seed) not in order for r in rows)
    rows = [r for r in rows if (r.algo, r.env, r.seed) in order]
    done = {(r.algo, r.env, r.seed) for r in rows}
    todo = [run for run in runs if run[:3] not in done]
    if args.jobs == 1:
        results: Any = (run_one(*run) for run in todo)
    else:
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(args.jobs, initializer=_init_worker, initargs=(args.threads,), maxtasksperchild=1)
        results = pool.imap_unordered(_run_one_packed, todo, chunksize=1)
    try:
        for result in results:  # each run is saved as soon as it finishes, so an interrupted benchmark can --resume
            append_rows(partial, result)
            rows += result
            if args.checkpoints:
                checkpoint_for(result[0].algo, result[0].env, result[0].seed, args).remove()
    finally:  # also on SIGTERM (sys.exit above): stop the workers with us
        if args.jobs > 1:
            pool.terminate()
    rows.sort(key=lambda r: (order[(r.algo, r.env, r.seed)], r.timesteps))
    write_rows(final, rows)
    if not others:
        partial.unlink()
    print(write_report(rows, args, command))


if __name__ == "__main__":
    main()
