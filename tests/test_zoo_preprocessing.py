"""One YAML-to-kwargs path: an rl_zoo3 entry builds the same model through the zoo and through benchmarks/run.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecFrameStack, VecNormalize

from sb3_pg_extras import REINFORCE, zoo

pytest.importorskip("rl_zoo3")

ROOT = Path(__file__).resolve().parents[1]

# Every kind of preprocessing the zoo does on an entry: schedules (also of a key rl_zoo3 does not know), strings
# evaluated as Python, n_envs / n_timesteps, normalize with keyword arguments, env wrappers with keyword arguments
# and frame stacking.
ENTRY = """
CartPole-v1:
  n_envs: 2
  n_timesteps: !!float 2e3
  policy: 'MlpPolicy'
  n_steps: 8
  gamma: 0.98
  learning_rate: lin_3e-3
  baseline_learning_rate: lin_1e-3
  baseline_epochs: 2
  normalize: "dict(norm_obs=True, norm_reward=False)"
  policy_kwargs: "dict(net_arch=dict(pi=[8], vf=[8]), activation_fn=nn.ReLU)"
  frame_stack: 2
  env_wrapper:
    - gymnasium.wrappers.TimeLimit:
        max_episode_steps: 50
"""
RUN_SETTINGS = ("seed", "verbose", "device", "tensorboard_log")


class RecordingREINFORCE(REINFORCE):
    """REINFORCE that records what it was built with (policy, a description of the env, the other kwargs)."""

    calls: ClassVar[list[tuple[Any, Any, dict[str, Any]]]] = []

    def __init__(self, policy: Any, env: Any, **kwargs: Any) -> None:
        kept = {k: v for k, v in kwargs.items() if k not in RUN_SETTINGS}
        RecordingREINFORCE.calls.append((policy, describe_env(env), kept))
        super().__init__(policy, env, **kwargs)


def describe_env(env: VecEnv) -> tuple:
    """The VecEnv wrappers (with their settings), the number of envs and the gym wrappers of the first env."""
    vec_wrappers = []
    while isinstance(env, VecEnvWrapper):
        settings: tuple = ()
        if isinstance(env, VecNormalize):
            settings = (env.norm_obs, env.norm_reward, env.gamma, env.training)
        elif isinstance(env, VecFrameStack):
            settings = (env.observation_space.shape,)
        vec_wrappers.append((type(env).__name__, settings))
        env = env.venv
    gym_env = env.envs[0]  # type: ignore[attr-defined]
    gym_wrappers = []
    while hasattr(gym_env, "env"):
        gym_wrappers.append((type(gym_env).__name__, getattr(gym_env, "_max_episode_steps", None)))
        gym_env = gym_env.env
    return tuple(vec_wrappers), env.num_envs, tuple(gym_wrappers)


def canonical(value: Any) -> Any:
    """Schedules compared by type and values along training; everything else as is."""
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items()}
    if callable(value) and not isinstance(value, type):
        return type(value).__name__, [value(progress) for progress in (1.0, 0.5, 0.0)]
    return value


def _load_run_module():
    from benchmarks import run

    return run


def test_zoo_and_harness_build_the_same_model_from_one_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rl_zoo3 import utils

    conf = tmp_path / "reinforce.yml"
    conf.write_text(ENTRY)
    entry = yaml.safe_load(ENTRY)["CartPole-v1"]
    zoo.register()
    monkeypatch.setitem(zoo.ALGOS, "reinforce", RecordingREINFORCE)
    monkeypatch.setitem(utils.ALGOS, "reinforce", RecordingREINFORCE)
    monkeypatch.setattr(RecordingREINFORCE, "calls", [])
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # zoo.main sets it for rl_zoo3's parser

    # the zoo: `python -m sb3_pg_extras.zoo train ...`, in this process
    train = ["train", "--algo", "reinforce", "--env", "CartPole-v1", "--conf-file", str(conf), "-n", "16"]
    zoo.main([*train, "-f", str(tmp_path / "logs"), "--seed", "0", "--verbose", "0"])
    assert list((tmp_path / "logs" / "reinforce").glob("CartPole-v1_1/CartPole-v1.zip"))

    # the benchmark harness, given the same entry
    run = _load_run_module()
    monkeypatch.setattr(run, "zoo_hyperparams", lambda algo, env_id: dict(entry))
    model, n_timesteps, _ = run.build("reinforce", "CartPole-v1", seed=0)
    assert n_timesteps == 2000 and isinstance(model, REINFORCE)

    (zoo_policy, zoo_env, zoo_kwargs), (harness_policy, harness_env, harness_kwargs) = RecordingREINFORCE.calls
    assert harness_policy == zoo_policy == "MlpPolicy"
    assert canonical(harness_kwargs) == canonical(zoo_kwargs)
    assert harness_env == zoo_env
    assert callable(model.baseline_lr_schedule) and model.baseline_lr_schedule(0.5) == pytest.approx(5e-4)
