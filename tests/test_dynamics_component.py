"""The shared model-based layer an algorithm composes: the choice of reward / termination functions, action
unscaling, the env id of a VecEnv, the validated dynamics settings and the component's fit, logging and rollouts."""

import dataclasses
import types

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from torch import nn

from sb3_pg_extras.common.dynamics import (
    DynamicsComponent,
    DynamicsSettings,
    Transitions,
    resolve_transition_functions,
    unscale_actions,
    vec_env_id,
    with_scaled_actions,
)
from sb3_pg_extras.common.dynamics import component as component_module
from sb3_pg_extras.envs import get_env_functions

th.set_num_threads(1)


def _reward(o, a, n):
    return -(n[..., 0] ** 2)


def _termination(o, a, n):
    return n[..., 0].abs() > 2


def test_given_function_beats_known_function_beats_learned_head():
    known = get_env_functions("Pendulum-v1")
    assert known is not None
    chosen = resolve_transition_functions("X", "Pendulum-v1", reward_fn=_reward)
    assert chosen.reward is _reward and chosen.termination is known.termination
    # a known function is used even when a learned head exists
    chosen = resolve_transition_functions("X", "Pendulum-v1", learn_reward=True, learn_termination=True)
    assert chosen.reward is known.reward and chosen.termination is known.termination
    # no id, learned heads enabled: None means "use the head"
    chosen = resolve_transition_functions("X", None, learn_reward=True, termination_fn=_termination)
    assert chosen.reward is None and chosen.termination is _termination


def test_missing_function_error_names_the_algorithm_the_fix_and_other_versions():
    with pytest.raises(ValueError, match=r"SVG has no reward function for the env 'Pendulum-v0'.*learn_reward=True") as info:
        resolve_transition_functions("SVG", "Pendulum-v0")
    assert "Other versions are known (Pendulum-v1)" in str(info.value)
    with pytest.raises(ValueError, match=r"no termination function.*learn_termination=True"):
        resolve_transition_functions("MBPO", None, reward_fn=_reward)


def test_scaled_actions_are_unscaled_to_env_units_before_the_call():
    space = spaces.Box(np.array([-2.0, 0.0], dtype=np.float32), np.array([2.0, 10.0], dtype=np.float32))
    received = []
    fn = with_scaled_actions(lambda o, a, n: received.append(a) or a.sum(-1), space)
    fn(th.zeros(3, 1), th.tensor([[-1.0, -1.0], [0.0, 0.0], [1.0, 0.5]]), th.zeros(3, 1))
    th.testing.assert_close(received[0], th.tensor([[-2.0, 0.0], [0.0, 5.0], [2.0, 7.5]]))
    low, high = th.tensor([-2.0]), th.tensor([2.0])
    th.testing.assert_close(unscale_actions(th.tensor([-1.0, 0.25, 1.0]), low, high), th.tensor([-2.0, 0.5, 2.0]))


def test_vec_env_id():
    assert vec_env_id(make_vec_env("Pendulum-v1", n_envs=2)) == "Pendulum-v1"
    assert vec_env_id(None) is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n_member=3), r"unknown `dynamics_kwargs` \['n_member'\]"),
        (dict(n_members=0), "n_members"),
        (dict(n_members=True), "n_members"),
        (dict(n_members=2, n_elites=3), "n_elites"),
        (dict(hidden_sizes=[8, 0]), "hidden_sizes"),
        (dict(activation_fn="softmax"), "activation_fn"),
        (dict(activation_fn=len), "activation_fn"),
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(holdout_ratio=1.0), "holdout_ratio"),
        (dict(max_epochs=0), "max_epochs"),
        (dict(initial_max_epochs=0), "initial_max_epochs"),
        (dict(patience=1.5), "patience"),
        (dict(weight_decay=[1e-4, 1e-4]), "weight_decay"),
        (dict(weight_decay=-1.0), "weight_decay"),
        (dict(log_var_bound_coef=-0.1), "log_var_bound_coef"),
    ],
)
def test_bad_dynamics_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DynamicsSettings.from_kwargs("MBPO", kwargs)


def test_dynamics_kwargs_written_as_a_string_get_an_error_that_says_to_write_a_mapping():
    # rl_zoo3 evaluates policy_kwargs strings of a YAML file, not ours: a string must not reach the ensemble
    with pytest.raises(TypeError, match=r"must be a dict, got 'dict\(n_members=3\)'.*mapping"):
        DynamicsSettings.from_kwargs("MBPO", "dict(n_members=3)")


def test_settings_defaults_are_mbpos_and_names_map_to_modules():
    s = DynamicsSettings.from_kwargs("MBPO", None)
    assert (s.n_members, s.n_elites, s.hidden_sizes, s.batch_size, s.patience) == (7, 5, (200, 200, 200, 200), 256, 5)
    assert DynamicsSettings.from_kwargs("MBPO", {"activation_fn": "ReLU"}).activation is nn.ReLU
    assert DynamicsSettings.from_kwargs("MBPO", {"activation_fn": nn.Tanh}).activation is nn.Tanh


class _Recorder:
    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def record(self, key, value, exclude=None) -> None:
        self.values[key] = value


def test_component_fits_logs_and_rolls_out_with_scaled_actions():
    th.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002 (the component draws its fit generator from numpy's global one, as SB3 seeds it)
    obs_space, act_space = spaces.Box(-np.inf, np.inf, (2,)), spaces.Box(-2.0, 2.0, (1,))
    seen_actions = []

    def reward(o, a, n):
        seen_actions.append(a)
        return -(a[..., 0] ** 2)

    component = DynamicsComponent(
        obs_space,
        act_space,
        DynamicsSettings(n_members=3, n_elites=2, hidden_sizes=(8,), activation_fn="relu", batch_size=16, max_epochs=3),
        resolve_transition_functions("T", None, reward_fn=reward, termination_fn=_termination),
        device="cpu",
    )
    assert isinstance(component.model.ensemble.activation, nn.ReLU)
    n = 200
    obs, actions = th.randn(n, 2), th.rand(n, 1) * 2 - 1
    data = Transitions(obs, actions, obs + 0.1 * actions, th.zeros(n), th.zeros(n))
    logger = _Recorder()
    result = component.fit(data, logger)  # type: ignore[arg-type]
    assert result.epochs == 3 and 0 <= result.members_improved <= 3
    assert {"model/holdout_mse", "model/train_loss", "model/epochs", "model/members_improved", "model/elites"} <= set(
        logger.values
    )
    assert logger.values["model/members_improved"] == result.members_improved
    assert component.fit_time > 0
    with th.no_grad():
        rollout = component.rollout_action_sequences(th.zeros(2), th.full((5, 3, 1), 0.5))
    assert rollout.rewards.shape == (3, 5)
    th.testing.assert_close(seen_actions[-1], th.full((5, 1), 1.0))  # 0.5 in [-1, 1] is 1.0 in [-2, 2]
    th.testing.assert_close(rollout.returns(), th.full((5,), -3.0))
    assert DynamicsComponent.save_names("dynamics") == ["dynamics.model", "dynamics.optimizer"]


def test_first_fit_runs_to_early_stopping_and_refits_keep_the_cap():
    """A 2-epoch refit only tracks a model that is already good: the first fit of a run trains to early stopping
    (``initial_max_epochs=None``) whatever ``max_epochs`` says, or to its own cap."""
    np.random.seed(0)  # noqa: NPY002
    obs_space, act_space = spaces.Box(-np.inf, np.inf, (2,)), spaces.Box(-1.0, 1.0, (1,))
    functions = resolve_transition_functions("T", None, reward_fn=_reward, termination_fn=_termination)
    n = 300
    obs, actions = th.randn(n, 2), th.rand(n, 1) * 2 - 1
    data = Transitions(obs, actions, th.sin(obs) + 0.5 * actions, th.zeros(n), th.zeros(n))
    settings = DynamicsSettings(n_members=2, n_elites=1, hidden_sizes=(16,), batch_size=32, max_epochs=1, patience=2)
    component = DynamicsComponent(obs_space, act_space, settings, functions)
    first = component.fit(data, first=True)
    assert first.epochs > settings.patience + 1  # stopped by the holdout error, not by max_epochs
    assert component.fit(data).epochs == 1
    capped = DynamicsSettings(n_members=2, n_elites=1, hidden_sizes=(16,), max_epochs=1, initial_max_epochs=3)
    assert DynamicsComponent(obs_space, act_space, capped, functions).fit(data, first=True).epochs == 3


def test_every_settings_default_is_the_documented_mbpo_value():
    assert dataclasses.asdict(DynamicsSettings()) == {
        "n_members": 7,
        "n_elites": 5,
        "hidden_sizes": (200, 200, 200, 200),
        "activation_fn": nn.SiLU,
        "learning_rate": 1e-3,
        "batch_size": 256,
        "holdout_ratio": 0.2,
        "max_holdout": 5000,
        "max_epochs": None,
        "initial_max_epochs": None,
        "patience": 5,
        "improvement_threshold": 0.01,
        "weight_decay": None,
        "log_var_bound_coef": 0.01,
        "bootstrap": True,
    }


def test_user_dynamics_kwargs_override_the_algorithms_defaults():
    defaults = {"n_members": 9, "n_elites": 2, "max_epochs": 2}
    s = DynamicsSettings.from_kwargs("MBPO", {"n_members": 3, "patience": 1}, defaults)
    assert (s.n_members, s.n_elites, s.max_epochs, s.patience, s.batch_size) == (3, 2, 2, 1, 256)
    s = DynamicsSettings.from_kwargs("MBPO", None, defaults)
    assert (s.n_members, s.n_elites, s.max_epochs) == (9, 2, 2)
    assert DynamicsSettings.from_kwargs("MBPO", {}) == DynamicsSettings()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_members=2, n_elites=2),  # every member an elite
        dict(hidden_sizes=[8, 8]),  # a list becomes a tuple
        dict(activation_fn="ReLU"),
        dict(activation_fn=nn.Tanh),
        dict(holdout_ratio=0.0),
        dict(holdout_ratio=0.99),
        dict(improvement_threshold=0.0),
        dict(hidden_sizes=(8, 8), weight_decay=[1e-4]),  # one for every layer
        dict(hidden_sizes=(8, 8), weight_decay=[1e-4, 0.0, 2e-4]),  # one per layer: 2 hidden + the output
        dict(weight_decay=0.0),
        dict(weight_decay=np.float32(1e-4)),
        dict(log_var_bound_coef=0.0),
        dict(bootstrap=np.bool_(False)),
    ],
)
def test_good_dynamics_settings_are_kept(kwargs):
    settings = DynamicsSettings.from_kwargs("MBPO", kwargs)
    for name, value in kwargs.items():
        assert getattr(settings, name) == (tuple(value) if name == "hidden_sizes" else value)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(holdout_ratio=-0.01), ValueError, r"holdout_ratio'\]` must be in \[0, 1\)"),
        (dict(improvement_threshold=-0.01), ValueError, "improvement_threshold"),
        (dict(hidden_sizes=(8, 8), weight_decay=[]), ValueError, "1 or 3 coefficients"),
        (dict(hidden_sizes=(8, 8), weight_decay=[1e-4, 1e-4]), ValueError, "1 or 3 coefficients"),
        (dict(hidden_sizes=(8, 8), weight_decay=[1e-4] * 4), ValueError, "1 or 3 coefficients"),
        (dict(weight_decay=[-1e-9]), ValueError, "non-negative finite"),
        (dict(weight_decay=[float("nan")]), ValueError, "non-negative finite"),
        (dict(weight_decay="1e-4"), TypeError, "a number or a list"),
        (dict(hidden_sizes=200), TypeError, "list of layer sizes"),
        (dict(activation_fn=int), ValueError, "torch.nn module class"),
        (dict(activation_fn=nn.SiLU()), ValueError, "torch.nn module class"),  # an instance, not the class
        (dict(bootstrap=1), TypeError, "True or False"),
    ],
)
def test_more_bad_dynamics_settings_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        DynamicsSettings.from_kwargs("MBPO", kwargs)


def _tiny_component(**settings) -> DynamicsComponent:
    obs_space, act_space = spaces.Box(-np.inf, np.inf, (2,)), spaces.Box(-1.0, 1.0, (1,))
    functions = resolve_transition_functions("T", None, reward_fn=_reward, termination_fn=_termination)
    settings = {"n_members": 2, "n_elites": 1, "hidden_sizes": (8,), "max_epochs": 1, **settings}
    return DynamicsComponent(obs_space, act_space, DynamicsSettings(**settings), functions)


def _ids(n: int) -> Transitions:
    """n transitions told apart by an id in the action."""
    obs = th.randn(n, 2, generator=th.Generator().manual_seed(0))
    return Transitions(obs, th.arange(n, dtype=th.float32)[:, None], obs, th.zeros(n), th.zeros(n))


def test_every_fit_draws_its_own_holdout_split_from_numpys_global_generator():
    component = _tiny_component()
    data = _ids(40)  # 8 held out of 40: C(40, 8) = 7.7e7 possible splits
    evaluated: list[tuple[int, ...]] = []
    losses = component.model.losses

    def recording(batch: Transitions) -> tuple[th.Tensor, th.Tensor]:
        if not th.is_grad_enabled():  # a holdout evaluation
            evaluated.append(tuple(sorted(batch.actions[0, :, 0].long().tolist())))
        return losses(batch)

    def held_out() -> tuple[int, ...]:
        evaluated.clear()
        component.fit(data)
        return evaluated[0]  # the evaluation before training

    component.model.losses = recording  # type: ignore[method-assign]
    np.random.seed(0)  # noqa: NPY002
    splits = [held_out() for _ in range(20)]
    assert len(splits[0]) == 8 and len(set(splits)) == 20  # no split twice
    np.random.seed(0)  # noqa: NPY002 (SB3's set_random_seed): the same fits again
    assert held_out() == splits[0]


def test_fit_time_adds_the_duration_of_every_fit(monkeypatch):
    clock = iter([1.0, 3.5, 4.0, 5.0])  # fits of 2.5 s and 1 s, none a remainder of its start time
    monkeypatch.setattr(component_module, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    component = _tiny_component()
    assert component.fit_time == 0.0
    component.fit(_ids(10))
    assert component.fit_time == 2.5
    component.fit(_ids(10))
    assert component.fit_time == 3.5


def test_component_defaults_have_no_learned_heads_and_sample_the_model():
    component = _tiny_component()
    assert (component.model.ensemble.n_gaussian, component.model.ensemble.n_logits) == (2, 0)
    assert component.save_names() == ["dynamics.model", "dynamics.optimizer"]  # also from an instance
    start = th.zeros(4, 2)
    with th.no_grad():
        th.manual_seed(0)
        sampled = component.imagine(lambda o: th.zeros(len(o), 1), start, 1)
        mean = component.imagine(lambda o: th.zeros(len(o), 1), start, 1, deterministic=True)
        assert not th.allclose(sampled.next_observations, mean.next_observations)
        th.manual_seed(0)
        sampled = component.rollout_action_sequences(th.zeros(2), th.zeros(4, 1, 1))
        mean = component.rollout_action_sequences(th.zeros(2), th.zeros(4, 1, 1), deterministic=True)
        assert not th.allclose(sampled.next_observations, mean.next_observations)
