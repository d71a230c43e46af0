"""Reward and termination of model transitions: which function scores them (a given one, the known one of the env id
in :mod:`sb3_pg_extras.envs`, or a learned head of the ensemble), and the unscaling of SB3's [-1, 1] actions to env
units that the known functions expect."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from sb3_pg_extras.envs import DynamicsFn, TransitionFn, UnknownEnvFunctionsError, get_env_functions, require_env_functions


def vec_env_id(env: VecEnv | None) -> str | None:
    """The versioned gymnasium id (``spec.id``) of the envs of a VecEnv, or None (no env, or an env without spec)."""
    if env is None:
        return None
    spec = env.get_attr("spec")[0]
    return None if spec is None else spec.id


def unscale_actions(actions: th.Tensor, low: th.Tensor, high: th.Tensor) -> th.Tensor:
    """SB3's scaled actions in [-1, 1] to env units in [low, high] (the inverse of ``policy.scale_action``)."""
    return low + 0.5 * (actions + 1.0) * (high - low)


def with_scaled_actions(fn: TransitionFn, action_space: spaces.Box, device: th.device | str = "cpu") -> TransitionFn:
    """Wrap ``fn(obs, action_in_env_units, next_obs)`` so that it takes SB3's [-1, 1] scaled actions."""
    low = th.as_tensor(np.asarray(action_space.low), device=device, dtype=th.float32)
    high = th.as_tensor(np.asarray(action_space.high), device=device, dtype=th.float32)

    def scaled(obs: th.Tensor, actions: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
        return fn(obs, unscale_actions(actions, low, high), next_obs)

    scaled.__wrapped__ = fn  # type: ignore[attr-defined]
    return scaled


@dataclass(frozen=True)
class TransitionFunctions:
    """The reward and termination that score model transitions, in env action units; None means the learned head of
    the ensemble is used (see :func:`resolve_transition_functions`)."""

    reward: TransitionFn | None
    termination: TransitionFn | None


def check_env_id(env_id: str | None) -> None:
    """An ``env_id`` given explicitly must name known env functions: a typo must not fall back to learned heads."""
    if env_id is not None:
        require_env_functions(env_id, "env functions (`env_id` was given explicitly)")


def resolve_transition_functions(
    algo: str,
    env_id: str | None,
    reward_fn: TransitionFn | None = None,
    termination_fn: TransitionFn | None = None,
    learn_reward: bool = False,
    learn_termination: bool = False,
) -> TransitionFunctions:
    """Pick, for the reward and for the termination of model transitions: the given function, else the known function of
    ``env_id`` (:func:`sb3_pg_extras.envs.get_env_functions`), else the learned head of the ensemble if it is enabled.

    :param algo: the algorithm's name, for the error message
    :param env_id: versioned gymnasium id of the env (None when it has none)
    :param reward_fn: the user's batched reward function of ``(obs, action, next_obs)`` (env action units), or None
    :param termination_fn: the user's batched termination function, or None
    :param learn_reward: whether the ensemble learns a reward head (used when no function is found)
    :param learn_termination: whether the ensemble learns a termination head (used when no function is found)
    :return: the functions, None where the learned head is used
    :raises ValueError: when a piece has neither a function nor an enabled learned head; the message says what to pass
        and, for an env id the registry lacks, which other versions of that env are known
    """
    known = get_env_functions(env_id) if env_id is not None else None
    reward = reward_fn or (known.reward if known is not None else None)
    termination = termination_fn or (known.termination if known is not None else None)
    for piece, source, learned, arg in (
        ("reward", reward, learn_reward, "reward_fn"),
        ("termination", termination, learn_termination, "termination_fn"),
    ):
        if source is not None or learned:
            continue
        message = (
            f"{algo} has no {piece} function for the env {env_id!r} (no entry in sb3_pg_extras.envs): pass `{arg}=` "
            f"(a batched torch function of (obs, action, next_obs)) or set `learn_{piece}=True` to learn it with the "
            "dynamics ensemble."
        )
        if env_id is not None:
            try:
                require_env_functions(env_id, f"{piece} function")
            except UnknownEnvFunctionsError as error:
                message += "\n" + str(error)
        raise ValueError(message)
    return TransitionFunctions(reward, termination)


class KnownDynamics:
    """A known, deterministic batched transition ``next_obs = f(obs, action_in_env_units)`` (an env's own dynamics from
    :mod:`sb3_pg_extras.envs`, or a user's), with the interface of :class:`DynamicsModel` that the rollouts use, so
    that :func:`~sb3_pg_extras.common.dynamics.imagine_rollout` and
    :func:`~sb3_pg_extras.common.dynamics.open_loop_rollout` run it like a one-member ensemble. It takes SB3's
    [-1, 1] scaled actions and unscales them for ``f``, or, without an action space, actions already in env units
    (a planner that unscales its whole batch of sequences once instead of at every step).

    :param dynamics_fn: ``(obs, action) -> next_obs`` on batched tensors, actions in env units
    :param action_space: the env's Box action space (scaled actions), or None (actions in env units)
    :param device: torch device
    """

    learn_reward = False
    learn_termination = False
    n_elites = 1

    def __init__(self, dynamics_fn: DynamicsFn, action_space: spaces.Box | None, device: th.device | str = "cpu") -> None:
        self.dynamics_fn = dynamics_fn
        self.bounds = None
        if action_space is not None:
            low = th.as_tensor(np.asarray(action_space.low), device=device, dtype=th.float32)
            self.bounds = (low, th.as_tensor(np.asarray(action_space.high), device=device, dtype=th.float32))
        self.device = device

    def sample_members(self, batch: int, mode: str = "random", generator: th.Generator | None = None) -> th.Tensor:
        return th.zeros(batch, dtype=th.long, device=self.device)

    def predict(
        self,
        obs: th.Tensor,
        actions: th.Tensor,
        member_of_sample: th.Tensor,
        deterministic: bool = False,
        generator: th.Generator | None = None,
        noise: th.Tensor | None = None,
    ) -> tuple[th.Tensor, None, None]:
        env_actions = actions if self.bounds is None else unscale_actions(actions, *self.bounds)
        return self.dynamics_fn(obs, env_actions), None, None

    def eval(self) -> KnownDynamics:
        return self
