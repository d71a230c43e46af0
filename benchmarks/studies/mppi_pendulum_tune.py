"""
Tuning MPPI's Pendulum-v1 entry (issue 43) on starts no report uses: each setting plans with the known dynamics
(``MPPI("MlpPolicy", "Pendulum-v1", dynamics_mode="known", seed=100, **setting)``), deterministic, one episode from
each of the env seeds ``--starts`` (default 300-339), and prints the mean and the worst return per setting (the notes
in ``benchmarks/notes/mppi.md`` quote them). The paired comparison with SAC on the report starts is
``python -m benchmarks.mppi pendulum_sac``.

    python -m benchmarks.studies.mppi_pendulum_tune
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch as th

from benchmarks.mppi import ours, run_episode
from sb3_pg_extras import MPPI

SETTINGS: dict[str, dict] = {
    "default": {},
    "smooth0.9": dict(smoothing=0.9),
    "knots4": dict(n_knots=4),
    "knots4_std1": dict(n_knots=4, noise_std=1.0),
    "smooth0.8_std1": dict(smoothing=0.8, noise_std=1.0),
    "nominal": dict(nominal_sample=True),
    "nominal_knots4": dict(nominal_sample=True, n_knots=4),
    "nominal_h50_knots5": dict(nominal_sample=True, horizon=50, n_knots=5, n_samples=600),
    "iter2_k500": dict(iterations=2, n_samples=500),
    "nominal_iter2_k500": dict(nominal_sample=True, iterations=2, n_samples=500),
    "nominal_iter3_k333": dict(nominal_sample=True, iterations=3, n_samples=333),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, nargs=2, default=[300, 340], metavar=("FIRST", "END"))
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    args = parser.parse_args(argv)
    th.set_num_threads(1)
    for name in args.settings:
        model = MPPI("MlpPolicy", "Pendulum-v1", dynamics_mode="known", seed=100, **SETTINGS[name])
        began = time.perf_counter()
        returns = [run_episode("Pendulum-v1", start, ours(model, deterministic=True))[0] for start in range(*args.starts)]
        print(f"{name}: mean {np.mean(returns):.1f}, worst {np.min(returns):.1f}, {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
