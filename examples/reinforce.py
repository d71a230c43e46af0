"""REINFORCE with a learned value baseline on CartPole-v1: train, save, load, predict, evaluate.

Run from the repository root:

    python examples/reinforce.py

Takes about 20 s on a 2-core machine (one torch thread) and leaves no files behind. It prints the mean return of 10
deterministic evaluation episodes on a fresh env (500 is the maximum) and the wall time.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import gymnasium as gym
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_pg_extras import REINFORCE

ENV_ID = "CartPole-v1"
N_TIMESTEPS = 50_000
N_EVAL_EPISODES = 10


def main() -> None:
    th.set_num_threads(1)
    start = time.perf_counter()

    # The CartPole-v1 entry of zoo_hyperparams/reinforce.yml on one env: 512 steps per update (the entry: 8 envs x 64)
    model = REINFORCE("MlpPolicy", ENV_ID, n_steps=512, learning_rate=3e-3, baseline_learning_rate=3e-3, seed=0)
    model.learn(N_TIMESTEPS)
    print(f"trained {model.num_timesteps} steps in {time.perf_counter() - start:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reinforce_cartpole.zip"
        model.save(path)
        # No env needed to predict or evaluate; to continue training: REINFORCE.load(path, env=env).learn(...)
        model = REINFORCE.load(path)

    obs, _ = gym.make(ENV_ID).reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    print(f"action for one observation: {action}")

    eval_env = make_vec_env(ENV_ID, n_envs=1, seed=1000)  # a fresh env (with a Monitor), seeded apart from training
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=N_EVAL_EPISODES, deterministic=True)
    print(f"mean return over {N_EVAL_EPISODES} episodes: {mean:.1f} +/- {std:.1f}")
    print(f"wall time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
