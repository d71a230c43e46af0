from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import SAC
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, ReplayBufferSamples, Schedule
from stable_baselines3.common.utils import polyak_update
from stable_baselines3.sac.policies import SACPolicy
from torch.nn import functional as F

from sb3_pg_extras.common.buffers import BehaviorReplayBuffer, BehaviorReplayBufferSamples
from sb3_pg_extras.common.dynamics import (
    DynamicsComponent,
    DynamicsSettings,
    ScheduledModelRefits,
    Transitions,
    check_env_id,
    check_model_based_env,
    resolve_transition_functions,
    vec_env_id,
)
from sb3_pg_extras.common.off_policy import BehaviorLogProbRecorder, check_no_action_noise, clipped_importance_weights
from sb3_pg_extras.common.policies import stored_actions_log_prob
from sb3_pg_extras.common.saving import CheckedFiles, CheckedReplayBuffer
from sb3_pg_extras.common.utils import float32_samples
from sb3_pg_extras.common.validation import (
    check_common_arguments,
    check_env_spaces,
    check_positive_int,
    check_sac_temperature,
    is_integer,
    is_number,
)
from sb3_pg_extras.common.value_gradients import (
    infer_squashed_gaussian_noise,
    soft_value_expansion,
    squashed_gaussian_action,
)
from sb3_pg_extras.envs import TransitionFn

SelfSVG = TypeVar("SelfSVG", bound="SVG")

# SVG's own settings beside SAC's (the model-free SVG(0) does not use the model ones). At most 2 warm-started epochs
# per fit, the first one included (``initial_max_epochs=2``): a fit to early stopping costs more with every
# transition stored, and SVG refits every ``model_train_freq`` steps. MBPO's first fit runs to early stopping.
_MODEL_DEFAULTS: dict[str, Any] = dict(
    n_members=5, n_elites=5, hidden_sizes=(200, 200, 200), max_epochs=2, initial_max_epochs=2
)

# Settings of the model of SVG(n >= 1), refused by the model-free SVG(0) when given.
_MODEL_SETTINGS = ("dynamics_kwargs", "reward_fn", "termination_fn", "learn_reward", "learn_termination", "env_id")


@dataclass
class PathNoise:
    """What fixes the randomness of the first step of SVG's model paths: the ensemble member of every path, and the
    policy noise ``eps_0`` and model noise ``xi_0`` of the first step (None: drawn fresh)."""

    members: th.Tensor  # (batch,)
    first_action_noise: th.Tensor | None = None  # (batch, action_dim)
    first_model_noise: th.Tensor | None = None  # (batch, n_gaussian)
    # truncated importance weights min(pi(a_0|s_0) / b(a_0|s_0), is_clip) of the replayed first actions (batch,)
    weights: th.Tensor | None = None


def parse_horizon(horizon: Any) -> int | float:
    """The SVG horizon n: an integer >= 0, or ``"inf"`` / ``math.inf`` for SVG(inf); anything else is refused."""
    if isinstance(horizon, str) and horizon.strip().lower() == "inf":
        return math.inf
    if isinstance(horizon, float) and math.isinf(horizon) and horizon > 0:
        return math.inf
    if not is_integer(horizon) or horizon < 0:
        raise ValueError(
            f"`horizon` must be an integer >= 0 (SVG(0), SVG(1), ... SVG(n)) or 'inf' (SVG(inf)), got {horizon!r}"
        )
    return int(horizon)


class SVG(CheckedFiles, CheckedReplayBuffer, ScheduledModelRefits, BehaviorLogProbRecorder, SAC):
    """
    Stochastic Value Gradients: SVG(0), SVG(1), SVG(n) and SVG(inf) in one class, selected by ``horizon``.

    Paper: N. Heess, G. Wayne, D. Silver, T. Lillicrap, Y. Tassa, T. Erez, "Learning Continuous Control Policies by
    Stochastic Value Gradients", NeurIPS 2015, https://arxiv.org/abs/1510.09142

    The policy is SAC's squashed Gaussian, reparameterized as ``a = pi(s, eps) = tanh(mu(s) + sigma(s) eps)``; twin Q
    critics with Polyak targets are trained on real transitions exactly as in SAC; the temperature is fixed or
    learned as in SAC. The actor ascends, from replayed real states ``s_0``, the soft n-step value

    ``J(s_0) = sum_{h<n} gamma^h (r_h - alpha log pi(a_h|s_h)) + gamma^n (min_j Q_j(s_n, a_n) - alpha log pi(a_n|s_n))``

    along a path ``a_h = pi(s_h, eps_h)``, ``s_{h+1} = f(s_h, a_h, xi_h)`` of the learned, reparameterized dynamics
    ensemble, differentiated by autograd through policy, model and reward with the noise held fixed (eq. 13 of the
    paper for n = 1):

    - ``horizon=0``: model-free, the critic's action gradient (SAC's actor loss);
    - ``horizon=n >= 1``: n model steps, then the critic;
    - ``horizon="inf"``: no critic; ``inf_unroll_length`` model steps (the truncated return).

    A terminated branch adds no reward, entropy or bootstrap after its termination. Rewards come from ``reward_fn``,
    else the env's known differentiable function (``sb3_pg_extras.envs``), else a learned reward head
    (``learn_reward``); terminations likewise.

    Noise inference (``noise_inference=True``; section 4.2 of the paper): the first step of every path replays the
    real transition ``(s_0, a_0, s_1)``: ``eps_0`` is recovered from ``a_0`` under the current policy (through the
    tanh) and ``xi_0`` from ``s_1`` under the path's ensemble member, so the path starts on real data and the
    gradient is taken at the real action and next state; later steps draw fresh noise. Replayed actions come from
    older policies, so each path is weighted by the truncated importance weight ``min(pi(a_0|s_0) / b(a_0|s_0),
    is_clip)`` (the behavior log-probability is stored with every transition), as in the paper's SVG(1)-ER. With
    ``noise_inference=False`` the whole path is re-simulated from ``s_0`` with fresh noise and needs no weight.

    The ensemble is the shared :class:`~sb3_pg_extras.common.dynamics.DynamicsComponent` (``dynamics_kwargs``),
    refitted on every real transition every ``model_train_freq`` env steps; each path follows one elite member.

    Saving: SAC's parts plus the ensemble (weights, normalizers, elites) and its optimizer; counters continue.

    Defaults: SVG(1) with noise inference (the paper's SVG(1) estimator, section 4.2), rate 1e-3 and 1000 warm-up
    steps.

    :param policy: SAC policy ("MlpPolicy" or a ``SACPolicy`` subclass)
    :param env: the environment (flat Box observations when a model is used, bounded Box actions)
    :param learning_rate: learning rate of actor, critics and temperature
    :param buffer_size: replay buffer size
    :param learning_starts: env steps of uniform random actions before any training
    :param batch_size: minibatch size (start states of the actor's paths, and the critic's minibatch)
    :param tau: soft target update coefficient
    :param gamma: discount factor
    :param train_freq: update frequency (env steps), as in SB3
    :param gradient_steps: gradient steps per ``train_freq``
    :param action_noise: extra exploration noise (as SAC; usually None)
    :param ent_coef: entropy coefficient alpha ("auto" to learn it, "auto_0.1" to start it at 0.1, a float to fix it,
        0.0 for no entropy regularization)
    :param target_update_interval: target update interval (gradient steps)
    :param target_entropy: target entropy of the learned temperature ("auto": -dim(A))
    :param horizon: the n of SVG(n): 0 (model-free), an integer >= 1, or "inf" (no critic)
    :param inf_unroll_length: model steps of SVG(inf)'s paths (used only when ``horizon="inf"``)
    :param noise_inference: replay the first step of every path from its real transition by inferring its policy and
        model noise (True), or re-simulate the whole path from the real start state with fresh noise (False)
    :param is_clip: truncation of the importance weights of noise inference (``math.inf`` or ``"inf"``: untruncated)
    :param model_train_freq: env steps between two refits of the ensemble (horizon >= 1)
    :param dynamics_kwargs: settings of the ensemble and its fit
        (:class:`~sb3_pg_extras.common.dynamics.DynamicsSettings`); defaults: 5 members, all elites, 3 x 200 SiLU
        layers, at most 2 epochs per (warm-started) refit, the rest MBPO's
    :param reward_fn: ``(obs, action, next_obs) -> reward``, batched and differentiable torch, actions in env units;
        None to use the env's known function, or the learned head if ``learn_reward``
    :param termination_fn: ``(obs, action, next_obs) -> bool``, as ``reward_fn``
    :param learn_reward: learn a reward head with the ensemble (used when no reward function is given or known)
    :param learn_termination: learn a termination head (used when no termination function is given or known)
    :param env_id: versioned env id for the known reward / termination functions (default: the env's ``spec.id``)
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
        learning_rate: float | Schedule = 1e-3,
        buffer_size: int = 1_000_000,
        learning_starts: int = 1000,
        batch_size: int = 256,
        tau: float = 0.005,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 1,
        gradient_steps: int = 1,
        action_noise: ActionNoise | None = None,
        ent_coef: str | float = "auto",
        target_update_interval: int = 1,
        target_entropy: str | float = "auto",
        horizon: int | str = 1,
        inf_unroll_length: int = 20,
        noise_inference: bool = True,
        is_clip: float = 1.0,
        model_train_freq: int = 250,
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
        if isinstance(is_clip, str) and is_clip.strip().lower() == "inf":  # as a YAML file writes it (or .inf)
            is_clip = math.inf
        self._check_hyperparameters(locals())
        if env is not None:
            env = maybe_make_env(env, verbose)
            model_based = parse_horizon(horizon) >= 1  # the model works on vectors; SVG(0) takes any Box (CnnPolicy)
            hint = "or use horizon=0 (model-free: any Box observations)" if model_based else ""
            check_env_spaces("SVG", env, (spaces.Box,), "flat_box" if model_based else "box", hint)
        self.horizon = horizon
        self.inf_unroll_length = inf_unroll_length
        self.noise_inference = noise_inference
        self.is_clip = is_clip
        self.model_train_freq = model_train_freq
        self.dynamics_kwargs = dynamics_kwargs
        self.reward_fn = reward_fn
        self.termination_fn = termination_fn
        self.learn_reward = learn_reward
        self.learn_termination = learn_termination
        self.env_id = env_id
        # counters kept across save/load and learn(reset_num_timesteps=False)
        self._init_refit_counters()
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
            # records log b(a|s) of every stored action, for the importance weights of noise inference
            replay_buffer_class=BehaviorReplayBuffer,
            ent_coef=ent_coef,
            target_update_interval=target_update_interval,
            target_entropy=target_entropy,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=False,
        )
        if self.uses_model:
            if self.env_id is None:
                self.env_id = vec_env_id(self.env)
        if _init_setup_model:
            self._setup_model()

    @staticmethod
    def _check_hyperparameters(args: dict[str, Any]) -> None:
        """Refuse bad settings at construction, saying what to change."""
        check_common_arguments(args)
        check_sac_temperature(args["ent_coef"], args["target_entropy"])
        check_env_id(args["env_id"])
        horizon = parse_horizon(args["horizon"])
        if horizon == 0:  # SVG(0) is model-free: model settings would silently do nothing
            unused = [name for name in _MODEL_SETTINGS if args[name] not in (None, False)]
            if unused:
                raise ValueError(
                    f"SVG(0) (horizon=0) is model-free and does not use {', '.join(f'`{name}`' for name in unused)}: "
                    "drop them, or use horizon >= 1 to learn and unroll a model."
                )
        for name in ("buffer_size", "batch_size", "inf_unroll_length", "model_train_freq"):
            check_positive_int(name, args[name])
        is_clip = args["is_clip"]
        if not is_number(is_clip, allow_inf=True) or not is_clip > 0:
            raise ValueError(
                f"`is_clip` (truncation of the importance weights) must be a number > 0, or math.inf / 'inf' for none, "
                f"got {is_clip!r}"
            )
        if args["noise_inference"] and horizon >= 1:
            check_no_action_noise("SVG with noise_inference=True", args["action_noise"])
        if horizon >= 1:  # (the reward and termination functions are resolved, or refused, in _setup_model)
            DynamicsSettings.from_kwargs("SVG", args["dynamics_kwargs"], _MODEL_DEFAULTS)

    @property
    def uses_model(self) -> bool:
        """SVG(n >= 1) and SVG(inf) unroll the learned model; SVG(0) is model-free."""
        return parse_horizon(self.horizon) >= 1

    @property
    def uses_critic(self) -> bool:
        """Every SVG(n) with finite n bootstraps with the critic; SVG(inf) has none."""
        return not math.isinf(parse_horizon(self.horizon))

    @property
    def unroll_length(self) -> int:
        """Model steps of the actor's paths: n, or ``inf_unroll_length`` for SVG(inf)."""
        horizon = parse_horizon(self.horizon)
        return self.inf_unroll_length if math.isinf(horizon) else int(horizon)

    def _setup_model(self) -> None:
        super()._setup_model()
        self.dynamics: DynamicsComponent | None = None
        if self.uses_model:
            assert isinstance(self.action_space, spaces.Box) and isinstance(self.observation_space, spaces.Box)
            check_model_based_env(
                "SVG", self.env, self.env_id, self.observation_space, self.action_space, self.reward_fn,
                self.termination_fn, device=self.device, vec_normalize_remedy="or use horizon=0",
            )  # fmt: skip
            functions = resolve_transition_functions(
                "SVG", self.env_id, self.reward_fn, self.termination_fn, self.learn_reward, self.learn_termination
            )
            self.dynamics = DynamicsComponent(
                self.observation_space,
                self.action_space,
                DynamicsSettings.from_kwargs("SVG", self.dynamics_kwargs, _MODEL_DEFAULTS),
                functions,
                learn_reward=self.learn_reward,
                learn_termination=self.learn_termination,
                device=self.device,
            )

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        self._refit_dynamics_if_due()
        self.policy.set_training_mode(True)
        optimizers = [self.actor.optimizer, self.critic.optimizer]
        if self.ent_coef_optimizer is not None:
            optimizers.append(self.ent_coef_optimizer)
        self._update_learning_rate(optimizers)
        stats: dict[str, list[float]] = defaultdict(list)
        for gradient_step in range(gradient_steps):
            # float32 for the model and reward functions: MuJoCo observations are stored as float64
            data = float32_samples(self.replay_buffer.sample(batch_size, env=self._vec_normalize_env))  # type: ignore[union-attr]
            ent_coef = self._update_temperature(data.observations, stats)
            if self.uses_critic:
                self._update_critic(data, ent_coef, stats)
            self._update_actor(data, ent_coef, stats)
            if self.uses_critic and gradient_step % self.target_update_interval == 0:
                polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
                polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        for key, values in stats.items():
            self.logger.record(f"train/{key}", float(np.mean(values)))

    def _policy(self, obs: th.Tensor, noise: th.Tensor | None = None) -> tuple[th.Tensor, th.Tensor]:
        """``a = pi(s, eps)`` and ``log pi(a|s)`` with the given noise (fresh standard normal noise by default)."""
        mean, log_std, _ = self.actor.get_action_dist_params(obs)
        if noise is None:
            noise = th.randn_like(mean)
        return squashed_gaussian_action(mean, log_std, noise)

    def _min_q(self, obs: th.Tensor, actions: th.Tensor) -> th.Tensor:
        return th.min(th.cat(self.critic(obs, actions), dim=1), dim=1).values

    def _update_temperature(self, obs: th.Tensor, stats: dict[str, list[float]]) -> th.Tensor:
        """SAC's temperature step (when it is learned) on fresh actions at the replayed states; returns alpha."""
        if self.ent_coef_optimizer is None or self.log_ent_coef is None:
            stats["ent_coef"].append(float(self.ent_coef_tensor))
            return self.ent_coef_tensor
        with th.no_grad():
            _, log_prob = self._policy(obs)
        ent_coef = th.exp(self.log_ent_coef.detach())
        loss = -(self.log_ent_coef * (log_prob + float(self.target_entropy)).detach()).mean()
        self.ent_coef_optimizer.zero_grad()
        loss.backward()
        self.ent_coef_optimizer.step()
        stats["ent_coef"].append(float(ent_coef))
        stats["ent_coef_loss"].append(float(loss.detach()))
        return ent_coef

    def _update_critic(self, data: ReplayBufferSamples, ent_coef: th.Tensor, stats: dict[str, list[float]]) -> None:
        """SAC's soft Q step on real transitions: ``y = r + gamma (1 - d)(min_j Q'_j(s', a') - alpha log pi(a'|s'))``."""
        with th.no_grad():
            next_actions, next_log_prob = self.actor.action_log_prob(data.next_observations)
            next_q = th.cat(self.critic_target(data.next_observations, next_actions), dim=1).min(dim=1, keepdim=True).values
            next_q = next_q - ent_coef * next_log_prob.reshape(-1, 1)
            target = data.rewards + (1 - data.dones) * self.gamma * next_q
        loss = 0.5 * sum(F.mse_loss(q, target) for q in self.critic(data.observations, data.actions))
        assert isinstance(loss, th.Tensor)
        self.critic.optimizer.zero_grad()
        loss.backward()
        self.critic.optimizer.step()
        stats["critic_loss"].append(float(loss.detach()))

    def _update_actor(self, data: ReplayBufferSamples, ent_coef: th.Tensor, stats: dict[str, list[float]]) -> None:
        """One ascent step on the mean SVG(n) objective of the replayed start states."""
        objective = self.actor_objective(data, ent_coef)
        loss = -objective.mean()
        self.actor.optimizer.zero_grad()
        # only the actor's gradient is needed: the critics and the model are held fixed here
        loss.backward(inputs=list(self.actor.parameters()))
        self.actor.optimizer.step()
        stats["actor_loss"].append(float(loss.detach()))

    def actor_objective(
        self, data: ReplayBufferSamples, ent_coef: th.Tensor | float, noise: PathNoise | None = None
    ) -> th.Tensor:
        """The soft n-step value ``J(s_0)`` of every replayed start state (batch,), differentiable w.r.t. the policy:
        its gradient is the SVG(n) policy gradient. ``data`` holds the real transitions ``(s_0, a_0, r_0, s_1)``;
        ``noise`` the members and first-step noise of the paths (default: :meth:`path_noise` of ``data``)."""
        obs = data.observations
        if not self.uses_model:  # SVG(0): the critic's action gradient at fresh actions
            actions, log_prob = self._policy(obs)
            return self._min_q(obs, actions) - ent_coef * log_prob
        assert self.dynamics is not None
        noise = self.path_noise(data) if noise is None else noise
        step = iter(range(self.unroll_length))

        def act(step_obs: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
            return self._policy(step_obs, noise.first_action_noise if next(step) == 0 else None)

        first_model_noise: list[th.Tensor | None] | None = (
            None if noise.first_model_noise is None else [noise.first_model_noise]
        )
        rollout = self.dynamics.imagine(act, obs, self.unroll_length, members=noise.members, model_noise=first_model_noise)
        bootstrap = alive = None
        if self.uses_critic:
            last_obs = rollout.next_observations[-1]
            last_actions, last_log_prob = self._policy(last_obs)
            bootstrap, alive = self._min_q(last_obs, last_actions) - ent_coef * last_log_prob, rollout.alive_after
        assert rollout.log_probs is not None
        value = soft_value_expansion(rollout.rewards, rollout.log_probs, rollout.valid, self.gamma, ent_coef, bootstrap, alive)
        return value if noise.weights is None else noise.weights * value

    def path_noise(self, data: ReplayBufferSamples) -> PathNoise:
        """One elite member per replayed state for its whole path, and the first step's noise: inferred from the real
        transition under the current policy and that member (noise inference), or None (fresh draws: re-simulation).
        The noise is a constant of the objective: its gradient is taken with the noise held fixed."""
        assert self.dynamics is not None
        obs = data.observations
        members = self.dynamics.model.sample_members(len(obs), "particle")
        if not self.noise_inference:
            return PathNoise(members)
        if not isinstance(data, BehaviorReplayBufferSamples):
            raise TypeError("noise inference needs the behavior log-probs of the replayed actions (BehaviorReplayBuffer)")
        with th.no_grad():
            mean, log_std, _ = self.actor.get_action_dist_params(obs)
            log_probs = stored_actions_log_prob(self.actor, obs, data.actions)
        _, weights = clipped_importance_weights(log_probs, data.behavior_log_probs, self.is_clip)
        real = Transitions(obs, data.actions, data.next_observations, data.rewards.flatten(), data.dones.flatten())
        return PathNoise(
            members,
            infer_squashed_gaussian_noise(mean, log_std, data.actions),
            self.dynamics.model.infer_noise(real, members),
            weights,
        )

    def learn(
        self: SelfSVG,
        total_timesteps: int = 20_000,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "SVG",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfSVG:
        """Train; the default budget is 20k env steps (enough for Pendulum-v1 with every default)."""
        return super().learn(total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps, progress_bar)


__all__ = ["SVG", "PathNoise", "parse_horizon"]
