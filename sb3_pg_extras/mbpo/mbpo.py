from __future__ import annotations

import time
from typing import Any, ClassVar, TypeVar

import torch as th
from gymnasium import spaces
from stable_baselines3 import SAC
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.sac.policies import SACPolicy

from sb3_pg_extras.common.dynamics import (
    DynamicsComponent,
    DynamicsSettings,
    MixedReplayBuffer,
    ScheduledModelRefits,
    check_env_id,
    check_model_based_env,
    resolve_transition_functions,
    sample_observations,
    vec_env_id,
)
from sb3_pg_extras.common.saving import CheckedFiles, CheckedReplayBuffer
from sb3_pg_extras.common.validation import (
    check_common_arguments,
    check_env_spaces,
    check_in_range,
    check_int_at_least,
    check_positive_int,
    check_sac_temperature,
)
from sb3_pg_extras.envs import TransitionFn
from sb3_pg_extras.mbpo.policies import MlpPolicy

SelfMBPO = TypeVar("SelfMBPO", bound="MBPO")

# MBPO's ensemble settings are the paper's (Janner et al., 2019, appendix C; DynamicsSettings' defaults) except at
# most 2 warm-started epochs per refit: a refit to early stopping costs more with every transition stored.
# ``dynamics_kwargs=dict(max_epochs=None)`` restores early stopping. The first fit of a run is not capped
# (``initial_max_epochs=None``): capped refits only track a model that is already good.
_MODEL_DEFAULTS: dict[str, Any] = dict(max_epochs=2)


def linear_rollout_horizon(step: int, start: int, end: int, min_horizon: int, max_horizon: int) -> int:
    """MBPO's rollout-length schedule: ``min_horizon`` until env step ``start``, then linear in the step up to
    ``max_horizon`` at ``end`` (rounded down), constant afterwards (Janner et al. 2019, appendix C)."""
    if step <= start or end <= start:
        return min_horizon if step <= start else max_horizon
    fraction = min((step - start) / (end - start), 1.0)
    return int(min_horizon + fraction * (max_horizon - min_horizon))


class MBPO(CheckedFiles, CheckedReplayBuffer, ScheduledModelRefits, SAC):
    """
    Model-Based Policy Optimization: SAC trained on a mixture of real transitions and short branched rollouts of a
    learned dynamics ensemble.

    Paper: M. Janner, J. Fu, M. Zhang, S. Levine, "When to Trust Your Model: Model-Based Policy Optimization",
    NeurIPS 2019, https://arxiv.org/abs/1906.08253 (Algorithm 2; hyperparameters in appendix C).

    SAC's own ``train()`` runs unchanged; MBPO composes at the buffer boundary. Every ``model_train_freq`` env steps
    (checked when SAC trains, i.e. after ``learning_starts``) it refits the ensemble on all real data (Algorithm 2
    line 5: :meth:`_refit_dynamics_if_due`) and branches ``rollouts_per_step * model_train_freq`` rollouts of the current
    horizon from real states into the model buffer (lines 7-9: :meth:`_imagine`); SAC minibatches then draw a
    ``real_ratio`` fraction of real transitions and the rest from the model buffer (line 10).

    The ensemble, its fit and its rollouts are the shared :class:`~sb3_pg_extras.common.dynamics.DynamicsComponent`
    (configured by ``dynamics_kwargs``); this class holds only MBPO's own decisions: when to refit, how many rollouts
    of which horizon, how long imagined data is kept and how it is mixed.

    Rewards and terminations of imagined steps come from ``reward_fn`` / ``termination_fn`` when given, else from the
    known functions of ``sb3_pg_extras.envs`` for the env's versioned id, else from learned heads of the ensemble
    (``learn_reward`` / ``learn_termination``). Known functions take actions in env units; the ensemble works on
    SB3's [-1, 1] scaled actions, which are unscaled before the call.

    Saving: the ensemble (weights, normalizers, elites) and its optimizer are saved with the SAC parts. The model
    buffer lives inside the replay buffer, which SB3 saves only with ``save_replay_buffer``; after a plain ``load``
    it is empty and refilled at the next model update (SAC trains on real data until then).

    Defaults: the paper's appendix C where explicit (400 rollouts and 20 SAC gradient steps per env step, 5% real
    data, refits every 250 steps, horizon 1), SAC's for the rest.

    :param policy: SAC policy ("MlpPolicy" or a ``SACPolicy`` subclass)
    :param env: the environment (flat Box observations, bounded Box actions)
    :param learning_rate: SAC learning rate (actor, critics, temperature)
    :param buffer_size: real replay buffer size
    :param learning_starts: env steps of uniform random actions before any training
    :param batch_size: SAC minibatch size
    :param tau: SAC soft target update coefficient
    :param gamma: discount factor
    :param train_freq: SAC update frequency (env steps), as in SB3
    :param gradient_steps: SAC gradient steps per ``train_freq`` (the update-to-data ratio; MBPO uses 20-40)
    :param action_noise: extra exploration noise (as SAC; usually None)
    :param ent_coef: SAC entropy coefficient ("auto" to learn it)
    :param target_update_interval: SAC target update interval (gradient steps)
    :param target_entropy: SAC target entropy ("auto": -dim(A))
    :param use_sde: as SAC
    :param sde_sample_freq: as SAC
    :param use_sde_at_warmup: as SAC
    :param real_ratio: fraction of real transitions in every SAC minibatch, in [0, 1]
    :param model_train_freq: env steps between two ensemble refits (and rollout branches)
    :param rollouts_per_step: branched model rollouts per env step; ``rollouts_per_step * model_train_freq`` start
        states are drawn from the real buffer at every model update
    :param min_rollout_horizon: rollout horizon up to env step ``horizon_schedule_start``
    :param max_rollout_horizon: rollout horizon from env step ``horizon_schedule_end`` on (linear in between)
    :param horizon_schedule_start: env step where the horizon starts growing
    :param horizon_schedule_end: env step where the horizon reaches ``max_rollout_horizon``
    :param model_retain_steps: the model buffer keeps the rollouts branched over this many env steps (its capacity
        is ``rollouts_per_step * model_retain_steps * horizon``, resized when the horizon changes)
    :param dynamics_kwargs: settings of the dynamics ensemble and its fit, as for
        :class:`~sb3_pg_extras.common.dynamics.DynamicsSettings` (``n_members``, ``n_elites``, ``hidden_sizes``,
        ``activation_fn``, ``learning_rate``, ``batch_size``, ``holdout_ratio``, ``max_holdout``, ``max_epochs``,
        ``patience``, ``improvement_threshold``, ``weight_decay``, ``log_var_bound_coef``); defaults are MBPO's,
        except at most 2 warm-started epochs per refit (``max_epochs=None``: fit to early stopping, as the paper)
    :param reward_fn: ``(obs, action, next_obs) -> reward`` on batched tensors, actions in env units; None to use
        the known function of the env id, or the learned head if ``learn_reward``
    :param termination_fn: ``(obs, action, next_obs) -> bool``, as ``reward_fn``
    :param learn_reward: predict the reward with the ensemble (used when no reward function is given)
    :param learn_termination: predict termination with the ensemble (used when no termination function is given)
    :param env_id: versioned env id for the known reward/termination functions (default: the env's ``spec.id``)
    :param stats_window_size: as SAC
    :param tensorboard_log: as SAC
    :param policy_kwargs: as SAC, plus ``critic_dropout`` and ``critic_layer_norm`` of MBPO's ``MlpPolicy`` (a DroQ
        critic; off by default)
    :param verbose: as SAC
    :param seed: as SAC
    :param device: as SAC
    :param _init_setup_model: whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": MlpPolicy}

    def __init__(
        self,
        policy: str | type[SACPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        buffer_size: int = 1_000_000,
        learning_starts: int = 5000,
        batch_size: int = 256,
        tau: float = 0.005,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 1,
        gradient_steps: int = 20,
        action_noise: ActionNoise | None = None,
        ent_coef: str | float = "auto",
        target_update_interval: int = 1,
        target_entropy: str | float = "auto",
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        use_sde_at_warmup: bool = False,
        real_ratio: float = 0.05,
        model_train_freq: int = 250,
        rollouts_per_step: int = 400,
        min_rollout_horizon: int = 1,
        max_rollout_horizon: int = 1,
        horizon_schedule_start: int = 20_000,
        horizon_schedule_end: int = 100_000,
        model_retain_steps: int = 1000,
        dynamics_kwargs: dict[str, Any] | None = None,
        reward_fn: TransitionFn | None = None,
        termination_fn: TransitionFn | None = None,
        learn_reward: bool = False,
        learn_termination: bool = False,
        env_id: str | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        self._check_hyperparameters(locals())
        if env is not None:
            # SAC asserts on the action space; make the env here to refuse others with a clear message instead.
            env = maybe_make_env(env, verbose)
            check_env_spaces("MBPO", env, (spaces.Box,), "flat_box")
        # refuse bad model settings now, not at the first refit
        DynamicsSettings.from_kwargs("MBPO", dynamics_kwargs, _MODEL_DEFAULTS)
        self.real_ratio = real_ratio
        self.model_train_freq = model_train_freq
        self.rollouts_per_step = rollouts_per_step
        self.min_rollout_horizon = min_rollout_horizon
        self.max_rollout_horizon = max_rollout_horizon
        self.horizon_schedule_start = horizon_schedule_start
        self.horizon_schedule_end = horizon_schedule_end
        self.model_retain_steps = model_retain_steps
        self.dynamics_kwargs = dynamics_kwargs
        self.reward_fn = reward_fn
        self.termination_fn = termination_fn
        self.learn_reward = learn_reward
        self.learn_termination = learn_termination
        self.env_id = env_id
        # Counters kept across save/load and learn(reset_num_timesteps=False).
        self._init_refit_counters()
        self.sac_train_time = 0.0
        self.model_rollout_time = 0.0
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            batch_size=batch_size,
            tau=tau,
            gamma=gamma,
            train_freq=train_freq,
            gradient_steps=gradient_steps,
            action_noise=action_noise,
            replay_buffer_class=MixedReplayBuffer,
            replay_buffer_kwargs={"real_ratio": real_ratio, "model_buffer_size": 1},
            ent_coef=ent_coef,
            target_update_interval=target_update_interval,
            target_entropy=target_entropy,
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            use_sde_at_warmup=use_sde_at_warmup,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=False,
        )
        if self.env_id is None:
            self.env_id = vec_env_id(self.env)
        if _init_setup_model:
            self._setup_model()

    @staticmethod
    def _check_hyperparameters(args: dict[str, Any]) -> None:
        """Refuse inconsistent MBPO settings (and SAC's numeric ones) at construction, saying what to change."""
        check_common_arguments(args)
        check_sac_temperature(args["ent_coef"], args["target_entropy"])
        check_env_id(args["env_id"])
        for name in ("buffer_size", "batch_size", "model_train_freq", "rollouts_per_step", "model_retain_steps"):
            check_positive_int(name, args[name])
        check_in_range("real_ratio", args["real_ratio"], 0.0, 1.0)  # the fraction of real data in SAC minibatches
        low, high = args["min_rollout_horizon"], args["max_rollout_horizon"]
        check_positive_int("min_rollout_horizon", low)
        check_positive_int("max_rollout_horizon", high)
        if high < low:
            raise ValueError(
                "The rollout horizon must satisfy 1 <= min_rollout_horizon <= max_rollout_horizon, got "
                f"min_rollout_horizon={low}, max_rollout_horizon={high}"
            )
        start, end = args["horizon_schedule_start"], args["horizon_schedule_end"]
        check_int_at_least("horizon_schedule_start", start, 0, "an env step")
        check_int_at_least("horizon_schedule_end", end, 0, "an env step")
        if end < start:
            raise ValueError(f"horizon_schedule_end={end} is before horizon_schedule_start={start}")

    def _setup_model(self) -> None:
        super()._setup_model()
        assert isinstance(self.action_space, spaces.Box) and isinstance(self.observation_space, spaces.Box)
        # Here rather than in __init__ so that load() (which sets env_id and the functions first) checks and resolves
        # them too.
        check_model_based_env(
            "MBPO",
            self.env,
            self.env_id,
            self.observation_space,
            self.action_space,
            self.reward_fn,
            self.termination_fn,
            device=self.device,
        )
        functions = resolve_transition_functions(
            "MBPO", self.env_id, self.reward_fn, self.termination_fn, self.learn_reward, self.learn_termination
        )
        self.dynamics = DynamicsComponent(
            self.observation_space,
            self.action_space,
            DynamicsSettings.from_kwargs("MBPO", self.dynamics_kwargs, _MODEL_DEFAULTS),
            functions,
            learn_reward=self.learn_reward,
            learn_termination=self.learn_termination,
            device=self.device,
        )

    @property
    def mixed_buffer(self) -> MixedReplayBuffer:
        assert isinstance(self.replay_buffer, MixedReplayBuffer)
        return self.replay_buffer

    def rollout_horizon(self) -> int:
        """The model rollout horizon at the current env step."""
        return linear_rollout_horizon(
            self.num_timesteps,
            self.horizon_schedule_start,
            self.horizon_schedule_end,
            self.min_rollout_horizon,
            self.max_rollout_horizon,
        )

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        if self._refit_dynamics_if_due():  # Algorithm 2 line 5: refit on every real transition
            self._imagine()
        start = time.perf_counter()
        super().train(gradient_steps, batch_size)
        self.sac_train_time += time.perf_counter() - start
        self.logger.record("time/sac_train_s", self.sac_train_time)
        self.logger.record("time/model_fit_s", self.model_fit_time)
        self.logger.record("time/model_rollout_s", self.model_rollout_time)

    @th.no_grad()
    def _imagine(self) -> None:
        """Algorithm 2 lines 7-9: branch short rollouts of the current policy in the model from real states."""
        assert self.dynamics is not None
        start = time.perf_counter()
        horizon = self.rollout_horizon()
        start_obs = sample_observations(self.mixed_buffer, self.rollouts_per_step * self.model_train_freq, self.device)
        self.policy.set_training_mode(False)
        imagined = self.dynamics.imagine(lambda obs: self.actor(obs, deterministic=False), start_obs, horizon).flat_valid()
        capacity = self.rollouts_per_step * self.model_retain_steps * horizon
        buffer = self.mixed_buffer.model_buffer
        if buffer.capacity != capacity:
            buffer = self.mixed_buffer.model_buffer = buffer.resized(capacity)
        buffer.extend(imagined)
        self.model_rollout_time += time.perf_counter() - start
        self.logger.record("model/rollout_horizon", horizon)
        self.logger.record("model/imagined_buffer_size", len(buffer))
        self.logger.record("model/imagined_reward", float(imagined.rewards.mean()) if len(imagined) else float("nan"))

    def learn(
        self: SelfMBPO,
        total_timesteps: int = 100_000,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "MBPO",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfMBPO:
        return super().learn(total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps, progress_bar)


__all__ = ["MBPO", "linear_rollout_horizon"]
