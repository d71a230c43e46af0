"""
Does training every ensemble member on its own bootstrap resample change the model (issue 45)? MBPO's reference
implementation (Janner et al. 2019) and PETS (Chua et al. 2018) resample the training split once per fit for every
member (``dynamics_kwargs['bootstrap']``, the default); without it every member sees all of the data, in its own order,
and the members differ only by their initialization and shuffles. Bootstrap is meant to widen the members'
disagreement (the epistemic part of the ensemble's uncertainty), at the price of each member seeing about 63% of the
distinct transitions.

For every seed, ``--transitions`` transitions of uniform random actions (MBPO's warm-up data, actions in SB3's
[-1, 1] scale; ``model_fit.random_transitions``) are fitted by a fresh ``DynamicsComponent`` with MBPO's ensemble
settings (``DynamicsSettings`` defaults) and ``max_epochs`` = ``--max-epochs`` (``none``: to early stopping), once with
``bootstrap=True`` and once with ``bootstrap=False``: same data, same initial weights, same holdout split. Every row is
scored on ``--test`` fresh transitions (env seed ``--test-seed``, the same for every row), in the standardized target
units of its fit (state change; 1.0 is "no better than predicting the mean change"), over the elite members:

- test MSE: the elite members' mean squared error of their predicted means (as ``model_fit``);
- disagreement: variance across the elites of their predicted means (population variance), mean over test inputs
  and dimensions, the epistemic variance; aleatoric: the elites' predicted variance, same mean. The members' MSE is
  the ensemble mean's MSE plus the disagreement;
- NLL: negative log-likelihood of the test target per dimension (nats), under the elites' uniform mixture of diagonal
  Gaussians (mixture NLL) and under its moment-matched diagonal Gaussian, mean of the elites' means with variance
  aleatoric + disagreement (Gaussian NLL);
- within 2 std: fraction of test targets (inputs x dimensions) inside mean +/- 2 std of that moment-matched Gaussian
  (0.954 for a calibrated Gaussian);
- the fit's epochs, seconds (1 torch thread) and elite holdout MSE.

    python -m benchmarks.studies.model_bootstrap --env Pendulum-v1 --transitions 1500 --name model_bootstrap_pendulum
    python -m benchmarks.studies.model_bootstrap --env Hopper-v5 --transitions 5000 --max-epochs 50 \
        --name model_bootstrap_hopper

Writes ``benchmarks/results/<name>.csv`` and ``<name>.md`` (rows bootstrap on / off x seed, then each arm's mean).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch as th
import yaml

from benchmarks import run
from benchmarks.studies.model_fit import random_transitions
from sb3_pg_extras.common.dynamics import DynamicsComponent, DynamicsSettings, Transitions, resolve_transition_functions
from sb3_pg_extras.common.dynamics.model import DynamicsModel
from sb3_pg_extras.common.dynamics.trainer import holdout_mse

FIELDS = ["bootstrap", "seed", "transitions", "epochs", "fit_s", "test_mse", "disagreement", "aleatoric", "mixture_nll",
          "gaussian_nll", "within_2std", "holdout_mse"]  # fmt: skip
SCORES = FIELDS[3:]  # averaged over the seeds of an arm


@th.no_grad()
def ensemble_scores(model: DynamicsModel, test: Transitions) -> dict[str, float]:
    """The elite members' error, disagreement and calibration on ``test``, in standardized target units."""
    model.eval()
    elites = model.elites
    inputs = model.model_inputs(test.observations, test.actions)
    target = model.target_normalizer.normalize(model.raw_targets(test.observations, test.next_observations, test.rewards))
    mean, log_var, _ = model.ensemble(inputs.unsqueeze(0).expand(len(elites), *inputs.shape), elites)  # (K, N, D)
    var = log_var.exp()
    center = mean.mean(0)
    epistemic = mean.var(0, unbiased=False)  # (N, D)
    aleatoric = var.mean(0)
    total = aleatoric + epistemic
    log_2pi = math.log(2 * math.pi)
    member_log_pdf = -0.5 * (((target - mean) ** 2 / var + log_var + log_2pi).sum(-1))  # (K, N): joint over dimensions
    mixture_nll = -(th.logsumexp(member_log_pdf, 0) - math.log(len(elites))).mean() / target.shape[-1]
    gaussian_nll = 0.5 * ((target - center) ** 2 / total + total.log() + log_2pi).mean()
    return dict(
        test_mse=float(holdout_mse(model, test)[elites].mean()),
        disagreement=float(epistemic.mean()),
        aleatoric=float(aleatoric.mean()),
        mixture_nll=float(mixture_nll),
        gaussian_nll=float(gaussian_nll),
        within_2std=float(((target - center).abs() <= 2 * total.sqrt()).float().mean()),
    )


def fit_and_score(bootstrap: bool, seed: int, data: Transitions, test: Transitions, args: argparse.Namespace) -> dict:
    np.random.seed(seed)  # noqa: NPY002 (the component draws its fit generator from numpy's global one)
    th.manual_seed(seed)
    env = gym.make(args.env)
    settings = DynamicsSettings.from_kwargs(
        "model_bootstrap", {**args.dynamics_kwargs, "max_epochs": args.max_epochs, "bootstrap": bootstrap}
    )
    functions = resolve_transition_functions("model_bootstrap", args.env)
    component = DynamicsComponent(env.observation_space, env.action_space, settings, functions)  # type: ignore[arg-type]
    start = time.perf_counter()
    result = component.fit(data)  # not `first`: `max_epochs` caps it
    seconds = time.perf_counter() - start
    scores = ensemble_scores(component.model, test)
    row = dict(bootstrap="on" if bootstrap else "off", seed=seed, transitions=len(data), epochs=result.epochs,
               fit_s=round(seconds, 2), **scores, holdout_mse=result.elite_holdout_mse)  # fmt: skip
    print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    return row


def arm_means(rows: list[dict]) -> list[dict]:
    means = []
    for arm in ("on", "off"):
        chosen = [row for row in rows if row["bootstrap"] == arm]
        means.append(dict(bootstrap=arm, seed="mean", transitions=chosen[0]["transitions"],
                          **{k: float(np.mean([row[k] for row in chosen])) for k in SCORES}))  # fmt: skip
    return means


def write_report(rows: list[dict], args: argparse.Namespace, command: str, out: Path) -> None:
    means = arm_means(rows)
    with open(out / f"{args.name}.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, FIELDS)
        writer.writeheader()
        writer.writerows(rows + means)
    cap = "to early stopping (`max_epochs` None)" if args.max_epochs is None else f"capped at {args.max_epochs} epochs"
    extra = f" with {args.dynamics_kwargs}" if args.dynamics_kwargs else ""
    settings = DynamicsSettings.from_kwargs("model_bootstrap", args.dynamics_kwargs)
    lines = [
        f"# Dynamics ensemble with and without bootstrap resamples (`{args.name}`)",
        "",
        f"Command: `{command}`",
        "",
        f"{args.env}, {args.transitions} transitions of uniform random actions per seed (env seeds "
        f"{', '.join(map(str, args.seeds))}), one fit each, {cap}; MBPO's ensemble settings{extra} "
        f"({settings.n_members} members, {settings.n_elites} elites), 1 torch thread. Scored on {args.test} fresh "
        f"transitions (env seed {args.test_seed}) over the elite members, in "
        "the fit's standardized units of the state change: test MSE of the members' means; disagreement = variance "
        "across the elites of their means (epistemic), aleatoric = their mean predicted variance; NLL per dimension "
        "(nats) under the elites' mixture and under the moment-matched Gaussian (variance aleatoric + disagreement); "
        "within 2 std = fraction of targets inside that Gaussian's mean +/- 2 std (0.954 if calibrated). Same data, "
        "initial weights and holdout split in both arms; fit times are wall-clock on a shared machine.",
        "",
        "| bootstrap | seed | epochs | fit time s | test MSE | disagreement | aleatoric | mixture NLL | Gaussian NLL | "
        "within 2 std | holdout MSE |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in [*rows, *means]:
        seed = "**mean**" if row["seed"] == "mean" else row["seed"]
        epochs = f"{row['epochs']:.1f}" if row["seed"] == "mean" else row["epochs"]
        lines.append(f"| {row['bootstrap']} | {seed} | {epochs} | {row['fit_s']:.1f} | {row['test_mse']:.4f} | "
                     f"{row['disagreement']:.2e} | {row['aleatoric']:.2e} | {row['mixture_nll']:.3f} | "
                     f"{row['gaussian_nll']:.3f} | {row['within_2std']:.3f} | {row['holdout_mse']:.4f} |")  # fmt: skip
    (out / f"{args.name}.md").write_text("\n".join(lines) + "\n")


def optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "null") else int(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Pendulum-v1")
    parser.add_argument("--transitions", type=int, default=1500, help="training transitions per seed")
    parser.add_argument("--max-epochs", type=optional_int, default=None, help="cap on the fit's epochs (none: early stop)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    parser.add_argument("--test", type=int, default=3000, help="fresh transitions to score on")
    parser.add_argument("--test-seed", type=int, default=150, help="env seed of the test transitions")
    parser.add_argument("--dynamics-kwargs", type=yaml.safe_load, default={}, help="YAML, e.g. '{hidden_sizes: [8]}'")
    parser.add_argument("--name", default="model_bootstrap")
    parser.add_argument("--out", type=Path, default=run.STUDIES)
    args = parser.parse_args(argv)
    if args.test_seed in args.seeds:
        parser.error(f"--test-seed {args.test_seed} is a training seed: the test transitions must be fresh")
    th.set_num_threads(1)
    test = random_transitions(args.env, args.test, args.test_seed)
    rows = []
    for seed in args.seeds:
        data = random_transitions(args.env, args.transitions, seed)
        rows += [fit_and_score(bootstrap, seed, data, test, args) for bootstrap in (True, False)]
    rows.sort(key=lambda row: row["bootstrap"] == "off")  # every seed of the "on" arm first
    args.out.mkdir(parents=True, exist_ok=True)
    write_report(rows, args, run.script_command(__file__, sys.argv[1:] if argv is None else argv), args.out)


if __name__ == "__main__":
    main()
