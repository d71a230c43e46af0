"""Splitting SB3's ActorCriticPolicy into the parameters of the actor and those of the value head."""

from __future__ import annotations

from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn


def value_only_parameters(policy: ActorCriticPolicy) -> list[nn.Parameter]:
    """
    Parameters only the value head uses: ``value_net``, the value branch of the ``mlp_extractor`` and, when it
    is not shared with the actor, the value features extractor. A shared features extractor belongs to the actor.
    """
    modules: list[nn.Module] = [policy.value_net, policy.mlp_extractor.value_net]
    if not policy.share_features_extractor:
        modules.append(policy.vf_features_extractor)
    return [param for module in modules for param in module.parameters()]


def actor_parameters(policy: ActorCriticPolicy) -> list[nn.Parameter]:
    """Every parameter of the policy that is not value-only (in ``policy.parameters()`` order)."""
    value_ids = {id(param) for param in value_only_parameters(policy)}
    return [param for param in policy.parameters() if id(param) not in value_ids]
