"""Registry of reward / termination functions keyed by exact, versioned gymnasium env id."""

from __future__ import annotations

import math
import re

from sb3_pg_extras.envs.base import EnvFunctions, RewardFn, TerminationFn
from sb3_pg_extras.envs.classic import CLASSIC_ENV_FUNCTIONS
from sb3_pg_extras.envs.mujoco_envs import MUJOCO_ENV_FUNCTIONS

# Ids are matched exactly, version included: another version of an env may lay out its observation or compute
# its reward differently, and a silently wrong reward is worse than an error.
ENV_FUNCTIONS: dict[str, EnvFunctions] = {**CLASSIC_ENV_FUNCTIONS, **MUJOCO_ENV_FUNCTIONS}

# "[namespace/]Name-vN", as gymnasium writes registered ids
_VERSIONED_ID = re.compile(r"^(?:[\w:.-]+/)?([\w:.-]+?)-v(\d+)$")


class UnknownEnvFunctionsError(KeyError, ValueError):
    """
    No reward / termination function is registered for an env id. A ``KeyError`` (lookup by id) and a
    ``ValueError`` (bad argument), so callers may catch either.
    """

    def __str__(self) -> str:
        # KeyError.__str__ would print the repr of the message, quotes and escaped newlines included
        return str(self.args[0]) if self.args else ""


def get_env_functions(env_id: str) -> EnvFunctions | None:
    """
    Reward and termination functions registered for ``env_id``.

    :param env_id: exact gymnasium id, version included (``"HalfCheetah-v5"``; ``"HalfCheetah-v4"`` is another env)
    :return: the registered functions, or None when the id (in this exact version) is unknown
    """
    return ENV_FUNCTIONS.get(env_id)


def _other_versions(env_id: str) -> list[str]:
    """
    Registered ids that name the same env in another version.

    :param env_id: env id
    :return: matching registered ids, sorted
    """
    match = _VERSIONED_ID.match(env_id)
    base = match.group(1) if match else env_id
    found = []
    for known in ENV_FUNCTIONS:
        known_match = _VERSIONED_ID.match(known)
        if known_match is not None and known_match.group(1) == base and known != env_id:
            found.append(known)
    return sorted(found)


def require_env_functions(env_id: str, what: str = "reward and termination functions") -> EnvFunctions:
    """
    Like :func:`get_env_functions` but raises a helpful error for unknown ids, for algorithms that need them.

    :param env_id: exact gymnasium id, version included
    :param what: the missing piece to name in the error, e.g. ``"reward function"`` or ``"termination function"``
    :return: the registered functions
    :raises UnknownEnvFunctionsError: (a ``KeyError`` and ``ValueError``) when ``env_id`` is not registered
    """
    functions = get_env_functions(env_id)
    if functions is not None:
        return functions
    lines = [f"No {what} known for env id {env_id!r}."]
    other_versions = _other_versions(env_id)
    if other_versions:
        lines.append(
            f"Other versions are known ({', '.join(other_versions)}), but ids are matched exactly because the "
            "observation layout and reward can differ between versions."
        )
    lines.append(
        "Pass your own `reward_fn` / `termination_fn` (batched torch functions of (obs, action, next_obs)), "
        "register them with `sb3_pg_extras.envs.register_env_functions`, or use learned reward / termination heads."
    )
    lines.append(f"Known ids: {', '.join(sorted(ENV_FUNCTIONS))}.")
    raise UnknownEnvFunctionsError("\n".join(lines))


def register_env_functions(
    env_id: str,
    reward: RewardFn,
    termination: TerminationFn,
    exact_reward: bool = False,
    exact_termination: bool = False,
    reward_atol: float = math.inf,
    reward_mean_atol: float = math.inf,
    note: str = "",
    overwrite: bool = False,
) -> EnvFunctions:
    """
    Register reward and termination functions for an env id (e.g. a custom env or other constructor arguments
    registered under their own id). They must follow :data:`RewardFn` / :data:`TerminationFn`.

    :param env_id: exact, versioned id (``"MyEnv-v0"``, ``"namespace/MyEnv-v1"``)
    :param reward: batched reward function ``(obs, action, next_obs) -> (...)`` float tensor
    :param termination: batched termination function ``(obs, action, next_obs) -> (...)`` bool tensor
    :param exact_reward: whether the reward equals the env's (up to float rounding)
    :param exact_termination: whether the termination always equals the env's
    :param reward_atol: known bound on the absolute reward error (``inf`` when unknown)
    :param reward_mean_atol: known bound on the mean absolute reward error (``inf`` when unknown)
    :param note: what is approximated and how well
    :param overwrite: replace an existing entry instead of raising
    :return: the registered entry
    :raises ValueError: when the id has no ``-vN`` version suffix, or is already registered and ``overwrite`` is False
    """
    if _VERSIONED_ID.match(env_id) is None:
        raise ValueError(f"Env id {env_id!r} must end in a version, e.g. 'MyEnv-v0': functions are keyed by exact version.")
    if env_id in ENV_FUNCTIONS and not overwrite:
        raise ValueError(f"Functions for {env_id!r} are already registered; pass overwrite=True to replace them.")
    functions = EnvFunctions(
        reward=reward,
        termination=termination,
        exact_reward=exact_reward,
        exact_termination=exact_termination,
        reward_atol=reward_atol,
        reward_mean_atol=reward_mean_atol,
        note=note,
    )
    ENV_FUNCTIONS[env_id] = functions
    return functions
