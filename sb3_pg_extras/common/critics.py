"""
Discrete-action critics Q(s, .) and the exact expectations over actions built on them.

The soft state value and the discrete SAC losses follow P. Christodoulou, "Soft Actor-Critic for Discrete Action
Settings", 2019, https://arxiv.org/abs/1910.07207 (every expectation over actions is an exact sum over
the categorical policy); with ``alpha = 0`` the soft value is the expected-SARSA value E_{a~pi} Q(s, a) that the
off-policy actor-critic (OffPAC) bootstraps from.
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BaseModel, ContinuousCritic
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, create_mlp
from stable_baselines3.common.type_aliases import PyTorchObs
from torch import nn


class DiscreteCritic(BaseModel):
    """
    ``n_critics`` Q-networks, each mapping the observation features to Q(s, a) for every action a (one head per
    action), so that expectations over actions are exact sums.

    :param observation_space: Observation space
    :param action_space: Discrete action space
    :param net_arch: Hidden layer sizes of each Q-network
    :param features_extractor: Network to extract features
    :param features_dim: Number of features
    :param activation_fn: Activation function
    :param normalize_images: Whether to normalize images or not (dividing by 255.0)
    :param n_critics: Number of Q-networks
    :param share_features_extractor: Whether the features extractor is shared with the actor (then the critic
        loss does not train it, as in SB3's SAC)
    """

    features_extractor: BaseFeaturesExtractor

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        net_arch: list[int],
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
        n_critics: int = 2,
        share_features_extractor: bool = False,
    ):
        super().__init__(
            observation_space, action_space, features_extractor=features_extractor, normalize_images=normalize_images
        )
        self.share_features_extractor = share_features_extractor
        self.n_critics = n_critics
        n_actions = int(action_space.n)
        self.q_networks = nn.ModuleList(
            nn.Sequential(*create_mlp(features_dim, n_actions, net_arch, activation_fn)) for _ in range(n_critics)
        )

    def forward(self, obs: PyTorchObs) -> tuple[th.Tensor, ...]:
        """Q(s, .) of every critic, each of shape (batch, n_actions)."""
        with th.set_grad_enabled(not self.share_features_extractor):
            features = self.extract_features(obs, self.features_extractor)
        return tuple(q_net(features) for q_net in self.q_networks)


def min_q(q_values: tuple[th.Tensor, ...]) -> th.Tensor:
    """Element-wise minimum over critics (clipped double Q), shape (batch, n_actions)."""
    return th.min(th.stack(q_values, dim=0), dim=0).values


def soft_state_value(probs: th.Tensor, log_probs: th.Tensor, q_values: th.Tensor, alpha: th.Tensor | float) -> th.Tensor:
    """
    V(s) = sum_a pi(a|s) (Q(s, a) - alpha log pi(a|s)), exactly (the soft state value); shape (batch,).
    ``alpha = 0`` gives the expected-SARSA value E_{a~pi} Q(s, a).
    """
    return (probs * (q_values - alpha * log_probs)).sum(dim=-1)


def entropy(probs: th.Tensor, log_probs: th.Tensor) -> th.Tensor:
    """H(pi(.|s)) = -sum_a pi(a|s) log pi(a|s), the exact entropy of the categorical policy, shape (batch,)."""
    return -(probs * log_probs).sum(dim=-1)


def discrete_sac_actor_loss(
    probs: th.Tensor, log_probs: th.Tensor, q_values: th.Tensor, alpha: th.Tensor | float
) -> th.Tensor:
    """
    J_pi = mean_s sum_a pi(a|s) (alpha log pi(a|s) - Q(s, a)), the policy objective of discrete SAC; ``q_values``
    must not carry gradients into the critic (pass them detached). Its gradient is
    ``mean_s sum_a grad pi(a|s) (alpha (1 + log pi(a|s)) - Q(s, a))``.
    """
    return (probs * (alpha * log_probs - q_values)).sum(dim=-1).mean()


def temperature_loss(log_alpha: th.Tensor, entropy_value: th.Tensor, target_entropy: float) -> th.Tensor:
    """
    Loss of the temperature, ``log_alpha * (H - target)`` averaged over states, with the exact entropy H: alpha
    decreases while the policy is more random than the target and increases when it is less.
    """
    return (log_alpha * (entropy_value - target_entropy).detach()).mean()


def regularized_mlp(
    input_dim: int, net_arch: list[int], activation_fn: type[nn.Module], dropout_rate: float, layer_norm: bool
) -> nn.Sequential:
    """
    A Q-network ``input -> 1`` whose hidden layers are ``Linear -> Dropout -> LayerNorm -> activation``, the
    "Dropout Q-function" of T. Hiraoka et al., "Dropout Q-Functions for Doubly Efficient Reinforcement Learning",
    ICLR 2022 (DroQ, Sec. 3, Fig. 2). With ``dropout_rate=0`` and ``layer_norm=False`` it is SB3's ``create_mlp``.
    """
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1) (0: no dropout layers), got {dropout_rate}")
    layers: list[nn.Module] = []
    last = input_dim
    for size in net_arch:
        layers.append(nn.Linear(last, size))
        if dropout_rate > 0:
            layers.append(nn.Dropout(dropout_rate))
        if layer_norm:
            layers.append(nn.LayerNorm(size))
        layers.append(activation_fn())
        last = size
    layers.append(nn.Linear(last, 1))
    return nn.Sequential(*layers)


class RegularizedContinuousCritic(ContinuousCritic):
    """
    SB3's ``ContinuousCritic`` (``n_critics`` Q(s, a) networks) with dropout and layer normalization in every hidden
    layer (:func:`regularized_mlp`, DroQ). Dropout is active while the critic is in training mode (SAC's critic and
    actor losses) and off in evaluation mode (SB3 keeps the target critic there).

    :param dropout_rate: Dropout probability after each hidden linear layer (0: none)
    :param layer_norm: Whether to normalize each hidden layer's pre-activations (with a learned gain and bias)
    """

    def __init__(self, *args: Any, dropout_rate: float = 0.0, layer_norm: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if dropout_rate == 0 and not layer_norm:
            return  # SB3's networks, drawn from the same random numbers
        net_arch = kwargs["net_arch"] if "net_arch" in kwargs else args[2]
        activation_fn = kwargs.get("activation_fn", nn.ReLU)
        input_dim = self.q_networks[0][0].in_features  # type: ignore[index]
        for idx in range(self.n_critics):
            q_net = regularized_mlp(input_dim, net_arch, activation_fn, dropout_rate, layer_norm)
            self.add_module(f"qf{idx}", q_net)  # replaces SB3's network under the same name
            self.q_networks[idx] = q_net


# The British spelling, deprecated: a policy pickled whole (e.g. ``th.save(model.policy)``) before the rename
# refers to its critic's class by module + name. The same class.
RegularisedContinuousCritic = RegularizedContinuousCritic  # codespell:ignore regularised
