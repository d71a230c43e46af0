"""Sampling-based planning: the MPPI math and planner, and the rollout backends it scores sequences with."""

from sb3_pg_extras.common.planning.backends import (
    KnownFunctionsBackend,
    LearnedEnsembleBackend,
    RolloutBackend,
    SimulatorBackend,
    resolve_dynamics_mode,
)
from sb3_pg_extras.common.planning.mppi import (
    MPPIPlanner,
    RolloutFn,
    interpolate_knots,
    knot_interpolation,
    mppi_weights,
    sequence_costs,
    shift_plan,
    smooth_noise,
    smoothing_matrix,
    weighted_update,
)

__all__ = [
    "KnownFunctionsBackend",
    "LearnedEnsembleBackend",
    "MPPIPlanner",
    "RolloutBackend",
    "RolloutFn",
    "SimulatorBackend",
    "interpolate_knots",
    "knot_interpolation",
    "mppi_weights",
    "resolve_dynamics_mode",
    "sequence_costs",
    "shift_plan",
    "smooth_noise",
    "smoothing_matrix",
    "weighted_update",
]
