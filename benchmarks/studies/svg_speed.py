"""
Where SVG's time per env step goes, against SB3's SAC, both with their constructor defaults, in one process.

    python -m benchmarks.studies.svg_speed --env Pendulum-v1 --start 5000 --chunk 1000 --repeats 5

Both first train to ``--start`` env steps; then they take turns training ``--chunk`` more env steps each, ``--repeats``
times (``learn(..., reset_num_timesteps=False)``: env steps, gradient steps, and SVG's model refits every 250 steps),
so both see the same machine load. Reported: the median wall time per env step and its ratio (issue 22 asks for
<= 1.5x or a reason), SVG's share of it spent refitting the model, and one gradient step of each taken apart
(``train(1)`` and SVG's critic step, noise inference and actor step, each timed alone on one fixed minibatch).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch as th
from stable_baselines3 import SAC

from benchmarks.run import STUDIES as RESULTS
from benchmarks.run import script_command
from sb3_pg_extras import SVG
from sb3_pg_extras.common.utils import float32_samples


def ms_per_call(fn, calls: int = 100) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return 1000 * (time.perf_counter() - start) / calls


def gradient_step_parts(svg: SVG, sac: SAC, batch_size: int, calls: int) -> dict[str, float]:
    """ms of one gradient step of each, and of SVG's parts, on one fixed minibatch."""
    data = float32_samples(svg.replay_buffer.sample(batch_size))  # type: ignore[union-attr]
    stats: dict[str, list[float]] = defaultdict(list)
    alpha = th.exp(svg.log_ent_coef.detach()) if svg.log_ent_coef is not None else svg.ent_coef_tensor
    noise = svg.path_noise(data)

    def objective_forward_backward() -> None:
        (-svg.actor_objective(data, alpha, noise).mean()).backward(inputs=list(svg.actor.parameters()))

    parts = {
        "SAC train(1)": lambda: sac.train(1, batch_size),
        "SVG train(1)": lambda: svg.train(1, batch_size),
        "SVG: critic step (SAC's)": lambda: svg._update_critic(data, alpha, stats),
        "SVG: noise inference (policy and model noise, importance weights)": lambda: svg.path_noise(data),
        "SVG: actor objective through the model, forward and backward": objective_forward_backward,
    }
    return {part: ms_per_call(fn, calls) for part, fn in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Pendulum-v1")
    parser.add_argument("--start", type=int, default=5000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--learning-starts", type=int, default=None, help="override both defaults (tests); default: each one's own"
    )
    parser.add_argument("--calls", type=int, default=100, help="calls per timed part of a gradient step")
    parser.add_argument("--name", default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    th.set_num_threads(1)
    kwargs = {} if args.learning_starts is None else {"learning_starts": args.learning_starts}
    svg, sac = SVG("MlpPolicy", args.env, seed=0, **kwargs), SAC("MlpPolicy", args.env, seed=0, **kwargs)
    svg.learn(args.start)
    sac.learn(args.start)
    per_step: dict[str, list[float]] = {"SVG": [], "SAC": []}
    refit_share = []
    for _ in range(args.repeats):
        for name, model in (("SVG", svg), ("SAC", sac)):
            fit_before = svg.dynamics.fit_time if svg.dynamics is not None else 0.0
            start = time.perf_counter()
            model.learn(args.chunk, reset_num_timesteps=False)
            seconds = time.perf_counter() - start
            per_step[name].append(1000 * seconds / args.chunk)
            if name == "SVG" and svg.dynamics is not None:
                refit_share.append((svg.dynamics.fit_time - fit_before) / seconds)
    medians = {name: float(np.median(t)) for name, t in per_step.items()}
    parts = gradient_step_parts(svg, sac, svg.batch_size, args.calls)
    command = script_command(__file__, sys.argv[1:])
    lines = [
        f"# SVG vs SAC, constructor defaults: wall time per env step on {args.env}",
        "",
        f"Command: `{command}`",
        "",
        f"SVG(1) and SAC with their defaults (seed 0), 1 torch thread, one process; both trained to {args.start} env "
        f"steps, then {args.repeats} interleaved turns of {args.chunk} env steps each (buffer {args.start} to "
        f"{args.start + args.repeats * args.chunk} transitions).",
        "",
        "| algorithm | ms per env step (median) | all turns (ms) |",
        "|---|---|---|",
        *(f"| {n} | {medians[n]:.1f} | {', '.join(f'{t:.1f}' for t in per_step[n])} |" for n in per_step),
        "",
        f"Ratio SVG / SAC: {medians['SVG'] / medians['SAC']:.2f}. Share of SVG's time in model refits (median over "
        f"turns): {100 * float(np.median(refit_share)):.0f}%.",
        "",
        f"One gradient step taken apart (ms, mean over {args.calls} calls on one minibatch of "
        f"{svg.batch_size} replayed transitions):",
        "",
        "| part | ms |",
        "|---|---|",
        *(f"| {part} | {ms:.2f} |" for part, ms in parts.items()),
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    name = args.name or f"svg_speed_{args.env.split('-')[0].lower()}"
    (args.out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
