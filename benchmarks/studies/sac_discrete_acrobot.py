"""
Why some DiscreteSAC seeds never reach Acrobot-v1's goal (issue 41; benchmarks/notes/sac_discrete.md, "Acrobot-v1:
seeds that never reach the goal"). Three probes, each printing its rows and writing ``<out>/<name>.md``:

``trace``    one training run, every 1000 env steps: training episodes that reached the goal so far, the temperature,
             the policy's mean entropy and max probability and the critics' spread max_a Q - min_a Q (first critic) on
             512 replay states, and each action's share of the last 1000 steps
``first``    per target entropy (``--arms``) and seed: the env step of the first training episode that reaches the goal
             (terminated, not cut at 500 steps), up to ``--steps``; the run stops there
``explore``  how often simple policies reach the goal within 500 steps (no learning): uniform random actions, random
             actions held for k steps, the greedy action of a random network and a softmax of it

Training uses the Acrobot-v1 entry as it was before its target entropy became 0.9 log|A| (``ENTRY_BEFORE``), built
directly as ``DiscreteSAC("MlpPolicy", "Acrobot-v1", seed=seed, ...)``; ``--set key=value`` (Python literals) overrides
it. Use tuning seeds (>= 100) only.

    python -m benchmarks.studies.sac_discrete_acrobot trace --seed 100 --steps 8000 --name sac_discrete_acrobot_trace
    python -m benchmarks.studies.sac_discrete_acrobot first --seeds 100 101 102 103 104 105 106 --steps 10000 \\
        --name sac_discrete_acrobot_first
    python -m benchmarks.studies.sac_discrete_acrobot explore --episodes 200 --name sac_discrete_acrobot_explore

On one core of an idle 2-core machine: trace about 2 min per 8k steps; first about 2 min per seed that stays stuck to
10k (much less for one that reaches the goal early), 4 arms x 7 seeds about 25 min; explore about 1 min.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback

from benchmarks import run
from sb3_pg_extras import DiscreteSAC

# zoo_hyperparams/sac_discrete.yml's Acrobot-v1 entry before this study (target entropy 0.5 log|A|)
ENTRY_BEFORE: dict[str, Any] = dict(
    learning_rate=1e-3, ent_coef="auto_0.1", buffer_size=50000, learning_starts=1000, batch_size=128, gamma=0.99,
    tau=0.005, train_freq=1, gradient_steps=1, n_steps=3, target_entropy="auto", backup_entropy=False,
    policy_kwargs=dict(net_arch=[256, 256]),
)  # fmt: skip
ARMS: dict[str, dict[str, Any]] = {
    "entry": {},
    "t025": dict(target_entropy="auto_0.25"),
    "t09": dict(target_entropy="auto_0.9"),
    "ls2500": dict(learning_starts=2500),
    # the entry today (target entropy 0.9 log|A|), then with each warm-up action held for 5 steps
    "t09h5": dict(target_entropy="auto_0.9", warmup_action_repeat=5),
    "t09h5ls2500": dict(target_entropy="auto_0.9", warmup_action_repeat=5, learning_starts=2500),
}


def reached_goal(dones: np.ndarray, infos: list[dict[str, Any]]) -> bool:
    """Whether an env of the step ended its episode by termination (Acrobot's goal), not by the time limit."""
    return any(done and not info.get("TimeLimit.truncated", False) for done, info in zip(dones, infos))


class Trace(BaseCallback):
    def __init__(self, rows: list[dict[str, Any]]):
        super().__init__()
        self.rows, self.goals = rows, 0
        self.actions: list[int] = []

    def _on_step(self) -> bool:
        self.goals += reached_goal(self.locals["dones"], self.locals["infos"])
        self.actions.append(int(self.locals["actions"][0]))
        if self.num_timesteps % 1000 == 0:
            model: Any = self.model
            obs = th.as_tensor(model.replay_buffer.sample(512).observations)
            with th.no_grad():
                probs, log_probs = model.actor.action_log_probs(obs)
                q_values = model.critic(obs)[0]
            shares = np.bincount(self.actions[-1000:], minlength=3) / 1000
            self.rows.append({
                "steps": self.num_timesteps,
                "goals": self.goals,
                "alpha": float(model._temperature()),
                "entropy": float(-(probs * log_probs).sum(-1).mean()),
                "max_prob": float(probs.max(-1).values.mean()),
                "q_spread": float((q_values.max(1).values - q_values.min(1).values).mean()),
                "shares": " / ".join(f"{s:.2f}" for s in shares),
            })  # fmt: skip
            print(self.rows[-1], flush=True)
        return True


class FirstGoal(BaseCallback):
    step: int | None = None

    def _on_step(self) -> bool:
        if reached_goal(self.locals["dones"], self.locals["infos"]):
            self.step = self.num_timesteps
            return False
        return True


def model(seed: int, overrides: dict[str, Any]) -> DiscreteSAC:
    return DiscreteSAC("MlpPolicy", "Acrobot-v1", seed=seed, **{**ENTRY_BEFORE, **overrides})


def explore(episodes: int) -> list[tuple[str, float]]:
    env = gym.make("Acrobot-v1")

    def success_rate(policy: Any) -> float:
        rng, hits = np.random.default_rng(0), 0
        for episode in range(episodes):
            obs, _ = env.reset(seed=int(rng.integers(2**31)))
            state: dict[str, Any] = {"episode": episode}
            for _ in range(500):
                obs, _, terminated, _, _ = env.step(policy(obs, rng, state))
                if terminated:
                    hits += 1
                    break
        return hits / episodes

    def held(k: int) -> Any:
        def policy(obs: np.ndarray, rng: np.random.Generator, state: dict[str, Any]) -> int:
            if state.get("left", 0) == 0:
                state["action"], state["left"] = int(rng.integers(3)), k
            state["left"] -= 1
            return state["action"]

        return policy

    def network(temperature: float) -> Any:
        def policy(obs: np.ndarray, rng: np.random.Generator, state: dict[str, Any]) -> int:
            if "net" not in state:  # a new random network per episode
                th.manual_seed(state["episode"])
                state["net"] = th.nn.Sequential(th.nn.Linear(6, 64), th.nn.Tanh(), th.nn.Linear(64, 3))
            with th.no_grad():
                logits = state["net"](th.as_tensor(obs, dtype=th.float32))
            if temperature == 0:
                return int(logits.argmax())
            probs = th.softmax(logits / temperature, -1).numpy()
            return int(rng.choice(3, p=probs / probs.sum()))

        return policy

    rows = [("uniformly random actions", success_rate(lambda obs, rng, state: int(rng.integers(3))))]
    rows += [(f"a random action held for {k} steps", success_rate(held(k))) for k in (2, 5, 10, 20)]
    rows += [("the greedy action of a random 64-unit network", success_rate(network(0.0)))]
    rows += [("a softmax of a random 64-unit network at temperature 0.1", success_rate(network(0.1)))]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("probe", choices=("trace", "first", "explore"))
    parser.add_argument("--seed", type=int, default=100, help="trace: the seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102, 103, 104, 105, 106])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS), help="first: the arms")
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--episodes", type=int, default=200, help="explore: episodes per policy")
    parser.add_argument("--set", nargs="*", default=[], help="overrides of ENTRY_BEFORE: key=value (Python literal)")
    parser.add_argument("--name", required=True)
    parser.add_argument("--out", type=Path, default=run.STUDIES)
    args = parser.parse_args(argv)
    th.set_num_threads(1)
    overrides = {key: ast.literal_eval(value) for key, value in (item.split("=", 1) for item in args.set)}
    command = run.script_command(__file__, sys.argv[1:] if argv is None else argv)
    lines = [f"# DiscreteSAC on Acrobot-v1: {args.probe} (`{args.name}`)", "", "Generated (do not edit by hand):", ""]
    lines += [f"    {command}", ""]
    if args.probe == "trace":
        rows: list[dict[str, Any]] = []
        model(args.seed, overrides).learn(args.steps, callback=Trace(rows))
        lines += [
            f"Seed {args.seed}, the entry before the study{' with ' + ', '.join(args.set) if args.set else ''}.",
            "",
            "| steps | episodes that reached the goal | alpha | policy entropy (nats; uniform 1.10) | mean max prob "
            "| Q spread | action shares (last 1000 steps) |",
            "|---|---|---|---|---|---|---|",
            *(
                f"| {r['steps']} | {r['goals']} | {r['alpha']:.4f} | {r['entropy']:.3f} | {r['max_prob']:.2f} "
                f"| {r['q_spread']:.3f} | {r['shares']} |"
                for r in rows
            ),
        ]
    elif args.probe == "first":
        found: dict[str, dict[int, int | None]] = {arm: {} for arm in args.arms}
        for seed in args.seeds:
            for arm in args.arms:
                callback = FirstGoal()
                model(seed, {**overrides, **ARMS[arm]}).learn(args.steps, callback=callback)
                found[arm][seed] = callback.step
                print(arm, seed, callback.step, flush=True)
        lines += [
            f"The env step of the first training episode that reaches the goal (-: none by {args.steps} steps).",
            "",
            f"| arm | {' | '.join(map(str, args.seeds))} | none |",
            f"|---|{'---|' * len(args.seeds)}---|",
            *(
                f"| {arm} ({ARMS[arm] or 'the entry'}) | "
                + " | ".join("-" if found[arm][s] is None else str(found[arm][s]) for s in args.seeds)
                + f" | {sum(v is None for v in found[arm].values())} of {len(args.seeds)} |"
                for arm in args.arms
            ),
        ]
    else:
        lines += [f"{args.episodes} episodes per policy.", "", "| policy | reached the goal |", "|---|---|"]
        lines += [f"| {policy} | {rate:.1%} |" for policy, rate in explore(args.episodes)]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
