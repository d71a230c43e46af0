"""The NaN guard names the env and the field, and stops before an update can see the bad value."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env

from sb3_pg_extras import REINFORCE, DiscreteSAC
from sb3_pg_extras.common.vec_env import VecCheckFinite


class Poisoned(gym.Wrapper):
    """CartPole whose reward (or only the observation returned at termination) becomes NaN after ``after`` steps."""

    def __init__(self, env: gym.Env, field: str, after: int = 30) -> None:
        super().__init__(env)
        self.field, self.after, self.t = field, after, 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        if self.t >= self.after:
            if self.field == "rewards":
                reward = float("nan")
            else:  # end the episode with a NaN last observation: only infos["terminal_observation"] holds it
                obs, terminated = np.full_like(obs, np.nan), True
        return obs, reward, terminated, truncated, info


def poisoned_env(field: str):
    return make_vec_env("CartPole-v1", n_envs=2, wrapper_class=Poisoned, wrapper_kwargs=dict(field=field))


@pytest.mark.parametrize("field, message", [("rewards", "`rewards`"), ("terminal", "terminal_observation")])
@pytest.mark.parametrize("cls", [REINFORCE, DiscreteSAC])
def test_a_nan_is_reported_with_the_env_and_field_before_any_update(cls, field, message) -> None:
    kwargs = dict(n_steps=64) if cls is REINFORCE else dict(learning_starts=100, batch_size=8)
    model = cls("MlpPolicy", VecCheckFinite(poisoned_env(field)), policy_kwargs=dict(net_arch=[8]), seed=0, **kwargs)
    before = [p.detach().clone() for p in model.policy.parameters()]
    with pytest.raises(ValueError, match=f"CartPole-v1 \\(env index 0\\).*{message}"):
        model.learn(200)
    for old, new in zip(before, model.policy.parameters()):
        assert th.equal(old, new)  # no update ran on the poisoned data
        assert th.isfinite(new).all()


def test_without_the_guard_the_terminal_nan_goes_unnoticed_by_sb3s_check() -> None:
    from stable_baselines3.common.vec_env import VecCheckNan

    env = VecCheckNan(poisoned_env("terminal"), raise_exception=True)
    env.reset()
    for _ in range(40):  # SB3's own check passes over the NaN terminal observation
        env.step(np.zeros(2, dtype=np.int64))


def test_clean_envs_pass_and_actions_are_checked() -> None:
    env = VecCheckFinite(make_vec_env("Pendulum-v1", n_envs=2))
    env.reset()
    for _ in range(5):
        env.step(np.zeros((2, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="non-finite action for Pendulum-v1 \\(env index 1\\)"):
        env.step(np.array([[0.0], [np.nan]], dtype=np.float32))
