from sb3_pg_extras.svg.policies import MlpPolicy
from sb3_pg_extras.svg.svg import SVG, parse_horizon

__all__ = ["SVG", "MlpPolicy", "parse_horizon"]
