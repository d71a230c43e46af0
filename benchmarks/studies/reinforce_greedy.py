"""
What REINFORCE's greedy (deterministic) policy does on LunarLander-v3 after the comparison's 100k-step budget, with
the zoo entry's settings and a chosen ``ent_coef`` (issue 41; benchmarks/notes/reinforce.md, "LunarLander-v3 in the
comparison"): trains once with one ``learn(100000)`` call (whole 8 x 512-step rollouts: 102,400 steps), then plays
``--episodes`` greedy episodes and prints their return, length, the policy's mean entropy along them, the share of
each action the argmax picks, and the lander's mean height at the end (y > 1.5: it left through the top of the screen,
where nothing ends an episode).

    python -m benchmarks.studies.reinforce_greedy --seed 101 --ent-coef 0.001
    python -m benchmarks.studies.reinforce_greedy --seed 101 --ent-coef 0.01

Use tuning seeds (>= 100) only. About 1 min per run on one core of an idle 2-core machine.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.env_util import make_vec_env

from sb3_pg_extras import REINFORCE

# zoo_hyperparams/reinforce.yml's LunarLander-v3 entry without ent_coef (the studied knob)
ENTRY = dict(n_steps=512, gamma=0.99, learning_rate=1e-3, baseline_learning_rate=1e-3, normalize_advantage=True)


def greedy_report(model: REINFORCE, episodes: int, seed: int) -> dict[str, float | np.ndarray]:
    """Greedy episodes of ``model`` on LunarLander-v3: mean return (and sample std), length, entropy, argmax shares."""
    env = gym.make("LunarLander-v3")
    returns, lengths, heights, entropies, actions = [], [], [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done, total, steps = False, 0.0, 0
        while not done:
            with th.no_grad():
                dist = model.policy.get_distribution(th.as_tensor(obs[None], dtype=th.float32)).distribution
            entropies.append(float(dist.entropy()))
            action = int(dist.probs.argmax())
            actions.append(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            total, steps, done = total + float(reward), steps + 1, terminated or truncated
        returns.append(total)
        lengths.append(steps)
        heights.append(float(obs[1]))
    return dict(
        ret=float(np.mean(returns)), ret_std=float(np.std(returns, ddof=1)), length=float(np.mean(lengths)),
        entropy=float(np.mean(entropies)), shares=np.bincount(actions, minlength=4) / len(actions),
        height=float(np.mean(heights)),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--ent-coef", type=float, required=True)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args(argv)
    th.set_num_threads(1)
    env = make_vec_env("LunarLander-v3", n_envs=8, seed=args.seed)
    model = REINFORCE("MlpPolicy", env, ent_coef=args.ent_coef, seed=args.seed, **ENTRY)
    model.learn(args.steps)
    r = greedy_report(model, args.episodes, seed=10_000)
    shares = " / ".join(f"{x:.2f}" for x in r["shares"])  # type: ignore[union-attr]
    print(
        f"seed {args.seed}, ent_coef {args.ent_coef}: greedy return {r['ret']:.1f} +/- {r['ret_std']:.1f}, "
        f"episode length {r['length']:.0f}, policy entropy {r['entropy']:.3f} (max {np.log(4):.3f}), "
        f"argmax none / left / main / right {shares}, final height {r['height']:.1f}"
    )


if __name__ == "__main__":
    main()
