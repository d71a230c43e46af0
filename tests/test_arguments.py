"""Every numeric and boolean constructor argument of every algorithm is checked at construction (issue: MBPO took
gamma=1.5 silently, DiscreteSAC took backup_entropy=1; issue 42: NaN, inf and True were taken as numbers, numpy
integers were refused): a wrong value raises a ValueError naming the argument."""

from __future__ import annotations

import inspect
import math
import re

import numpy as np
import pytest

from tests.algos import ALGO_IDS, ALGOS, AlgoCase

# Arguments that are not numbers or booleans (objects, classes, callables, dicts, ids, logging settings).
# (`verbose` takes True as SB3 does: its own test below.)
NOT_NUMERIC = {
    "policy", "env", "device", "_init_setup_model", "verbose", "tensorboard_log", "policy_kwargs",
    "replay_buffer_class", "replay_buffer_kwargs", "rollout_buffer_class", "rollout_buffer_kwargs", "action_noise",
    "dynamics_kwargs", "reward_fn", "termination_fn", "dynamics_fn", "env_id",
}  # fmt: skip
# -1 is a documented value of these (SB3: "as many gradient steps as env steps", "noise only at rollout start"; SAC's
# target entropy is usually negative).
MINUS_ONE_ALLOWED = {"gradient_steps", "sde_sample_freq", "target_entropy"}
# inf means something for these: no truncation of the importance weights (`is_clip`), SVG(inf) (`horizon`).
INF_ALLOWED = {"is_clip", "horizon"}
# MPPI's own planner settings are checked by its planner (sb3_pg_extras/common/planning), which another change covers.
PLANNER_OWNED = {"n_samples", "horizon", "temperature", "noise_std", "iterations", "control_cost", "smoothing"}


def bad_values(annotation: str, name: str, algo: str = "") -> list:
    values: list = ["abc"]
    if "bool" in annotation:
        values.append(1)
    elif "int" in annotation or "float" in annotation:
        if name not in MINUS_ONE_ALLOWED:
            values.append(-1)
        if algo != "mppi" or name not in PLANNER_OWNED:
            values += [math.nan, True] + ([] if name in INF_ALLOWED else [math.inf, -math.inf])
            if "float" not in annotation and name not in INF_ALLOWED:
                values.append(2.5)  # an integer argument
    return values


CASES = [
    pytest.param(case, name, bad, id=f"{case.zoo_key}-{name}={bad!r}")
    for case in ALGOS
    for name, parameter in inspect.signature(case.cls.__init__).parameters.items()
    if name != "self" and name not in NOT_NUMERIC and parameter.kind is not parameter.VAR_KEYWORD
    for bad in bad_values(str(parameter.annotation), name, case.zoo_key)
]


@pytest.mark.parametrize("case, name, bad", CASES)
def test_a_wrong_argument_is_refused_with_its_name(case: AlgoCase, name: str, bad) -> None:
    with pytest.raises(ValueError, match=name):
        case.cls("MlpPolicy", case.env_id, **{**case.kwargs, name: bad})


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
@pytest.mark.parametrize("bad", [-1, 0.5, "1", math.nan])
def test_a_wrong_verbose_is_refused_and_true_is_taken(case: AlgoCase, bad) -> None:
    with pytest.raises(ValueError, match="`verbose` must be an integer >= 0"):
        case.cls("MlpPolicy", case.env_id, **{**case.kwargs, "verbose": bad})
    assert case.cls("MlpPolicy", case.env_id, **{**case.kwargs, "verbose": True}).verbose is True


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_a_numpy_stats_window_size_is_refused_at_construction_not_at_learn(case: AlgoCase) -> None:
    with pytest.raises(ValueError, match="`stats_window_size` must be a Python integer"):
        case.cls("MlpPolicy", case.env_id, **{**case.kwargs, "stats_window_size": np.int64(10)})


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_an_explicit_unknown_env_id_is_refused(case: AlgoCase) -> None:
    if "env_id" not in inspect.signature(case.cls.__init__).parameters:
        pytest.skip(f"{case.cls.__name__} uses no env functions")
    with pytest.raises(ValueError, match=r"(?s)Pendulum-v0.*Other versions are known"):
        case.cls("MlpPolicy", case.env_id, **{**case.kwargs, "env_id": "Pendulum-v0"})


def _int_arguments(case: AlgoCase) -> dict[str, np.int64]:
    """Every integer argument of the tiny settings (defaults included) as a numpy integer."""
    parameters = inspect.signature(case.cls.__init__).parameters
    values = {name: p.default for name, p in parameters.items() if name not in NOT_NUMERIC}
    values.update(case.kwargs)
    return {
        name: np.int64(value)
        for name, value in values.items()
        # SB3's OffPolicyAlgorithm itself refuses a numpy `train_freq` (and says so), its deque a numpy
        # `stats_window_size` (which the package refuses at construction)
        if type(value) is int
        and name not in ("train_freq", "stats_window_size")
        and (case.zoo_key != "mppi" or name not in PLANNER_OWNED)
    }


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_numpy_integers_are_accepted_as_integers(case: AlgoCase) -> None:
    """YAML files and ``-optimize`` samplers give numpy integers; SB3's own algorithms take them."""
    ints = _int_arguments(case)
    assert ints
    model = case.cls("MlpPolicy", case.env_id, **{**case.kwargs, **ints})
    model.learn(8)


MODEL_BASED = [case for case in ALGOS if "dynamics_kwargs" in case.kwargs]


@pytest.mark.parametrize("case", MODEL_BASED, ids=[case.zoo_key for case in MODEL_BASED])
@pytest.mark.parametrize(
    "key", ["learning_rate", "holdout_ratio", "improvement_threshold", "weight_decay", "log_var_bound_coef"]
)
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_dynamics_kwargs_are_refused_with_their_name(case: AlgoCase, key: str, bad: float) -> None:
    dynamics_kwargs = {**case.kwargs["dynamics_kwargs"], key: bad}
    with pytest.raises(ValueError, match=re.escape(f"dynamics_kwargs['{key}']")):
        case.cls("MlpPolicy", case.env_id, **{**case.kwargs, "dynamics_kwargs": dynamics_kwargs})


@pytest.mark.parametrize("case", MODEL_BASED, ids=[case.zoo_key for case in MODEL_BASED])
def test_hidden_sizes_must_be_a_list(case: AlgoCase) -> None:
    dynamics_kwargs = {**case.kwargs["dynamics_kwargs"], "hidden_sizes": 200}
    with pytest.raises(TypeError, match=re.escape("dynamics_kwargs['hidden_sizes'] must be a list of layer sizes")):
        case.cls("MlpPolicy", case.env_id, **{**case.kwargs, "dynamics_kwargs": dynamics_kwargs})
