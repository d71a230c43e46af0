"""The learned-dynamics component a model-based algorithm composes: it builds the ensemble and its optimizer from one
``dynamics_kwargs`` dict (the ``policy_kwargs`` pattern), fits it on real transitions, logs under ``model/``, rolls it
out (closed or open loop) with the reward and termination functions of the env, and declares what must be saved."""

from __future__ import annotations

import numbers
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.logger import Logger
from torch import nn

from sb3_pg_extras.common.dynamics.functions import TransitionFunctions, with_scaled_actions
from sb3_pg_extras.common.dynamics.model import DynamicsModel
from sb3_pg_extras.common.dynamics.rollout import ActFn, ImaginedRollout, imagine_rollout, open_loop_rollout
from sb3_pg_extras.common.dynamics.trainer import FitResult, fit_dynamics
from sb3_pg_extras.common.dynamics.transitions import Transitions
from sb3_pg_extras.common.validation import (
    check_in_range,
    check_non_negative,
    check_optional_positive_int,
    check_positive,
    check_positive_int,
    is_number,
)

_ACTIVATIONS: dict[str, type[nn.Module]] = {"silu": nn.SiLU, "swish": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}


@dataclass
class DynamicsSettings:
    """Every setting of the dynamics ensemble and its fit; ``dynamics_kwargs`` of the model-based algorithms. The
    defaults are MBPO's (Janner et al. 2019, appendix C and reference code): 7 members, 5 elites, 4 x 200 SiLU layers,
    Adam 1e-3, minibatches of 256, 20% holdout (at most 5000), early stopping after 5 epochs without a 1% gain.

    :param n_members: ensemble size
    :param n_elites: members used for predictions (those with the lowest holdout error after each fit)
    :param hidden_sizes: hidden layers of every member
    :param activation_fn: activation between layers, a ``torch.nn`` module class or a name ("silu", "relu", "tanh",
        "elu"; names are what a zoo YAML file can give)
    :param learning_rate: Adam learning rate of the ensemble
    :param batch_size: minibatch size per member
    :param holdout_ratio: fraction of the real data held out for early stopping and elite selection, in [0, 1)
    :param max_holdout: cap on the holdout size
    :param max_epochs: cap on the epochs of one refit (None: until early stopping)
    :param initial_max_epochs: cap on the epochs of the first fit of a training run (None: until early stopping,
        whatever ``max_epochs`` says). A capped refit only tracks a model that is already good, so a poor first model
        stays poor for many refits
    :param patience: epochs without holdout progress that a fit tolerates (it stops after ``patience + 1``, as MBPO's
        reference implementation)
    :param improvement_threshold: relative holdout improvement that counts as progress
    :param weight_decay: L2 coefficient(s) of the layers (one for all, or one per layer; None: MBPO's per-layer values)
    :param log_var_bound_coef: weight of the penalty that tightens the learnable log-variance bounds (PETS)
    :param bootstrap: every member trains on its own bootstrap resample of the data (MBPO's reference and PETS);
        False: every member sees all of it, in its own order
    """

    n_members: int = 7
    n_elites: int = 5
    hidden_sizes: tuple[int, ...] | list[int] = (200, 200, 200, 200)
    activation_fn: type[nn.Module] | str = nn.SiLU
    learning_rate: float = 1e-3
    batch_size: int = 256
    holdout_ratio: float = 0.2
    max_holdout: int = 5000
    max_epochs: int | None = None
    initial_max_epochs: int | None = None
    patience: int = 5
    improvement_threshold: float = 0.01
    weight_decay: float | list[float] | None = None
    log_var_bound_coef: float = 0.01
    bootstrap: bool = True

    @classmethod
    def from_kwargs(
        cls, algo: str, dynamics_kwargs: dict[str, Any] | None, defaults: dict[str, Any] | None = None
    ) -> DynamicsSettings:
        """Validated settings from a user's ``dynamics_kwargs`` over the algorithm's own ``defaults`` (which replace
        the class defaults); unknown names are refused with the known ones."""
        if dynamics_kwargs is not None and not isinstance(dynamics_kwargs, Mapping):
            raise TypeError(
                f"{algo}: `dynamics_kwargs` must be a dict, got {dynamics_kwargs!r}. In a zoo YAML file write it as a "
                "mapping (dynamics_kwargs: {n_members: 5, max_epochs: 2}): rl_zoo3 turns strings into Python only "
                "for policy_kwargs and the replay buffer's settings."
            )
        kwargs = {**(defaults or {}), **(dynamics_kwargs or {})}
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(kwargs) - set(known))
        if unknown:
            raise ValueError(f"{algo}: unknown `dynamics_kwargs` {unknown}; the dynamics settings are {', '.join(known)}")
        return cls(**kwargs)

    def __post_init__(self) -> None:
        for name in ("n_members", "n_elites", "batch_size", "max_holdout", "patience"):
            check_positive_int(f"dynamics_kwargs['{name}']", getattr(self, name))
        check_optional_positive_int("dynamics_kwargs['max_epochs']", self.max_epochs)
        check_optional_positive_int("dynamics_kwargs['initial_max_epochs']", self.initial_max_epochs)
        if not isinstance(self.bootstrap, bool | np.bool_):
            raise TypeError(f"dynamics_kwargs['bootstrap'] must be True or False, got {self.bootstrap!r}")
        if self.n_elites > self.n_members:
            raise ValueError(
                f"dynamics_kwargs: n_elites={self.n_elites} is larger than the ensemble (n_members={self.n_members}): "
                "lower n_elites or add members"
            )
        if not isinstance(self.hidden_sizes, (list, tuple)):
            raise TypeError(
                f"dynamics_kwargs['hidden_sizes'] must be a list of layer sizes, e.g. [200, 200], got {self.hidden_sizes!r}"
            )
        self.hidden_sizes = tuple(self.hidden_sizes)
        for size in self.hidden_sizes:
            check_positive_int("dynamics_kwargs['hidden_sizes'] entries", size)
        if isinstance(self.activation_fn, str):
            if self.activation_fn.lower() not in _ACTIVATIONS:
                raise ValueError(
                    f"dynamics_kwargs['activation_fn']={self.activation_fn!r} is unknown: use a torch.nn module class "
                    f"or one of {', '.join(sorted(_ACTIVATIONS))}"
                )
        elif not (isinstance(self.activation_fn, type) and issubclass(self.activation_fn, nn.Module)):
            raise ValueError(f"dynamics_kwargs['activation_fn'] must be a torch.nn module class, got {self.activation_fn!r}")
        check_positive("dynamics_kwargs['learning_rate']", self.learning_rate)
        check_in_range("dynamics_kwargs['holdout_ratio']", self.holdout_ratio, 0.0, 1.0, closed_high=False)
        check_non_negative("dynamics_kwargs['improvement_threshold']", self.improvement_threshold)
        decays = [self.weight_decay] if isinstance(self.weight_decay, numbers.Real) else self.weight_decay
        if decays is not None and not isinstance(decays, (list, tuple)):
            raise TypeError(f"dynamics_kwargs['weight_decay'] must be a number or a list of numbers, got {decays!r}")
        if decays is not None:
            n_layers = len(self.hidden_sizes) + 1
            if len(decays) not in (1, n_layers):
                raise ValueError(
                    f"dynamics_kwargs['weight_decay'] needs 1 or {n_layers} coefficients (one per layer), got {decays!r}"
                )
            for decay in decays:
                if not is_number(decay) or decay < 0:
                    raise ValueError(f"dynamics_kwargs['weight_decay'] must be non-negative finite numbers, got {decays!r}")
        check_non_negative("dynamics_kwargs['log_var_bound_coef']", self.log_var_bound_coef)

    @property
    def activation(self) -> type[nn.Module]:
        if isinstance(self.activation_fn, str):
            return _ACTIVATIONS[self.activation_fn.lower()]
        return self.activation_fn


class DynamicsComponent:
    """A learned dynamics ensemble with its optimizer, fit, logging, rollouts and save list, for an SB3 algorithm with
    flat Box observations and Box actions (actions in SB3's [-1, 1] scale, as its replay buffer stores them).

    The algorithm keeps the component under one attribute (``self.dynamics``), excludes that attribute from the
    pickled data and lists :meth:`save_names` in ``_get_torch_save_params``: the ensemble (weights, normalizers,
    elites) and its optimizer are then saved and loaded with the algorithm.

    :param observation_space: flat Box observations
    :param action_space: Box actions (model inputs are the [-1, 1] scaled actions)
    :param settings: the ensemble and fit settings
    :param functions: reward / termination of model steps in env action units (None: the learned head); they are
        wrapped to take scaled actions
    :param learn_reward: give the ensemble a reward head
    :param learn_termination: give the ensemble a termination head
    :param device: torch device
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        action_space: spaces.Box,
        settings: DynamicsSettings,
        functions: TransitionFunctions,
        learn_reward: bool = False,
        learn_termination: bool = False,
        device: th.device | str = "cpu",
    ) -> None:
        self.settings = settings
        self.device = device
        self.model = DynamicsModel(
            observation_space.shape[0],
            action_space.shape[0],
            n_members=settings.n_members,
            n_elites=settings.n_elites,
            hidden_sizes=settings.hidden_sizes,
            learn_reward=learn_reward,
            learn_termination=learn_termination,
            activation_fn=settings.activation,
        ).to(device)
        self.optimizer = th.optim.Adam(self.model.parameters(), lr=settings.learning_rate)
        self.functions = functions
        # the functions take env units, the model's actions are scaled: unscale before every call
        self.reward_fn = None if functions.reward is None else with_scaled_actions(functions.reward, action_space, device)
        self.termination_fn = (
            None if functions.termination is None else with_scaled_actions(functions.termination, action_space, device)
        )
        self.fit_time = 0.0  # seconds spent in fit() by this instance (the algorithm keeps its own saved counters)

    @staticmethod
    def save_names(attribute: str = "dynamics") -> list[str]:
        """What ``_get_torch_save_params`` must list for a component kept under ``attribute``."""
        return [f"{attribute}.model", f"{attribute}.optimizer"]

    def fit(self, data: Transitions, logger: Logger | None = None, first: bool = False) -> FitResult:
        """Refit the ensemble (warm-started) on real transitions and log the result under ``model/``. ``first``: the
        first fit of a training run, capped by ``initial_max_epochs`` instead of ``max_epochs``.

        The holdout split and the shuffles are drawn from numpy's global generator (seeded by SB3's ``set_random_seed``).
        """
        start = time.perf_counter()
        self.model.train()
        s = self.settings
        result = fit_dynamics(
            self.model,
            self.optimizer,
            data,
            batch_size=s.batch_size,
            holdout_ratio=s.holdout_ratio,
            max_holdout=s.max_holdout,
            max_epochs=s.initial_max_epochs if first else s.max_epochs,
            patience=s.patience,
            improvement_threshold=s.improvement_threshold,
            weight_decay=s.weight_decay,
            log_var_bound_coef=s.log_var_bound_coef,
            bootstrap=s.bootstrap,
            rng=np.random.default_rng(int(np.random.randint(2**31))),  # noqa: NPY002
        )
        self.model.eval()
        self.fit_time += time.perf_counter() - start
        if logger is not None:
            logger.record("model/holdout_mse", result.elite_holdout_mse)
            logger.record("model/train_loss", result.train_loss)
            logger.record("model/epochs", result.epochs)
            logger.record("model/members_improved", result.members_improved)
            logger.record("model/elites", " ".join(str(e) for e in result.elites), exclude=("tensorboard",))
        return result

    def imagine(
        self,
        act_fn: ActFn,
        start_obs: th.Tensor,
        horizon: int,
        member_mode: str = "random",
        deterministic: bool = False,
        members: th.Tensor | None = None,
        model_noise: list[th.Tensor | None] | None = None,
    ) -> ImaginedRollout:
        """Closed-loop rollouts of ``act_fn`` (scaled actions) from ``start_obs`` (batch, obs_dim), scored by the env's
        reward and termination (or the learned heads); the arguments are :func:`imagine_rollout`'s. Differentiable
        when gradients are enabled."""
        self.model.eval()
        return imagine_rollout(
            self.model,
            act_fn,
            start_obs,
            horizon,
            self.reward_fn,
            self.termination_fn,
            member_mode=member_mode,
            deterministic=deterministic,
            members=members,
            model_noise=model_noise,
        )

    def rollout_action_sequences(
        self, start_obs: th.Tensor, action_sequences: th.Tensor, member_mode: str = "particle", deterministic: bool = False
    ) -> ImaginedRollout:
        """Open-loop rollouts of (N, H, action_dim) scaled action sequences, one elite member per particle by default
        (:func:`open_loop_rollout`); ``.returns(gamma)`` scores them."""
        self.model.eval()
        return open_loop_rollout(
            self.model,
            start_obs,
            action_sequences,
            self.reward_fn,
            self.termination_fn,
            member_mode=member_mode,
            deterministic=deterministic,
        )
