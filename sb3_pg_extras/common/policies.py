"""
A categorical actor and ``n_critics`` Q(s, .) critics with target copies, for discrete-action off-policy
actor-critics (DiscreteSAC, OffPAC).

``CategoricalQPolicy`` reuses SB3's ``SACPolicy`` machinery (net_arch parsing, optimizers, shared or separate features
extractors, target critic) and swaps in a categorical actor and multi-head discrete critics.
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import CategoricalDistribution
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
    create_mlp,
)
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from stable_baselines3.sac.policies import Actor, SACPolicy
from torch import nn
from torch.nn import functional as F

from sb3_pg_extras.common.critics import DiscreteCritic

# SACPolicy arguments of the Gaussian actor that a categorical actor does not have
_GAUSSIAN_ONLY = ("use_sde", "log_std_init", "use_expln", "clip_mean")


class DiscreteActor(BasePolicy):
    """
    Categorical actor pi(a|s) = softmax(logits(s)).

    :param observation_space: Observation space
    :param action_space: Discrete action space
    :param net_arch: Hidden layer sizes
    :param features_extractor: Network to extract features
    :param features_dim: Number of features
    :param activation_fn: Activation function
    :param normalize_images: Whether to normalize images or not (dividing by 255.0)
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        net_arch: list[int],
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
    ):
        super().__init__(
            observation_space, action_space, features_extractor=features_extractor, normalize_images=normalize_images
        )
        self.net_arch = net_arch
        self.features_dim = features_dim
        self.activation_fn = activation_fn
        self.latent_pi = nn.Sequential(*create_mlp(features_dim, -1, net_arch, activation_fn))
        self.logits = nn.Linear(net_arch[-1] if net_arch else features_dim, int(action_space.n))
        self.action_dist = CategoricalDistribution(int(action_space.n))

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            dict(
                net_arch=self.net_arch,
                features_dim=self.features_dim,
                activation_fn=self.activation_fn,
                features_extractor=self.features_extractor,
            )
        )
        return data

    def action_logits(self, obs: PyTorchObs) -> th.Tensor:
        return self.logits(self.latent_pi(self.extract_features(obs, self.features_extractor)))

    def action_log_probs(self, obs: PyTorchObs) -> tuple[th.Tensor, th.Tensor]:
        """
        pi(.|s) and log pi(.|s), each (batch, n_actions). log_softmax keeps log-probabilities finite when a
        probability underflows to 0 (no log(0) = -inf, so 0 * log 0 terms stay 0 instead of NaN).
        """
        log_probs = F.log_softmax(self.action_logits(obs), dim=-1)
        return log_probs.exp(), log_probs

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self.action_dist.actions_from_params(self.action_logits(obs), deterministic=deterministic)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self(observation, deterministic)


class CategoricalQPolicy(SACPolicy):
    """
    Categorical actor and ``n_critics`` Q(s, .) critics (plus target copies).

    :param observation_space: Observation space
    :param action_space: Discrete action space
    :param lr_schedule: Learning rate schedule (could be constant)
    :param net_arch: The specification of the actor and critic networks (list, or dict with ``pi`` and ``qf``)
    :param activation_fn: Activation function
    :param features_extractor_class: Features extractor to use (None: FlattenExtractor, NatureCNN for CnnPolicy,
        CombinedExtractor for MultiInputPolicy)
    :param features_extractor_kwargs: Keyword arguments to pass to the features extractor
    :param normalize_images: Whether to normalize images or not (dividing by 255.0)
    :param optimizer_class: The optimizer to use (``th.optim.Adam`` by default)
    :param optimizer_kwargs: Additional keyword arguments, excluding the learning rate, to pass to the optimizer
    :param n_critics: Number of critic networks to create
    :param share_features_extractor: Whether to share the features extractor between the actor and the critic
    """

    actor: DiscreteActor  # type: ignore[assignment]
    critic: DiscreteCritic  # type: ignore[assignment]
    critic_target: DiscreteCritic  # type: ignore[assignment]
    # used when ``features_extractor_class`` is None (CnnPolicy / MultiInputPolicy change it)
    default_features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        features_extractor_class: type[BaseFeaturesExtractor] | None = None,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        n_critics: int = 2,
        share_features_extractor: bool = False,
    ):
        if features_extractor_class is None:
            features_extractor_class = self.default_features_extractor_class
        super().__init__(
            observation_space,
            action_space,  # type: ignore[arg-type]
            lr_schedule,
            net_arch=net_arch,
            activation_fn=activation_fn,
            features_extractor_class=features_extractor_class,
            features_extractor_kwargs=features_extractor_kwargs,
            normalize_images=normalize_images,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            n_critics=n_critics,
            share_features_extractor=share_features_extractor,
        )

    def make_actor(self, features_extractor: BaseFeaturesExtractor | None = None) -> DiscreteActor:  # type: ignore[override]
        kwargs = {key: value for key, value in self.actor_kwargs.items() if key not in _GAUSSIAN_ONLY}
        return DiscreteActor(**self._update_features_extractor(kwargs, features_extractor)).to(self.device)

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> DiscreteCritic:  # type: ignore[override]
        return DiscreteCritic(**self._update_features_extractor(self.critic_kwargs, features_extractor)).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        for key in _GAUSSIAN_ONLY:
            data.pop(key, None)
        data["share_features_extractor"] = self.share_features_extractor
        return data

    def reset_noise(self, batch_size: int = 1) -> None:
        """No state-dependent exploration noise for a categorical actor."""


class CategoricalQCnnPolicy(CategoricalQPolicy):
    """CategoricalQPolicy with a NatureCNN features extractor by default (image observations)."""

    default_features_extractor_class = NatureCNN


class CategoricalQMultiInputPolicy(CategoricalQPolicy):
    """CategoricalQPolicy with a CombinedExtractor by default (dict observations)."""

    default_features_extractor_class = CombinedExtractor


def stored_actions_log_prob(actor: DiscreteActor | Actor, obs: PyTorchObs, actions: th.Tensor) -> th.Tensor:
    """
    log pi(a|s) of actions as SB3's replay buffer stores them, shape (batch,): action indices for a categorical
    actor; for SB3's squashed Gaussian actor, actions scaled to [-1, 1], so this is the log-density on [-1, 1]
    (Gaussian density of atanh(a) with the tanh change-of-variables correction).
    """
    if isinstance(actor, DiscreteActor):
        log_probs = F.log_softmax(actor.action_logits(obs), dim=-1)
        return log_probs.gather(1, actions.long().reshape(-1, 1)).flatten()
    mean_actions, log_std, kwargs = actor.get_action_dist_params(obs)
    distribution = actor.action_dist.proba_distribution(mean_actions, log_std, **kwargs)
    return distribution.log_prob(actions.reshape(mean_actions.shape))


__all__ = [
    "CategoricalQCnnPolicy",
    "CategoricalQMultiInputPolicy",
    "CategoricalQPolicy",
    "DiscreteActor",
    "stored_actions_log_prob",
]
