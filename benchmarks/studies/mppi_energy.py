"""
The energy balance of MPPI with every default on HalfCheetah-v5 in the simulator mode (issue 43; the notes in
``benchmarks/notes/mppi.md``): at every env step, the energy that the planner's candidate rollouts and the executed step
gained beyond the work of the actuators (``SimulatorRollout.energy_gain``), with the check's tolerance in J per kg of
the model's mass set here (``none``: no check, the rollouts are scored as without it). The episode is run as
``python -m benchmarks.mppi defaults`` runs it (MPPI seeded ``seed``, the env ``seed + 10000``, deterministic).

    python -m benchmarks.studies.mppi_energy --seed 100 --tolerance none --steps 450   # the runaway without the check
    python -m benchmarks.studies.mppi_energy --seed 100 --tolerance 1.0                # a looser check than the default
    python -m benchmarks.studies.mppi_energy --seed 100                                # the default tolerance

Prints a summary every 25 steps and writes one CSV row per env step to ``--out`` (not kept in the repository).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import torch as th

from sb3_pg_extras import MPPI
from sb3_pg_extras.common.planning.simulator import SimulatorRollout


class Recorder:
    """Stands in for the backend's simulator: scores as it does and keeps the last call's rewards."""

    def __init__(self, simulator: SimulatorRollout) -> None:
        self.simulator, self.rewards = simulator, np.zeros(0)

    def __call__(self, observation: np.ndarray, controls: np.ndarray) -> Any:
        self.rewards, terminated = self.simulator(observation, controls)
        return self.rewards, terminated


def executed_balance(model: Any, data: Any, env: Any, action: np.ndarray) -> tuple[float, float]:
    """(actuator work, energy gained beyond it), in J, of one env step from the env's state, replayed in the energy
    model (the same physics: the replay is checked against the env's own step by the caller)."""
    data.qpos[:], data.qvel[:] = env.data.qpos, env.data.qvel
    mujoco.mj_forward(model, data)
    sensors = []
    for _ in range(env.frame_skip):
        data.ctrl[:] = action
        mujoco.mj_step(model, data)  # the sensors of the state before the step
        sensors.append(data.sensordata.copy())
    mujoco.mj_forward(model, data)
    sensors.append(data.sensordata.copy())
    s, nu = np.array(sensors), model.nu
    work = model.opt.timestep * (s[:-1, 2 : 2 + nu] * 0.5 * (s[:-1, 2 + nu : 2 + 2 * nu] + s[1:, 2 + nu : 2 + 2 * nu]))
    return float(work.sum()), float(s[-1, 0] + s[-1, 1] - s[0, 0] - s[0, 1] - work.sum())


def main() -> None:
    th.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--tolerance", default="default", help="J per kg of the model's mass, 'none' or 'default'")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--out", default=None, help="CSV, one row per env step")
    args = parser.parse_args()
    model = MPPI("MlpPolicy", "HalfCheetah-v5", seed=args.seed)
    backend: Any = model._backend
    simulator: SimulatorRollout = backend.simulator
    mass = float(simulator.model.body_mass.sum())
    if args.tolerance == "none":  # the balance is still computed, and never marks a rollout
        simulator.energy_tolerance = np.inf
    elif args.tolerance != "default":
        simulator.energy_tolerance = float(args.tolerance) * mass
    recorder = Recorder(simulator)
    backend.simulator = recorder
    print(f"HalfCheetah-v5, seed {args.seed}, tolerance {simulator.energy_tolerance} J ({mass} kg)", flush=True)
    env = gym.make("HalfCheetah-v5")
    obs, _ = env.reset(seed=args.seed + 10_000)
    real: Any = env.unwrapped
    replay = mujoco.MjData(simulator.model)
    state, start, total, top, planning = None, True, 0.0, 0.0, 0.0
    rows: list[dict[str, float]] = []
    writer = None
    out = open(args.out, "w", newline="") if args.out else None
    for step in range(1, args.steps + 1):
        began = time.perf_counter()
        action, state = model.predict(obs, state, episode_start=np.array([start]), deterministic=True)
        planning += time.perf_counter() - began
        start = False
        work, gained = executed_balance(simulator.model, replay, real, action)
        obs, reward, terminated, truncated, _ = env.step(action)
        assert np.abs(replay.qpos[1:] - real.data.qpos[1:]).max() < 1e-9  # the replay is the env's step
        total += float(reward)
        top = max(top, float(real.data.qvel[0]))
        # the candidates of the last planning round: their largest gain along the horizon, and the one of the most
        # weight (rewards summed: no discount, no termination in HalfCheetah; temperature 1)
        assert simulator.last_energy_gain is not None
        gain = np.nan_to_num(simulator.last_energy_gain.max(1), nan=np.inf)
        returns = np.where(np.isfinite(recorder.rewards), recorder.rewards, 0.0).sum(1)
        scored = np.isfinite(recorder.rewards).all(1)
        best = int(np.argmax(np.where(scored, returns, -np.inf)))
        row = {"step": step, "return": total, "speed": float(real.data.qvel[0]), "top_speed": top,
               "turns": float(real.data.qpos[2] / (2 * np.pi)), "executed_work": work, "executed_gain": gained,
               "candidates_gain_q50": float(np.quantile(gain, 0.5)), "candidates_gain_max": float(gain.max()),
               "candidates_excluded": float((~scored).mean()), "best_gain": float(gain[best]),
               "s_per_action": planning / step}  # fmt: skip
        rows.append(row)
        if out is not None:
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
        if step % 25 == 0:
            last = rows[-25:]
            print(f"step {step}: return {total:.1f}, speed {row['speed']:.1f}, top {top:.1f}, turns {row['turns']:.2f}; "
                  f"last 25 steps: executed work {sum(r['executed_work'] for r in last):.0f} J, gain beyond it "
                  f"{sum(r['executed_gain'] for r in last):.0f} J (positive steps "
                  f"{sum(max(r['executed_gain'], 0) for r in last):.0f} J), candidates excluded "
                  f"{np.mean([r['candidates_excluded'] for r in last]):.3f}, best candidate's gain (median) "
                  f"{np.median([r['best_gain'] for r in last]):.1f} J; {planning / step:.2f} s/action",
                  flush=True)  # fmt: skip
        if terminated or truncated:
            break
    print(f"final: return {total:.1f}, top speed {top:.1f} m/s, net turns {rows[-1]['turns']:.2f}, executed work "
          f"{sum(r['executed_work'] for r in rows):.0f} J, gain beyond it {sum(r['executed_gain'] for r in rows):.0f} J "
          f"(positive steps {sum(max(r['executed_gain'], 0) for r in rows):.0f} J), MuJoCo-unstable candidates "
          f"{simulator.n_mujoco_unstable}, all-diverged rounds {model.planner.n_all_diverged}, "
          f"{planning / len(rows):.2f} s/action", file=sys.stdout, flush=True)  # fmt: skip
    if out is not None:
        out.close()


if __name__ == "__main__":
    main()
