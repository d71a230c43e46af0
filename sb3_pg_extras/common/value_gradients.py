"""Stochastic value gradients as pure tensor functions (Heess et al. 2015, "Learning Continuous Control Policies by
Stochastic Value Gradients"): the reparameterized squashed Gaussian policy with its noise held fixed, the inverse of
that reparameterization (noise inference, section 4.2), and the soft n-step value expansion whose gradient is the
SVG(n) policy gradient (eq. 13 for n = 1; its n-step and infinite-horizon versions)."""

from __future__ import annotations

import math

import torch as th

# SB3's SquashedDiagGaussianDistribution adds this inside log(1 - tanh(u)^2 + eps); kept equal so that log-probs agree
SQUASH_EPSILON = 1e-6


def squashed_gaussian_action(mean: th.Tensor, log_std: th.Tensor, noise: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
    """``a = tanh(mean + exp(log_std) * noise)`` and ``log pi(a|s)``, differentiable w.r.t. ``mean`` and ``log_std``
    with the noise held fixed (the reparameterization a = pi(s, eps) of SVG).

    :param mean: (batch, action_dim) mean of the Gaussian before the squashing
    :param log_std: (batch, action_dim)
    :param noise: (batch, action_dim) standard normal noise ``eps``
    :return: actions in (-1, 1) (batch, action_dim) and their log-probability (batch,), as SB3's squashed Gaussian
        computes it (change of variables through tanh)
    """
    gaussian = mean + th.exp(log_std) * noise
    actions = th.tanh(gaussian)
    # log N(u; mean, std) with u - mean = std * noise
    log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_prob = log_prob - th.log(1 - actions.pow(2) + SQUASH_EPSILON).sum(-1)
    return actions, log_prob


def infer_squashed_gaussian_noise(mean: th.Tensor, log_std: th.Tensor, actions: th.Tensor) -> th.Tensor:
    """The noise ``eps`` with ``tanh(mean + exp(log_std) * eps) = actions`` (noise inference for replayed actions).

    The inverse tanh runs in float64 and the actions are kept strictly inside (-1, 1) (SB3's uniform warm-up actions
    can be exactly +-1): actions within ~1e-12 of a bound map to the largest finite pre-squash value.

    :param mean: (batch, action_dim)
    :param log_std: (batch, action_dim)
    :param actions: (batch, action_dim) in [-1, 1] (SB3's scaled actions)
    :return: (batch, action_dim), in the dtype of ``mean``, without gradient
    """
    with th.no_grad():
        bound = 1.0 - 1e-12
        gaussian = th.atanh(actions.double().clamp(-bound, bound))
        return ((gaussian - mean.double()) * th.exp(-log_std.double())).to(mean.dtype)


def soft_value_expansion(
    rewards: th.Tensor,
    log_probs: th.Tensor,
    valid: th.Tensor,
    gamma: float,
    ent_coef: th.Tensor | float,
    bootstrap: th.Tensor | None = None,
    bootstrap_alive: th.Tensor | None = None,
) -> th.Tensor:
    """The soft n-step value of every start state along one imagined path:

    ``sum_{h<n} gamma^h v_h (r_h - alpha log pi(a_h|s_h)) + gamma^n v_n (Q(s_n, a_n) - alpha log pi(a_n|s_n))``

    where ``v_h`` is 1 while the path has not terminated before step ``h`` (a terminated branch adds no further
    reward, entropy or bootstrap). With the noise of the path held fixed its gradient w.r.t. the policy parameters is
    the SVG(n) policy gradient; without ``bootstrap`` it is SVG(inf)'s truncated return.

    :param rewards: (n, batch) rewards of the imagined steps
    :param log_probs: (n, batch) log pi(a_h|s_h) of the imagined actions
    :param valid: (n, batch) True where step ``h`` of the path happens (not after a termination)
    :param gamma: discount factor
    :param ent_coef: entropy coefficient alpha (a scalar or scalar tensor; 0 for no entropy term)
    :param bootstrap: (batch,) ``Q(s_n, a_n) - alpha log pi(a_n|s_n)``, or None (no critic: SVG(inf))
    :param bootstrap_alive: (batch,) True where the path is still alive at step ``n`` (needed with ``bootstrap``)
    :return: (batch,)
    """
    n = rewards.shape[0]
    discounts = gamma ** th.arange(n, device=rewards.device, dtype=rewards.dtype)
    value = (discounts.unsqueeze(1) * valid * (rewards - ent_coef * log_probs)).sum(0)
    if bootstrap is not None:
        if bootstrap_alive is None:
            raise ValueError("bootstrap_alive is needed with a bootstrap value")
        value = value + gamma**n * bootstrap_alive * bootstrap
    return value
