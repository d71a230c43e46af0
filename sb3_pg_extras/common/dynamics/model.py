"""Learned dynamics: a Gaussian ensemble over the change of state (and optionally the reward and termination flag),
with input and target normalization and elite members kept in the module state (saved with the model).

Reference: Janner et al. 2019, "When to Trust Your Model: Model-Based Policy Optimization" (MBPO), section 5 and
appendix C: an ensemble predicting the state change, rollouts through a random elite member.
"""

import torch as th
import torch.nn.functional as F
from torch import nn

from sb3_pg_extras.common.dynamics.ensemble import GaussianEnsemble, forward_assigned, gaussian_nll
from sb3_pg_extras.common.dynamics.transitions import Transitions


class Normalizer(nn.Module):
    """Per-dimension standardization whose statistics are buffers, so they are saved and loaded with the model.

    :param dim: number of features
    :param eps: lower bound on the standard deviation (constant features are left unscaled, not divided by zero)
    """

    mean: th.Tensor
    std: th.Tensor

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", th.zeros(dim))
        self.register_buffer("std", th.ones(dim))

    def fit(self, data: th.Tensor) -> None:
        """Set the statistics from ``data`` of shape (n, dim)."""
        self.mean.copy_(data.mean(0))
        std = data.std(0, unbiased=False) if len(data) > 1 else th.ones_like(self.std)
        self.std.copy_(th.where(std < self.eps, th.ones_like(std), std))

    def normalize(self, x: th.Tensor) -> th.Tensor:
        return (x - self.mean) / self.std

    def denormalize(self, x: th.Tensor) -> th.Tensor:
        return x * self.std + self.mean


class DynamicsModel(nn.Module):
    """Probabilistic ensemble model of ``s' = s + Delta s`` (and ``r``, ``terminated`` if learned) given ``(s, a)``.

    Inputs ``(s, a)`` and Gaussian targets ``(Delta s, r)`` are standardized with statistics fitted on the real data
    (:meth:`fit_normalizers`); predictions are mapped back. ``elites`` holds the members with the lowest holdout error,
    chosen by the trainer; rollouts draw members from it.

    :param obs_dim: observation size (flat Box observations)
    :param action_dim: action size, in the units the caller feeds (SB3's [-1, 1] scaled actions for MBPO)
    :param n_members: ensemble size
    :param n_elites: members used for predictions
    :param hidden_sizes: hidden layers of every member
    :param learn_reward: also predict the reward (a Gaussian output next to the state change)
    :param learn_termination: also predict the termination flag (a Bernoulli logit)
    :param activation_fn: activation between layers
    """

    elites: th.Tensor

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        n_members: int = 7,
        n_elites: int = 5,
        hidden_sizes: tuple[int, ...] | list[int] = (200, 200, 200, 200),
        learn_reward: bool = False,
        learn_termination: bool = False,
        activation_fn: type[nn.Module] = nn.SiLU,
    ) -> None:
        super().__init__()
        if n_members < 1:
            raise ValueError(f"The dynamics ensemble needs at least one member, got n_members={n_members}")
        if not 1 <= n_elites <= n_members:
            raise ValueError(
                f"n_elites={n_elites} must be between 1 and the ensemble size n_members={n_members}: "
                "lower n_elites or enlarge the ensemble"
            )
        self.obs_dim = obs_dim
        self.action_dim = action_dim
        self.n_members = n_members
        self.n_elites = n_elites
        self.learn_reward = learn_reward
        self.learn_termination = learn_termination
        n_gaussian = obs_dim + int(learn_reward)
        self.ensemble = GaussianEnsemble(
            n_members, obs_dim + action_dim, n_gaussian, int(learn_termination), hidden_sizes, activation_fn
        )
        self.input_normalizer = Normalizer(obs_dim + action_dim)
        self.target_normalizer = Normalizer(n_gaussian)
        self.register_buffer("elites", th.arange(n_elites))

    def model_inputs(self, obs: th.Tensor, actions: th.Tensor) -> th.Tensor:
        return self.input_normalizer.normalize(th.cat([obs, actions], dim=-1))

    def raw_targets(self, obs: th.Tensor, next_obs: th.Tensor, rewards: th.Tensor) -> th.Tensor:
        """Gaussian targets before normalization: the state change, then the reward if learned. Shapes (..., dim)."""
        delta = next_obs - obs
        return th.cat([delta, rewards.unsqueeze(-1)], dim=-1) if self.learn_reward else delta

    def fit_normalizers(self, data: Transitions) -> None:
        """Fit input and target statistics on the real transitions (the training split, before each fit)."""
        self.input_normalizer.fit(th.cat([data.observations, data.actions], dim=-1))
        self.target_normalizer.fit(self.raw_targets(data.observations, data.next_observations, data.rewards))

    def losses(self, batch: Transitions) -> tuple[th.Tensor, th.Tensor]:
        """Per-member training loss and mean squared error on member-specific minibatches.

        :param batch: transitions with leading shape (n_members, batch): member ``k`` is trained on row block ``k``
            (``terminated`` is 1.0 where the episode terminated, not where it was truncated)
        :return: Gaussian loss (+ termination BCE) per member, and the MSE of the mean on normalized targets per member
        """
        mean, log_var, logits = self.ensemble(self.model_inputs(batch.observations, batch.actions))
        target = self.target_normalizer.normalize(self.raw_targets(batch.observations, batch.next_observations, batch.rewards))
        nll = gaussian_nll(mean, log_var, target)
        if self.learn_termination:
            terminated = batch.terminated.float()
            nll = nll + F.binary_cross_entropy_with_logits(logits.squeeze(-1), terminated, reduction="none").mean(-1)
        mse = ((mean - target) ** 2).mean((-2, -1))
        return nll, mse

    def predict(
        self,
        obs: th.Tensor,
        actions: th.Tensor,
        member_of_sample: th.Tensor,
        deterministic: bool = False,
        generator: th.Generator | None = None,
        noise: th.Tensor | None = None,
    ) -> tuple[th.Tensor, th.Tensor | None, th.Tensor | None]:
        """One model step for a batch, sample ``i`` through member ``member_of_sample[i]``.

        Sampling uses the reparameterization ``s' = s + denormalize(mean + std * xi)`` with ``xi ~ N(0, I)``, so the
        next state is differentiable w.r.t. the observation and action (SVG backpropagates through it).

        :param obs: (batch, obs_dim)
        :param actions: (batch, action_dim)
        :param member_of_sample: (batch,) member indices
        :param deterministic: use the mean instead of a sample
        :param generator: random generator for the Gaussian noise
        :param noise: the noise ``xi`` to use instead of a fresh draw, (batch, n_gaussian) (e.g. inferred from a real
            transition by :meth:`infer_noise`); ignored when ``deterministic``
        :return: next observation (batch, obs_dim), reward (batch,) or None, termination probability (batch,) or None
        """
        mean, log_var, logits = forward_assigned(self.ensemble, self.model_inputs(obs, actions), member_of_sample)
        if not deterministic:
            if noise is None:
                noise = th.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            mean = mean + th.exp(0.5 * log_var) * noise
        raw = self.target_normalizer.denormalize(mean)
        next_obs = obs + raw[:, : self.obs_dim]
        reward = raw[:, self.obs_dim] if self.learn_reward else None
        done_prob = th.sigmoid(logits.squeeze(-1)) if self.learn_termination else None
        return next_obs, reward, done_prob

    @th.no_grad()
    def infer_noise(self, transitions: Transitions, member_of_sample: th.Tensor, min_std: float = 1e-6) -> th.Tensor:
        """The noise ``xi`` under which member ``member_of_sample[i]`` reproduces transition ``i`` exactly: the inverse
        of :meth:`predict`'s reparameterization, ``xi = (normalize(s' - s [, r]) - mean) / std`` (noise inference,
        Heess et al. 2015, section 4.2). ``predict(s, a, members, noise=xi)`` then gives back ``s'`` (and ``r``).

        :param transitions: real transitions (batch, ...)
        :param member_of_sample: (batch,) member indices
        :param min_std: floor of the standard deviation (keeps the inverse finite)
        :return: (batch, n_gaussian), without gradient
        """
        inputs = self.model_inputs(transitions.observations, transitions.actions)
        mean, log_var, _ = forward_assigned(self.ensemble, inputs, member_of_sample)
        target = self.target_normalizer.normalize(
            self.raw_targets(transitions.observations, transitions.next_observations, transitions.rewards)
        )
        return (target - mean) / th.exp(0.5 * log_var).clamp_min(min_std)

    def sample_members(self, batch: int, mode: str = "random", generator: th.Generator | None = None) -> th.Tensor:
        """Member index per sample, drawn among the elites: ``"random"`` and ``"particle"`` draw an elite uniformly per
        sample (``"random"``: call again every step, MBPO; ``"particle"``: keep it for a whole rollout, one member per
        particle); ``"fixed"`` gives sample ``i`` elite ``i % n_elites`` (deterministic)."""
        if mode in ("random", "particle"):
            idx = th.randint(self.n_elites, (batch,), generator=generator, device=self.elites.device)
        elif mode == "fixed":
            idx = th.arange(batch, device=self.elites.device) % self.n_elites
        else:
            raise ValueError(f"Unknown member mode {mode!r}: use 'random', 'particle' or 'fixed'")
        return self.elites[idx]
