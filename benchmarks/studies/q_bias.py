"""
Critic bias of the SAC family (issue 15): how far the learned soft Q-value of the policy is from the soft return the
policy actually collects, for MBPO and for SAC trained on real data only at several update-to-data (UTD) ratios.

Every ``--probe-freq`` env steps (once learning has started) the current stochastic policy runs ``--episodes``
episodes on a separate env (seeded ``seed + 20000``). At every visited (s_t, a_t) it compares the critic's estimate
min(Q1, Q2)(s_t, a_t) with the discounted soft Monte-Carlo return that the critic is trained to predict (Haarnoja et
al., 2018, "Soft Actor-Critic", eq. 2-3; SB3's target r + gamma * (min Q' - alpha * log pi)):

    G_t = r_t + gamma * (G_{t+1} - alpha * log pi(a_{t+1} | s_{t+1})),   G = r at a termination,

with alpha the temperature at the probe. Chen et al. (2021, "Randomized Ensembled Double Q-Learning", Fig. 2) measure
the same bias, normalized by the mean |G|, to show that SAC's bias grows with the UTD ratio. Steps within ``--tail``
of a time-limit truncation are left out (their return is cut short, not zero). Report: mean bias Q - G and
normalized bias (Q - G) / mean |G| over the visited states, with the hard (reward-only) return alongside.

    python -m benchmarks.studies.q_bias --algos mbpo sac sac/utd10 --set sac.learning_starts=5000 \
        --set sac/utd10.learning_starts=5000 --set sac/utd10.gradient_steps=10 \
        --env Hopper-v5 --seed 0 --n-timesteps 20000 --probe-freq 2000 --name mbpo_q_bias_hopper

Hyperparameters come from the zoo files as in ``benchmarks/run.py`` (``<algo>/<label>`` variants with ``--set``).
Writes ``benchmarks/results/<name>.csv`` (a row per probe, appended as it is made) and ``<name>.md``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback

from benchmarks import run

FIELDS = ["algo", "env", "seed", "steps", "train_time_s", "temperature", "episodes", "states", "return", "length",
          "q", "soft_return", "hard_return", "bias", "normalized_bias"]  # fmt: skip


def soft_returns(rewards: np.ndarray, log_probs: np.ndarray, alpha: float, gamma: float) -> np.ndarray:
    """G_t = r_t + gamma * (G_{t+1} - alpha * log_probs[t+1]) backwards from G_{T-1} = r_{T-1} (an episode that ends
    at T). ``alpha = 0`` gives the hard discounted return."""
    returns = np.zeros(len(rewards))
    following = 0.0  # G_{t+1} - alpha * log pi_{t+1}, zero after the last step
    for t in reversed(range(len(rewards))):
        returns[t] = rewards[t] + gamma * following
        following = returns[t] - alpha * log_probs[t]
    return returns


def temperature(model: Any) -> float:
    return run.diagnostics(model)["temperature"]


def probe(model: Any, env: gym.Env, episodes: int, tail: int, seed: int) -> dict[str, float]:
    """Bias of min(Q1, Q2) against the soft Monte-Carlo return along ``episodes`` episodes of the stochastic policy."""
    alpha, gamma = temperature(model), float(model.gamma)
    q_all, soft_all, hard_all, ep_returns, ep_lengths = [], [], [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        observations, actions, rewards, log_probs = [], [], [], []
        done = truncated = False
        while not (done or truncated):
            obs_t = th.as_tensor(obs, dtype=th.float32, device=model.device).unsqueeze(0)
            with th.no_grad():
                action, log_prob = model.actor.action_log_prob(obs_t)
            observations.append(obs_t)
            actions.append(action)
            log_probs.append(float(log_prob.item()))
            obs, reward, done, truncated, _ = env.step(model.policy.unscale_action(action.cpu().numpy()[0]))
            rewards.append(float(reward))
        with th.no_grad():
            q = th.min(th.cat(model.critic(th.cat(observations), th.cat(actions)), dim=1), dim=1).values.cpu().numpy()
        keep = len(rewards) - (tail if truncated and not done else 0)
        soft = soft_returns(np.array(rewards), np.array(log_probs), alpha, gamma)
        hard = soft_returns(np.array(rewards), np.array(log_probs), 0.0, gamma)
        q_all.append(q[:keep]), soft_all.append(soft[:keep]), hard_all.append(hard[:keep])
        ep_returns.append(sum(rewards)), ep_lengths.append(len(rewards))
    q, soft, hard = (np.concatenate(x) for x in (q_all, soft_all, hard_all))
    bias = float(np.mean(q - soft)) if len(q) else float("nan")
    return dict(temperature=alpha, episodes=episodes, states=len(q), **{"return": float(np.mean(ep_returns))},
                length=float(np.mean(ep_lengths)), q=float(np.mean(q)), soft_return=float(np.mean(soft)),
                hard_return=float(np.mean(hard)), bias=bias,
                normalized_bias=bias / max(float(np.mean(np.abs(soft))), 1e-8))  # fmt: skip


class Probe(BaseCallback):
    def __init__(self, env: gym.Env, args: argparse.Namespace, record: Any):
        super().__init__()
        self.env, self.args, self.record = env, args, record
        self.next_probe = args.probe_freq
        self.start, self.probe_time = 0.0, 0.0

    def _on_training_start(self) -> None:
        self.start = time.perf_counter()

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_probe:
            self.next_probe += self.args.probe_freq
            if self.num_timesteps > getattr(self.model, "learning_starts", 0):
                t0 = time.perf_counter()
                result = probe(self.model, self.env, self.args.episodes, self.args.tail, self.args.seed + 20_000)
                self.probe_time += time.perf_counter() - t0
                train_time = time.perf_counter() - self.start - self.probe_time
                self.record(dict(steps=self.num_timesteps, train_time_s=train_time, **result))
        return True


def run_algo(algo: str, args: argparse.Namespace, out: Path) -> None:
    th.manual_seed(args.seed)
    model, _, _ = run.build(algo, args.env, args.seed, run.parse_overrides(args.set).get(algo))
    if not hasattr(model, "critic") or not hasattr(model, "log_ent_coef"):
        raise ValueError(f"{algo}: q_bias.py probes algorithms of the SAC family (a twin critic and a temperature)")
    if run.unwrap_vec_normalize(model.get_env()) is not None:
        raise ValueError(f"{algo}: an entry with `normalize` is not supported (the probe env is not normalized)")

    def record(row: dict[str, Any]) -> None:
        row = dict(algo=algo, env=args.env, seed=args.seed, **row)
        new = not out.exists()
        with open(out, "a", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        print(f"  {algo:>10} steps={row['steps']:>7} return={row['return']:7.1f} len={row['length']:6.1f} "
              f"alpha={row['temperature']:.3f} Q={row['q']:7.1f} G_soft={row['soft_return']:7.1f} "
              f"G_hard={row['hard_return']:7.1f} bias={row['normalized_bias']:+.2f}", flush=True)  # fmt: skip

    model.learn(args.n_timesteps, callback=Probe(gym.make(args.env), args, record))


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV, with the column names of CSVs written before the American spelling renamed."""
    renamed = {"normalised_bias": "normalized_bias"}  # codespell:ignore normalised
    with open(path, newline="") as file:
        return [{renamed.get(key, key): value for key, value in row.items()} for row in csv.DictReader(file)]


def report(rows: list[dict[str, str]], command: str) -> str:
    algos = list(dict.fromkeys(row["algo"] for row in rows))
    steps = sorted({int(row["steps"]) for row in rows})
    by_key = {(row["algo"], int(row["steps"])): row for row in rows}

    def table(field: str, fmt: str) -> list[str]:
        lines = ["| algo | " + " | ".join(f"{s // 1000}k" for s in steps) + " |", "|---|" + "---|" * len(steps)]
        for algo in algos:
            cells = [format(float(by_key[(algo, s)][field]), fmt) if (algo, s) in by_key else "" for s in steps]
            lines.append(f"| {algo} | " + " | ".join(cells) + " |")
        return lines

    parts = [
        f"# Critic bias on {rows[0]['env']}, seed {rows[0]['seed']}",
        "",
        f"Generated by `{command}`. Normalized bias (mean over visited states of min(Q1, Q2) - soft Monte-Carlo "
        "return, over the mean |soft return|) of the stochastic policy at each probe; see the script's docstring.",
        "",
        "## Normalized bias",
        "",
        *table("normalized_bias", "+.2f"),
        "",
        "## Critic estimate min(Q1, Q2) / soft return / hard return (mean over visited states)",
        "",
    ]
    for field in ("q", "soft_return", "hard_return"):
        parts += [f"`{field}`:", "", *table(field, ".1f"), ""]
    parts += ["## Episode return of the stochastic policy (probe episodes)", "", *table("return", ".1f"), ""]
    parts += ["## Temperature", "", *table("temperature", ".3f"), ""]
    parts += ["## Train time (s, probes excluded)", "", *table("train_time_s", ".0f"), ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", nargs="+", required=True)
    parser.add_argument("--set", nargs="*", default=[], action="extend")
    parser.add_argument("--env", default="Hopper-v5")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-timesteps", type=int, default=20_000)
    parser.add_argument("--probe-freq", type=int, default=2_000)
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--tail", type=int, default=200, help="steps before a time-limit truncation left out")
    parser.add_argument("--name", required=True)
    parser.add_argument("--out", type=Path, default=run.STUDIES)
    parser.add_argument("--resume", action="store_true", help="skip algorithms the CSV has to the end")
    args = parser.parse_args(argv)
    th.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"{args.name}.csv"
    if out.exists() and not args.resume:
        out.unlink()
    rows = read_rows(out) if out.exists() else []
    done = {row["algo"] for row in rows if int(row["steps"]) >= args.n_timesteps}
    if rows:  # an algorithm stopped part-way runs again from the start
        with open(out, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(row for row in rows if row["algo"] in done)
    for algo in args.algos:
        if algo not in done:
            run_algo(algo, args, out)
    command = run.script_command(__file__, sys.argv[1:] if argv is None else argv)
    (args.out / f"{args.name}.md").write_text(report(read_rows(out), command) + "\n")


if __name__ == "__main__":
    main()
