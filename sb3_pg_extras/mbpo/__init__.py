from sb3_pg_extras.mbpo.mbpo import MBPO, linear_rollout_horizon
from sb3_pg_extras.mbpo.policies import MlpPolicy

__all__ = ["MBPO", "MlpPolicy", "linear_rollout_horizon"]
