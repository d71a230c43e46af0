"""Policy-gradient and model-based algorithms for Stable-Baselines3."""

from sb3_pg_extras.mbpo import MBPO
from sb3_pg_extras.mppi import MPPI
from sb3_pg_extras.npg import NPG
from sb3_pg_extras.offpac import OffPAC
from sb3_pg_extras.reinforce import REINFORCE
from sb3_pg_extras.sac_discrete import DiscreteSAC
from sb3_pg_extras.svg import SVG
from sb3_pg_extras.version import __version__

__all__ = ["MBPO", "MPPI", "NPG", "REINFORCE", "SVG", "DiscreteSAC", "OffPAC", "__version__"]
