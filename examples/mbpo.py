"""Model-Based Policy Optimization (MBPO) on Pendulum-v1: train, save, load, predict, evaluate.

Run from the repository root:

    python examples/mbpo.py

Takes about 90 s on a 2-core machine (one torch thread) and leaves no files behind. It prints the mean return of 10
deterministic evaluation episodes on a fresh env (a random policy gets about -1200; the benchmarks count -200 as
solved) and the wall time.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import gymnasium as gym
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_pg_extras import MBPO

ENV_ID = "Pendulum-v1"
N_TIMESTEPS = 2000
N_EVAL_EPISODES = 10


def main() -> None:
    th.set_num_threads(1)
    start = time.perf_counter()

    # The Pendulum-v1 entry of zoo_hyperparams/mbpo.yml (5000 steps there) with smaller SAC networks, [64, 64]
    # instead of [256, 256], for speed. The dynamics ensemble is refitted every 250 steps; imagined rewards come from
    # Pendulum's known reward function (sb3_pg_extras.envs)
    model = MBPO(
        "MlpPolicy",
        ENV_ID,
        learning_rate=1e-3,
        learning_starts=500,
        batch_size=256,
        gradient_steps=10,
        real_ratio=0.05,
        model_train_freq=250,
        rollouts_per_step=400,
        model_retain_steps=1000,
        max_rollout_horizon=1,
        policy_kwargs=dict(net_arch=[64, 64]),
        seed=0,
    )
    model.learn(N_TIMESTEPS)
    print(f"trained {model.num_timesteps} steps in {time.perf_counter() - start:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mbpo_pendulum.zip"
        model.save(path)
        # No env needed to predict or evaluate; to continue training: MBPO.load(path, env=env).learn(...)
        model = MBPO.load(path)

    obs, _ = gym.make(ENV_ID).reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    print(f"action for one observation: {action}")

    eval_env = make_vec_env(ENV_ID, n_envs=1, seed=1000)  # a fresh env (with a Monitor), seeded apart from training
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=N_EVAL_EPISODES, deterministic=True)
    print(f"mean return over {N_EVAL_EPISODES} episodes: {mean:.1f} +/- {std:.1f}")
    print(f"wall time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
