"""
Wall time per SAC gradient step with PyTorch's three Adam implementations: the default (a Python loop over the
parameters on the CPU), ``foreach=True`` and ``fused=True``, passed through ``policy_kwargs=dict(optimizer_kwargs=...)``.
The models are SB3's SAC with the same networks, batch and replay data, timed in one process, interleaved over several
repeats (``train()`` only: no env stepping). MBPO runs SAC's ``train()`` unchanged, so the ratios carry over to its
gradient steps, which are 80% or more of its train time.

    python -m benchmarks.studies.optimizer_speed --env Hopper-v5 --net-arch 256 256 --batch-size 256 --steps 300 --repeats 5

The three use the same Adam update; they differ in floating-point rounding only (PyTorch's ``torch.optim.Adam`` docs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch as th
from stable_baselines3 import SAC

from benchmarks.run import STUDIES as RESULTS
from benchmarks.run import script_command
from benchmarks.studies.sac_discrete_speed import filled, time_train

VARIANTS: dict[str, dict[str, bool]] = {"default": {}, "foreach=True": {"foreach": True}, "fused=True": {"fused": True}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Hopper-v5")
    parser.add_argument("--net-arch", nargs="+", type=int, default=[256, 256])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--name", default="optimizer_speed")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    th.set_num_threads(1)
    models = {
        name: filled(
            SAC(
                "MlpPolicy",
                args.env,
                seed=0,
                learning_starts=10_000,
                buffer_size=10_000,
                batch_size=args.batch_size,
                policy_kwargs=dict(net_arch=args.net_arch, optimizer_kwargs=kwargs),
            ),
            2000,
        )
        for name, kwargs in VARIANTS.items()
    }
    for name, model in models.items():  # the setting reached the actor's and the critics' optimizers (SB3 builds the
        optimizers = (model.actor.optimizer, model.critic.optimizer)  # temperature's, one scalar, with the default)
        assert all(opt.defaults[key] == value for opt in optimizers for key, value in VARIANTS[name].items()), name
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            times[name].append(time_train(model, args.steps, args.batch_size))
    medians = {name: float(np.median(t)) for name, t in times.items()}
    command = script_command(__file__, sys.argv[1:] if argv is None else argv)
    lines = [
        "# SAC's gradient step with PyTorch's three Adam implementations",
        "",
        f"Command: `{command}`",
        "",
        f"SB3 SAC on {args.env}, net_arch {args.net_arch}, batch {args.batch_size}, 2 critics, learned temperature, "
        f"1 torch thread, torch {th.__version__}; median over {args.repeats} interleaved repeats of {args.steps} "
        "gradient steps. Set with `policy_kwargs=dict(optimizer_kwargs=dict(fused=True))`.",
        "",
        "| Adam | ms per gradient step (median) | ratio to the default | all repeats (ms) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {1000 * medians[name]:.2f} | {medians[name] / medians['default']:.2f} | "
        f"{', '.join(f'{1000 * t:.2f}' for t in times[name])} |"
        for name in models
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
