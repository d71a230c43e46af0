"""Pilot: SVG (given horizon and options) or SB3's SAC on Pendulum-v1, evaluated every 1000 env steps.

Used to choose SVG's noise-inference default (docs/svg.md); the full comparison goes through benchmarks/run.py.

    python benchmarks/svg_pilot.py sac 6000
    python benchmarks/svg_pilot.py 1 6000 "dict(noise_inference=True)"
"""

import sys
import time

import torch as th
from stable_baselines3 import SAC
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_pg_extras import SVG


def main() -> None:
    th.set_num_threads(1)
    which, steps = sys.argv[1], int(sys.argv[2])
    common = dict(learning_rate=1e-3, learning_starts=1000, seed=int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    if which == "sac":
        model = SAC("MlpPolicy", "Pendulum-v1", **common)
    else:
        extra = eval(sys.argv[3]) if len(sys.argv) > 3 else {}  # a dict(...) of SVG arguments
        model = SVG("MlpPolicy", "Pendulum-v1", horizon=eval(which), **common, **extra)
    start = time.time()
    for _ in range(steps // 1000):
        model.learn(1000, reset_num_timesteps=False)
        mean, _ = evaluate_policy(model, make_vec_env("Pendulum-v1", seed=100), n_eval_episodes=5)
        print(which, model.num_timesteps, round(float(mean), 1), round(time.time() - start), flush=True)


if __name__ == "__main__":
    main()
