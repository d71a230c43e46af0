"""Every numeric and boolean constructor argument of every algorithm is checked at construction (issue: MBPO took
gamma=1.5 silently, DiscreteSAC took backup_entropy=1): a wrong value raises a ValueError naming the argument."""

from __future__ import annotations

import inspect

import pytest

from tests.algos import ALGO_IDS, ALGOS, AlgoCase

# Arguments that are not numbers or booleans (objects, classes, callables, dicts, ids, logging settings).
NOT_NUMERIC = {
    "policy", "env", "device", "_init_setup_model", "verbose", "seed", "tensorboard_log", "policy_kwargs",
    "replay_buffer_class", "replay_buffer_kwargs", "rollout_buffer_class", "rollout_buffer_kwargs", "action_noise",
    "stats_window_size", "dynamics_kwargs", "reward_fn", "termination_fn", "dynamics_fn", "env_id",
}  # fmt: skip
# -1 is a documented value of these (SB3: "as many gradient steps as env steps", "noise only at rollout start"; SAC's
# target entropy is usually negative).
MINUS_ONE_ALLOWED = {"gradient_steps", "sde_sample_freq", "target_entropy"}


def bad_values(annotation: str, name: str) -> list:
    values: list = ["abc"]
    if "bool" in annotation:
        values.append(1)
    elif ("int" in annotation or "float" in annotation) and name not in MINUS_ONE_ALLOWED:
        values.append(-1)
    return values


CASES = [
    pytest.param(case, name, bad, id=f"{case.zoo_key}-{name}={bad!r}")
    for case in ALGOS
    for name, parameter in inspect.signature(case.cls.__init__).parameters.items()
    if name != "self" and name not in NOT_NUMERIC and parameter.kind is not parameter.VAR_KEYWORD
    for bad in bad_values(str(parameter.annotation), name)
]


@pytest.mark.parametrize("case, name, bad", CASES)
def test_a_wrong_argument_is_refused_with_its_name(case: AlgoCase, name: str, bad) -> None:
    with pytest.raises(ValueError, match=name):
        case.cls("MlpPolicy", case.env_id, **{**case.kwargs, name: bad})


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_an_explicit_unknown_env_id_is_refused(case: AlgoCase) -> None:
    if "env_id" not in inspect.signature(case.cls.__init__).parameters:
        pytest.skip(f"{case.cls.__name__} uses no env functions")
    with pytest.raises(ValueError, match=r"(?s)Pendulum-v0.*Other versions are known"):
        case.cls("MlpPolicy", case.env_id, **{**case.kwargs, "env_id": "Pendulum-v0"})
