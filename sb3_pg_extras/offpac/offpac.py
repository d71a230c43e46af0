from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, PyTorchObs, Schedule

from sb3_pg_extras.common.buffers import BehaviorReplayBuffer, BehaviorReplayBufferSamples, DictBehaviorReplayBuffer
from sb3_pg_extras.common.critics import entropy, min_q, soft_state_value
from sb3_pg_extras.common.off_policy import (
    ActorCriticOffPolicyAlgorithm,
    BehaviorLogProbRecorder,
    check_behavior_buffer_class,
    check_no_action_noise,
    clipped_importance_weights,
    expected_sarsa_target,
    off_policy_policy_gradient_loss,
    optimizer_step,
)
from sb3_pg_extras.common.policies import stored_actions_log_prob
from sb3_pg_extras.common.saving import CheckedFiles, CheckedReplayBuffer
from sb3_pg_extras.common.utils import repeat_observations
from sb3_pg_extras.common.validation import (
    check_action_space,
    check_common_arguments,
    check_env_spaces,
    check_n_critics,
    check_positive_int,
    coefficient_schedule,
    is_number,
    scheduled_coefficient,
)
from sb3_pg_extras.offpac.policies import CnnPolicy, MlpPolicy, MultiInputPolicy, policy_for_action_space

SelfOffPAC = TypeVar("SelfOffPAC", bound="OffPAC")


class OffPAC(CheckedFiles, CheckedReplayBuffer, BehaviorLogProbRecorder, ActorCriticOffPolicyAlgorithm):
    """
    Experience-replay off-policy actor-critic with clipped importance sampling (OffPAC).

    Paper: T. Degris, M. White, R. S. Sutton, "Off-Policy Actor-Critic", ICML 2012, https://arxiv.org/abs/1205.4839
    (the off-policy policy gradient), here in an experience-replay form: an expected-SARSA Q critic with target
    networks instead of Off-PAC's online GTD(lambda) critic, and importance ratios truncated as in Z. Wang et al.,
    "Sample Efficient Actor-Critic with Experience Replay" (ACER), ICLR 2017, https://arxiv.org/abs/1611.01224, §3.2
    (without ACER's bias-correction term).

    The behavior policy is the policy itself at collection time (uniform during warm-up); the replay buffer stores
    log b(a|s) of every stored action. Per gradient step, on a replayed batch:

    1. critic: regress each Q_j(s, a) on the expected-SARSA target ``y = r + gamma (1 - d) E_{a'~pi(.|s')}
       min_j Q_targ_j(s', a')`` (exact sum for Discrete, mean of ``n_action_samples`` samples for Box);
    2. actor: ``A = min_j Q_j(s, a) - V(s)`` with ``V(s) = E_{a~pi} min_j Q_j(s, a)`` (optionally standardized in
       the batch), ``rho = pi(a|s) / b(a|s)``, ``rho_bar = min(rho, is_clip)``; ascend ``mean rho_bar grad log pi(a|s)
       A`` (+ ``ent_coef`` times the policy entropy);
    3. Polyak-average the target critics.

    Defaults: the settings of the tuned Pendulum-v1 zoo entry ([64, 64] networks, learning rate 1e-3, 1000 uniform
    warm-up steps, tau 0.01, a replay buffer far smaller than SAC's: 50k transitions, so the replayed actions stay
    close to the current policy; the CartPole-v1 entry shares the networks, warm-up and tau), and a small entropy bonus
    (0.01) on raw advantages, chosen to work with no hyperparameter file. The bonus on raw advantages keeps the policy
    from collapsing: once the policy is deterministic, the replayed actions have zero advantage and nothing moves it
    back, and standardizing near-zero advantages turns the critic's noise into unit-size steps toward such a policy.

    :param policy: The policy model to use ("MlpPolicy", "CnnPolicy", "MultiInputPolicy": a categorical actor for
        Discrete actions, SB3's squashed-Gaussian SAC policy for Box actions)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: learning rate for the actor and the critics (constant or schedule)
    :param buffer_size: size of the replay buffer (small by default: older actions get small importance weights)
    :param learning_starts: how many steps of the model to collect transitions for before learning starts (these
        actions are uniform, and stored with the uniform log-probability)
    :param batch_size: Minibatch size for each gradient update
    :param tau: the soft update coefficient of the target critics ("Polyak update", between 0 and 1)
    :param gamma: the discount factor
    :param train_freq: Update the model every ``train_freq`` steps (int or tuple like ``(5, "step")``)
    :param gradient_steps: How many gradient steps to do after each rollout (-1: as many as env steps)
    :param action_noise: must be None: the policy explores by sampling, and noise would make the stored behavior
        probabilities wrong
    :param replay_buffer_class: Replay buffer class (None: ``BehaviorReplayBuffer``, or ``DictBehaviorReplayBuffer``
        for dict observations); must store behavior log-probs
    :param replay_buffer_kwargs: Keyword arguments to pass to the replay buffer on creation
    :param optimize_memory_usage: Enable a memory efficient variant of the replay buffer
    :param is_clip: truncation c >= 1 of the importance ratios, ``rho_bar = min(rho, c)``. Small c: lower variance,
        more bias (updates under-weight actions the current policy prefers to the behavior policy); ``inf``: the
        unbiased, high-variance estimator
    :param n_action_samples: actions sampled from pi per state to estimate E_{a~pi} Q(s, a) for Box action spaces
        (Discrete spaces use the exact sum)
    :param normalize_advantage: standardize the advantages within each batch (off by default: standardizing turns the
        near-zero advantages of a converged critic into unit-size steps)
    :param ent_coef: weight of the entropy bonus in the actor loss (0: none; 0.01 by default): a number,
        ``"lin_<x>"`` (linear decay from x to 0 over training) or a schedule of the remaining progress (a value
        that is negative or not finite stops training with an error)
    :param target_update_interval: update the target critics every ``target_update_interval`` gradient steps
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation (``net_arch``: [64, 64] by
        default, for the actor and the critics; ``n_critics``: 1 by default, 2 for twin critics with the clipped
        double-Q minimum; ``share_features_extractor``, ...)
    :param verbose: Verbosity level: 0 for no output, 1 for info messages, 2 for debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": MlpPolicy,
        "CnnPolicy": CnnPolicy,
        "MultiInputPolicy": MultiInputPolicy,
    }

    def __init__(
        self,
        policy: str | type[BasePolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-3,
        buffer_size: int = 50_000,
        learning_starts: int = 1000,
        batch_size: int = 256,
        tau: float = 0.01,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 1,
        gradient_steps: int = 1,
        action_noise: ActionNoise | None = None,
        replay_buffer_class: type[ReplayBuffer] | None = None,
        replay_buffer_kwargs: dict[str, Any] | None = None,
        optimize_memory_usage: bool = False,
        is_clip: float = 1.0,
        n_action_samples: int = 8,
        normalize_advantage: bool = False,
        ent_coef: float | str | Schedule = 0.01,
        target_update_interval: int = 1,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        check_common_arguments(locals())
        check_positive_int("n_action_samples", n_action_samples)
        coefficient_schedule("ent_coef", ent_coef)  # refuses a bad value now; the schedule is built in _setup_model
        if not is_number(is_clip, allow_inf=True) or is_clip < 1.0:
            raise ValueError(
                f"`is_clip` (the truncation c of the importance ratios) must be >= 1, got {is_clip!r}: "
                "use 1 for the lowest variance or float('inf') for no truncation."
            )
        check_no_action_noise("OffPAC", action_noise)
        if env is not None:  # before SB3, which only asserts that Box actions are bounded
            env = maybe_make_env(env, verbose)
            check_env_spaces("OffPAC", env, (spaces.Discrete, spaces.Box))
        check_behavior_buffer_class("OffPAC", replay_buffer_class)
        policy_kwargs = {"n_critics": 1, "net_arch": [64, 64], **(policy_kwargs or {})}
        check_n_critics(policy_kwargs, default=1)
        super().__init__(
            policy,
            env,
            learning_rate,
            buffer_size,
            learning_starts,
            batch_size,
            tau,
            gamma,
            train_freq,
            gradient_steps,
            action_noise=None,
            replay_buffer_class=replay_buffer_class,
            replay_buffer_kwargs=replay_buffer_kwargs,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            seed=seed,
            use_sde=False,
            sde_support=False,
            optimize_memory_usage=optimize_memory_usage,
            support_multi_env=True,
        )
        action_space = getattr(self, "action_space", None)
        check_action_space("OffPAC", action_space, (spaces.Discrete, spaces.Box))
        if action_space is not None:
            policy_for_action_space(self.policy_class, action_space)
        self.is_clip = float(is_clip)
        self.n_action_samples = n_action_samples
        self.normalize_advantage = normalize_advantage
        self.ent_coef = ent_coef
        self.target_update_interval = target_update_interval
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        self.policy_class = policy_for_action_space(self.policy_class, self.action_space)
        if self.replay_buffer_class is None:
            dict_obs = isinstance(self.observation_space, spaces.Dict)
            self.replay_buffer_class = DictBehaviorReplayBuffer if dict_obs else BehaviorReplayBuffer
        super()._setup_model()
        self._discrete = isinstance(self.action_space, spaces.Discrete)
        self.ent_coef_schedule = coefficient_schedule("ent_coef", self.ent_coef)
        self._current_ent_coef = scheduled_coefficient("ent_coef", self.ent_coef_schedule, self._current_progress_remaining)

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        self._current_ent_coef = scheduled_coefficient("ent_coef", self.ent_coef_schedule, self._current_progress_remaining)
        self.logger.record("train/ent_coef", self._current_ent_coef)
        super().train(gradient_steps, batch_size)

    def _gradient_step(self, data: BehaviorReplayBufferSamples) -> dict[str, float]:
        return {"critic_loss": self._update_critic(data), **self._update_actor(data)}

    def _q_taken(self, critic: th.nn.Module, obs: PyTorchObs, actions: th.Tensor) -> list[th.Tensor]:
        """Q_j(s, a) of the stored actions for every critic j, each (batch,)."""
        if self._discrete:
            index = actions.long().reshape(-1, 1)
            return [q.gather(1, index).flatten() for q in critic(obs)]
        return [q.flatten() for q in critic(obs, actions)]

    @th.no_grad()
    def expected_q(self, obs: PyTorchObs, critic: th.nn.Module) -> th.Tensor:
        """
        V(s) = E_{a~pi(.|s)} min_j Q_j(s, a), (batch,): the exact sum over actions for Discrete spaces,
        the mean over ``n_action_samples`` actions sampled from pi for Box spaces.
        """
        if self._discrete:
            probs, log_probs = self.actor.action_log_probs(obs)
            return soft_state_value(probs, log_probs, min_q(critic(obs)), 0.0)
        repeated = repeat_observations(obs, self.n_action_samples)  # n blocks of the batch
        actions, _ = self.actor.action_log_prob(repeated)
        q_values = min_q(critic(repeated, actions)).view(self.n_action_samples, -1)
        return q_values.mean(dim=0)

    def _update_critic(self, data: BehaviorReplayBufferSamples) -> float:
        """Regress every Q_j(s, a) on the expected-SARSA target computed with the target critics."""
        next_values = self.expected_q(data.next_observations, self.critic_target)
        target = expected_sarsa_target(data.rewards.flatten(), data.dones.flatten(), next_values, self.gamma)
        return self._critic_regression_step(self._q_taken(self.critic, data.observations, data.actions), target)

    def _update_actor(self, data: BehaviorReplayBufferSamples) -> dict[str, float]:
        """One step along mean rho_bar grad log pi(a|s) A (+ entropy bonus), the off-policy actor step."""
        log_probs, q_values, values, policy_entropy = self._policy_terms(data.observations, data.actions)
        with th.no_grad():
            advantages = q_values - values
            if self.normalize_advantage and len(advantages) > 1:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        ratios, weights = clipped_importance_weights(log_probs, data.behavior_log_probs, self.is_clip)
        loss = off_policy_policy_gradient_loss(log_probs, advantages, weights)
        if self._current_ent_coef > 0:
            loss = loss - self._current_ent_coef * policy_entropy.mean()
        optimizer_step(self.actor.optimizer, loss)
        return {
            "actor_loss": loss.item(),
            "is_ratio_mean": ratios.mean().item(),
            "is_clip_fraction": (ratios > self.is_clip).float().mean().item(),
            "entropy": policy_entropy.mean().item(),
        }

    def _policy_terms(self, obs: PyTorchObs, actions: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor, th.Tensor]:
        """
        log pi(a|s) of the stored actions (with gradient), min_j Q_j(s, a) and V(s) = E_{a~pi} min_j Q_j(s, a) (no
        gradient), and the policy entropy (exact for Discrete, the one-sample estimate -log pi(a~|s) for Box), all
        (batch,). For Discrete actions one actor pass and one critic pass serve all four.
        """
        if self._discrete:
            probs, all_log_probs = self.actor.action_log_probs(obs)
            index = actions.long().reshape(-1, 1)
            with th.no_grad():
                q_all = min_q(self.critic(obs))
                values = soft_state_value(probs, all_log_probs, q_all, 0.0)
            return (
                all_log_probs.gather(1, index).flatten(),
                q_all.gather(1, index).flatten(),
                values,
                entropy(probs, all_log_probs),
            )
        log_probs = stored_actions_log_prob(self.actor, obs, actions)
        with th.no_grad():
            q_values = min_q(tuple(self._q_taken(self.critic, obs, actions)))
        values = self.expected_q(obs, self.critic)
        with th.set_grad_enabled(self._current_ent_coef > 0):
            _, sampled_log_prob = self.actor.action_log_prob(obs)
        return log_probs, q_values, values, -sampled_log_prob

    def learn(
        self: SelfOffPAC,
        total_timesteps: int = 100_000,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "OffPAC",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfOffPAC:
        """Train for ``total_timesteps`` environment steps (100k by default: the CartPole-v1 budget)."""
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "ent_coef_schedule"]


__all__ = ["OffPAC"]
