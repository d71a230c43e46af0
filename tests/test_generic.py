"""Tests every algorithm of the package must pass (parametrised over tests/algos.py)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback, StopTrainingOnRewardThreshold
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from tests.algos import ALGO_IDS, ALGOS, AlgoCase, TupleActionEnv, identity_env

KIND_CASES = [(case, kind) for case in ALGOS for kind in case.action_spaces]


def make(case: AlgoCase, env: Any = None, seed: int = 0, **overrides: Any):
    kwargs = {**case.kwargs, **overrides}
    return case.cls("MlpPolicy", env if env is not None else case.env_id, seed=seed, **kwargs)


def assert_same_state(a: Any, b: Any, where: str = "") -> None:
    """Recursive equality of state dicts (tensors, arrays, numbers, nested containers)."""
    if isinstance(a, th.Tensor):
        assert isinstance(b, th.Tensor), where
        assert th.equal(a.cpu(), b.cpu()), f"tensor differs at {where}"
    elif isinstance(a, dict):
        assert set(a) == set(b), f"keys differ at {where}: {set(a) ^ set(b)}"
        for key in a:
            assert_same_state(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def saved_objects(model: Any) -> dict[str, Any]:
    """State of every module / optimizer / extra tensor the algorithm declares for saving, by attribute path."""
    state_dicts, tensors = model._get_torch_save_params()
    objects = {}
    for name in [*state_dicts, *tensors]:
        obj = model
        for part in name.split("."):
            obj = getattr(obj, part)
        objects[name] = obj.state_dict() if name in state_dicts else obj.detach()
    return objects


@pytest.mark.parametrize(("case", "kind"), KIND_CASES, ids=[f"{c.zoo_key}-{k}" for c, k in KIND_CASES])
def test_learn_on_every_supported_action_space(case: AlgoCase, kind: str) -> None:
    model = make(case, env=identity_env(kind))
    model.learn(case.learn_steps)
    assert model.num_timesteps >= case.learn_steps
    obs = model.get_env().reset()
    action, _ = model.predict(obs, deterministic=True)
    assert model.action_space.contains(action[0] if kind != "box" else np.clip(action[0], -1, 1))


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_save_load_restores_everything(case: AlgoCase, tmp_path) -> None:
    model = make(case)
    model.learn(case.learn_steps)
    for name in case.extra_state:
        state_dicts, tensors = model._get_torch_save_params()
        assert name in state_dicts + tensors, f"{name} is not saved"
    model.save(tmp_path / "model")
    loaded = case.cls.load(tmp_path / "model", env=make_vec_env(case.env_id, n_envs=1))
    before, after = saved_objects(model), saved_objects(loaded)
    assert set(before) == set(after)
    for name in before:
        assert_same_state(before[name], after[name], name)
    assert loaded.num_timesteps == model.num_timesteps
    assert loaded._n_updates == model._n_updates
    obs = np.stack([model.observation_space.sample() for _ in range(16)])
    assert np.array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    # every constructor argument survives (stored under its own name)
    for key in case.kwargs:
        if key != "policy_kwargs":
            assert getattr(loaded, key) == getattr(model, key), key


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_load_without_env_then_predict(case: AlgoCase, tmp_path) -> None:
    # load(path) with no env, as in a deployment script: the spaces come from the file, predict works and agrees.
    model = make(case)
    model.save(tmp_path / "model")
    loaded = case.cls.load(tmp_path / "model")
    assert loaded.get_env() is None and loaded.observation_space == model.observation_space
    before, after = saved_objects(model), saved_objects(loaded)
    for name in before:
        assert_same_state(before[name], after[name], name)
    obs = np.stack([model.observation_space.sample() for _ in range(4)])
    assert np.array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_same_seed_same_parameters(case: AlgoCase) -> None:
    def trained(model: Any) -> th.Tensor:
        """The policy's parameters, or every saved module's for algorithms that learn no policy (MPPI's model)."""
        if case.trains_policy:
            return th.nn.utils.parameters_to_vector(model.policy.parameters()).detach().clone()
        states = [obj for obj in saved_objects(model).values() if isinstance(obj, dict) and "state" not in obj]
        return th.cat([t.flatten().float() for state in states for t in state.values() if isinstance(t, th.Tensor)])

    params = []
    for _ in range(2):
        model = make(case, seed=3)
        model.learn(case.learn_steps)
        params.append(trained(model))
    assert th.equal(params[0], params[1])
    other = make(case, seed=4)
    other.learn(case.learn_steps)
    assert not th.equal(params[0], trained(other))


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_resume_continues_counters(case: AlgoCase, tmp_path) -> None:
    model = make(case)
    model.learn(case.learn_steps)
    steps, updates = model.num_timesteps, model._n_updates
    assert updates > 0
    model.learn(case.learn_steps, reset_num_timesteps=False)
    assert model.num_timesteps >= steps + case.learn_steps
    assert model._n_updates > updates
    # the same after a save/load round trip
    model.save(tmp_path / "model")
    loaded = case.cls.load(tmp_path / "model", env=make_vec_env(case.env_id, n_envs=1))
    steps, updates = loaded.num_timesteps, loaded._n_updates
    loaded.learn(case.learn_steps, reset_num_timesteps=False)
    assert loaded.num_timesteps >= steps + case.learn_steps
    assert loaded._n_updates > updates


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_vector_envs(case: AlgoCase) -> None:
    env = make_vec_env(case.env_id, n_envs=2, seed=0)
    model = make(case, env=env)
    model.learn(case.learn_steps)
    assert model.n_envs == 2
    actions, _ = model.predict(env.reset(), deterministic=False)
    assert actions.shape[0] == 2


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_callbacks_and_progress_bar(case: AlgoCase, tmp_path) -> None:
    eval_env = make_vec_env(case.env_id, n_envs=1, seed=1)
    stop = StopTrainingOnRewardThreshold(reward_threshold=-np.inf, verbose=0)
    eval_callback = EvalCallback(
        eval_env, callback_on_new_best=stop, eval_freq=64, n_eval_episodes=2, log_path=str(tmp_path), verbose=0
    )
    checkpoint = CheckpointCallback(save_freq=64, save_path=str(tmp_path / "ckpt"), name_prefix="m")
    model = make(case)
    model.learn(50 * case.learn_steps, callback=[checkpoint, eval_callback], progress_bar=True)
    # the threshold is met at the first evaluation, so training stops long before its budget
    assert model.num_timesteps < 50 * case.learn_steps
    assert (tmp_path / "evaluations.npz").is_file()
    assert list((tmp_path / "ckpt").glob("m_*_steps.zip"))


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_tensorboard_logging(case: AlgoCase, tmp_path) -> None:
    model = make(case, tensorboard_log=str(tmp_path))
    model.learn(case.learn_steps, tb_log_name="run")
    event_files = list(tmp_path.glob("run_1/events.out.tfevents.*"))
    assert event_files and event_files[0].stat().st_size > 0


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_unsupported_action_space_is_refused(case: AlgoCase) -> None:
    with pytest.raises(ValueError, match="Tuple"):
        make(case, env=TupleActionEnv())


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_batched_predict_shapes_and_bounds(case: AlgoCase) -> None:
    env_id = "Pendulum-v1" if "box" in case.action_spaces else case.env_id
    model = make(case, env=env_id)
    obs = np.stack([model.observation_space.sample() for _ in range(7)])
    for deterministic in (True, False):
        actions, _ = model.predict(obs, deterministic=deterministic)
        assert actions.shape == (7, *model.action_space.shape)
        assert all(model.action_space.contains(a.astype(model.action_space.dtype)) for a in actions)
    single, _ = model.predict(obs[0], deterministic=True)
    assert single.shape == model.action_space.shape


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_evaluate_policy(case: AlgoCase) -> None:
    model = make(case)
    mean, std = evaluate_policy(model, gym.make(case.env_id), n_eval_episodes=2)
    assert np.isfinite(mean) and np.isfinite(std)


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_learn_has_a_default_budget(case: AlgoCase) -> None:
    import inspect

    default = inspect.signature(case.cls.learn).parameters["total_timesteps"].default
    assert isinstance(default, int) and default > 0


def test_every_algorithm_is_in_the_table() -> None:
    import sb3_pg_extras
    from sb3_pg_extras.zoo import ALGOS as ZOO_ALGOS

    assert set(ZOO_ALGOS) == set(ALGO_IDS)
    assert {case.cls.__name__ for case in ALGOS} <= set(sb3_pg_extras.__all__)
