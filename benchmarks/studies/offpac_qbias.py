"""The critic's bias along greedy CartPole-v1 episodes, for saved OffPAC policies (benchmarks/notes/offpac.md, "Late
collapse on CartPole-v1").

For each snapshot (``policy_<steps>.pt`` state dicts written by ``offpac_diag.py --save-dir``, or ``*.zip`` models, e.g.
copies of ``benchmarks/run.py --checkpoints``'s ``model.zip``) it plays 3 greedy episodes (env seeds 500-502) and
compares the critic's V(s) = sum_a pi(a|s) min_j Q_j(s, a) with the discounted return-to-go actually collected (for an
episode that reaches the 500-step limit, only its first len - 100 steps, whose return-to-go the cut barely changes).
With reward 1 per step, no value can exceed 1 / (1 - gamma) (50 at gamma 0.98).

    python -m benchmarks.studies.offpac_qbias DIR [--gamma 0.98] [--n-critics 1]
"""

from __future__ import annotations

import argparse
import glob
import re

import gymnasium as gym
import numpy as np
import torch as th

from sb3_pg_extras import OffPAC


def snapshots(directory: str) -> list[str]:
    pts = glob.glob(f"{directory}/policy_*.pt")
    if pts:
        return sorted(pts, key=lambda f: int(re.findall(r"\d+", f)[-1]))
    return sorted(glob.glob(f"{directory}/*.zip"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--gamma", type=float, default=0.98)
    parser.add_argument("--n-critics", type=int, default=1)
    args = parser.parse_args()
    th.set_num_threads(1)
    policy_kwargs = {"net_arch": [64, 64], "n_critics": args.n_critics}
    model = OffPAC("MlpPolicy", "CartPole-v1", gamma=args.gamma, policy_kwargs=policy_kwargs)
    for path in snapshots(args.directory):
        if path.endswith(".zip"):
            model = OffPAC.load(path, device="cpu")
            steps = model.num_timesteps
        else:
            model.policy.load_state_dict(th.load(path))
            steps = int(re.findall(r"\d+", path)[-1])
        gamma = model.gamma
        env = gym.make("CartPole-v1")
        predicted: list[float] = []
        actual: list[float] = []
        lengths = []
        for episode in range(3):
            obs, _ = env.reset(seed=500 + episode)
            values, rewards, done, truncated = [], [], False, False
            while not done:
                with th.no_grad():
                    tensor = th.as_tensor(obs[None], dtype=th.float32)
                    probs, _ = model.actor.action_log_probs(tensor)
                    q = th.min(th.stack(model.critic(tensor)), 0).values
                values.append(float((probs * q).sum()))
                obs, reward, terminated, truncated, _ = env.step(int(probs.argmax()))
                rewards.append(float(reward))
                done = terminated or truncated
            to_go, returns = 0.0, []
            for reward in reversed(rewards):
                to_go = reward + gamma * to_go
                returns.append(to_go)
            returns.reverse()
            n = max(1, len(rewards) - 100) if truncated else len(rewards)
            predicted += values[:n]
            actual += returns[:n]
            lengths.append(len(rewards))
        print(
            f"{path.rsplit('/', 1)[-1]:>22} steps={steps} episode lengths={lengths} "
            f"V_pred={np.mean(predicted):.2f} G_true={np.mean(actual):.2f} bias={np.mean(predicted) - np.mean(actual):+.2f} "
            f"max V_pred={np.max(predicted):.1f}"
        )


if __name__ == "__main__":
    main()
