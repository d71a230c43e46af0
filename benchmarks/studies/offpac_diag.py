"""Diagnostics of OffPAC's late collapse on CartPole-v1 (benchmarks/notes/offpac.md, "Late collapse on CartPole-v1").

Builds the run exactly as ``benchmarks/run.py`` does (zoo entry, learning_starts capped at 5% of the budget, same
seeding) and every ``--every`` env steps prints: the greedy policy's return (5 episodes), the return of acting greedily
on the critic (argmax_a Q(s, a)), and on the replay buffer's states the policy's entropy, the share of near-deterministic
states, how often argmax pi agrees with argmax Q, the mean |Q(s, left) - Q(s, right)|, the share of terminal
transitions, and the means of the actor step's statistics since the last line.

    python -m benchmarks.studies.offpac_diag --seed 100 --n-timesteps 100000 [--set key=value ...]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
import torch as th
import yaml
from stable_baselines3.common.callbacks import BaseCallback

from benchmarks.run import build


def greedy_return(model, env, n: int, use_q: bool, ends: list | None = None) -> float:
    """Mean return of n greedy episodes; ``ends`` collects how each failed episode ended ("x": cart off the track,
    "th": pole angle)."""
    returns = []
    for _ in range(n):
        obs, done, total = env.reset(), False, 0.0
        while not done:
            last = obs[0]
            if use_q:
                with th.no_grad():
                    q = model.critic(th.as_tensor(obs, dtype=th.float32))[0]
                action = q.argmax(dim=1).numpy()
            else:
                action, _ = model.predict(obs, deterministic=True)
            obs, reward, dones, _ = env.step(action)
            total += float(reward[0])
            done = bool(dones[0])
        if ends is not None and total < 500:
            ends.append("x" if abs(last[0]) > abs(last[2]) * 2.4 / 0.2095 else "th")
        returns.append(total)
    return float(np.mean(returns))


class Diag(BaseCallback):
    def __init__(self, eval_env, every: int, stats: dict, save_dir: str = "") -> None:
        super().__init__()
        self.save_dir = save_dir
        self.eval_env, self.every, self.stats, self.t0 = eval_env, every, stats, time.time()

    def _on_step(self) -> bool:
        if self.num_timesteps % self.every:
            return True
        m = self.model
        buf = m.replay_buffer
        n = buf.buffer_size if buf.full else buf.pos
        obs = th.as_tensor(buf.observations[:n, 0], dtype=th.float32)
        with th.no_grad():
            probs, log_probs = m.actor.action_log_probs(obs)
            q = m.critic(obs)[0]
        ent = -(probs * log_probs).sum(1)
        agree = (probs.argmax(1) == q.argmax(1)).float().mean().item()
        ends: list = []
        line = {
            "steps": self.num_timesteps,
            "greedy": greedy_return(m, self.eval_env, 5, False, ends),
            "ends": "".join(e[0] for e in ends) or "-",
            "q_greedy": greedy_return(m, self.eval_env, 5, True),
            "ent": ent.mean().item(),
            "det99": (probs.max(1).values > 0.99).float().mean().item(),
            "agree": agree,
            "dq": (q[:, 0] - q[:, 1]).abs().mean().item(),
            "q": q.mean().item(),
            "term": float(buf.dones[:n].mean()),
            "ep_len": float(np.mean([e["l"] for e in m.ep_info_buffer])) if m.ep_info_buffer else float("nan"),
            "ent_coef": m._current_ent_coef,
            **{k: float(np.mean(v)) for k, v in self.stats.items()},
            "wall": time.time() - self.t0,
        }
        self.stats.clear()
        if self.save_dir:
            th.save(m.policy.state_dict(), f"{self.save_dir}/policy_{self.num_timesteps}.pt")
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in line.items()), flush=True)
        return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--n-timesteps", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=5000)
    parser.add_argument("--set", nargs="*", default=[])
    parser.add_argument("--save-dir", default="", help="save the policy's state dict there at every line")
    args = parser.parse_args()
    th.set_num_threads(1)
    th.manual_seed(args.seed)
    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    model, n_timesteps, eval_env = build("offpac", "CartPole-v1", args.seed, overrides, False, args.n_timesteps, 0.05)
    stats: dict = defaultdict(list)
    step = model._gradient_step

    def logged_step(data):
        out = step(data)
        for k in ("critic_loss", "is_ratio_mean", "is_clip_fraction"):
            stats[k].append(out[k])
        return out

    model._gradient_step = logged_step
    model.learn(n_timesteps, callback=Diag(eval_env, args.every, stats, args.save_dir))


if __name__ == "__main__":
    main()
