"""The refit schedule the model-based algorithms share: refit the dynamics component on every real transition every
``model_train_freq`` env steps, with the counters that save/load and ``learn(reset_num_timesteps=False)`` continue."""

from __future__ import annotations

import time
from typing import Any

from stable_baselines3.common.buffers import ReplayBuffer

from sb3_pg_extras.common.dynamics.buffers import real_transitions
from sb3_pg_extras.common.dynamics.component import DynamicsComponent


class ScheduledModelRefits:
    """Mixin for an SB3 off-policy algorithm that keeps a :class:`DynamicsComponent` (or None) in ``self.dynamics``.

    The algorithm sets ``model_train_freq`` and calls :meth:`_init_refit_counters` in ``__init__`` (the counters are
    plain attributes, so SB3 saves them), then :meth:`_refit_dynamics_if_due` from ``train()``. The mixin also does
    the component's part of saving: the component is rebuilt from the saved arguments at load, and its ensemble and
    optimizer are saved as torch state.
    """

    # provided by the algorithm
    dynamics: DynamicsComponent | None
    model_train_freq: int
    num_timesteps: int
    replay_buffer: ReplayBuffer | None
    device: Any
    logger: Any

    def _init_refit_counters(self) -> None:
        self.last_model_update = -1  # env step of the last refit (-1: never)
        self.model_fit_time = 0.0  # seconds spent refitting, over the whole training

    def _refit_dynamics_if_due(self) -> bool:
        """Refit (warm-started) on every real transition if ``model_train_freq`` env steps have passed since the last
        refit, or if there was none (the first fit, under ``initial_max_epochs``); logs ``model/`` and
        ``time/model_fit_s``. Returns whether it refitted."""
        if self.dynamics is None or (
            self.last_model_update >= 0 and self.num_timesteps - self.last_model_update < self.model_train_freq
        ):
            return False
        assert self.replay_buffer is not None
        start = time.perf_counter()
        first = self.last_model_update < 0
        self.dynamics.fit(real_transitions(self.replay_buffer, self.device), self.logger, first=first)
        self.model_fit_time += time.perf_counter() - start
        self.last_model_update = self.num_timesteps
        self.logger.record("time/model_fit_s", self.model_fit_time)
        return True

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "dynamics"]  # type: ignore[misc]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts, variables = super()._get_torch_save_params()  # type: ignore[misc]
        if self.dynamics is not None:
            state_dicts = [*state_dicts, *DynamicsComponent.save_names("dynamics")]
        return state_dicts, variables
