"""The choice and wrapping of the functions that score model transitions (common/dynamics/functions.py): action
unscaling against the affine map by hand, the known dynamics' interface, the env settings compared with the
registered defaults (also where the entry point cannot be inspected), and the warnings' naming of the function used."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_pg_extras.common.dynamics import (
    KnownDynamics,
    check_env_id,
    check_env_matches_functions,
    env_setting_overrides,
    resolve_transition_functions,
    unscale_actions,
    with_scaled_actions,
)
from sb3_pg_extras.common.dynamics.functions import _same

th.set_num_threads(1)
SPACE = spaces.Box(np.array([-1.0, 0.0], dtype=np.float32), np.array([3.0, 10.0], dtype=np.float32))


def test_scaled_actions_map_affinely_onto_asymmetric_bounds():
    low, high = th.as_tensor(SPACE.low), th.as_tensor(SPACE.high)
    scaled = th.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.5], [-0.5, 0.2]])
    # a = low + (s + 1) / 2 (high - low): -1 -> low, 1 -> high, linear in between
    expected = th.tensor([[-1.0, 0.0], [3.0, 10.0], [1.0, 7.5], [0.0, 6.0]])
    th.testing.assert_close(unscale_actions(scaled, low, high), expected)
    seen = []

    def fn(obs, action, next_obs):
        seen.append(action)
        return obs[:, 0] + next_obs[:, 0]

    wrapped = with_scaled_actions(fn, SPACE)
    th.testing.assert_close(wrapped(th.ones(4, 1), scaled, 2 * th.ones(4, 1)), th.full((4,), 3.0))
    th.testing.assert_close(seen[0], expected)
    assert wrapped.__wrapped__ is fn  # type: ignore[attr-defined]


def test_known_dynamics_is_a_one_member_model_in_env_units():
    def dynamics(obs, action):
        return obs + action

    scaled = KnownDynamics(dynamics, SPACE)
    assert (scaled.learn_reward, scaled.learn_termination, scaled.n_elites) == (False, False, 1)
    assert scaled.eval() is scaled
    assert scaled.sample_members(3).tolist() == [0, 0, 0] and scaled.sample_members(3).dtype == th.long
    next_obs, reward, done = scaled.predict(th.zeros(2, 2), th.tensor([[-1.0, 1.0], [0.0, 0.0]]), th.zeros(2))
    th.testing.assert_close(next_obs, th.tensor([[-1.0, 10.0], [1.0, 5.0]]))
    assert reward is None and done is None
    raw = KnownDynamics(dynamics, None)  # actions already in env units
    th.testing.assert_close(raw.predict(th.zeros(1, 2), th.tensor([[-1.0, 1.0]]), th.zeros(1))[0], th.tensor([[-1.0, 1.0]]))


def test_env_settings_that_differ_from_the_registered_defaults():
    # Pendulum-v1's constructor default g = 10.0; rendering settings never count
    assert env_setting_overrides("Pendulum-v1", {"g": 10.0, "render_mode": "rgb_array"}) == {}
    assert env_setting_overrides("Pendulum-v1", {"g": 2.0, "max_speed": 8}) == {"g": (2.0, 10.0), "max_speed": (8, None)}
    assert env_setting_overrides("NoSuchEnv-v0", {"g": 2.0}) == {}  # not registered: nothing to compare


@pytest.mark.parametrize(
    "entry_point",
    ["no_such_module_xyz:Env", "math:NoSuchEnv", max, 3],  # ImportError, AttributeError, ValueError, TypeError
    ids=["import", "attribute", "no-signature", "not-callable"],
)
def test_an_entry_point_that_cannot_be_inspected_leaves_the_registered_kwargs_as_defaults(entry_point):
    env_id = "UninspectableProbe-v0"
    gym.register(env_id, entry_point=entry_point, kwargs={"g": 10.0})
    try:
        overrides = env_setting_overrides(env_id, {"g": 2.0, "width": 64, "h": [1, 2]})
    finally:
        gym.registry.pop(env_id)
    assert overrides == {"g": (2.0, 10.0), "h": ([1, 2], None)}


def test_settings_are_the_same_by_value_and_shape_or_else_by_identity():
    assert _same([1.0, 2.0], np.array([1.0, 2.0])) and _same(3, 3.0)
    assert not _same([1.0, 2.0], [1.0, 3.0]) and not _same([1.0], [[1.0]])
    assert not _same([1.0, 1.0], [1.0]) and not _same([1.0], [1.0, 1.0])  # equal where broadcast, not the same shape
    ragged = [[1], [1, 2]]  # numpy refuses it (ValueError): the same object only
    assert _same(ragged, ragged) and not _same(ragged, [[1], [1, 2]])

    class Incomparable:
        def __eq__(self, other):
            raise TypeError("no comparison")

        __hash__ = object.__hash__

    value = Incomparable()
    assert _same(value, value) and not _same(value, Incomparable())


def test_an_explicit_env_id_must_name_known_functions():
    check_env_id(None)
    check_env_id("Pendulum-v1")
    with pytest.raises(TypeError, match="versioned gymnasium env id"):
        check_env_id(1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Pendulum-v0"):
        check_env_id("Pendulum-v0")


def _reward(o, a, n):
    return n[..., 0]


def test_an_unused_learned_head_warning_names_the_function_that_replaces_it():
    with pytest.warns(UserWarning, match=r"`learn_reward=True` is unused: the reward of model steps comes from `reward_fn`"):
        resolve_transition_functions("X", "Pendulum-v1", reward_fn=_reward, learn_reward=True)
    with pytest.warns(UserWarning, match=r"`learn_termination=True` is unused: .* from `termination_fn`"):
        resolve_transition_functions("X", None, reward_fn=_reward, termination_fn=_reward, learn_termination=True)
    with pytest.warns(UserWarning, match=r"`learn_termination=True` is unused: .* known function of 'Pendulum-v1'"):
        resolve_transition_functions("X", "Pendulum-v1", reward_fn=_reward, learn_termination=True)


def test_the_unused_head_warning_points_at_the_callers_line():
    with pytest.warns(UserWarning, match="is unused") as record:
        resolve_transition_functions("X", "Pendulum-v1", reward_fn=_reward, learn_reward=True)
    assert record[0].filename == __file__  # the first frame outside the package, however deep the warning is raised


# a Pendulum under another id (it sorts after "Pendulum-v1"), made with g = 9.81 where Pendulum-v1's default is 10
gym.register("PendulumAlias-v0", entry_point="gymnasium.envs.classic_control.pendulum:PendulumEnv", kwargs={"g": 9.81})


def test_an_env_without_an_id_is_described_by_the_given_env_id_also_in_the_simulator_mode():
    from gymnasium.envs.classic_control.pendulum import PendulumEnv

    env = DummyVecEnv([PendulumEnv])  # made without gym.make: no spec, no id to compare
    assert env.get_attr("spec")[0] is None
    check_env_matches_functions("X", env, "Pendulum-v1", uses_known_functions=True)
    check_env_matches_functions("X", env, "Pendulum-v1", uses_known_functions=True, simulator=True)


def test_the_settings_check_applies_to_the_envs_own_id_only():
    alias = DummyVecEnv([lambda: gym.make("PendulumAlias-v0")])
    # another id with the same spaces: the user chose Pendulum-v1's functions; the alias's settings are not compared
    # with Pendulum-v1's defaults (they are another registration's)
    check_env_matches_functions("X", alias, "Pendulum-v1", uses_known_functions=True)
    with pytest.raises(ValueError, match="simulator of 'Pendulum-v1' but trains on 'PendulumAlias-v0'"):
        check_env_matches_functions("X", alias, "Pendulum-v1", uses_known_functions=True, simulator=True)
    pendulum = DummyVecEnv([lambda: gym.make("Pendulum-v1")])
    with pytest.raises(ValueError, match="simulator of 'PendulumAlias-v0' but trains on 'Pendulum-v1'"):
        check_env_matches_functions("X", pendulum, "PendulumAlias-v0", uses_known_functions=True, simulator=True)
    with pytest.raises(ValueError, match=r"made with g=9.81 \(default 10.0\)"):  # its own id: compared
        check_env_matches_functions("X", DummyVecEnv([lambda: gym.make("Pendulum-v1", g=9.81)]), "Pendulum-v1", True)


@pytest.mark.parametrize("given", ["reward_fn", "termination_fn"])
def test_one_own_function_leaves_the_other_known_one_and_the_settings_check(given):
    from sb3_pg_extras.common.dynamics import check_model_based_env

    env = DummyVecEnv([lambda: gym.make("Pendulum-v1", g=2.0)])
    own = {given: lambda o, a, n: n[..., 0] > 2.0 if given == "termination_fn" else n[..., 0]}
    with pytest.raises(ValueError, match=r"made with g=2.0 \(default 10.0\)"):  # the other function is the known one
        check_model_based_env("X", env, "Pendulum-v1", env.observation_space, env.action_space, **own)
    both = {"reward_fn": lambda o, a, n: n[..., 0], "termination_fn": lambda o, a, n: n[..., 0] > 2.0}
    check_model_based_env("X", env, "Pendulum-v1", env.observation_space, env.action_space, **both)  # none known: fine
    with pytest.raises(ValueError, match=r"made with g=2.0"):  # unless the known dynamics are used
        check_model_based_env(
            "X", env, "Pendulum-v1", env.observation_space, env.action_space, **both, uses_known_dynamics=True
        )
