from sb3_pg_extras.mppi.mppi import MPPI
from sb3_pg_extras.mppi.policies import MlpPolicy, MPPIPolicy

__all__ = ["MPPI", "MPPIPolicy", "MlpPolicy"]
