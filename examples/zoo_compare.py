"""
Main job: train REINFORCE and SB3's PPO on CartPole-v1 through the rl_zoo3 command line (each with its zoo
hyperparameters), evaluate both final models the same way, and print a side-by-side table.

    python examples/zoo_compare.py [--env CartPole-v1] [--algos reinforce ppo] [--seed 0] [--eval-episodes 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import torch as th
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor


def train(algo: str, env_id: str, seed: int, log_folder: Path) -> float:
    """Train through ``python -m sb3_pg_extras.zoo train``; returns the wall time in seconds."""
    cmd = [sys.executable, "-m", "sb3_pg_extras.zoo", "train", "--algo", algo, "--env", env_id, "--seed", str(seed)]
    cmd += ["-f", str(log_folder), "--num-threads", "1", "--verbose", "0", "--log-interval", "-1"]
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--algos", nargs="+", default=["reinforce", "ppo"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("-f", "--log-folder", type=Path, default=Path("logs/zoo_compare"))
    args = parser.parse_args()
    th.set_num_threads(1)

    from rl_zoo3.utils import ALGOS, get_latest_run_id

    from sb3_pg_extras.zoo import register

    register()
    rows = []
    for algo in args.algos:
        wall = train(algo, args.env, args.seed, args.log_folder)
        run_dir = args.log_folder / algo / f"{args.env}_{get_latest_run_id(str(args.log_folder / algo), args.env)}"
        model = ALGOS[algo].load(run_dir / f"{args.env}.zip", device="cpu")
        eval_env = Monitor(gym.make(args.env))
        eval_env.reset(seed=args.seed + 1000)
        mean, std = evaluate_policy(model, eval_env, n_eval_episodes=args.eval_episodes, deterministic=True)
        rows.append((algo, mean, std, model.num_timesteps, wall))

    print(f"\n{args.env}, seed {args.seed}, zoo hyperparameters, {args.eval_episodes} deterministic evaluation episodes")
    print(f"| {'algo':<10} | {'final mean return':>20} | {'env steps':>9} | {'wall time s':>11} |")
    print(f"|{'-' * 12}|{'-' * 22}|{'-' * 11}|{'-' * 13}|")
    for algo, mean, std, steps, wall in rows:
        print(f"| {algo:<10} | {mean:>11.1f} +/- {std:>6.1f} | {steps:>9} | {wall:>11.1f} |")


if __name__ == "__main__":
    main()
