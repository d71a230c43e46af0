"""SVG trains SB3's SAC policy (squashed Gaussian actor, twin Q critics) with its own actor objective."""

from stable_baselines3.sac.policies import MlpPolicy

__all__ = ["MlpPolicy"]
