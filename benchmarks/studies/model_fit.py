"""
How good is the dynamics ensemble after a capped first fit (issue 15)? MBPO's defaults cap every refit at 2
warm-started epochs (refits fitted to early stopping grow with the buffer); a capped refit can only track a model
that is already good. This script measures what a capped first fit leaves, and whether capped refits catch up.

On ``--initial`` transitions of uniform random actions (MBPO's warm-up data; actions stored in SB3's [-1, 1] scale),
it fits the ensemble of ``DynamicsComponent`` (MBPO's settings, ``dynamics_kwargs`` defaults) once with the first fit
capped at ``--cap`` epochs and once to early stopping, then makes ``--refits`` refits of at most ``--cap`` epochs,
each after ``--step`` more transitions of the same kind. Every row: the elite members' mean squared error on
``--test`` fresh transitions (another seed), in the standardized target units of that fit (state change, so 1.0 is
"no better than predicting the mean change"), and the fit's epochs and seconds.

    python -m benchmarks.studies.model_fit --env Hopper-v5 --initial 5000 --cap 2 --refits 20 --step 250 \
        --name model_fit_hopper

Writes ``benchmarks/results/<name>.csv`` and ``<name>.md``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch as th
import yaml

from benchmarks import run
from sb3_pg_extras.common.dynamics import DynamicsComponent, DynamicsSettings, Transitions, resolve_transition_functions
from sb3_pg_extras.common.dynamics.trainer import holdout_mse

FIELDS = ["arm", "refit", "transitions", "epochs", "fit_s", "test_mse", "holdout_mse"]


def random_transitions(env_id: str, n: int, seed: int) -> Transitions:
    """``n`` transitions of uniform random actions (scaled to [-1, 1]); episodes restart at termination or truncation."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    low, high = env.action_space.low, env.action_space.high
    obs, _ = env.reset(seed=seed)
    rows: list[tuple] = []
    for _ in range(n):
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        rows.append((obs, 2.0 * (action - low) / (high - low) - 1.0, next_obs, reward, terminated))
        obs = next_obs if not (terminated or truncated) else env.reset()[0]
    columns = [th.as_tensor(np.array(column), dtype=th.float32) for column in zip(*rows)]
    return Transitions(*columns)


def first(data: Transitions, n: int) -> Transitions:
    return data.index(th.arange(n))


def run_arm(arm: str, initial_cap: int | None, data: Transitions, test: Transitions, args: argparse.Namespace) -> list[dict]:
    np.random.seed(args.seed)  # noqa: NPY002 (the component draws its fit generator from numpy's global one)
    th.manual_seed(args.seed)
    env = gym.make(args.env)
    settings = DynamicsSettings.from_kwargs("model_fit", {**args.dynamics_kwargs, "max_epochs": args.cap,
                                                           "initial_max_epochs": initial_cap})  # fmt: skip
    functions = resolve_transition_functions("model_fit", args.env)
    component = DynamicsComponent(env.observation_space, env.action_space, settings, functions)  # type: ignore[arg-type]
    rows = []
    for refit in range(args.refits + 1):
        n = args.initial + refit * args.step
        start = time.perf_counter()
        result = component.fit(first(data, n), first=refit == 0)
        seconds = time.perf_counter() - start
        mse = float(holdout_mse(component.model, test)[th.as_tensor(result.elites)].mean())
        rows.append(dict(arm=arm, refit=refit, transitions=n, epochs=result.epochs, fit_s=round(seconds, 2),
                         test_mse=mse, holdout_mse=result.elite_holdout_mse))  # fmt: skip
    return rows


def write_report(rows: list[dict], args: argparse.Namespace, command: str, out: Path) -> None:
    with open(out / f"{args.name}.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    arms = list(dict.fromkeys(row["arm"] for row in rows))
    shown = sorted({0, *range(args.report_every, args.refits + 1, args.report_every), args.refits})
    lines = [
        f"# Dynamics fit quality: capped first fit against early stopping (`{args.name}`)",
        "",
        f"Command: `{command}`",
        "",
        f"{args.env}, {args.initial} transitions of uniform random actions (seed {args.seed}), then {args.refits} refits "
        f"of at most {args.cap} epochs, each after {args.step} more; test error on {args.test} fresh transitions (seed "
        f"{args.seed + 1}): elite members' MSE of the state change in the fit's standardized units. Ensemble: MBPO's "
        f"settings{' with ' + str(args.dynamics_kwargs) if args.dynamics_kwargs else ''}; 1 torch thread.",
        "",
        "| first fit | refit | transitions | epochs | fit time s | test MSE | holdout MSE |",
        "|---|---|---|---|---|---|---|",
    ]
    for arm in arms:
        for row in rows:
            if row["arm"] == arm and row["refit"] in shown:
                lines.append(f"| {arm} | {row['refit']} | {row['transitions']} | {row['epochs']} | {row['fit_s']:.1f} | "
                             f"{row['test_mse']:.4f} | {row['holdout_mse']:.4f} |")  # fmt: skip
    (out / f"{args.name}.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Hopper-v5")
    parser.add_argument("--initial", type=int, default=5000, help="transitions at the first fit")
    parser.add_argument("--cap", type=int, default=2, help="max_epochs of the capped fits")
    parser.add_argument("--refits", type=int, default=20)
    parser.add_argument("--step", type=int, default=250, help="transitions added before each refit")
    parser.add_argument("--test", type=int, default=3000, help="fresh transitions to score on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report-every", type=int, default=4, help="refits between the rows of the table")
    parser.add_argument("--dynamics-kwargs", type=yaml.safe_load, default={}, help="YAML, e.g. '{hidden_sizes: [8]}'")
    parser.add_argument("--name", default="model_fit")
    parser.add_argument("--out", type=Path, default=run.STUDIES)
    args = parser.parse_args(argv)
    th.set_num_threads(1)
    data = random_transitions(args.env, args.initial + args.refits * args.step, args.seed)
    test = random_transitions(args.env, args.test, args.seed + 1)
    rows = run_arm(f"capped at {args.cap}", args.cap, data, test, args)
    rows += run_arm("early stopping", None, data, test, args)
    args.out.mkdir(parents=True, exist_ok=True)
    write_report(rows, args, run.script_command(__file__, sys.argv[1:] if argv is None else argv), args.out)


if __name__ == "__main__":
    main()
