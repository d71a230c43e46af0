"""MBPO trains SB3's SAC policy, with an optional dropout / layer-norm critic (DroQ) for high update-to-data ratios."""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.sac.policies import SACPolicy

from sb3_pg_extras.common.critics import RegularizedContinuousCritic


class MlpPolicy(SACPolicy):
    """
    SB3's SAC ``MlpPolicy``, plus two critic options. With their defaults it is SB3's policy, network for network.

    :param critic_dropout: Dropout probability in each hidden layer of every Q-network (0: none)
    :param critic_layer_norm: Layer normalization in each hidden layer of every Q-network

    Hiraoka et al. (2022, "Dropout Q-Functions for Doubly Efficient Reinforcement Learning", DroQ) use a dropout of
    0.01 with layer normalization to curb the overestimation of SAC's critic at update-to-data ratio 20, which is
    MBPO's default (Janner et al., 2019, appendix C). Other keyword arguments: ``SACPolicy``.
    """

    def __init__(self, *args: Any, critic_dropout: float = 0.0, critic_layer_norm: bool = False, **kwargs: Any):
        if not 0.0 <= critic_dropout < 1.0:
            raise ValueError(f"critic_dropout must be in [0, 1), got {critic_dropout}")
        self.critic_dropout, self.critic_layer_norm = float(critic_dropout), bool(critic_layer_norm)
        super().__init__(*args, **kwargs)

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> RegularizedContinuousCritic:
        critic_kwargs = self._update_features_extractor(self.critic_kwargs, features_extractor)
        critic = RegularizedContinuousCritic(
            **critic_kwargs, dropout_rate=self.critic_dropout, layer_norm=self.critic_layer_norm
        )
        return critic.to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(critic_dropout=self.critic_dropout, critic_layer_norm=self.critic_layer_norm)
        return data


__all__ = ["MlpPolicy"]
