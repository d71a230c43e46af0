"""Model Predictive Path Integral control (MPPI) on Pendulum-v1: run, save, load, predict, evaluate.

MPPI learns no policy: with Pendulum's known dynamics (sb3_pg_extras.envs) it plans every action by rolling out 1000
sampled action sequences of 30 steps, so `learn()` only runs the controller in the env (callbacks and logging as
usual). Run from the repository root:

    python examples/mppi.py

Takes about 10 s on a 2-core machine (one torch thread) and leaves no files behind. It prints the mean return of 10
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

from sb3_pg_extras import MPPI

ENV_ID = "Pendulum-v1"
N_TIMESTEPS = 200  # one episode
N_EVAL_EPISODES = 10


def main() -> None:
    th.set_num_threads(1)
    start = time.perf_counter()

    # The constructor defaults (the Pendulum-v1 entry of zoo_hyperparams/mppi.yml): K = 1000 sequences of H = 30 steps
    model = MPPI("MlpPolicy", ENV_ID, dynamics_mode="known", n_samples=1000, horizon=30, seed=0)
    model.learn(N_TIMESTEPS)
    print(f"ran {model.num_timesteps} steps in {time.perf_counter() - start:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mppi_pendulum.zip"
        model.save(path)
        # No env needed to predict or evaluate: the planner finds the known dynamics from the saved env id
        model = MPPI.load(path)

    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=0)
    action, plan = model.predict(obs, deterministic=True)
    print(f"action for one observation: {action}")
    # `plan` is MPPI's warm start (SB3's recurrent `state`): pass it back at the next step, as evaluate_policy does
    obs, *_ = env.step(action)
    action, plan = model.predict(obs, state=plan, deterministic=True)
    print(f"next action, from the warm-started plan: {action}")

    eval_env = make_vec_env(ENV_ID, n_envs=1, seed=1000)  # a fresh env (with a Monitor), seeded apart from training
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=N_EVAL_EPISODES, deterministic=True)
    print(f"mean return over {N_EVAL_EPISODES} episodes: {mean:.1f} +/- {std:.1f}")
    print(f"wall time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
