"""The one parser of string hyperparameters ("lin_<x>", "auto", "auto_<x>") and the helpers built on it."""

from __future__ import annotations

import re

import pytest
from stable_baselines3.common.utils import ConstantSchedule, LinearSchedule

from sb3_pg_extras.common.validation import (
    Auto,
    coefficient_schedule,
    learning_rate_schedule,
    parse_string_hyperparameter,
)


@pytest.mark.parametrize(
    ("value", "start"), [("lin_0.1", 0.1), ("lin_1e-3", 1e-3), ("lin_3", 3.0), ("lin_0", 0.0), ("lin_.5", 0.5)]
)
def test_lin_is_a_linear_decay_to_zero(value: str, start: float) -> None:
    schedule = parse_string_hyperparameter("ent_coef", value, ("lin",))
    assert isinstance(schedule, LinearSchedule)
    assert [schedule(p) for p in (1.0, 0.5, 0.0)] == pytest.approx([start, start / 2, 0.0])


@pytest.mark.parametrize(("value", "expected"), [("auto", Auto()), ("auto_0.1", Auto(0.1)), ("auto_2", Auto(2.0))])
def test_auto_keeps_the_optional_value(value: str, expected: Auto) -> None:
    parsed = parse_string_hyperparameter("ent_coef", value, ("auto",), positive=True)
    assert parsed == expected
    assert parsed.value_or(1.0) == (1.0 if expected.value is None else expected.value)


def test_both_forms_when_both_are_accepted() -> None:
    assert isinstance(parse_string_hyperparameter("x", "lin_1", ("lin", "auto")), LinearSchedule)
    assert parse_string_hyperparameter("x", "auto_1", ("lin", "auto")) == Auto(1.0)


@pytest.mark.parametrize(
    ("value", "forms", "positive"),
    [
        ("lin_abc", ("lin",), False),
        ("lin_", ("lin",), False),
        ("lin_-1", ("lin",), False),
        ("lin_nan", ("lin",), False),
        ("lin_inf", ("lin",), False),
        ("lin_0", ("lin",), True),
        ("lin0.1", ("lin",), False),
        ("auto", ("lin",), False),
        ("auto_-1", ("auto",), True),
        ("auto_", ("auto",), True),
        ("auto_0", ("auto",), True),
        ("auto_x", ("auto",), True),
        ("autox", ("auto",), True),
        ("Auto", ("auto",), True),
        ("lin_0.1", ("auto",), True),
        ("", ("lin", "auto"), False),
        (0.1, ("lin",), False),
        (None, ("auto",), False),
    ],
)
def test_bad_values_name_the_argument_and_every_accepted_form(value: object, forms: tuple, positive: bool) -> None:
    with pytest.raises(ValueError) as error:
        parse_string_hyperparameter("my_arg", value, forms, positive=positive, others="a number")
    message = str(error.value)
    assert message.startswith("`my_arg` must be a number") and message.endswith(f"; got {value!r}.")
    assert ("'lin_<x>'" in message) == ("lin" in forms)
    assert ("'auto'" in message and "'auto_<x>'" in message) == ("auto" in forms)
    assert f"where x is a finite number {'>' if positive else '>='} 0" in message


def test_message_lists_the_forms_in_order_and_says_what_x_is() -> None:
    with pytest.raises(ValueError, match=re.escape(
        "`ent_coef` must be a positive float, 'auto' or 'auto_<x>', where x is a finite number > 0 (the initial value); "
        "got 'auto_-1'."
    )):  # fmt: skip
        parse_string_hyperparameter(
            "ent_coef", "auto_-1", ("auto",), positive=True, others="a positive float", x_is="the initial value"
        )
    with pytest.raises(ValueError, match=re.escape(
        "`c` must be 'lin_<x>' (linear decay from x to 0 over training), where x is a finite number >= 0; got 'lin_abc'."
    )):  # fmt: skip
        parse_string_hyperparameter("c", "lin_abc", ("lin",))


def test_coefficient_schedule() -> None:
    assert isinstance(coefficient_schedule("c", 0.1), ConstantSchedule) and coefficient_schedule("c", 0)(0.5) == 0.0
    assert coefficient_schedule("c", "lin_0.2")(0.5) == pytest.approx(0.1)
    schedule = LinearSchedule(1.0, 0.0, 1.0)
    assert coefficient_schedule("c", schedule) is schedule
    for bad in (-0.1, True, "lin_abc", "lin_-1", "auto", None):
        with pytest.raises(ValueError, match=r"`c` must be a non-negative number, a schedule or 'lin_<x>'"):
            coefficient_schedule("c", bad)


def test_learning_rate_schedule() -> None:
    assert learning_rate_schedule("lr", 1e-3) == 1e-3
    assert learning_rate_schedule("lr", "lin_1e-3")(0.5) == pytest.approx(5e-4)  # type: ignore[operator]
    schedule = LinearSchedule(1e-3, 0.0, 1.0)
    assert learning_rate_schedule("lr", schedule) is schedule
    for bad in ("lin_0", "lin_abc", "auto"):
        with pytest.raises(ValueError, match=r"`lr` must be a positive number, a schedule or 'lin_<x>'.* > 0"):
            learning_rate_schedule("lr", bad)
    for bad_number in (0.0, -1e-3):
        with pytest.raises(ValueError, match="`lr` must be a positive number"):
            learning_rate_schedule("lr", bad_number)


def test_reinforce_baseline_learning_rate_accepts_lin(tmp_path) -> None:
    from sb3_pg_extras import REINFORCE

    model = REINFORCE("MlpPolicy", "CartPole-v1", n_steps=8, baseline_learning_rate="lin_1e-3", baseline_epochs=1)
    assert model.baseline_lr_schedule(0.5) == pytest.approx(5e-4)
    model.save(tmp_path / "model")
    loaded = REINFORCE.load(tmp_path / "model")
    assert loaded.baseline_learning_rate == "lin_1e-3" and loaded.baseline_lr_schedule(0.25) == pytest.approx(2.5e-4)
    with pytest.raises(ValueError, match="baseline_learning_rate"):
        REINFORCE("MlpPolicy", "CartPole-v1", baseline_learning_rate="lin_abc")
