"""MBPO trains SB3's SAC policy unchanged."""

from stable_baselines3.sac.policies import MlpPolicy

__all__ = ["MlpPolicy"]
