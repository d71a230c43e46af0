"""
DiscreteSAC diagnostic: train one seed with the zoo entry (plus ``--set`` overrides, as in ``run.py``), then evaluate
the final model three ways on fresh episodes:

- ``actor``: argmax of the policy (what ``predict(deterministic=True)`` and ``run.py``'s evaluations do),
- ``critic``: argmax of the minimum over the critics (the policy DQN would act with),
- ``stochastic``: actions sampled from the policy (the behavior the soft Q-values are learned for),

and print the learned temperature. Tells whether a plateau comes from the actor's fit of softmax(Q / alpha) or from
the soft Q-values themselves.

Example (the Acrobot-v1 numbers in results/sac_discrete_acrobot_pilots.md)::

    python -m benchmarks.sac_discrete_eval_modes --env Acrobot-v1 --seed 0 --episodes 50
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.env_util import make_vec_env

from benchmarks.run import PeriodicEval, build, parse_overrides
from sb3_pg_extras.common.critics import min_q


def run_episodes(model: Any, env_id: str, seed: int, mode: str, n_episodes: int) -> tuple[float, float]:
    """Mean and std of the undiscounted return over ``n_episodes`` with the given action rule."""
    env = make_vec_env(env_id, n_envs=1, seed=seed)
    obs = env.reset()
    returns: list[float] = []
    episode_return = 0.0
    while len(returns) < n_episodes:
        with th.no_grad():
            obs_tensor = model.policy.obs_to_tensor(obs)[0]
            probs, _ = model.actor.action_log_probs(obs_tensor)
            if mode == "actor":
                actions = probs.argmax(dim=1)
            elif mode == "critic":
                actions = min_q(model.critic(obs_tensor)).argmax(dim=1)
            else:
                actions = th.multinomial(probs, 1).flatten()
        obs, rewards, dones, _ = env.step(actions.cpu().numpy())
        episode_return += float(rewards[0])
        if dones[0]:
            returns.append(episode_return)
            episode_return = 0.0
    return float(np.mean(returns)), float(np.std(returns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Acrobot-v1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=50, help="episodes per evaluation mode at the end")
    parser.add_argument("--eval-freq", type=int, default=10000, help="run.py-style evaluations during training")
    parser.add_argument("--set", nargs="*", default=[], help="algo.key=value overrides, as in run.py")
    args = parser.parse_args()
    th.set_num_threads(1)
    overrides = parse_overrides(args.set).get("sac_discrete", {})
    model, n_timesteps, eval_env = build("sac_discrete", args.env, args.seed, overrides)

    def record(timesteps: int, mean: float, std: float, train_time: float) -> None:
        print(f"steps={timesteps:>8} deterministic return={mean:8.1f} +/- {std:6.1f} train={train_time:7.1f}s", flush=True)

    model.learn(n_timesteps, callback=PeriodicEval(eval_env, args.eval_freq, 10, record))
    # fresh episodes: seeds differ from run.py's eval env (seed + 10000)
    for mode in ("actor", "critic", "stochastic"):
        mean, std = run_episodes(model, args.env, args.seed + 20_000, mode, args.episodes)
        print(f"{mode:>10}: {mean:8.1f} +/- {std:6.1f} over {args.episodes} episodes", flush=True)
    print(f"ent_coef (alpha) at the end: {float(model._temperature()):.3f}")


if __name__ == "__main__":
    main()
