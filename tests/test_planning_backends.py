"""The planner's rollout backends (common/planning/backends.py) through their one interface: the simulator, the known
functions and the learned ensemble score K sequences of H scaled actions from one observation; the known backend
against a plain loop over the env's functions."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from sb3_pg_extras.common.planning.backends import (
    KnownFunctionsBackend,
    LearnedEnsembleBackend,
    RolloutBackend,
    SimulatorBackend,
    resolve_dynamics_mode,
)
from sb3_pg_extras.envs import get_env_functions

th.set_num_threads(1)


def _spaces(env_id: str) -> tuple[spaces.Box, spaces.Box]:
    env = gym.make(env_id)
    assert isinstance(env.observation_space, spaces.Box) and isinstance(env.action_space, spaces.Box)
    return env.observation_space, env.action_space


def _known() -> RolloutBackend:
    return KnownFunctionsBackend("MPPI", "Pendulum-v1", _spaces("Pendulum-v1")[1])


def _learned() -> RolloutBackend:
    obs_space, action_space = _spaces("Pendulum-v1")
    settings = dict(n_members=2, n_elites=2, hidden_sizes=[8])
    return LearnedEnsembleBackend("MPPI", "Pendulum-v1", obs_space, action_space, settings)


def _simulator() -> RolloutBackend:
    return SimulatorBackend("MPPI", "Hopper-v5", _spaces("Hopper-v5")[1])


BACKENDS = {
    "known": ("Pendulum-v1", _known),
    "learned": ("Pendulum-v1", _learned),
    "simulator": ("Hopper-v5", _simulator),
}


@pytest.mark.parametrize(
    "mode", [pytest.param(mode, marks=pytest.mark.mujoco) if mode == "simulator" else mode for mode in BACKENDS]
)
def test_every_backend_scores_k_sequences_from_one_observation(mode: str) -> None:
    env_id, make = BACKENDS[mode]
    assert resolve_dynamics_mode("auto", env_id) == ("simulator" if mode == "simulator" else "known")
    backend = make()
    obs, _ = gym.make(env_id).reset(seed=0)
    start = th.as_tensor(obs, dtype=th.float32)
    candidates = th.rand(6, 4, backend.action_space.shape[0], generator=th.Generator().manual_seed(0)) * 2 - 1
    rewards, alive = backend.rollout(start, candidates, th.Generator().manual_seed(1))
    assert rewards.shape == alive.shape == (6, 4) and rewards.dtype == th.float32 and alive.dtype == th.bool
    assert th.isfinite(rewards).all() and alive[:, 0].all()
    assert not (alive[:, 1:] & ~alive[:, :-1]).any()  # once terminated, never alive again
    again, _ = backend.rollout(start, candidates, th.Generator().manual_seed(1))
    th.testing.assert_close(again, rewards)  # the same generator draws the same ensemble members
    assert (backend.dynamics is not None) == (mode == "learned")
    assert backend.alive_reward == (1.0 if mode == "simulator" else 0.0)  # Hopper-v5's healthy reward


def test_the_known_backend_equals_a_loop_over_the_envs_functions_and_marks_divergence() -> None:
    functions = get_env_functions("Pendulum-v1")
    assert functions is not None and functions.dynamics is not None and functions.reward is not None
    dynamics: Callable[[th.Tensor, th.Tensor], th.Tensor] = functions.dynamics
    backend = KnownFunctionsBackend("MPPI", "Pendulum-v1", _spaces("Pendulum-v1")[1])
    start = th.tensor([0.6, 0.8, -1.0])
    candidates = th.tensor([[[0.5], [-1.0], [1.0]], [[0.0], [0.25], [-0.5]]])
    rewards, alive = backend.rollout(start, candidates)
    for k, sequence in enumerate(candidates):
        obs = start[None]
        for h, scaled in enumerate(sequence):
            action = (2.0 * scaled)[None]  # Pendulum-v1's torque range is [-2, 2]
            next_obs = dynamics(obs, action)
            th.testing.assert_close(rewards[k, h], functions.reward(obs, action, next_obs)[0])
            obs = next_obs
    assert alive.all()

    def blows_up(obs: th.Tensor, action: th.Tensor) -> th.Tensor:
        return dynamics(obs, action).masked_fill((action > 1.0).expand(-1, obs.shape[-1]), float("inf"))

    diverging = KnownFunctionsBackend("MPPI", "Pendulum-v1", _spaces("Pendulum-v1")[1], dynamics_fn=blows_up)
    rewards, _ = diverging.rollout(start, candidates)
    assert th.isnan(rewards[0, 2]) and th.isfinite(rewards[0, :2]).all() and th.isfinite(rewards[1]).all()


def test_modes_without_their_pieces_are_refused() -> None:
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    with pytest.raises(ValueError, match=r"MPPI\(dynamics_mode='simulator'\) has no simulator state mapping"):
        SimulatorBackend("MPPI", "Pendulum-v1", action_space)
    with pytest.raises(ValueError, match="no reward function"):
        KnownFunctionsBackend("MPPI", None, action_space, dynamics_fn=lambda o, a: o)


@pytest.mark.mujoco
def test_the_simulator_backend_unscales_candidates_to_the_env_action_range() -> None:
    """Candidates in SB3's [-1, 1] reach the simulator as ``low + (c + 1) / 2 (high - low)`` (SB3's unscale_action),
    here on an asymmetric range of InvertedPendulum-v5's one actuator."""
    from stable_baselines3.common.policies import BasePolicy

    space = spaces.Box(np.float32(-1.0), np.float32(3.0), (1,))
    backend = SimulatorBackend("MPPI", "InvertedPendulum-v5", space)
    seen = []

    def record(observation, controls):
        seen.append(controls)
        return np.zeros(controls.shape[:2]), np.zeros(controls.shape[:2], dtype=bool)

    backend.simulator = record
    candidates = th.tensor([[[-1.0], [0.0]], [[0.5], [1.0]]])
    backend.rollout(th.zeros(4), candidates)
    policy = type("P", (), {"action_space": space})()
    expected = BasePolicy.unscale_action(policy, candidates.numpy())
    np.testing.assert_allclose(seen[0], expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(seen[0][:, :, 0], [[-1.0, 1.0], [2.0, 3.0]], rtol=0, atol=1e-6)


@pytest.mark.mujoco
def test_the_simulator_backend_predicts_the_state_after_the_executed_action_in_env_units() -> None:
    """``executed`` hands the simulator the action in env units (here on an asymmetric range [-1, 3] set by hand in
    place of Walker2d-v5's [-1, 1]), whose predicted observation is the env's next one."""
    env = gym.make("Walker2d-v5")
    obs, _ = env.reset(seed=0)
    space = spaces.Box(np.float32(-1.0), np.float32(3.0), env.action_space.shape)
    backend = SimulatorBackend("MPPI", "Walker2d-v5", space)
    action = th.tensor([-1.0, -0.5, 0.0, 0.2, -0.6, -0.8])  # SB3's scale: env units -1, 0, 1, 1.4, -0.2, -0.6
    backend.executed(th.as_tensor(obs, dtype=th.float32), action)
    next_obs, *_ = env.step(np.array([-1.0, 0.0, 1.0, 1.4, -0.2, -0.6]))
    predicted_obs, _ = backend.simulator._predictions[-1]
    np.testing.assert_allclose(predicted_obs, next_obs, atol=1e-4)


@pytest.mark.mujoco
def test_the_restored_fraction_is_of_the_starts_with_a_clipped_velocity() -> None:
    backend = SimulatorBackend("MPPI", "Walker2d-v5", _spaces("Walker2d-v5")[1])
    assert backend.diagnostics() == {"energy_gain_fraction": 0.0, "restored_fraction": 0.0}
    backend.simulator.n_restored, backend.simulator.n_clipped = 3, 4
    assert backend.diagnostics()["restored_fraction"] == 0.75
    backend.simulator.n_restored, backend.simulator.n_clipped = 1, 1
    assert backend.diagnostics()["restored_fraction"] == 1.0


@pytest.mark.mujoco
def test_the_energy_gain_fraction_is_of_the_rolled_out_sequences() -> None:
    backend = SimulatorBackend("MPPI", "InvertedPendulum-v5", _spaces("InvertedPendulum-v5")[1])
    assert backend.diagnostics() == {"energy_gain_fraction": 0.0}  # nothing rolled out yet: no division by zero
    backend.simulator.n_energy_gain, backend.simulator.n_rollouts = 3, 8
    assert backend.diagnostics() == {"energy_gain_fraction": 0.375}
    backend.simulator.n_energy_gain, backend.simulator.n_rollouts = 1, 1
    assert backend.diagnostics() == {"energy_gain_fraction": 1.0}


def test_a_learned_reward_head_is_wrapped_to_mark_diverged_states_and_a_known_reward_function_is() -> None:
    import warnings

    from sb3_pg_extras.common.planning.backends import MarkDivergedModel, MarkDivergedReward

    obs_space, action_space = _spaces("Pendulum-v1")
    settings = dict(n_members=2, n_elites=2, hidden_sizes=[8])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the defaults learn no head that a known function replaces
        known = LearnedEnsembleBackend("MPPI", "Pendulum-v1", obs_space, action_space, settings)
    assert not known.dynamics.model.learn_reward
    assert isinstance(known.reward_fn, MarkDivergedReward) and not isinstance(known.model, MarkDivergedModel)
    learned = LearnedEnsembleBackend(
        "MPPI", None, obs_space, action_space, settings, termination_fn=lambda o, a, n: n[..., 0] > 10, learn_reward=True
    )
    assert learned.reward_fn is None and isinstance(learned.model, MarkDivergedModel)


def test_an_explicit_mode_is_kept_where_auto_would_choose_another() -> None:
    assert resolve_dynamics_mode("auto", "Pendulum-v1") == "known"
    for mode in ("known", "learned", "simulator"):
        assert resolve_dynamics_mode(mode, "Pendulum-v1") == mode
        assert resolve_dynamics_mode(mode, None) == mode


def test_the_backend_interface_needs_a_rollout() -> None:
    with pytest.raises(TypeError, match="abstract"):
        RolloutBackend(spaces.Box(-1.0, 1.0, (1,)))  # type: ignore[abstract]


def test_a_model_s_predicted_reward_is_nan_where_its_next_state_diverged_and_none_stays_none() -> None:
    from sb3_pg_extras.common.planning.backends import MarkDivergedModel

    class Model:
        learn_reward = learn_termination = True
        reward: th.Tensor | None = th.tensor([1.0, 2.0, 3.0])

        def predict(self, obs, actions, *args, **kwargs):
            next_obs = th.tensor([[0.0, 1.0], [float("inf"), 0.0], [0.0, float("nan")]])
            return next_obs, self.reward, th.zeros(3, dtype=th.bool)

    model = Model()
    wrapped = MarkDivergedModel(model)
    next_obs, reward, done = wrapped.predict(th.zeros(3, 2), th.zeros(3, 1))
    assert reward is not None and reward[0] == 1.0 and reward[1:].isnan().all()
    assert next_obs.shape == (3, 2) and not done.any()
    model.reward = None  # a model without a reward head: nothing to mark
    assert wrapped.predict(th.zeros(3, 2), th.zeros(3, 1))[1] is None


@pytest.mark.mujoco
def test_the_simulator_backend_keeps_a_sequence_alive_until_the_step_after_its_termination() -> None:
    backend = _simulator()
    terminated = np.array(
        [[False, False, False, False], [True, False, False, False], [False, False, True, True], [False, True, False, True]]
    )
    rewards = np.arange(16, dtype=np.float64).reshape(4, 4)
    backend.simulator = lambda start, controls: (rewards, terminated)  # type: ignore[assignment,misc]
    start = th.zeros(11)  # a Hopper-v5 observation
    out_rewards, alive = backend.rollout(start, th.zeros(4, 4, backend.action_space.shape[0]))
    expected = [[not terminated[k, :h].any() for h in range(4)] for k in range(4)]
    assert alive.tolist() == expected
    assert out_rewards.dtype == th.float32 and th.equal(out_rewards, th.as_tensor(rewards).float())
