"""The refit schedule of the model-based algorithms (common/dynamics/schedule.py): when a refit is due, which is the
first, the time it takes, and what the algorithm saves, on a stand-in algorithm with a fake clock."""

import types

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer

from sb3_pg_extras.common.dynamics import Transitions
from sb3_pg_extras.common.dynamics import schedule as schedule_module
from sb3_pg_extras.common.dynamics.schedule import ScheduledModelRefits


class _Recorder:
    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def record(self, key, value, exclude=None) -> None:
        self.values[key] = value


class _SavedBy:
    """What SB3's BaseAlgorithm lists for saving (the mixin adds to it)."""

    def _excluded_save_params(self) -> list[str]:
        return ["env"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy"], ["ent_coef_tensor"]


class _Algorithm(ScheduledModelRefits, _SavedBy):
    def __init__(self, dynamics, model_train_freq: int = 250) -> None:
        self.dynamics, self.model_train_freq, self.num_timesteps, self.device = dynamics, model_train_freq, 0, "cpu"
        self.replay_buffer = ReplayBuffer(10, spaces.Box(-1, 1, (2,)), spaces.Box(-1, 1, (1,)), "cpu")
        for _ in range(3):
            self.replay_buffer.add(np.zeros((1, 2)), np.ones((1, 2)), np.zeros((1, 1)), np.zeros(1), np.zeros(1), [{}])
        self.logger = _Recorder()
        self._init_refit_counters()


class _CountingFits:
    """Stands in for the component: records its fits, each taking 2.5 s of a fake clock."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.fits: list[tuple[int, bool]] = []

    def fit(self, data: Transitions, logger, first: bool = False) -> None:
        self.fits.append((len(data), first))
        self.clock[0] += 2.5


def test_refits_are_due_every_model_train_freq_steps_after_the_first(monkeypatch):
    clock = [1.0]  # a fit takes 2.5 s: the clock reads 1.0 at its start and 3.5 at its end
    monkeypatch.setattr(schedule_module, "time", types.SimpleNamespace(perf_counter=lambda: clock[0]))
    dynamics = _CountingFits(clock)
    algo = _Algorithm(dynamics)
    due = []
    for step in (0, 0, 249, 250, 251, 499, 500, 800, 1049, 1050):  # 800: more than due (train_freq overshoots)
        algo.num_timesteps = step
        due.append(algo._refit_dynamics_if_due())
    assert due == [True, False, False, True, False, False, True, True, False, True]
    assert dynamics.fits == [(3, True)] + [(3, False)] * 4  # every real transition; only the first is first
    assert algo.last_model_update == 1050
    assert algo.model_fit_time == 12.5 and algo.logger.values["time/model_fit_s"] == 12.5


def test_without_dynamics_nothing_is_refitted_or_saved():
    algo = _Algorithm(None)
    assert not algo._refit_dynamics_if_due()
    assert algo.model_fit_time == 0.0 and algo.last_model_update < 0
    assert algo._excluded_save_params() == ["env", "dynamics"]
    assert algo._get_torch_save_params() == (["policy"], ["ent_coef_tensor"])
    algo.dynamics = object()  # type: ignore[assignment]
    assert algo._get_torch_save_params() == (["policy", "dynamics.model", "dynamics.optimizer"], ["ent_coef_tensor"])
