from sb3_pg_extras.offpac.offpac import OffPAC
from sb3_pg_extras.offpac.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

__all__ = ["CnnPolicy", "MlpPolicy", "MultiInputPolicy", "OffPAC"]
