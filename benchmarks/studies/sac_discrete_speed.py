"""
Wall time per gradient step of DiscreteSAC against SB3's SAC with the same network sizes, batch size and number
of critics, measured in the same process, interleaved over several repeats (``train()`` only: no env stepping).

    python -m benchmarks.studies.sac_discrete_speed --net-arch 256 256 --batch-size 256 --steps 500 --repeats 5

DiscreteSAC runs on CartPole-v1 (4 observations, 2 actions), SAC on Pendulum-v1 (3 observations, 1 action): the
hidden layers dominate the cost, and they are the same. Both replay buffers are filled with random transitions first.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch as th
from stable_baselines3 import SAC

from benchmarks.run import STUDIES as RESULTS
from benchmarks.run import script_command
from sb3_pg_extras import DiscreteSAC


def filled(model, n: int):
    model.learn(n)  # learning_starts > n: collects random transitions only
    return model


def time_train(model, steps: int, batch_size: int) -> float:
    start = time.perf_counter()
    model.train(gradient_steps=steps, batch_size=batch_size)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--net-arch", nargs="+", type=int, default=[256, 256])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--name", default="sac_discrete_speed")
    args = parser.parse_args()
    th.set_num_threads(1)
    kwargs = dict(
        learning_starts=10_000, buffer_size=10_000, batch_size=args.batch_size, policy_kwargs=dict(net_arch=args.net_arch)
    )
    models = {
        "DiscreteSAC (CartPole-v1)": filled(DiscreteSAC("MlpPolicy", "CartPole-v1", seed=0, **kwargs), 2000),
        "SAC (Pendulum-v1)": filled(SAC("MlpPolicy", "Pendulum-v1", seed=0, **kwargs), 2000),
    }
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            times[name].append(time_train(model, args.steps, args.batch_size))
    medians = {name: float(np.median(t)) for name, t in times.items()}
    ratio = medians["DiscreteSAC (CartPole-v1)"] / medians["SAC (Pendulum-v1)"]
    command = script_command(__file__, sys.argv[1:])
    lines = [
        "# DiscreteSAC vs SAC: wall time per gradient step",
        "",
        f"Command: `{command}`",
        "",
        f"net_arch {args.net_arch}, batch {args.batch_size}, 2 critics, learned temperature, 1 torch thread; median over "
        f"{args.repeats} interleaved repeats of {args.steps} gradient steps.",
        "",
        "| algorithm | ms per gradient step (median) | all repeats (ms) |",
        "|---|---|---|",
    ]
    lines += [
        f"| {name} | {1000 * medians[name]:.2f} | {', '.join(f'{1000 * t:.2f}' for t in times[name])} |" for name in models
    ]
    lines += ["", f"Ratio DiscreteSAC / SAC: {ratio:.2f} (acceptance: <= 1.2)."]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
