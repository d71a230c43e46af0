"""Soft Actor-Critic for discrete actions (DiscreteSAC) on CartPole-v1: train, save, load, predict, evaluate.

Run from the repository root:

    python examples/sac_discrete.py

Takes about 70 s on a 2-core machine (one torch thread) and leaves no files behind. It prints the mean return of 10
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

from sb3_pg_extras import DiscreteSAC

ENV_ID = "CartPole-v1"
N_TIMESTEPS = 30_000
N_EVAL_EPISODES = 10


def main() -> None:
    th.set_num_threads(1)
    start = time.perf_counter()

    # The CartPole-v1 entry of zoo_hyperparams/sac_discrete.yml (5e4 steps there)
    model = DiscreteSAC(
        "MlpPolicy",
        ENV_ID,
        learning_rate=1e-3,
        buffer_size=50_000,
        learning_starts=1000,
        batch_size=64,
        gamma=0.98,
        tau=0.01,
        ent_coef="auto_0.1",
        policy_kwargs=dict(net_arch=[64, 64]),
        seed=0,
    )
    model.learn(N_TIMESTEPS)
    print(f"trained {model.num_timesteps} steps in {time.perf_counter() - start:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sac_discrete_cartpole.zip"
        model.save(path)
        # No env needed to predict or evaluate; to continue training: DiscreteSAC.load(path, env=env).learn(...)
        model = DiscreteSAC.load(path)

    obs, _ = gym.make(ENV_ID).reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    print(f"action for one observation: {action}")

    eval_env = make_vec_env(ENV_ID, n_envs=1, seed=1000)  # a fresh env (with a Monitor), seeded apart from training
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=N_EVAL_EPISODES, deterministic=True)
    print(f"mean return over {N_EVAL_EPISODES} episodes: {mean:.1f} +/- {std:.1f}")
    print(f"wall time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
