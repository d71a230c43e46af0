"""The dynamics a sampling-based planner rolls its candidate action sequences through, behind one interface: the env's
true MuJoCo simulator, the env's known batched torch functions, or a learned dynamics ensemble.

Every backend scores K sequences of H actions in SB3's [-1, 1] scale from one start observation, as the
:data:`~sb3_pg_extras.common.planning.RolloutFn` that :meth:`MPPIPlanner.plan` calls; a diverged rollout (a
simulation that blew up, a predicted state that is not finite) has a non-finite reward from the step it diverged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces

from sb3_pg_extras.common.dynamics import (
    DynamicsComponent,
    DynamicsSettings,
    KnownDynamics,
    open_loop_rollout,
    resolve_transition_functions,
    unscale_actions,
)
from sb3_pg_extras.common.planning.simulator import SimulatorRollout
from sb3_pg_extras.envs import DynamicsFn, TransitionFn, get_env_functions
from sb3_pg_extras.envs.simulator import SIMULATOR_SPECS, get_simulator_spec


def resolve_dynamics_mode(mode: str, env_id: str | None, dynamics_fn: DynamicsFn | None = None) -> str:
    """The backend a ``dynamics_mode`` names: ``"auto"`` becomes ``"known"`` where torch dynamics are given or known for
    ``env_id``, else ``"simulator"`` where its simulator state mapping is known, else ``"learned"``."""
    if mode != "auto":
        return mode
    known = get_env_functions(env_id) if env_id is not None else None
    if dynamics_fn is not None or (known is not None and known.dynamics is not None):
        return "known"
    return "simulator" if get_simulator_spec(env_id) is not None else "learned"


def mark_diverged(rewards: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
    """NaN rewards (batch,) where the predicted next state (batch, obs_dim) is not finite: a diverged rollout, to
    which the planner gives weight 0 (a non-finite entry makes the row's sum non-finite: one reduction)."""
    return rewards.masked_fill(~th.isfinite(next_obs.sum(-1)), float("nan"))


class MarkDivergedReward:
    """A reward function whose reward is NaN where the predicted next state is not finite."""

    def __init__(self, reward_fn: TransitionFn) -> None:
        self.reward_fn = reward_fn

    def __call__(self, obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
        return mark_diverged(self.reward_fn(obs, action, next_obs), next_obs)


class MarkDivergedModel:
    """A transition model (the learned ensemble with a reward head) whose predicted reward is NaN where its predicted
    next state is not finite."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.learn_reward, self.learn_termination = model.learn_reward, model.learn_termination

    def sample_members(self, *args: Any, **kwargs: Any) -> th.Tensor:
        return self.model.sample_members(*args, **kwargs)

    def predict(self, obs: th.Tensor, actions: th.Tensor, *args: Any, **kwargs: Any) -> tuple[th.Tensor, Any, Any]:
        next_obs, reward, done = self.model.predict(obs, actions, *args, **kwargs)
        return next_obs, (None if reward is None else mark_diverged(reward, next_obs)), done


class RolloutBackend(ABC):
    """Dynamics that score a planner's candidate action sequences.

    :param action_space: the env's bounded Box action space (candidates come in SB3's [-1, 1] scale)
    """

    #: the learned dynamics component that the algorithm fits and saves (None: nothing is learned)
    dynamics: DynamicsComponent | None = None

    def __init__(self, action_space: spaces.Box) -> None:
        self.action_space = action_space

    @abstractmethod
    def rollout(
        self, start: th.Tensor, candidates: th.Tensor, generator: th.Generator | None = None
    ) -> tuple[th.Tensor, th.Tensor]:
        """Rewards and alive flags (K, H) of K candidate sequences (K, H, action_dim), in SB3's [-1, 1] action scale,
        from one start observation (obs_dim,); ``alive[k, h]`` is False once sequence k terminated before step h, and
        a diverged rollout has non-finite rewards from the step it diverged; a stochastic model draws from
        ``generator``."""

    @property
    def alive_reward(self) -> float:
        """The reward for staying alive one step, which a termination loses (0: unknown, or a termination that may be
        a goal)."""
        return 0.0

    def executed(self, start: th.Tensor, action: th.Tensor) -> None:
        """The env executes ``action`` (action_dim,), in SB3's [-1, 1] scale, from the observation ``start``: a backend
        that estimates what the observation does not show keeps its prediction (default: nothing to keep)."""
        return None

    def diagnostics(self) -> dict[str, float]:
        """What the backend counts of its rollouts, by name (the algorithm logs them under ``planner/``)."""
        return {}


class _OpenLoopBackend(RolloutBackend):
    """Open-loop rollouts of a torch transition model (:func:`open_loop_rollout`), scored by reward and termination
    functions or the model's heads."""

    model: Any
    reward_fn: TransitionFn | None
    termination_fn: TransitionFn | None

    def _model_actions(self, candidates: th.Tensor) -> th.Tensor:
        return candidates

    def rollout(
        self, start: th.Tensor, candidates: th.Tensor, generator: th.Generator | None = None
    ) -> tuple[th.Tensor, th.Tensor]:
        rollout = open_loop_rollout(
            self.model, start, self._model_actions(candidates), self.reward_fn, self.termination_fn, generator=generator,
            keep_transitions=False,
        )  # fmt: skip
        return rollout.rewards.T, rollout.valid.T


class KnownFunctionsBackend(_OpenLoopBackend):
    """The env's known batched torch dynamics, reward and termination (a given ``dynamics_fn`` / ``reward_fn`` /
    ``termination_fn``, else the env's own from :mod:`sb3_pg_extras.envs`), in env action units; nothing is learned.

    :param algorithm: the algorithm's name, for error messages
    :param env_id: versioned env id of the known functions
    :param action_space: the env's bounded Box action space
    :param dynamics_fn: ``(obs, action) -> next_obs`` (None: the env's known dynamics)
    :param reward_fn: ``(obs, action, next_obs) -> reward`` (None: the env's)
    :param termination_fn: as ``reward_fn``, returning bool
    :param device: torch device
    """

    def __init__(
        self,
        algorithm: str,
        env_id: str | None,
        action_space: spaces.Box,
        dynamics_fn: DynamicsFn | None = None,
        reward_fn: TransitionFn | None = None,
        termination_fn: TransitionFn | None = None,
        device: th.device | str = "cpu",
    ) -> None:
        super().__init__(action_space)
        functions = resolve_transition_functions(algorithm, env_id, reward_fn, termination_fn)
        known = get_env_functions(env_id) if env_id is not None else None
        dynamics_fn = dynamics_fn or (known.dynamics if known is not None else None)
        if dynamics_fn is None:
            raise ValueError(
                f"{algorithm}(dynamics_mode='known') has no dynamics for the env {env_id!r}: pass `dynamics_fn=` (a "
                "batched torch function of (obs, action) in env units) or use dynamics_mode='learned'"
            )
        # env units throughout: the whole batch of candidate sequences is unscaled once per rollout, not at every step
        self.model = KnownDynamics(dynamics_fn, None, device)
        self.bounds = tuple(
            th.as_tensor(bound, device=device, dtype=th.float32) for bound in (action_space.low, action_space.high)
        )
        assert functions.reward is not None and functions.termination is not None
        self.reward_fn, self.termination_fn = MarkDivergedReward(functions.reward), functions.termination

    def _model_actions(self, candidates: th.Tensor) -> th.Tensor:
        return unscale_actions(candidates, *self.bounds)


class LearnedEnsembleBackend(_OpenLoopBackend):
    """A learned dynamics ensemble (:class:`DynamicsComponent`), one random elite member per particle for the whole
    horizon (trajectory sampling), scored by reward / termination functions or its learned heads. The algorithm fits
    and saves ``dynamics``.

    :param algorithm: the algorithm's name, for error messages
    :param env_id: versioned env id of the known reward and termination (None: given functions or learned heads)
    :param observation_space: flat Box observations
    :param action_space: the env's bounded Box action space
    :param dynamics_kwargs: the ensemble's settings (:class:`DynamicsSettings`)
    :param reward_fn: ``(obs, action, next_obs) -> reward``, actions in env units (None: the env's, or the head)
    :param termination_fn: as ``reward_fn``, returning bool
    :param learn_reward: learn a reward head (used where no reward function is found)
    :param learn_termination: learn a termination head (used where no termination function is found)
    :param device: torch device
    """

    def __init__(
        self,
        algorithm: str,
        env_id: str | None,
        observation_space: spaces.Box,
        action_space: spaces.Box,
        dynamics_kwargs: dict[str, Any] | None = None,
        reward_fn: TransitionFn | None = None,
        termination_fn: TransitionFn | None = None,
        learn_reward: bool = False,
        learn_termination: bool = False,
        device: th.device | str = "cpu",
    ) -> None:
        super().__init__(action_space)
        functions = resolve_transition_functions(algorithm, env_id, reward_fn, termination_fn, learn_reward, learn_termination)
        self.dynamics = DynamicsComponent(
            observation_space,
            action_space,
            DynamicsSettings.from_kwargs(algorithm, dynamics_kwargs),
            functions,
            learn_reward=learn_reward,
            learn_termination=learn_termination,
            device=device,
        )
        # a non-finite predicted state marks the sequence diverged (a NaN reward): through the reward function, or
        # through the model where its reward head scores the steps
        dynamics = self.dynamics
        self.model = MarkDivergedModel(dynamics.model) if dynamics.reward_fn is None else dynamics.model
        self.reward_fn = None if dynamics.reward_fn is None else MarkDivergedReward(dynamics.reward_fn)
        self.termination_fn = dynamics.termination_fn


class SimulatorBackend(RolloutBackend):
    """The env's true MuJoCo simulator (:class:`SimulatorRollout`), rolled out from the state behind the observation,
    in a private copy of the env made with ``gym.make(env_id, **env_kwargs)``; nothing is learned.

    :param algorithm: the algorithm's name, for error messages
    :param env_id: versioned env id with a simulator state mapping (:mod:`sb3_pg_extras.envs.simulator`)
    :param action_space: the env's bounded Box action space
    :param env_kwargs: the keyword arguments the env was made with (its ``spec.kwargs``), so that the copy simulates
        and scores the same env
    :param reward_fn: ``(obs, action, next_obs) -> reward`` scoring the rolled-out observations (None: the env's)
    :param termination_fn: as ``reward_fn``, returning bool
    """

    def __init__(
        self,
        algorithm: str,
        env_id: str | None,
        action_space: spaces.Box,
        env_kwargs: dict[str, Any] | None = None,
        reward_fn: TransitionFn | None = None,
        termination_fn: TransitionFn | None = None,
    ) -> None:
        super().__init__(action_space)
        spec = get_simulator_spec(env_id)
        if spec is None or env_id is None:
            raise ValueError(
                f"{algorithm}(dynamics_mode='simulator') has no simulator state mapping for the env {env_id!r}: it "
                f"supports {', '.join(SIMULATOR_SPECS)}; use dynamics_mode='learned' (or 'known' with `dynamics_fn=`)"
            )
        self.spec = spec
        self.env = gym.make(env_id, **(env_kwargs or {}))
        self.simulator = SimulatorRollout(self.env.unwrapped, spec, reward_fn=reward_fn, termination_fn=termination_fn)

    def _controls(self, actions: th.Tensor) -> np.ndarray:
        """Actions in SB3's [-1, 1] scale as env units (SB3's unscale_action)."""
        low, high = self.action_space.low, self.action_space.high
        return low + 0.5 * (actions.cpu().numpy() + 1.0) * (high - low)

    def rollout(
        self, start: th.Tensor, candidates: th.Tensor, generator: th.Generator | None = None
    ) -> tuple[th.Tensor, th.Tensor]:
        rewards, terminated = self.simulator(start.cpu().numpy(), self._controls(candidates))
        valid = np.ones_like(terminated)
        valid[:, 1:] = ~np.logical_or.accumulate(terminated, axis=1)[:, :-1]  # alive until a termination
        return th.as_tensor(rewards, device=start.device).float(), th.as_tensor(valid, device=start.device)

    @property
    def alive_reward(self) -> float:
        return float(self.spec.alive_reward(self.env.unwrapped))

    def executed(self, start: th.Tensor, action: th.Tensor) -> None:
        """The simulator predicts the state after ``action``, to restore the next observation's clipped velocities."""
        self.simulator.executed(start.cpu().numpy(), self._controls(action))

    def diagnostics(self) -> dict[str, float]:
        """``energy_gain_fraction``: the sampled sequences whose rollout diverged by gaining energy beyond its
        actuators' work (:class:`SimulatorRollout`), over all rolled out so far; where the observation clips
        velocities, ``restored_fraction``: the planning starts with a velocity at the clip that a prediction
        restored."""
        simulator = self.simulator
        out = {"energy_gain_fraction": simulator.n_energy_gain / max(simulator.n_rollouts, 1)}
        if simulator.spec.velocity_clip is not None:
            out["restored_fraction"] = simulator.n_restored / max(simulator.n_clipped, 1)
        return out


__all__ = [
    "KnownFunctionsBackend",
    "LearnedEnsembleBackend",
    "MarkDivergedModel",
    "MarkDivergedReward",
    "RolloutBackend",
    "SimulatorBackend",
    "mark_diverged",
    "resolve_dynamics_mode",
]
