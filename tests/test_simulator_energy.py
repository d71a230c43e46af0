"""The simulator's energy check on models beyond gymnasium's (common/planning/simulator.py): a model file with its own
sensors, the count of MuJoCo-unstable rollouts, and the tolerance's boundary. The block and its rollouts are those of
tests/test_simulator.py."""

from __future__ import annotations

import numpy as np
import pytest

from tests import test_simulator

pytestmark = pytest.mark.mujoco

# the bouncing block with two sensors of its own, which the energy model's sensors come after
BLOCK_WITH_SENSORS = test_simulator.BOUNCING_BLOCK.replace(
    "</mujoco>", '<sensor><jointpos joint="slide"/><jointvel joint="slide"/></sensor>\n</mujoco>'
)


def _pushes() -> np.ndarray:
    controls = np.zeros((2, 30, 1))
    controls[0, :5], controls[0, 5:10] = 0.2, -0.2  # a push and its brake, far from the end stops
    controls[1, :10] = 1.0  # into the end stop: it bounces off with more energy than it brought
    return controls


def test_the_energy_balance_reads_its_own_sensors_after_those_of_the_model_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(test_simulator, "BOUNCING_BLOCK", BLOCK_WITH_SENSORS)
    sim = test_simulator._bouncing_block(tmp_path)
    assert sim.model.nsensordata == 2 + 2 + 2 * sim.model.nu  # the file's two, then the balance's
    rewards, _ = sim(np.zeros(2), _pushes())
    assert np.abs(sim.last_energy_gain[0]).max() < 1e-9  # the frictionless push balances exactly
    assert np.isfinite(rewards[0]).all() and np.isnan(rewards[1, -1])  # and the bounce is still caught
    assert sim.n_energy_gain == 1


def test_the_unstable_count_is_of_rollouts_not_of_physics_steps(tmp_path) -> None:
    sim = test_simulator._bouncing_block(tmp_path)
    start = sim.initial_state(np.zeros(2))
    n_physics = 10 * sim.frame_skip
    states = np.repeat(np.repeat(start[:, None], n_physics, axis=1), 3, axis=0)
    states[..., 0] = start[0, 0] + sim.model.opt.timestep * np.arange(1, n_physics + 1)
    states[1, 3:, 0] = 0.0  # MuJoCo reset the data (time 0) at physics step 3: one unstable rollout, 17 bad steps
    unstable = sim.unstable(start, states)
    assert unstable[:, -1].tolist() == [False, True, False]
    assert sim.n_mujoco_unstable == 1


def test_a_gain_equal_to_the_tolerance_is_allowed(tmp_path) -> None:
    sim = test_simulator._bouncing_block(tmp_path)
    sim(np.zeros(2), _pushes())
    largest = float(sim.last_energy_gain[1].max())  # the bounce's gain
    sim.energy_tolerance = largest
    rewards, _ = sim(np.zeros(2), _pushes())
    assert np.isfinite(rewards).all()  # at most the tolerance: not diverged
    sim.energy_tolerance = np.nextafter(largest, -np.inf)
    rewards, _ = sim(np.zeros(2), _pushes())
    assert np.isnan(rewards[1, -1]) and np.isfinite(rewards[0]).all()
