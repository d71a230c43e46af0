from sb3_pg_extras.npg.npg import NPG
from sb3_pg_extras.npg.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

__all__ = ["NPG", "CnnPolicy", "MlpPolicy", "MultiInputPolicy"]
