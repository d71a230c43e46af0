from sb3_pg_extras.reinforce.policies import CnnPolicy, MlpPolicy, MultiInputPolicy
from sb3_pg_extras.reinforce.reinforce import REINFORCE

__all__ = ["REINFORCE", "CnnPolicy", "MlpPolicy", "MultiInputPolicy"]
