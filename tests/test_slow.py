"""Learning-to-threshold checks: slow, run with ``make test-slow`` (``pytest -m slow``)."""

from __future__ import annotations

import gymnasium as gym
import pytest
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

from benchmarks.run import build

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("algo", ["reinforce", "npg", "sac_discrete", "offpac"])
def test_solves_cartpole_with_zoo_hyperparameters(algo: str, seed: int) -> None:
    model, n_timesteps, _ = build(algo, "CartPole-v1", seed)
    model.learn(n_timesteps)
    mean, _ = evaluate_policy(model, Monitor(gym.make("CartPole-v1")), n_eval_episodes=10)
    assert mean >= 475


@pytest.mark.parametrize(("algo", "env_id", "threshold"), [("mbpo", "InvertedPendulum-v5", 950.0)])
def test_model_based_solves_within_zoo_budget(algo: str, env_id: str, threshold: float) -> None:
    model, n_timesteps, _ = build(algo, env_id, 0)
    model.learn(n_timesteps)
    mean, _ = evaluate_policy(model, Monitor(gym.make(env_id)), n_eval_episodes=10)
    assert mean >= threshold


@pytest.mark.parametrize(
    ("algo", "env_id", "n_timesteps", "threshold"),
    [("offpac", "InvertedPendulum-v5", 15_000, 950.0), ("svg", "Pendulum-v1", 10_000, -200.0)],
)
def test_constructor_defaults_learn(algo: str, env_id: str, n_timesteps: int, threshold: float) -> None:
    # Algo("MlpPolicy", env) with no hyperparameter (benchmarks/defaults.py measures these on 3 seeds)
    pytest.importorskip("mujoco") if env_id.endswith("-v5") else None
    model, _, _ = build(algo, env_id, 0, defaults=True)
    model.learn(n_timesteps)
    mean, _ = evaluate_policy(model, Monitor(gym.make(env_id)), n_eval_episodes=10)
    assert mean >= threshold
