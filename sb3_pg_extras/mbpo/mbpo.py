from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import SAC
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from stable_baselines3.sac.policies import SACPolicy

from sb3_pg_extras.common.buffers import MixedReplayBuffer
from sb3_pg_extras.common.dynamics import DynamicsModel, Transitions, fit_dynamics, imagine_rollout
from sb3_pg_extras.common.validation import check_action_space, check_positive_int
from sb3_pg_extras.envs import get_env_functions

SelfMBPO = TypeVar("SelfMBPO", bound="MBPO")
TransitionFn = Callable[[th.Tensor, th.Tensor, th.Tensor], th.Tensor]


def linear_rollout_horizon(step: int, start: int, end: int, min_horizon: int, max_horizon: int) -> int:
    """MBPO's rollout-length schedule: ``min_horizon`` until env step ``start``, then linear in the step up to
    ``max_horizon`` at ``end`` (rounded down), constant afterwards (Janner et al. 2019, appendix C)."""
    if step <= start or end <= start:
        return min_horizon if step <= start else max_horizon
    fraction = min((step - start) / (end - start), 1.0)
    return int(min_horizon + fraction * (max_horizon - min_horizon))


def _env_id(env: VecEnv | None) -> str | None:
    if env is None:
        return None
    spec = env.get_attr("spec")[0]
    return None if spec is None else spec.id


class MBPO(SAC):
    """
    Model-Based Policy Optimization: SAC trained on a mixture of real transitions and short branched rollouts of a
    learned dynamics ensemble.

    Paper: M. Janner, J. Fu, M. Zhang, S. Levine, "When to Trust Your Model: Model-Based Policy Optimization",
    NeurIPS 2019, https://arxiv.org/abs/1906.08253
    Reference: ../shared/reference 004 §3.5, pseudocode "Model-based Policy Optimization (SAC as Off-Policy Learner)".

    SAC's own ``train()`` runs unchanged; MBPO composes at the buffer boundary. Every ``model_train_freq`` env steps
    (checked when SAC trains, i.e. after ``learning_starts``) it refits the ensemble on all real data (step 2 of the
    pseudocode: :meth:`_fit_dynamics`) and branches ``rollouts_per_step * model_train_freq`` rollouts of the current
    horizon from real states into the model buffer (step 3: :meth:`_imagine`); SAC minibatches then draw a
    ``real_ratio`` fraction of real transitions and the rest from the model buffer (step 4).

    Rewards and terminations of imagined steps come from the known functions of ``sb3_pg_extras.envs`` for the
    env's versioned id, from ``reward_fn`` / ``termination_fn`` when given, or from learned heads of the ensemble
    (``learn_reward`` / ``learn_termination``). Known functions take actions in env units; the ensemble works on
    SB3's [-1, 1] scaled actions, which are unscaled before the call.

    Saving: the ensemble (weights, normalisers, elites) and its optimizer are saved with the SAC parts. The model
    buffer lives inside the replay buffer, which SB3 saves only with ``save_replay_buffer``; after a plain ``load``
    it is empty and refilled at the next model update (SAC trains on real data until then).

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
    :param n_ensemble: number of ensemble members
    :param n_elites: members used for rollouts (the lowest holdout error)
    :param dynamics_hidden_sizes: hidden layers of every member
    :param model_learning_rate: Adam learning rate of the ensemble
    :param model_batch_size: ensemble minibatch size (per member)
    :param model_holdout_ratio: fraction of real data held out for early stopping and elite selection
    :param model_max_epochs: optional cap on the epochs of one refit (None: until early stopping)
    :param model_patience: epochs without holdout improvement before a refit stops
    :param model_weight_decay: L2 coefficient(s) of the ensemble layers (None: MBPO's increasing decays)
    :param reward_fn: ``(obs, action, next_obs) -> reward`` on batched tensors, actions in env units; None to use
        the known function of the env id, or the learned head if ``learn_reward``
    :param termination_fn: ``(obs, action, next_obs) -> bool``, as ``reward_fn``
    :param learn_reward: predict the reward with the ensemble (used when no reward function is given)
    :param learn_termination: predict termination with the ensemble (used when no termination function is given)
    :param env_id: versioned env id for the known reward/termination functions (default: the env's ``spec.id``)
    :param stats_window_size: as SAC
    :param tensorboard_log: as SAC
    :param policy_kwargs: as SAC
    :param verbose: as SAC
    :param seed: as SAC
    :param device: as SAC
    :param _init_setup_model: whether or not to build the network at the creation of the instance
    """

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
        n_ensemble: int = 7,
        n_elites: int = 5,
        dynamics_hidden_sizes: tuple[int, ...] | list[int] = (200, 200, 200, 200),
        model_learning_rate: float = 1e-3,
        model_batch_size: int = 256,
        model_holdout_ratio: float = 0.2,
        model_max_epochs: int | None = None,
        model_patience: int = 5,
        model_weight_decay: float | list[float] | None = None,
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
        if env is not None:
            # SAC asserts on the action space; make the env here to refuse others with a clear message instead.
            env = maybe_make_env(env, verbose)
            check_action_space("MBPO", env.action_space, (spaces.Box,))
        if not 0.0 <= real_ratio <= 1.0:
            raise ValueError(f"`real_ratio` (fraction of real data in SAC minibatches) must be in [0, 1], got {real_ratio}")
        for name, value in (
            ("model_train_freq", model_train_freq),
            ("rollouts_per_step", rollouts_per_step),
            ("model_retain_steps", model_retain_steps),
            ("n_ensemble", n_ensemble),
            ("n_elites", n_elites),
            ("model_batch_size", model_batch_size),
            ("model_patience", model_patience),
        ):
            check_positive_int(name, value)
        if min_rollout_horizon < 1 or max_rollout_horizon < min_rollout_horizon:
            raise ValueError(
                "The rollout horizon must satisfy 1 <= min_rollout_horizon <= max_rollout_horizon, got "
                f"min_rollout_horizon={min_rollout_horizon}, max_rollout_horizon={max_rollout_horizon}"
            )
        if horizon_schedule_end < horizon_schedule_start:
            raise ValueError(
                f"horizon_schedule_end={horizon_schedule_end} is before horizon_schedule_start={horizon_schedule_start}"
            )
        if n_elites > n_ensemble:
            raise ValueError(
                f"n_elites={n_elites} is larger than the ensemble (n_ensemble={n_ensemble}): lower n_elites or add members"
            )
        if not 0.0 <= model_holdout_ratio < 1.0:
            raise ValueError(f"`model_holdout_ratio` must be in [0, 1), got {model_holdout_ratio}")
        self.real_ratio = real_ratio
        self.model_train_freq = model_train_freq
        self.rollouts_per_step = rollouts_per_step
        self.min_rollout_horizon = min_rollout_horizon
        self.max_rollout_horizon = max_rollout_horizon
        self.horizon_schedule_start = horizon_schedule_start
        self.horizon_schedule_end = horizon_schedule_end
        self.model_retain_steps = model_retain_steps
        self.n_ensemble = n_ensemble
        self.n_elites = n_elites
        self.dynamics_hidden_sizes = list(dynamics_hidden_sizes)
        self.model_learning_rate = model_learning_rate
        self.model_batch_size = model_batch_size
        self.model_holdout_ratio = model_holdout_ratio
        self.model_max_epochs = model_max_epochs
        self.model_patience = model_patience
        self.model_weight_decay = model_weight_decay
        self.reward_fn = reward_fn
        self.termination_fn = termination_fn
        self.learn_reward = learn_reward
        self.learn_termination = learn_termination
        self.env_id = env_id
        # Counters kept across save/load and learn(reset_num_timesteps=False).
        self.last_model_update = -1
        self.sac_train_time = 0.0
        self.model_fit_time = 0.0
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
        # Without an env (``load(path)``), SB3 sets the spaces only after __init__: they are checked when given.
        observation_space = getattr(self, "observation_space", None)
        if observation_space is not None and (not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1):
            raise ValueError(
                f"MBPO models flat Box observations, got {self.observation_space}: flatten the observations "
                "(e.g. gymnasium.wrappers.FlattenObservation)"
            )
        if isinstance(self.env, VecNormalize) or self._vec_normalize_env is not None:
            raise ValueError(
                "MBPO cannot train on a VecNormalize env: the model buffer and the reward/termination functions work "
                "on raw observations and rewards. Remove the normalisation (normalize: false in the zoo)."
            )
        if self.env_id is None:
            self.env_id = _env_id(self.env)
        if _init_setup_model:
            self._setup_model()

    def _resolve_transition_functions(self) -> None:
        """Pick the reward and termination of imagined steps: given function, known function of the env id, learned
        head; refuse (naming the missing piece) when there is none."""
        known = get_env_functions(self.env_id) if self.env_id is not None else None
        self._reward_source = self.reward_fn or (known.reward if known is not None else None)
        self._termination_source = self.termination_fn or (known.termination if known is not None else None)
        for piece, source, learned, arg in (
            ("reward", self._reward_source, self.learn_reward, "reward_fn"),
            ("termination", self._termination_source, self.learn_termination, "termination_fn"),
        ):
            if source is None and not learned:
                raise ValueError(
                    f"MBPO has no {piece} function for the env {self.env_id!r} (no entry in sb3_pg_extras.envs): pass "
                    f"`{arg}=` (a batched torch function of (obs, action, next_obs)) or set `learn_{piece}=True` to "
                    f"learn it with the dynamics ensemble."
                )

    def _setup_model(self) -> None:
        super()._setup_model()
        assert isinstance(self.action_space, spaces.Box) and isinstance(self.observation_space, spaces.Box)
        self.dynamics = DynamicsModel(
            self.observation_space.shape[0],
            self.action_space.shape[0],
            n_members=self.n_ensemble,
            n_elites=self.n_elites,
            hidden_sizes=self.dynamics_hidden_sizes,
            learn_reward=self.learn_reward,
            learn_termination=self.learn_termination,
        ).to(self.device)
        self.dynamics_optimizer = th.optim.Adam(self.dynamics.parameters(), lr=self.model_learning_rate)
        self._action_low = th.as_tensor(self.action_space.low, device=self.device, dtype=th.float32)
        self._action_high = th.as_tensor(self.action_space.high, device=self.device, dtype=th.float32)
        # Here rather than in __init__ so that load() (which sets env_id and the functions first) resolves them too.
        self._resolve_transition_functions()

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
        if self.last_model_update < 0 or self.num_timesteps - self.last_model_update >= self.model_train_freq:
            self._fit_dynamics()
            self._imagine()
            self.last_model_update = self.num_timesteps
        start = time.perf_counter()
        super().train(gradient_steps, batch_size)
        self.sac_train_time += time.perf_counter() - start
        self.logger.record("time/sac_train_s", self.sac_train_time)
        self.logger.record("time/model_fit_s", self.model_fit_time)
        self.logger.record("time/model_rollout_s", self.model_rollout_time)

    def _fit_dynamics(self) -> None:
        """Pseudocode step 2: refit the ensemble (warm-started) on every real transition."""
        start = time.perf_counter()
        # float32 whatever the observation dtype (MuJoCo observations are float64 in SB3's buffer)
        obs, actions, rewards, next_obs, terminated = (
            th.as_tensor(a, device=self.device, dtype=th.float32) for a in self.mixed_buffer.real_transitions()
        )
        data = Transitions(obs, actions, next_obs, rewards, terminated)
        self.dynamics.train()
        result = fit_dynamics(
            self.dynamics,
            self.dynamics_optimizer,
            data,
            batch_size=self.model_batch_size,
            holdout_ratio=self.model_holdout_ratio,
            max_epochs=self.model_max_epochs,
            max_epochs_since_update=self.model_patience,
            weight_decay=self.model_weight_decay,
            rng=np.random.default_rng(int(np.random.randint(2**31))),  # noqa: NPY002 (seeded by SB3's set_random_seed)
        )
        self.model_fit_time += time.perf_counter() - start
        self.logger.record("model/holdout_mse", result.elite_holdout_mse)
        self.logger.record("model/train_loss", result.train_loss)
        self.logger.record("model/epochs", result.epochs)
        self.logger.record("model/members_improved", result.members_improved)
        self.logger.record("model/elites", " ".join(str(e) for e in result.elites), exclude=("tensorboard",))

    def _unscale(self, actions: th.Tensor) -> th.Tensor:
        return self._action_low + 0.5 * (actions + 1.0) * (self._action_high - self._action_low)

    def _env_fn(self, fn: TransitionFn | None) -> TransitionFn | None:
        """Wrap a function of env-unit actions so it takes the [-1, 1] actions of the model rollouts."""
        if fn is None:
            return None
        return lambda obs, actions, next_obs: fn(obs, self._unscale(actions), next_obs)

    @th.no_grad()
    def _imagine(self) -> None:
        """Pseudocode step 3: branch short rollouts of the current policy in the model from real states."""
        start = time.perf_counter()
        horizon = self.rollout_horizon()
        n_rollouts = self.rollouts_per_step * self.model_train_freq
        start_obs = th.as_tensor(self.mixed_buffer.recent_observations(n_rollouts), device=self.device, dtype=th.float32)
        self.dynamics.eval()
        self.policy.set_training_mode(False)
        rollout = imagine_rollout(
            self.dynamics,
            lambda obs: self.actor(obs, deterministic=False),
            start_obs,
            horizon,
            self._env_fn(self._reward_source),
            self._env_fn(self._termination_source),
            member_mode="random",
        )
        obs, actions, rewards, next_obs, terminated = (t.cpu().numpy() for t in rollout.flat_valid())
        capacity = self.rollouts_per_step * self.model_retain_steps * horizon
        buffer = self.mixed_buffer.model_buffer
        if buffer.capacity != capacity:
            buffer = self.mixed_buffer.model_buffer = buffer.resized(capacity)
        buffer.extend(obs, actions, rewards, next_obs, terminated.astype(np.float32))
        self.model_rollout_time += time.perf_counter() - start
        self.logger.record("model/rollout_horizon", horizon)
        self.logger.record("model/imagined_buffer_size", len(buffer))
        self.logger.record("model/imagined_reward", float(rewards.mean()) if len(rewards) else float("nan"))

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

    def _excluded_save_params(self) -> list[str]:
        # The resolved functions are rebuilt from env_id / reward_fn / termination_fn at load.
        return [*super()._excluded_save_params(), "dynamics", "_reward_source", "_termination_source",
                "_action_low", "_action_high"]  # fmt: skip

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts, variables = super()._get_torch_save_params()
        return [*state_dicts, "dynamics", "dynamics_optimizer"], variables


__all__ = ["MBPO", "linear_rollout_horizon"]
