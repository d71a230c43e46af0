"""
Variance of REINFORCE's policy-gradient estimate with and without the learned value baseline, at the same policy
parameters: the variance reduction a state-value baseline is expected to give (E. Greensmith, P. L. Bartlett,
J. Baxter, "Variance Reduction Techniques for Gradient Estimates in Reinforcement Learning", JMLR 5, 2004; R. S.
Sutton, A. G. Barto, "Reinforcement Learning: An Introduction", 2nd ed., 2018, §13.4), measured.

For each seed and each checkpoint (env steps of ordinary REINFORCE training with the zoo hyperparameters):
  1. freeze the policy theta;
  2. fit V_phi to the returns of ``--fit-batches`` fresh batches collected at theta (the baseline the algorithm
     converges to at theta);
  3. collect ``--batches`` independent batches at theta (n_steps * n_envs steps each, as in training), and
     compute on each the gradient of the pseudo-loss with weights g_t (no baseline) and g_t - V_phi(s_t)
     (learned baseline), without standardization so that only the baseline differs;
  4. variance = trace of the covariance of the gradient vectors across batches; report the ratio.

Example::

    python -m benchmarks.studies.reinforce_variance --seeds 0 1 2 --checkpoints 0 10000 30000 --batches 40
"""

from __future__ import annotations

import argparse
import csv
import sys

import numpy as np
import torch as th
from stable_baselines3.common.callbacks import CallbackList

from benchmarks.run import STUDIES as RESULTS
from benchmarks.run import build, script_command
from sb3_pg_extras.common.returns import policy_gradient_weights


def collect(model, n_batches: int) -> list:
    """Independent on-policy batches at the current (frozen) parameters."""
    callback = CallbackList([])
    callback.init_callback(model)
    batches = []
    for _ in range(n_batches):
        model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
        batch, steps = model.rollout_buffer.ordered_batch()
        batches.append((batch, steps))
    return batches


def fit_value(model, batches: list, epochs: int) -> None:
    """Fit V_phi on the pooled returns of the given batches, full-batch Adam."""
    obs = th.cat([b.observations for b, _ in batches])
    returns = th.cat([b.returns for b, _ in batches])
    for _ in range(epochs):
        loss = th.nn.functional.mse_loss(model.policy.predict_values(obs).flatten(), returns)
        model.baseline_optimizer.zero_grad()
        loss.backward()
        model.baseline_optimizer.step()


def gradient(model, batch, steps, values) -> th.Tensor:
    weights = policy_gradient_weights(batch.returns, values, steps, model.gamma, normalize=False, gamma_weighting=False)
    loss, _ = model.policy_loss(batch.observations, batch.actions, weights)
    params = [p for group in model.policy.optimizer.param_groups for p in group["params"]]
    return th.cat([g.flatten() for g in th.autograd.grad(loss, params)])


def total_variance(grads: list[th.Tensor]) -> float:
    stacked = th.stack(grads)
    return float(((stacked - stacked.mean(0)) ** 2).sum(1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--checkpoints", nargs="+", type=int, default=[0, 10_000, 30_000])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--fit-batches", type=int, default=10)
    parser.add_argument("--fit-epochs", type=int, default=300)
    parser.add_argument("--name", default="reinforce_variance")
    args = parser.parse_args()
    th.set_num_threads(1)
    from sb3_pg_extras.zoo import register

    register()
    command = script_command(__file__, sys.argv[1:])
    rows = []
    for seed in args.seeds:
        model, _, _ = build("reinforce", args.env, seed)
        trained = 0
        for checkpoint in sorted(args.checkpoints):
            if checkpoint > trained:
                model.learn(checkpoint - trained, reset_num_timesteps=trained == 0)
                trained = checkpoint
            else:
                model._setup_learn(0)  # sets the first observation when no training happened yet
            state = {k: v.clone() for k, v in model.policy.state_dict().items()}
            optim_state = model.baseline_optimizer.state_dict()
            fit_value(model, collect(model, args.fit_batches), args.fit_epochs)
            grads_none, grads_base, returns_mean = [], [], []
            for batch, steps in collect(model, args.batches):
                with th.no_grad():
                    values = model.policy.predict_values(batch.observations).flatten()
                grads_none.append(gradient(model, batch, steps, None))
                grads_base.append(gradient(model, batch, steps, values))
                returns_mean.append(float(batch.returns.mean()))
            var_none, var_base = total_variance(grads_none), total_variance(grads_base)
            row = dict(
                seed=seed,
                env_steps=checkpoint,
                mean_return_to_go=float(np.mean(returns_mean)),
                var_no_baseline=var_none,
                var_learned_baseline=var_base,
                ratio=var_none / var_base,
            )
            rows.append(row)
            print(row)
            # training continues from the same policy and baseline, untouched by the measurement
            model.policy.load_state_dict(state)
            model.baseline_optimizer.load_state_dict(optim_state)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / f"{args.name}.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"# REINFORCE gradient-estimate variance, {args.env}",
        "",
        f"Command: `{command}`",
        "",
        f"Each cell: trace of the covariance of the policy-gradient estimate over {args.batches} independent batches "
        "(zoo hyperparameters: n_envs * n_steps steps per batch) at fixed policy parameters; no advantage "
        "standardization, so only the baseline differs.",
        "",
        "| env steps trained | seed | mean return-to-go | variance, no baseline | variance, learned baseline | ratio |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['env_steps']} | {r['seed']} | {r['mean_return_to_go']:.1f} | {r['var_no_baseline']:.4g} "
        f"| {r['var_learned_baseline']:.4g} | {r['ratio']:.1f}x |"
        for r in rows
    ]
    ratios = np.array([r["ratio"] for r in rows])
    lines += [
        "",
        f"Variance ratio (no baseline / learned baseline): min {ratios.min():.1f}x, "
        f"geometric mean {np.exp(np.log(ratios).mean()):.1f}x over {len(rows)} (seed, checkpoint) pairs.",
    ]
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
