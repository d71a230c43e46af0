"""The torch reward / termination functions agree with the real envs, batch, differentiate, and are looked up by exact id."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th

from sb3_pg_extras.envs import (
    ENV_FUNCTIONS,
    EnvFunctions,
    UnknownEnvFunctionsError,
    get_env_functions,
    register_env_functions,
    require_env_functions,
)


@dataclass(frozen=True)
class Rollout:
    """How to collect random-action transitions of one env."""

    n_steps: int = 300
    make_kwargs: dict[str, Any] = field(default_factory=dict)
    reset_options: dict[str, Any] | None = None
    # whether random actions must reach some terminations in n_steps (so the termination check is not vacuous)
    expect_terminations: bool = False


ROLLOUTS: dict[str, Rollout] = {
    "Pendulum-v1": Rollout(),
    # random actions never reach the flag from the valley: start next to it, with short episodes
    "MountainCarContinuous-v0": Rollout(
        make_kwargs={"max_episode_steps": 3}, reset_options={"low": 0.4, "high": 0.5}, expect_terminations=True
    ),
    "InvertedPendulum-v5": Rollout(expect_terminations=True),
    "InvertedDoublePendulum-v5": Rollout(expect_terminations=True),
    "HalfCheetah-v5": Rollout(),
    "Hopper-v5": Rollout(expect_terminations=True),
    "Walker2d-v5": Rollout(expect_terminations=True),
    "Swimmer-v5": Rollout(),
    "Ant-v5": Rollout(),
}


@dataclass(frozen=True)
class Transitions:
    obs: th.Tensor
    action: th.Tensor
    next_obs: th.Tensor
    reward: th.Tensor
    terminated: th.Tensor


@cache
def collect(env_id: str, seed: int = 0) -> Transitions:
    """Random-action transitions of the real env, resetting on termination or truncation."""
    settings = ROLLOUTS[env_id]
    env = gym.make(env_id, **settings.make_kwargs)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed, options=settings.reset_options)
    columns: dict[str, list[Any]] = {"obs": [], "action": [], "next_obs": [], "reward": [], "terminated": []}
    for _ in range(settings.n_steps):
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        for key, value in zip(columns, (obs, action, next_obs, reward, terminated)):
            columns[key].append(value)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset(options=settings.reset_options)
    env.close()
    # obs / actions keep the env's dtypes (float32 or float64), as a caller would pass them
    return Transitions(**{key: th.as_tensor(np.array(values)) for key, values in columns.items()})


def evaluate(functions: EnvFunctions, data: Transitions) -> tuple[th.Tensor, th.Tensor]:
    return (
        functions.reward(data.obs, data.action, data.next_obs),
        functions.termination(data.obs, data.action, data.next_obs),
    )


@pytest.fixture
def restore_registry() -> Iterator[None]:
    saved = dict(ENV_FUNCTIONS)
    yield
    ENV_FUNCTIONS.clear()
    ENV_FUNCTIONS.update(saved)


def test_every_registered_env_is_checked() -> None:
    assert set(ROLLOUTS) == set(ENV_FUNCTIONS)


@pytest.mark.parametrize("env_id", list(ROLLOUTS))
def test_functions_match_the_real_env(env_id: str) -> None:
    functions = ENV_FUNCTIONS[env_id]
    data = collect(env_id)
    reward, terminated = evaluate(functions, data)

    assert reward.shape == data.reward.shape and reward.is_floating_point()
    assert terminated.shape == data.terminated.shape and terminated.dtype == th.bool
    if ROLLOUTS[env_id].expect_terminations:
        assert data.terminated.any()
    # documented exceptions to exact termination are corner cases random rollouts do not hit
    assert th.equal(terminated, data.terminated)

    error = (reward.double() - data.reward.double()).abs()
    if functions.exact_reward:
        assert functions.reward_atol <= 1e-5
        assert error.max() <= 1e-5
    else:
        assert error.max() <= functions.reward_atol
        assert error.mean() <= functions.reward_mean_atol
        # the approximation must be informative: its typical error is small next to the reward's spread
        # (HalfCheetah, the worst, measures 0.13-0.16 of the std on 300-step random rollouts)
        assert error.mean() <= 0.2 * data.reward.double().std()


@pytest.mark.parametrize(
    "env_id, index, value, terminated",
    [
        # the env's inequalities: strict for Hopper / Walker2d, inclusive for Ant; NaN is unhealthy
        ("Hopper-v5", 0, 0.7, True),
        ("Hopper-v5", 0, 0.7001, False),
        ("Hopper-v5", 1, 0.2, True),
        ("Hopper-v5", 3, 100.0, True),
        ("Hopper-v5", 0, float("nan"), True),
        ("Walker2d-v5", 0, 0.8, True),
        ("Walker2d-v5", 0, 1.9999, False),
        ("Walker2d-v5", 0, 2.0, True),
        ("Walker2d-v5", 1, -1.0, True),
        ("Ant-v5", 0, 0.2, False),
        ("Ant-v5", 0, 1.0, False),
        ("Ant-v5", 0, 1.0001, True),
        ("Ant-v5", 0, 0.1999, True),
        ("Ant-v5", 20, float("inf"), True),
        ("InvertedPendulum-v5", 1, 0.2, False),
        ("InvertedPendulum-v5", 1, -0.2001, True),
        ("InvertedPendulum-v5", 2, float("nan"), True),
        # both ends of every range
        ("Hopper-v5", 0, float("inf"), True),
        ("Hopper-v5", 0, 100.0, False),  # z has no upper bound below inf (it is not part of the +-100 state check)
        ("Hopper-v5", 1, 0.1999, False),
        ("Hopper-v5", 1, -0.2, True),
        ("Hopper-v5", 1, -0.1999, False),
        ("Hopper-v5", 3, 99.9, False),
        ("Hopper-v5", 3, -100.0, True),
        ("Hopper-v5", 3, -99.9, False),
        ("Hopper-v5", 10, 100.0, True),  # the last velocity is part of the state too
        ("Walker2d-v5", 0, 0.8001, False),
        ("Walker2d-v5", 1, 1.0, True),
        ("Walker2d-v5", 1, 0.9999, False),
        ("Walker2d-v5", 1, -0.9999, False),
        ("Ant-v5", 26, float("inf"), True),  # the last state entry
        ("Ant-v5", 27, float("inf"), False),  # a contact force: not part of the state
        ("InvertedPendulum-v5", 1, 0.2001, True),
        ("InvertedPendulum-v5", 1, -0.2, False),
    ],
)
def test_termination_boundaries(env_id: str, index: int, value: float, terminated: bool) -> None:
    data = collect(env_id)
    # a healthy observation of the env, with one entry moved to the boundary
    next_obs = data.obs[0].clone()
    assert not ENV_FUNCTIONS[env_id].termination(data.obs[0], data.action[0], next_obs)
    next_obs[index] = value
    assert bool(ENV_FUNCTIONS[env_id].termination(data.obs[0], data.action[0], next_obs)) == terminated


@pytest.mark.parametrize("env_id", list(ROLLOUTS))
def test_leading_batch_dims_broadcast_and_inputs_are_untouched(env_id: str) -> None:
    functions = ENV_FUNCTIONS[env_id]
    data = collect(env_id)
    inputs = (data.obs, data.action, data.next_obs)
    copies = [tensor.clone() for tensor in inputs]
    reward, terminated = evaluate(functions, data)

    # (particles, batch, dim), as in MPPI / ensemble rollouts
    n_half = len(data.obs) // 2
    shaped = [tensor[: 2 * n_half].reshape(2, n_half, -1) for tensor in inputs]
    assert th.equal(functions.reward(*shaped), reward[: 2 * n_half].reshape(2, n_half))
    assert th.equal(functions.termination(*shaped), terminated[: 2 * n_half].reshape(2, n_half))
    # a single transition without a batch dim
    assert functions.reward(*(tensor[0] for tensor in inputs)).shape == ()
    for tensor, copy in zip(inputs, copies):
        assert th.equal(tensor, copy)


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Swimmer-v5", "Ant-v5"])
def test_reward_is_differentiable(env_id: str) -> None:
    data = collect(env_id)
    obs, action, next_obs = (tensor.double().requires_grad_() for tensor in (data.obs, data.action, data.next_obs))
    ENV_FUNCTIONS[env_id].reward(obs, action, next_obs).sum().backward()
    for tensor in (obs, action):
        assert tensor.grad is not None and th.isfinite(tensor.grad).all()
    # Pendulum's reward reads the state before the step only
    assert next_obs.grad is None if env_id == "Pendulum-v1" else th.isfinite(next_obs.grad).all()
    assert action.grad is not None and action.grad.abs().sum() > 0
    # the forward reward pulls the velocity entry of both observations
    if env_id == "HalfCheetah-v5":
        assert obs.grad is not None and next_obs.grad is not None
        assert th.allclose(obs.grad[:, 8], th.tensor(0.4, dtype=th.float64))
        assert th.allclose(next_obs.grad[:, 8], th.tensor(0.6, dtype=th.float64))


def test_pendulum_action_gradient_matches_the_formula() -> None:
    data = collect("Pendulum-v1")
    action = data.action.clone().requires_grad_()
    ENV_FUNCTIONS["Pendulum-v1"].reward(data.obs, action, data.next_obs).sum().backward()
    assert action.grad is not None
    assert th.allclose(action.grad, -0.002 * data.action)


def test_float32_inputs_give_float32_rewards() -> None:
    data = collect("HalfCheetah-v5")
    reward = ENV_FUNCTIONS["HalfCheetah-v5"].reward(data.obs.float(), data.action.float(), data.next_obs.float())
    assert reward.dtype == th.float32


def test_unknown_and_other_version_ids_are_not_found() -> None:
    assert get_env_functions("HalfCheetah-v5") is ENV_FUNCTIONS["HalfCheetah-v5"]
    for env_id in ("HalfCheetah-v4", "HalfCheetah", "halfcheetah-v5", "Hopper-v4", "Pendulum-v0", "NoSuchEnv-v0"):
        assert get_env_functions(env_id) is None


def test_require_env_functions_explains_what_is_missing() -> None:
    with pytest.raises(KeyError) as info:
        require_env_functions("HalfCheetah-v4", what="termination function")
    message = str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, UnknownEnvFunctionsError)
    for expected in ("'HalfCheetah-v4'", "termination function", "HalfCheetah-v5", "reward_fn", "termination_fn", "learned"):
        assert expected in message
    for known in ENV_FUNCTIONS:
        assert known in message

    with pytest.raises(ValueError, match="reward function known for env id 'NoSuchEnv-v0'"):
        require_env_functions("NoSuchEnv-v0", what="reward function")
    assert require_env_functions("Pendulum-v1") is ENV_FUNCTIONS["Pendulum-v1"]


@pytest.mark.usefixtures("restore_registry")
def test_register_env_functions() -> None:
    def reward(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
        return -next_obs.square().sum(dim=-1)

    def termination(obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
        return next_obs[..., 0] > 1.0

    entry = register_env_functions("MyEnv-v0", reward, termination, exact_reward=True, note="custom")
    assert get_env_functions("MyEnv-v0") is entry is require_env_functions("MyEnv-v0")
    assert entry.reward is reward and entry.termination is termination and entry.exact_reward
    assert get_env_functions("MyEnv-v1") is None

    with pytest.raises(ValueError, match="already registered"):
        register_env_functions("MyEnv-v0", reward, termination)
    assert register_env_functions("MyEnv-v0", reward, termination, overwrite=True) is get_env_functions("MyEnv-v0")
    with pytest.raises(ValueError, match="version"):
        register_env_functions("MyEnv", reward, termination)
    assert register_env_functions("my_namespace/MyEnv-v3", reward, termination) is get_env_functions("my_namespace/MyEnv-v3")


DYNAMICS_ENVS = [env_id for env_id, functions in ENV_FUNCTIONS.items() if functions.dynamics is not None]


@pytest.mark.mujoco
@pytest.mark.parametrize("env_id", [e for e in ROLLOUTS if e.endswith("-v5")])
def test_the_control_cost_of_each_mujoco_reward_is_exact(env_id: str) -> None:
    """The approximate rewards approximate the forward term only: the action's part is the env's control cost
    ``ctrl_cost_weight * sum(a^2)`` exactly (0 for the pendulums), with its sign, whatever the observations."""
    env = gym.make(env_id).unwrapped
    weight = getattr(env, "_ctrl_cost_weight", 0.0)
    functions = ENV_FUNCTIONS[env_id]
    gen = th.Generator().manual_seed(0)
    obs = 0.1 * th.randn(4, *env.observation_space.shape, generator=gen, dtype=th.float64)
    next_obs = obs + 0.01 * th.randn(obs.shape, generator=gen, dtype=th.float64)
    action = th.rand(4, *env.action_space.shape, generator=gen, dtype=th.float64) * 2 - 1
    cost = functions.reward(obs, th.zeros_like(action), next_obs) - functions.reward(obs, action, next_obs)
    th.testing.assert_close(cost, weight * action.square().sum(-1), rtol=0, atol=1e-12)
    assert weight == 0.0 or bool((cost > 0).all())
    env.close()


def test_exact_reward_flags() -> None:
    # exact: the reward is a function of (obs, action, next_obs) alone; the MuJoCo envs but InvertedPendulum need
    # state the observation leaves out (their forward reward is the change of x, which the observation excludes)
    flags = {env_id: functions.exact_reward for env_id, functions in ENV_FUNCTIONS.items()}
    assert {env_id for env_id, exact in flags.items() if exact} == {
        "Pendulum-v1",
        "MountainCarContinuous-v0",
        "InvertedPendulum-v5",
    }


def test_exact_termination_flags() -> None:
    # the terminations equal the env's but in documented corner cases: InvertedDoublePendulum's tip height (the env
    # reads RK4's last stage) and Hopper's joint speeds of 100 or more (clipped to +-10 in the observation)
    inexact = {env_id for env_id, functions in ENV_FUNCTIONS.items() if not functions.exact_termination}
    assert inexact == {"InvertedDoublePendulum-v5", "Hopper-v5"}


def test_inverted_double_pendulum_tip_height_one_ends_the_episode() -> None:
    idp = ENV_FUNCTIONS["InvertedDoublePendulum-v5"]
    # both poles (0.6 m) at angle q from the vertical, the second hinged straight on the first: tip height 1.2 cos q
    for height, terminated in ((1.0005, False), (0.9995, True)):
        cos = height / 1.2
        sin = (1 - cos**2) ** 0.5
        obs = th.tensor([0.3, sin, 0.0, cos, 1.0, 0.5, -0.5, 2.0, 0.0], dtype=th.float64)
        assert bool(idp.termination(obs, th.zeros(1), obs)) == terminated
        # 10 alive - (0.01 x_tip^2 + (y_tip - 2)^2) - (1e-3 w1^2 + 5e-3 w2^2), x_tip = x_cart + 1.2 sin q
        expected = 10.0 * (not terminated) - (0.01 * (0.3 + 1.2 * sin) ** 2 + (height - 2.0) ** 2) - (1e-3 * 0.25 + 5e-3 * 4.0)
        assert float(idp.reward(obs, th.zeros(1), obs)) == pytest.approx(expected, abs=1e-9)
    # a tip at height 1 exactly (first pole upright, cos q2 = 2/3 rounded up: 0.6 (1 + cos q2) is 1.0 in float64)
    cos2 = 0.6666666666666667
    obs = th.tensor([0.0, 0.0, (1 - cos2**2) ** 0.5, 1.0, cos2, 0.0, 0.0, 0.0, 0.0], dtype=th.float64)
    assert 0.6 * (1.0 + cos2) == 1.0 and bool(idp.termination(obs, th.zeros(1), obs))
    assert float(idp.reward(obs, th.zeros(1), obs)) == pytest.approx(-(0.01 * (0.6 * obs[2].item()) ** 2 + 1.0), abs=1e-9)


def test_known_dynamics_exist_for_the_classic_envs() -> None:
    assert set(DYNAMICS_ENVS) >= {"Pendulum-v1", "MountainCarContinuous-v0"}


@pytest.mark.parametrize("env_id", DYNAMICS_ENVS)
def test_known_dynamics_match_the_real_env_step(env_id: str) -> None:
    data = collect(env_id)
    dynamics = ENV_FUNCTIONS[env_id].dynamics
    assert dynamics is not None
    predicted = dynamics(data.obs.double(), data.action.double())
    th.testing.assert_close(predicted, data.next_obs.double(), rtol=0, atol=2e-6)


@pytest.mark.parametrize(
    ("env_id", "state", "action"),
    [
        ("Pendulum-v1", [3.0, 7.9], [5.0]),  # torque beyond the bound, speed clipped at 8
        ("Pendulum-v1", [-0.5, -7.99], [-3.0]),
        ("Pendulum-v1", [0.0, 0.0], [2.5]),  # from rest, no speed clip: the torque bound alone sets the step
        ("MountainCarContinuous-v0", [0.59, 0.069], [2.0]),  # force clipped, speed clipped, position at the right wall
        ("MountainCarContinuous-v0", [-1.19, -0.06], [-1.0]),  # hits the left wall: velocity reset to 0
        ("MountainCarContinuous-v0", [-0.5, 0.0], [0.3]),
        ("MountainCarContinuous-v0", [-0.5, 0.0], [-1.5]),  # force clipped at -1
        ("MountainCarContinuous-v0", [-0.5, 0.0], [1.5]),  # force clipped at +1, far from both walls
        ("MountainCarContinuous-v0", [-1.3, 0.06], [1.0]),  # clipped to the left wall while moving right: speed kept
    ],
)
def test_known_dynamics_clip_like_the_env(env_id: str, state: list[float], action: list[float]) -> None:
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    env.state = np.array(state, dtype=np.float64 if env_id == "Pendulum-v1" else np.float32)
    obs = env._get_obs() if env_id == "Pendulum-v1" else env.state.copy()
    next_obs, *_ = env.step(np.array(action, dtype=np.float32))
    dynamics = ENV_FUNCTIONS[env_id].dynamics
    assert dynamics is not None
    predicted = dynamics(th.as_tensor(obs, dtype=th.float64), th.tensor(action, dtype=th.float64))
    th.testing.assert_close(predicted, th.as_tensor(next_obs, dtype=th.float64), rtol=0, atol=2e-6)


@pytest.mark.parametrize("torque", [2.5, -3.0, 1.5])
def test_pendulum_reward_charges_the_clipped_torque_like_the_env(torque: float) -> None:
    env = gym.make("Pendulum-v1").unwrapped
    env.reset(seed=0)
    env.state = np.array([0.4, -1.0])
    obs = env._get_obs()
    _, reward, *_ = env.step(np.array([torque], dtype=np.float32))
    predicted = ENV_FUNCTIONS["Pendulum-v1"].reward(
        th.as_tensor(obs, dtype=th.float64), th.tensor([torque], dtype=th.float64), th.zeros(3, dtype=th.float64)
    )
    assert abs(float(predicted) - float(reward)) < 1e-6


def test_mountain_car_goal_edge_is_inclusive() -> None:
    # gymnasium: terminated = position >= goal_position and velocity >= goal_velocity (0.45 and 0 by default)
    termination = ENV_FUNCTIONS["MountainCarContinuous-v0"].termination
    next_obs = th.tensor([[0.45, 0.0], [0.45, 0.01], [0.44, 0.01], [0.46, -1e-6]], dtype=th.float64)
    assert termination(next_obs, th.zeros(4, 1), next_obs).tolist() == [True, True, False, False]
