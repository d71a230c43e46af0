"""A probabilistic ensemble of MLPs whose members are evaluated in one batched matmul per layer.

Reference: Janner et al. 2019 (MBPO, the dynamics ensemble); Chua et al. 2018 (PETS) for the Gaussian
members with soft-bounded log-variance.
"""

import itertools
import math

import torch as th
import torch.nn.functional as F
from torch import nn


class EnsembleLinear(nn.Module):
    """``n_members`` independent affine maps applied with one ``torch.baddbmm``.

    :param n_members: number of ensemble members
    :param in_features: input size
    :param out_features: output size
    """

    def __init__(self, n_members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.n_members = n_members
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(th.empty(n_members, in_features, out_features))
        self.bias = nn.Parameter(th.zeros(n_members, 1, out_features))
        # MBPO's reference initialization: weights from a normal truncated at two standard deviations, std
        # 1 / (2 sqrt(fan_in)), drawn independently for every member; zero biases.
        std = 1.0 / (2.0 * math.sqrt(in_features))
        nn.init.trunc_normal_(self.weight, std=std, a=-2.0 * std, b=2.0 * std)

    def forward(self, x: th.Tensor, members: th.Tensor | None = None) -> th.Tensor:
        """
        :param x: (n_used, batch, in_features) where member ``members[m]`` gets ``x[m]``
        :param members: indices of the members to use (default: all, in order)
        :return: (n_used, batch, out_features)
        """
        if members is None:
            return th.baddbmm(self.bias, x, self.weight)
        return th.baddbmm(self.bias[members], x, self.weight[members])

    def extra_repr(self) -> str:
        return f"n_members={self.n_members}, in_features={self.in_features}, out_features={self.out_features}"


def soft_bound_log_var(log_var: th.Tensor, min_log_var: th.Tensor, max_log_var: th.Tensor) -> th.Tensor:
    """Smoothly keep a log-variance inside ``[min_log_var, max_log_var]`` (PETS, Chua et al. 2018, appendix A.1).

    Unlike a hard clamp the gradient never vanishes, and the bounds themselves are learnable: the training loss adds
    a small penalty on ``max_log_var - min_log_var`` so they tighten around the data.
    """
    log_var = max_log_var - F.softplus(max_log_var - log_var)
    return min_log_var + F.softplus(log_var - min_log_var)


class GaussianEnsemble(nn.Module):
    """An ensemble of MLPs, each predicting a diagonal Gaussian over ``n_gaussian`` outputs and ``n_logits`` logits.

    Every layer is an :class:`EnsembleLinear`, so a forward pass over all (or a subset of) members is one batched
    matmul per layer, never a Python loop over members.

    :param n_members: ensemble size
    :param in_dim: input size (normalized observation and action)
    :param n_gaussian: number of Gaussian outputs (state change, and the reward if learned)
    :param n_logits: number of Bernoulli logits (the termination flag if learned)
    :param hidden_sizes: hidden layer sizes, shared by all members
    :param activation_fn: activation between layers
    :param init_max_log_var: initial upper soft bound of the log-variance
    :param init_min_log_var: initial lower soft bound of the log-variance
    """

    def __init__(
        self,
        n_members: int,
        in_dim: int,
        n_gaussian: int,
        n_logits: int = 0,
        hidden_sizes: tuple[int, ...] | list[int] = (200, 200, 200, 200),
        activation_fn: type[nn.Module] = nn.SiLU,
        init_max_log_var: float = 0.5,
        init_min_log_var: float = -10.0,
    ) -> None:
        super().__init__()
        self.n_members = n_members
        self.n_gaussian = n_gaussian
        self.n_logits = n_logits
        sizes = [in_dim, *hidden_sizes]
        self.hidden = nn.ModuleList(EnsembleLinear(n_members, a, b) for a, b in itertools.pairwise(sizes))
        self.activation = activation_fn()
        self.output = EnsembleLinear(n_members, sizes[-1], 2 * n_gaussian + n_logits)
        # One pair of bounds per output dimension, shared by the members (as in PETS / MBPO).
        self.max_log_var = nn.Parameter(th.full((n_gaussian,), init_max_log_var))
        self.min_log_var = nn.Parameter(th.full((n_gaussian,), init_min_log_var))

    def forward(self, x: th.Tensor, members: th.Tensor | None = None) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """
        :param x: (n_used, batch, in_dim), row block ``m`` goes through member ``members[m]``
        :param members: member indices (default: all members, in order)
        :return: mean and soft-bounded log-variance, each (n_used, batch, n_gaussian), and logits (n_used, batch, n_logits)
        """
        for layer in self.hidden:
            x = self.activation(layer(x, members))
        out = self.output(x, members)
        mean, raw_log_var, logits = out.split([self.n_gaussian, self.n_gaussian, self.n_logits], dim=-1)
        return mean, soft_bound_log_var(raw_log_var, self.min_log_var, self.max_log_var), logits

    def weight_decay_loss(self, coefs: tuple[float, ...] | list[float]) -> th.Tensor:
        """L2 penalty on the weights, one coefficient per layer (MBPO uses increasing decays toward the output).

        :param coefs: one coefficient per layer (hidden layers then output), or a single coefficient for all
        """
        layers = [*self.hidden, self.output]
        if len(coefs) == 1:
            coefs = list(coefs) * len(layers)
        if len(coefs) != len(layers):
            raise ValueError(f"weight_decay needs 1 or {len(layers)} coefficients (one per layer), got {len(coefs)}")
        # Summed over members: every member is regularized as if trained alone.
        return sum((c * layer.weight.pow(2).sum() / 2 for c, layer in zip(coefs, layers)), th.zeros(()))

    def log_var_bound_loss(self) -> th.Tensor:
        """Penalty that tightens the learnable log-variance bounds (PETS)."""
        return self.max_log_var.sum() - self.min_log_var.sum()


def gaussian_nll(mean: th.Tensor, log_var: th.Tensor, target: th.Tensor) -> th.Tensor:
    """The ensemble's Gaussian likelihood loss, one value per member:
    ``mean over batch and dimensions of (mean - target)^2 exp(-log_var) + log_var``.

    This is twice the per-dimension negative log-likelihood of ``target`` under N(mean, exp(log_var)), without the
    constant, and is the loss of the PETS / MBPO reference implementations (Chua et al. 2018; Janner et al. 2019):
    averaging over dimensions (instead of summing) keeps the weight-decay and log-variance-bound penalties at the
    reference's relative scale whatever the observation size.

    :param mean: (n_members, batch, dim)
    :param log_var: (n_members, batch, dim)
    :param target: (n_members, batch, dim) or broadcastable
    :return: (n_members,)
    """
    inv_var = th.exp(-log_var)
    return ((mean - target) ** 2 * inv_var + log_var).mean((-2, -1))


def forward_assigned(
    ensemble: GaussianEnsemble, x: th.Tensor, member_of_sample: th.Tensor
) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
    """Run sample ``i`` of ``x`` through member ``member_of_sample[i]``, all samples in one batched pass.

    Samples are grouped by member (padding every group to the largest group) so the cost is one ensemble forward over
    roughly ``batch / n_used`` rows per member, instead of every member on every sample. Differentiable w.r.t. ``x``.

    :param ensemble: the ensemble
    :param x: (batch, in_dim)
    :param member_of_sample: (batch,) member index per sample
    :return: mean, log-variance (batch, n_gaussian) and logits (batch, n_logits)
    """
    members, position = th.unique(member_of_sample, return_inverse=True)  # position: index into members
    n_used, batch = len(members), x.shape[0]
    order = th.argsort(position, stable=True)
    counts = th.bincount(position, minlength=n_used)
    group_size = int(counts.max())
    starts = th.cumsum(counts, 0) - counts
    sorted_position = position[order]
    # Slot of each (sorted) sample in the (n_used, group_size) grid; empty slots repeat sample order[0].
    slot = sorted_position * group_size + th.arange(batch, device=x.device) - starts[sorted_position]
    pad = int(order[0])
    gather = th.full((n_used * group_size,), pad, dtype=th.long, device=x.device)
    gather[slot] = order
    outputs = ensemble(x[gather].view(n_used, group_size, -1), members)
    inverse = th.empty_like(order)
    inverse[order] = th.arange(batch, device=x.device)
    flat_slot = slot[inverse]  # slot of sample i, in the original order
    return tuple(out.reshape(n_used * group_size, -1)[flat_slot] for out in outputs)  # type: ignore[return-value]
