from __future__ import annotations

import warnings
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.buffers import NStepReplayBuffer, ReplayBuffer
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, ReplayBufferSamples, Schedule

from sb3_pg_extras.common.critics import (
    DiscreteCritic,
    discrete_sac_actor_loss,
    entropy,
    min_q,
    soft_state_value,
    temperature_loss,
)
from sb3_pg_extras.common.off_policy import ActorCriticOffPolicyAlgorithm, optimizer_step
from sb3_pg_extras.common.policies import DiscreteActor
from sb3_pg_extras.common.saving import CheckedFiles, CheckedReplayBuffer
from sb3_pg_extras.common.validation import (
    Auto,
    check_action_space,
    check_common_arguments,
    check_env_spaces,
    check_int_at_least,
    check_n_critics,
    check_n_step_returns,
    check_positive,
    parse_string_hyperparameter,
)
from sb3_pg_extras.sac_discrete.policies import CnnPolicy, DiscreteSACPolicy, MlpPolicy, MultiInputPolicy

SelfDiscreteSAC = TypeVar("SelfDiscreteSAC", bound="DiscreteSAC")

# Default target entropy: this fraction of the maximum entropy log|A|. 0.98 (the paper's) is so close to the
# uniform policy that the policy cannot reach it while it learns anything and alpha grows without bound; tiny
# targets let the policy collapse early. 0.5 log|A| is, for two actions, a policy playing its preferred action
# ~89% of the time.
DEFAULT_TARGET_ENTROPY_RATIO = 0.5


def resolve_target_entropy(target_entropy: float | str, n_actions: int) -> float:
    """
    ``"auto"`` -> 0.5 log|A|; ``"auto_<r>"`` -> r log|A|; a number -> itself (nats). Must lie in (0, log|A|].
    """
    max_entropy = float(np.log(n_actions))
    if isinstance(target_entropy, str):
        ratio = parse_string_hyperparameter(
            "target_entropy", target_entropy, ("auto",), positive=True, others="a float (nats)", x_is="the fraction of log|A|"
        ).value_or(DEFAULT_TARGET_ENTROPY_RATIO)
        value = ratio * max_entropy
    else:
        value = float(target_entropy)
    if not 0.0 < value <= max_entropy + 1e-9:
        raise ValueError(
            f"`target_entropy` must be in (0, log|A|] = (0, {max_entropy:.4f}] for {n_actions} actions, got {value:.4f} "
            f"(from {target_entropy!r}): use a smaller ratio 'auto_<r>' with 0 < r <= 1."
        )
    return value


class DiscreteSAC(CheckedFiles, CheckedReplayBuffer, ActorCriticOffPolicyAlgorithm):
    """
    Soft Actor-Critic for discrete actions, with exact expectations over actions (no action sampling in the losses).

    Paper: P. Christodoulou, "Soft Actor-Critic for Discrete Action Settings", 2019, https://arxiv.org/abs/1910.07207
    (its derivation and Algorithm 1: the soft value, policy and temperature objectives as exact sums over actions), built
    on T. Haarnoja, A. Zhou, P. Abbeel, S. Levine, "Soft Actor-Critic: Off-Policy Maximum Entropy Deep Reinforcement
    Learning with a Stochastic Actor", ICML 2018, https://arxiv.org/abs/1801.01290.

    Per gradient step: critic target ``y = r + gamma (1 - d) sum_a' pi(a'|s') (min_j Q_targ_j(s', a') - alpha log
    pi(a'|s'))``, critic loss ``0.5 sum_j MSE(Q_j(s, a), y)``, actor loss ``mean_s sum_a pi(a|s) (alpha log pi(a|s) -
    min_j Q_j(s, a))`` and, when learned, temperature loss ``log alpha (H(pi(.|s)) - target_entropy)``.

    Defaults: SB3 SAC's, with 1000 warm-up steps and a target entropy of 0.5 log|A| (the paper's 0.98 log|A| asks
    for a nearly uniform policy, which drives alpha up until it swamps the reward).

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy, ...)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: learning rate for the actor, the critics and the temperature (constant or schedule)
    :param buffer_size: size of the replay buffer
    :param learning_starts: how many steps of the model to collect transitions for before learning starts
    :param warmup_action_repeat: during the ``learning_starts`` warm-up, how many consecutive steps each env keeps its
        uniformly random action (1, the default: a new one every step, as in SB3). Held random actions explore
        further than fresh ones where a goal lies behind a sustained push (Acrobot-v1: a random action held for 5
        steps reaches the goal in about 57% of episodes, a fresh one every step in 1.5%); the marginal of every
        warm-up action stays uniform. The temporally extended random exploration of W. Dabney, G. Ostrovski,
        A. Barreto, "Temporally-Extended epsilon-Greedy Exploration", ICLR 2021, https://arxiv.org/abs/2006.01782,
        with a fixed duration, for the warm-up only
    :param batch_size: Minibatch size for each gradient update
    :param tau: the soft update coefficient ("Polyak update", between 0 and 1); 1 with
        ``target_update_interval=N`` gives hard copies every N gradient steps
    :param gamma: the discount factor
    :param train_freq: Update the model every ``train_freq`` steps (int or tuple like ``(5, "step")``)
    :param gradient_steps: How many gradient steps to do after each rollout (-1: as many as env steps)
    :param replay_buffer_class: Replay buffer class to use (None: selected automatically)
    :param replay_buffer_kwargs: Keyword arguments to pass to the replay buffer on creation
    :param optimize_memory_usage: Enable a memory efficient variant of the replay buffer
    :param n_steps: n-step returns when > 1 (SB3's ``NStepReplayBuffer``, chosen when ``replay_buffer_class`` is
        None): the target becomes ``sum_{k<n} gamma^k r_{t+k} + gamma^n (1 - d) V_soft(s_{t+n})`` with the soft value
        at the n-th next state only (the entropy bonus of the intermediate steps is not added, as in SB3's SAC)
    :param ent_coef: Temperature alpha: a float for a fixed value, ``"auto"`` to learn it (initial value 1) or
        ``"auto_<v>"`` to learn it from the initial value v
    :param target_update_interval: update the target networks every ``target_update_interval`` gradient steps
    :param target_entropy: target entropy when learning alpha: a float in (0, log|A|] (nats), ``"auto"``
        (0.5 log|A|) or ``"auto_<r>"`` (r log|A|)
    :param backup_entropy: whether the critic's target carries the entropy bonus ``- alpha log pi(a'|s')`` (True, the
        soft Bellman backup). False backs up the expected value ``sum_a' pi(a'|s') min_j Q_targ_j(s', a')``
        only, so the entropy term stays in the actor and temperature losses (a regularizer of the policy) but is no
        longer a reward: the critics learn the task's return. Try it where the entropy reward changes which behavior
        is best, e.g. tasks with a per-step cost where prolonging the episode earns bonus. See H. Yu, H. Zhang, W. Xu,
        "Do You Need the Entropy Reward (in Practice)?", 2022, https://arxiv.org/abs/2201.12434
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation (``n_critics``,
        ``share_features_extractor``, ``net_arch``, ...)
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
    policy: DiscreteSACPolicy
    actor: DiscreteActor
    critic: DiscreteCritic
    critic_target: DiscreteCritic

    def __init__(
        self,
        policy: str | type[DiscreteSACPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        buffer_size: int = 1_000_000,
        learning_starts: int = 1000,
        warmup_action_repeat: int = 1,
        batch_size: int = 256,
        tau: float = 0.005,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 1,
        gradient_steps: int = 1,
        replay_buffer_class: type[ReplayBuffer] | None = None,
        replay_buffer_kwargs: dict[str, Any] | None = None,
        optimize_memory_usage: bool = False,
        n_steps: int = 1,
        ent_coef: str | float = "auto",
        target_update_interval: int = 1,
        target_entropy: str | float = "auto",
        backup_entropy: bool = True,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        check_common_arguments(locals())
        if env is not None:  # before SB3 sees it: SB3 asserts on an unbounded Box without naming the env
            env = maybe_make_env(env, verbose)
            check_env_spaces("DiscreteSAC", env, (spaces.Discrete,))
        check_n_critics(policy_kwargs, default=2)
        _check_ent_coef(ent_coef)
        check_int_at_least("warmup_action_repeat", warmup_action_repeat, 1, "env steps each random warm-up action is held")
        self.warmup_action_repeat = int(warmup_action_repeat)
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
            n_steps=n_steps,
            support_multi_env=True,
        )
        check_action_space("DiscreteSAC", getattr(self, "action_space", None), (spaces.Discrete,))
        check_n_step_returns(n_steps, getattr(self, "observation_space", None), replay_buffer_class)
        self.ent_coef = ent_coef
        self.target_update_interval = target_update_interval
        self.target_entropy = target_entropy
        self.backup_entropy = bool(backup_entropy)
        if getattr(self, "action_space", None) is not None:
            resolve_target_entropy(target_entropy, int(self.action_space.n))  # type: ignore[attr-defined]
        self._held_actions = np.zeros(0, dtype=np.int64)  # the warm-up's held random actions, one per env
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        with warnings.catch_warnings():
            if self.replay_buffer_class is NStepReplayBuffer and self.replay_buffer_kwargs.get("n_steps") == self.n_steps:
                # after load() the n-step buffer class set up at construction comes back as a "custom" class: SB3
                # would warn that n_steps is ignored, yet the buffer's kwargs carry the same n_steps
                warnings.filterwarnings("ignore", message=".*n_steps=.* is ignored", category=UserWarning)
            super()._setup_model()
        self.target_entropy_value = resolve_target_entropy(self.target_entropy, int(self.action_space.n))  # type: ignore[attr-defined]
        self.ent_coef_optimizer: th.optim.Optimizer | None = None
        if isinstance(self.ent_coef, str):  # learned: "auto" or "auto_<initial value>"
            initial = _learned_ent_coef(self.ent_coef).value_or(1.0)
            self.log_ent_coef = th.log(th.ones(1, device=self.device) * initial).requires_grad_(True)
            self.ent_coef_optimizer = th.optim.Adam([self.log_ent_coef], lr=self.lr_schedule(1))
        else:
            self.ent_coef_tensor = th.tensor(float(self.ent_coef), device=self.device)

    def _sample_action(self, learning_starts: int, action_noise: Any = None, n_envs: int = 1) -> tuple[np.ndarray, np.ndarray]:
        if self.num_timesteps >= learning_starts:
            return super()._sample_action(learning_starts, action_noise, n_envs)
        # SB3's warm-up draws a fresh uniform action per env and step; here every warmup_action_repeat vec-env steps
        # (and after load(), which does not keep the held actions)
        step = self.num_timesteps // n_envs
        if step % self.warmup_action_repeat == 0 or len(self._held_actions) != n_envs:
            self._held_actions = np.array([self.action_space.sample() for _ in range(n_envs)])
        return self._held_actions.copy(), self._held_actions.copy()

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_held_actions"]

    def _optimizers(self) -> list[th.optim.Optimizer]:
        optimizers = super()._optimizers()
        if self.ent_coef_optimizer is not None:
            optimizers.append(self.ent_coef_optimizer)
        return optimizers

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        super().train(gradient_steps, batch_size)
        self.logger.record("train/target_entropy", self.target_entropy_value)

    def _gradient_step(self, data: ReplayBufferSamples) -> dict[str, float]:
        alpha = self._temperature()
        critic_loss = self._update_critic(data, alpha)
        actor_loss, policy_entropy = self._update_actor_and_temperature(data, alpha)
        return {"critic_loss": critic_loss, "actor_loss": actor_loss, "ent_coef": float(alpha), "entropy": policy_entropy}

    def _temperature(self) -> th.Tensor:
        """Current alpha, without gradient."""
        if self.ent_coef_optimizer is not None:
            return th.exp(self.log_ent_coef.detach())
        return self.ent_coef_tensor

    @th.no_grad()
    def soft_target(self, data: ReplayBufferSamples, alpha: th.Tensor | float) -> th.Tensor:
        """y = r + gamma (1 - d) sum_a' pi(a'|s') (min_j Q_targ_j(s', a') - alpha log pi(a'|s')), (batch,): the soft Bellman
        backup.

        With n-step samples r is the discounted n-step reward sum and gamma the buffer's per-sample discount gamma^n.
        With ``backup_entropy=False`` the ``- alpha log pi`` term is left out of the target.
        """
        next_probs, next_log_probs = self.actor.action_log_probs(data.next_observations)
        next_q = min_q(self.critic_target(data.next_observations))
        next_value = soft_state_value(next_probs, next_log_probs, next_q, alpha if self.backup_entropy else 0.0)
        discounts = self.gamma if data.discounts is None else data.discounts.flatten()
        return data.rewards.flatten() + (1 - data.dones.flatten()) * discounts * next_value

    def _update_critic(self, data: ReplayBufferSamples, alpha: th.Tensor) -> float:
        """Regress every Q_j(s, a) on the soft Bellman target (half squared error, summed over critics)."""
        target = self.soft_target(data, alpha)
        actions = data.actions.long().reshape(-1, 1)
        return self._critic_regression_step([q.gather(1, actions).flatten() for q in self.critic(data.observations)], target)

    def _update_actor_and_temperature(self, data: ReplayBufferSamples, alpha: th.Tensor) -> tuple[float, float]:
        """Actor step on the policy objective with the exact sum over actions, then the temperature step."""
        probs, log_probs = self.actor.action_log_probs(data.observations)
        with th.no_grad():
            q_values = min_q(self.critic(data.observations))
        loss = discrete_sac_actor_loss(probs, log_probs, q_values, alpha)
        optimizer_step(self.actor.optimizer, loss)
        policy_entropy = entropy(probs.detach(), log_probs.detach())
        if self.ent_coef_optimizer is not None:
            ent_loss = temperature_loss(self.log_ent_coef, policy_entropy, self.target_entropy_value)
            optimizer_step(self.ent_coef_optimizer, ent_loss)
        return loss.item(), policy_entropy.mean().item()

    def learn(
        self: SelfDiscreteSAC,
        total_timesteps: int = 50_000,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "DiscreteSAC",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfDiscreteSAC:
        """Train for ``total_timesteps`` environment steps (50k by default: enough for CartPole-v1)."""
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts, _ = super()._get_torch_save_params()
        if self.ent_coef_optimizer is not None:
            return [*state_dicts, "ent_coef_optimizer"], ["log_ent_coef"]
        return state_dicts, ["ent_coef_tensor"]


def _learned_ent_coef(ent_coef: str) -> Auto:
    """``"auto"`` (learned from 1) or ``"auto_<x>"`` (learned from x > 0); other strings are refused."""
    return parse_string_hyperparameter(
        "ent_coef", ent_coef, ("auto",), positive=True, others="a positive float", x_is="the initial value"
    )


def _check_ent_coef(ent_coef: Any) -> None:
    if isinstance(ent_coef, str):
        _learned_ent_coef(ent_coef)
    else:
        check_positive("ent_coef", ent_coef)


__all__ = ["DiscreteSAC"]
