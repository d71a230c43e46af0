"""Issue 42: the construction-time checks of envs and user functions, each at its root in the shared code
(``sb3_pg_extras/common/validation.py``, ``common/dynamics/functions.py``): user functions on a probe batch, env ids
and env settings that do not fit the env, VecNormalize anywhere, settings that do nothing, unbounded Box actions,
and Dict / image observations."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

from sb3_pg_extras import MBPO, MPPI, NPG, REINFORCE, SVG, OffPAC

TINY_MODEL = dict(dynamics_kwargs=dict(n_members=2, n_elites=1, hidden_sizes=[8]), policy_kwargs=dict(net_arch=[8]))
TINY = {
    MBPO: dict(**TINY_MODEL, buffer_size=100),
    SVG: dict(**TINY_MODEL, buffer_size=100),
    MPPI: dict(n_samples=8, horizon=2, buffer_size=100),
}
MODEL_BASED = [MBPO, SVG, MPPI]
IDS = [cls.__name__ for cls in MODEL_BASED]


def reward_column(obs, action, next_obs):
    return -(obs[:, :1] ** 2)  # (batch, 1): broadcast to (batch, batch) in SVG's objective before the check


@pytest.mark.parametrize("cls", MODEL_BASED, ids=IDS)
@pytest.mark.parametrize(
    ("given", "error", "message"),
    [
        (dict(reward_fn=reward_column), ValueError, r"`reward_fn` must return a float tensor of shape \(6,\)"),
        (dict(reward_fn=5), TypeError, "`reward_fn` must be a batched torch function"),
        (dict(termination_fn=lambda o, a, n: o[:, 0]), ValueError, "`termination_fn` must return a bool tensor"),
        (dict(reward_fn=lambda o, a, n: o[:, 0].numpy()), ValueError, "`reward_fn` must return a float tensor"),
        (dict(reward_fn=lambda o, a, n: o[:, 7]), ValueError, "`reward_fn` failed on a probe batch"),
    ],
)
def test_user_functions_are_checked_on_a_probe_batch(cls, given, error, message) -> None:
    with pytest.raises(error, match=message):
        cls("MlpPolicy", "Pendulum-v1", **TINY[cls], **given)


def test_mppi_dynamics_fn_is_checked() -> None:
    with pytest.raises(TypeError, match="`dynamics_fn` must be a batched torch function of \\(obs, action\\)"):
        MPPI("MlpPolicy", "Pendulum-v1", dynamics_fn="pendulum", **TINY[MPPI])
    with pytest.raises(ValueError, match=r"`dynamics_fn` must return a float tensor of shape \(6, 3\)"):
        MPPI("MlpPolicy", "Pendulum-v1", dynamics_fn=lambda obs, action: obs[:, :2], **TINY[MPPI])
    MPPI("MlpPolicy", "Pendulum-v1", dynamics_fn=lambda obs, action: obs + 0.0 * action, **TINY[MPPI])


@pytest.mark.parametrize("cls", MODEL_BASED, ids=IDS)
def test_good_user_functions_pass(cls) -> None:
    cls(
        "MlpPolicy", "Pendulum-v1", **TINY[cls], reward_fn=lambda o, a, n: -(o**2).sum(-1),
        termination_fn=lambda o, a, n: n[..., 0] > 2,
    )  # fmt: skip


@pytest.mark.parametrize("cls", MODEL_BASED, ids=IDS)
def test_an_env_id_whose_functions_do_not_fit_the_env_is_refused(cls) -> None:
    with pytest.raises(ValueError, match="`env_id='MountainCarContinuous-v0'` does not fit the env 'Pendulum-v1'"):
        cls("MlpPolicy", "Pendulum-v1", **TINY[cls], env_id="MountainCarContinuous-v0")


def test_mppi_simulator_of_another_env_is_refused() -> None:
    with pytest.raises(ValueError, match="simulator of 'InvertedPendulum-v5' but trains on 'Pendulum-v1'"):
        MPPI("MlpPolicy", "Pendulum-v1", dynamics_mode="simulator", env_id="InvertedPendulum-v5", **TINY[MPPI])


@pytest.mark.parametrize("cls", MODEL_BASED, ids=IDS)
def test_an_env_id_that_is_no_string_is_a_type_error(cls) -> None:
    with pytest.raises(TypeError, match="`env_id` must be a versioned gymnasium env id"):
        cls("MlpPolicy", "Pendulum-v1", **TINY[cls], env_id=5)


@pytest.mark.parametrize(
    ("cls", "env_id", "settings"),
    [(MPPI, "Pendulum-v1", dict(g=2.0)), (MBPO, "MountainCarContinuous-v0", dict(goal_velocity=0.05)),
     (SVG, "MountainCarContinuous-v0", dict(goal_velocity=0.1))],
)  # fmt: skip
def test_env_settings_other_than_the_known_functions_assume_are_refused(cls, env_id, settings) -> None:
    name = next(iter(settings))
    with pytest.raises(ValueError, match=f"was made with {name}=.*assume its default settings"):
        cls("MlpPolicy", gym.make(env_id, **settings), **TINY[cls])
    # the default value, spelled out, and rendering settings are no change
    cls("MlpPolicy", gym.make("Pendulum-v1", g=10.0, render_mode="rgb_array"), **TINY[cls])


def test_own_functions_make_the_env_settings_irrelevant() -> None:
    MBPO(
        "MlpPolicy", gym.make("MountainCarContinuous-v0", goal_velocity=0.05), **TINY[MBPO],
        reward_fn=lambda o, a, n: -(a**2).sum(-1), termination_fn=lambda o, a, n: (n[..., 0] >= 0.45) & (n[..., 1] >= 0.05),
    )  # fmt: skip


@pytest.mark.parametrize("cls", MODEL_BASED, ids=IDS)
def test_vec_normalize_anywhere_in_the_wrapper_chain_is_refused(cls) -> None:
    with pytest.raises(ValueError, match="cannot train on a VecNormalize env \\(found in the wrapper chain of VecMonitor\\)"):
        cls("MlpPolicy", VecMonitor(VecNormalize(make_vec_env("Pendulum-v1"))), **TINY[cls])


def test_svg0_refuses_model_settings() -> None:
    with pytest.raises(ValueError, match="SVG\\(0\\) \\(horizon=0\\) is model-free and does not use `dynamics_kwargs`"):
        SVG("MlpPolicy", "Pendulum-v1", horizon=0, dynamics_kwargs={"bogus": 1})
    with pytest.raises(ValueError, match="does not use `reward_fn`, `learn_reward`"):
        SVG("MlpPolicy", "Pendulum-v1", horizon=0, reward_fn=lambda o, a, n: o[:, 0], learn_reward=True)


@pytest.mark.parametrize(("cls", "setting"), [(SVG, "learn_reward"), (MBPO, "learn_termination"), (MBPO, "learn_reward")])
def test_a_learned_head_that_a_known_function_replaces_warns(cls, setting) -> None:
    with pytest.warns(UserWarning, match=f"`{setting}=True` is unused: .* known function of 'Pendulum-v1'") as record:
        cls("MlpPolicy", "Pendulum-v1", **TINY[cls], **{setting: True})
    assert record[0].filename == __file__  # the user's line, not the package's frames that raise it
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*is unused")
        cls("MlpPolicy", "Pendulum-v1", **TINY[cls])


class UnboundedActions(gym.Env):
    observation_space = spaces.Box(-1.0, 1.0, (3,))
    action_space = spaces.Box(-np.inf, np.inf, (1,))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


gym.register("UnboundedActions-v0", entry_point=UnboundedActions, max_episode_steps=10)


@pytest.mark.parametrize("cls", [*MODEL_BASED, OffPAC, REINFORCE, NPG], ids=[*IDS, "OffPAC", "REINFORCE", "NPG"])
@pytest.mark.parametrize("by_id", [True, False], ids=["id", "object"])
def test_unbounded_box_actions_are_refused_naming_the_env(cls, by_id) -> None:
    env = "UnboundedActions-v0" if by_id else UnboundedActions()
    name = "'UnboundedActions-v0'" if by_id else "UnboundedActions"
    with pytest.raises(ValueError, match=f"{cls.__name__} needs a bounded Box action space .* the env {name} has"):
        cls("MlpPolicy", env, **TINY.get(cls, {}))


class DictObservations(gym.Env):
    observation_space = spaces.Dict({"a": spaces.Box(-1.0, 1.0, (3,)), "b": spaces.Box(-1.0, 1.0, (2,))})
    action_space = spaces.Box(-1.0, 1.0, (1,))

    reset = UnboundedActions.reset
    step = UnboundedActions.step


class ImageObservations(DictObservations):
    observation_space = spaces.Box(0, 255, (36, 36, 3), np.uint8)


@pytest.mark.parametrize(
    ("cls", "kwargs", "supported"),
    [(MBPO, {}, "flat"), (MPPI, {}, "flat"), (SVG, dict(horizon=1), "flat"), (SVG, dict(horizon=0), "Box observations")],
)
@pytest.mark.parametrize("env_cls", [DictObservations, ImageObservations])
@pytest.mark.parametrize("policy", ["MlpPolicy", "MultiInputPolicy", "CnnPolicy"])
def test_dict_and_image_observations_are_refused_once_saying_what_is_supported(cls, kwargs, supported, env_cls, policy):
    if cls is SVG and kwargs["horizon"] == 0 and env_cls is ImageObservations:
        if policy != "MultiInputPolicy":
            SVG(policy, env_cls(), horizon=0, buffer_size=100)  # SVG(0) takes images (CnnPolicy, or MlpPolicy)
        return
    with pytest.raises(
        ValueError, match=f"{cls.__name__} supports {supported}.* the env (DictObservations|ImageObservations)"
    ):
        cls(policy, env_cls(), **kwargs)


def test_probe_batch_runs_on_the_model_device() -> None:
    seen = []

    def reward(obs, action, next_obs):
        seen.append((obs.dtype, obs.device, tuple(obs.shape), tuple(action.shape)))
        return obs[:, 0]

    MBPO("MlpPolicy", "Pendulum-v1", **TINY[MBPO], reward_fn=reward, device="cpu")
    assert seen[0] == (th.float32, th.device("cpu"), (6, 3), (6, 1))
