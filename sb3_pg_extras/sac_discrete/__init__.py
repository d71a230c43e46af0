from sb3_pg_extras.sac_discrete.policies import CnnPolicy, MlpPolicy, MultiInputPolicy
from sb3_pg_extras.sac_discrete.sac_discrete import DiscreteSAC

__all__ = ["CnnPolicy", "DiscreteSAC", "MlpPolicy", "MultiInputPolicy"]
