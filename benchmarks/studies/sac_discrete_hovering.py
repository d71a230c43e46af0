"""
Why DiscreteSAC hovers on LunarLander-v3 (issue 18, docs/sac_discrete.md): one training run of the zoo entry (or of
the entry with overrides), measured every ``--every`` env steps over the training episodes that ended in that
window: how they ended (landed and came to rest: the env's +100; crashed or flew off: -100; cut by the 1000-step time
limit: hovering), their mean length, the temperature alpha, the policy's mean entropy on the window's states, and the
deterministic evaluation return (10 episodes). Writes ``benchmarks/results/<name>.md`` and ``.csv``.

    python -m benchmarks.studies.sac_discrete_hovering --seed 0 --name sac_discrete_hovering_entry
    python -m benchmarks.studies.sac_discrete_hovering --seed 0 --set ent_coef=auto_0.1 --name sac_discrete_hovering_a01
    python -m benchmarks.studies.sac_discrete_hovering --seed 0 --algo dqn --name sac_discrete_hovering_dqn

About 15 minutes per 100k-step run on one core of an idle 2-core machine.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy

from benchmarks import run


class EpisodeEndings(BaseCallback):
    """Classifies every finished training episode by its last reward (LunarLander sets it to exactly +100 when the
    lander comes to rest, -100 when it crashes or leaves the screen) or its truncation, and writes a row per window."""

    def __init__(self, every: int, eval_env: Any, rows: list[dict[str, float]]):
        super().__init__()
        self.every, self.eval_env, self.rows = every, eval_env, rows
        self.ends: list[tuple[str, int]] = []
        self.states: list[np.ndarray] = []

    def _on_step(self) -> bool:
        self.states.append(self.locals["new_obs"])
        for i, done in enumerate(self.locals["dones"]):
            if done:
                info, reward = self.locals["infos"][i], float(self.locals["rewards"][i])
                how = (
                    "timeout"
                    if info.get("TimeLimit.truncated", False)
                    else {100.0: "landed", -100.0: "crashed"}.get(reward, "other")
                )
                self.ends.append((how, int(info["episode"]["l"])))
        if self.num_timesteps % self.every == 0:
            self.write_row()
        return True

    def write_row(self) -> None:
        model = self.model
        entropy, temperature = float("nan"), float(getattr(model, "exploration_rate", float("nan")))  # DQN: epsilon
        if hasattr(model, "actor"):
            with th.no_grad():
                states = th.as_tensor(np.concatenate(self.states), dtype=th.float32)
                probs, log_probs = model.actor.action_log_probs(states)
                entropy, temperature = float(-(probs * log_probs).sum(dim=1).mean()), float(model._temperature())
        n = max(len(self.ends), 1)
        mean, _ = evaluate_policy(model, self.eval_env, n_eval_episodes=10, deterministic=True)
        self.rows.append({
            "steps": self.num_timesteps,
            "episodes": len(self.ends),
            **{f"{how}_share": sum(e == how for e, _ in self.ends) / n for how in ("landed", "crashed", "timeout")},
            "episode_length": float(np.mean([length for _, length in self.ends])) if self.ends else float("nan"),
            "temperature": temperature,
            "entropy": entropy,
            "eval_return": float(mean),
        })  # fmt: skip
        print(self.rows[-1], flush=True)
        self.ends, self.states = [], []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--algo", default="sac_discrete", help="sac_discrete, or dqn for the same measurements of DQN")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=5_000)
    parser.add_argument("--set", nargs="*", default=[], help="overrides of the zoo entry: key=value (YAML value)")
    parser.add_argument("--name", required=True)
    parser.add_argument("--out", type=Path, default=run.STUDIES)
    args = parser.parse_args()
    th.set_num_threads(1)
    th.manual_seed(args.seed)
    overrides = run.parse_overrides([f"{args.algo}.{item}" for item in args.set]).get(args.algo, {})
    model, _, eval_env = run.build(args.algo, "LunarLander-v3", args.seed, overrides)
    rows: list[dict[str, float]] = []
    began = time.perf_counter()
    model.learn(args.steps, callback=EpisodeEndings(args.every, eval_env, rows))
    minutes = (time.perf_counter() - began) / 60

    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / f"{args.name}.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    command = run.script_command(__file__, sys.argv[1:])
    lines = [
        f"# DiscreteSAC on LunarLander-v3: how training episodes end (`{args.name}`)",
        "",
        f"Generated (do not edit by hand); {minutes:.0f} minutes. Command:",
        "",
        f"    {command}",
        "",
        f"`{args.algo}`'s zoo entry{' with ' + ', '.join(args.set) if args.set else ''}, "
        f"seed {args.seed}. Each row: the training episodes that ended in the {args.every}-step window before it "
        "(landed = came to rest, +100; crashed = -100; timeout = cut at 1000 steps), their mean length, the "
        "temperature at the row (DQN: its exploration epsilon), the policy's mean entropy over the window's states "
        "(log 4 = 1.39 is uniform), and "
        "the deterministic evaluation return (10 episodes, eval env seeded seed + 10000).",
        "",
        "| steps | episodes | landed | crashed | timeout | mean length | alpha (DQN: epsilon) | entropy | eval return |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['steps']} | {r['episodes']} | {r['landed_share']:.0%} | {r['crashed_share']:.0%} "
            f"| {r['timeout_share']:.0%} | {r['episode_length']:.0f} | {r['temperature']:.3f} | {r['entropy']:.2f} "
            f"| {r['eval_return']:.1f} |"
            for r in rows
        ),
    ]
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
