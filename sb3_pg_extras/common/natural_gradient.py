"""
Natural-gradient math: Fisher-vector products as Hessian-vector products of the mean KL, the conjugate-gradient
direction p ~ F^-1 g, and the trust-region step size. Reuses sb3_contrib's ``conjugate_gradient_solver`` and
``flat_grad``.

References: S. Kakade, "A Natural Policy Gradient", NeurIPS 2001 (the natural gradient F^-1 g); J. Schulman,
S. Levine, P. Moritz, M. I. Jordan, P. Abbeel, "Trust Region Policy Optimization", ICML 2015,
https://arxiv.org/abs/1502.05477, Appendix C (the Fisher matrix as the Hessian of the mean KL at theta_k,
conjugate gradient on Fisher-vector products, and the step size that meets the KL radius of the quadratic model).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch as th
from sb3_contrib.common.utils import conjugate_gradient_solver, flat_grad
from stable_baselines3.common.distributions import Distribution, kl_divergence
from torch import nn


def fisher_vector_product_fn(
    mean_kl: th.Tensor, params: Sequence[nn.Parameter], damping: float
) -> Callable[[th.Tensor], th.Tensor]:
    """
    ``v -> (F + damping * I) v`` where F is the Hessian of ``mean_kl`` w.r.t. ``params`` (flattened), computed
    by double back-propagation: the gradient of the KL is built once with its graph, then each product is the
    gradient of ``grad_kl . v``.

    :param mean_kl: mean KL between the rollout policy (detached) and the current one, at the current parameters
    :param params: parameters of the policy (the flattening order of every vector)
    :param damping: xi >= 0, added times the identity so that F is positive definite
    """
    grad_kl = flat_grad(mean_kl, params, create_graph=True, retain_graph=True)

    def product(vector: th.Tensor) -> th.Tensor:
        hvp = flat_grad((grad_kl * vector.detach()).sum(), params, retain_graph=True)
        return hvp + damping * vector

    return product


@dataclass
class NaturalDirection:
    """Result of :func:`natural_gradient_direction`."""

    direction: th.Tensor  # p ~ (F + xi I)^-1 g
    fisher_direction: th.Tensor  # (F + xi I) p
    relative_residual: float  # ||g - (F + xi I) p|| / ||g||

    @property
    def quadratic_form(self) -> float:
        """p^T (F + xi I) p = g^T F^-1 g at the exact solution."""
        return float(self.direction.dot(self.fisher_direction))


def natural_gradient_direction(
    fisher_vector_product: Callable[[th.Tensor], th.Tensor],
    gradient: th.Tensor,
    cg_max_steps: int,
    cg_residual_tol: float = 1e-10,
) -> NaturalDirection:
    """Solve ``F p = g`` by conjugate gradient on Fisher-vector products (TRPO, Appendix C)."""
    direction = conjugate_gradient_solver(fisher_vector_product, gradient, max_iter=cg_max_steps, residual_tol=cg_residual_tol)
    fisher_direction = fisher_vector_product(direction)
    residual = float(th.linalg.norm(gradient - fisher_direction) / th.linalg.norm(gradient).clamp_min(1e-12))
    return NaturalDirection(direction.detach(), fisher_direction.detach(), residual)


def trust_region_step_size(quadratic_form: float, target_kl: float) -> float:
    """alpha = sqrt(2 delta / p^T F p) (TRPO, Appendix C): the step alpha p has quadratic KL model exactly delta."""
    return float((2.0 * target_kl / max(quadratic_form, 1e-12)) ** 0.5)


def add_to_parameters(params: Sequence[nn.Parameter], flat_step: th.Tensor) -> None:
    """theta <- theta + step, for a step flattened in the order of ``params``."""
    n_params = sum(param.numel() for param in params)
    if flat_step.numel() != n_params:
        raise ValueError(
            f"Flat step has {flat_step.numel()} entries for {n_params} parameters: some parameter of the actor does not "
            "reach the policy distribution (flat_grad drops unused parameters)."
        )
    with th.no_grad():
        start = 0
        for param in params:
            size = param.numel()
            param.add_(flat_step[start : start + size].view_as(param))
            start += size


KL_REDUCTIONS = ("mean", "sum")


def mean_kl(old: Distribution, new: Distribution, reduction: str = "sum") -> th.Tensor:
    """
    Mean over states of KL(old(.|s) || new(.|s)). SB3's ``kl_divergence`` returns one KL per action dimension for
    diagonal Gaussian and Bernoulli distributions; ``reduction`` says how those are combined:

    - ``"sum"``: the joint KL of the factorised distribution (the KL of the whole action), so a radius means the same
      thing whatever the action dimension d;
    - ``"mean"``: their average, the joint KL divided by d, as sb3-contrib's TRPO measures it
      (``kl_divergence(...).mean()``). A radius delta with ``"mean"`` is a joint radius d * delta, and the Hessian
      (the Fisher matrix) is divided by d, so a damping xi acts as d * xi would on the joint KL.

    Distributions whose KL is already one value per state (Categorical; MultiCategorical, which SB3 sums) are the
    same under both.
    """
    if reduction not in KL_REDUCTIONS:
        raise ValueError(f"reduction must be one of {KL_REDUCTIONS}, got {reduction!r}")
    kl = kl_divergence(old, new)
    if reduction == "sum" and kl.dim() > 1:
        kl = kl.sum(dim=-1)
    return kl.mean()  # with "mean": the mean over states of the mean over action dimensions (the same numbers)
