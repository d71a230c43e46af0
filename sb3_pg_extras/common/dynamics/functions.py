"""Reward and termination of model transitions: which function scores them (a given one, the known one of the env id
in :mod:`sb3_pg_extras.envs`, or a learned head of the ensemble), and the unscaling of SB3's [-1, 1] actions to env
units that the known functions expect."""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from gymnasium.envs.registration import load_env_creator
from stable_baselines3.common.vec_env import VecEnv

from sb3_pg_extras.common.utils import user_stacklevel
from sb3_pg_extras.common.validation import check_no_vec_normalize, check_user_functions
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
    if env_id is not None and not isinstance(env_id, str):
        raise TypeError(f"`env_id` must be a versioned gymnasium env id such as 'Pendulum-v1', or None, got {env_id!r}.")
    if env_id is not None:
        require_env_functions(env_id, "env functions (`env_id` was given explicitly)")


# Constructor arguments that change only how an env is rendered, never its dynamics, reward or termination.
_RENDER_KWARGS = frozenset(
    {"render_mode", "width", "height", "camera_id", "camera_name", "default_camera_config", "visual_options", "max_geom"}
)


def env_setting_overrides(env_id: str, kwargs: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The constructor settings in ``kwargs`` (an env's ``spec.kwargs``) that differ from the registered defaults of
    ``env_id``: ``{name: (value, default)}`` (default None when the constructor has no such argument). Rendering
    settings are ignored."""
    try:
        registered = gym.spec(env_id)
    except gym.error.Error:
        return {}
    defaults: dict[str, Any] = {}
    try:
        entry = registered.entry_point
        creator = load_env_creator(entry) if isinstance(entry, str) else entry
        if creator is not None:  # the signature of a class is that of its __init__, without self
            parameters = inspect.signature(creator).parameters.items()
            defaults = {name: p.default for name, p in parameters if p.default is not p.empty}
    except (ImportError, AttributeError, ValueError, TypeError):  # an entry point that cannot be inspected
        pass
    defaults.update(registered.kwargs)
    return {
        name: (value, defaults.get(name))
        for name, value in kwargs.items()
        if name not in _RENDER_KWARGS and (name not in defaults or not _same(value, defaults[name]))
    }


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(np.all(np.asarray(a) == np.asarray(b))) and np.shape(a) == np.shape(b)
    except (TypeError, ValueError):
        return a is b


def check_env_matches_functions(
    algo: str,
    env: VecEnv,
    env_id: str | None,
    uses_known_functions: bool,
    simulator: bool = False,
) -> None:
    """
    Refuse an env that the functions of ``env_id`` do not describe:

    - ``env_id`` names another env than the training env (``spec.id``) and that env's spaces differ from the training
      env's (its functions would read another observation layout), or, in the simulator mode, any other env;
    - the training env was made with constructor settings other than the registered defaults that the known torch
      functions assume (e.g. ``gym.make("Pendulum-v1", g=2.0)``: the known dynamics use g = 10), when they are used.

    :param algo: the algorithm's name, for messages
    :param env: the training env
    :param env_id: the env id whose functions are used (given, or the env's own)
    :param uses_known_functions: whether any known torch function of ``env_id`` is used (not all given by the user)
    :param simulator: whether the env's simulator is copied from ``env_id`` (MPPI's simulator mode; it reads the
        env's settings itself)
    """
    if env_id is None:
        return
    own_id = vec_env_id(env)
    if own_id is not None and own_id != env_id:
        if simulator:
            raise ValueError(
                f"{algo} would plan in the simulator of {env_id!r} but trains on {own_id!r}: drop `env_id` (the env's "
                "own id is used) or train on that env."
            )
        try:
            other = gym.make(env_id)
        except (gym.error.Error, ImportError, ModuleNotFoundError):
            other = None  # functions registered for an id gymnasium cannot make: nothing to compare
        if other is not None:
            other.close()
            for what, mine, theirs in (
                ("observation", env.observation_space, other.observation_space),
                ("action", env.action_space, other.action_space),
            ):
                if getattr(mine, "shape", None) != getattr(theirs, "shape", None):
                    raise ValueError(
                        f"{algo}: `env_id={env_id!r}` does not fit the env {own_id!r}: its functions expect "
                        f"{what}s like {theirs}, the env has {mine}. Drop `env_id` (the env's own id is used) or pass "
                        "your own `reward_fn` / `termination_fn`."
                    )
    if simulator or not uses_known_functions or (own_id is not None and own_id != env_id):
        return
    spec = env.get_attr("spec")[0]
    overrides = env_setting_overrides(env_id, dict(spec.kwargs)) if spec is not None else {}
    if overrides:
        listed = ", ".join(f"{name}={value!r} (default {default!r})" for name, (value, default) in overrides.items())
        raise ValueError(
            f"{algo}: the env {env_id!r} was made with {listed}, but the known torch functions of {env_id!r} "
            "(sb3_pg_extras.envs) assume its default settings. Pass your own `reward_fn` / `termination_fn` (and "
            "`dynamics_fn` for MPPI) for these settings, or register them under their own id "
            "(sb3_pg_extras.envs.register_env_functions)."
        )


def check_model_based_env(
    algo: str,
    env: VecEnv | None,
    env_id: str | None,
    observation_space: Any,
    action_space: Any,
    reward_fn: TransitionFn | None = None,
    termination_fn: TransitionFn | None = None,
    dynamics_fn: DynamicsFn | None = None,
    uses_known_dynamics: bool = False,
    simulator: bool = False,
    device: th.device | str = "cpu",
    vec_normalize_remedy: str = "",
) -> None:
    """
    The construction-time checks that every model-based algorithm (MBPO, SVG, MPPI) runs once its env is wrapped:
    no VecNormalize anywhere in the wrapper chain, the user's functions on a probe batch
    (:func:`~sb3_pg_extras.common.validation.check_user_functions`), and an env that the functions of ``env_id``
    describe (:func:`check_env_matches_functions`). Nothing is checked without an env (``load`` checks on ``set_env``
    through SB3's space checks).

    :param algo: the algorithm's name, for messages
    :param env: the training env (None: nothing to check)
    :param env_id: the env id whose known functions are used (given, or the env's own)
    :param observation_space: the env's observation space
    :param action_space: the env's action space
    :param reward_fn: the user's reward function, or None
    :param termination_fn: the user's termination function, or None
    :param dynamics_fn: the user's dynamics function, or None
    :param uses_known_dynamics: whether the known torch dynamics of ``env_id`` are used (MPPI's known mode)
    :param simulator: whether the planner copies the env's simulator (MPPI's simulator mode)
    :param device: the device of the probe batch
    :param vec_normalize_remedy: what else to do instead of VecNormalize (e.g. "or use horizon=0")
    """
    check_user_functions(algo, observation_space, action_space, reward_fn, termination_fn, dynamics_fn, device)
    if env is None:
        return
    check_no_vec_normalize(algo, env, vec_normalize_remedy)
    known = get_env_functions(env_id) if env_id is not None else None
    uses_known = known is not None and (reward_fn is None or termination_fn is None or uses_known_dynamics)
    check_env_matches_functions(algo, env, env_id, uses_known, simulator)


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
        if source is not None and learned:
            origin = (
                f"`{arg}`"
                if (reward_fn if piece == "reward" else termination_fn) is not None
                else (f"the known function of {env_id!r}")
            )
            warnings.warn(
                f"{algo}: `learn_{piece}=True` is unused: the {piece} of model steps comes from {origin}, so the "
                f"learned {piece} head would be trained and never used. Set `learn_{piece}=False`.",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
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
