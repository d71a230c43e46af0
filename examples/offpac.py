"""Off-policy actor-critic (OffPAC, clipped importance sampling) on CartPole-v1: train, save, load, predict, evaluate.

Run from the repository root:

    python examples/offpac.py

Takes about 110 s on a 2-core machine (one torch thread) and leaves no files behind. It prints the mean return of 10
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
from stable_baselines3.common.utils import LinearSchedule

from sb3_pg_extras import OffPAC

ENV_ID = "CartPole-v1"
N_TIMESTEPS = 40_000
N_EVAL_EPISODES = 10


def main() -> None:
    th.set_num_threads(1)
    start = time.perf_counter()

    # The CartPole-v1 entry of zoo_hyperparams/offpac.yml (1e5 steps there): the rate and the entropy bonus decay
    # linearly to 0 over the budget
    model = OffPAC(
        "MlpPolicy",
        ENV_ID,
        learning_rate=LinearSchedule(1e-3, 0.0, 1.0),
        buffer_size=10_000,
        learning_starts=1000,
        batch_size=256,
        gamma=0.98,
        tau=0.01,
        is_clip=1.0,
        ent_coef="lin_0.1",
        normalize_advantage=False,
        policy_kwargs=dict(net_arch=[64, 64]),
        seed=0,
    )
    model.learn(N_TIMESTEPS)
    print(f"trained {model.num_timesteps} steps in {time.perf_counter() - start:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "offpac_cartpole.zip"
        model.save(path)
        # No env needed to predict or evaluate; to continue training: OffPAC.load(path, env=env).learn(...)
        model = OffPAC.load(path)

    obs, _ = gym.make(ENV_ID).reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    print(f"action for one observation: {action}")

    eval_env = make_vec_env(ENV_ID, n_envs=1, seed=1000)  # a fresh env (with a Monitor), seeded apart from training
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=N_EVAL_EPISODES, deterministic=True)
    print(f"mean return over {N_EVAL_EPISODES} episodes: {mean:.1f} +/- {std:.1f}")
    print(f"wall time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
