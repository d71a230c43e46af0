"""Sampling-based planning maths (MPPI)."""

from sb3_pg_extras.common.planning.mppi import (
    MPPIPlanner,
    RolloutFn,
    mppi_weights,
    sequence_costs,
    shift_plan,
    smooth_noise,
    weighted_update,
)

__all__ = [
    "MPPIPlanner",
    "RolloutFn",
    "mppi_weights",
    "sequence_costs",
    "shift_plan",
    "smooth_noise",
    "weighted_update",
]
