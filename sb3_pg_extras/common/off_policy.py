"""
Importance-sampling corrected off-policy actor-critic math, as pure tensor functions: the off-policy policy
gradient of T. Degris, M. White, R. S. Sutton, "Off-Policy Actor-Critic", ICML 2012, https://arxiv.org/abs/1205.4839,
in its experience-replay form with an expected-SARSA critic and importance ratios truncated as in Z. Wang et al.,
"Sample Efficient Actor-Critic with Experience Replay" (ACER), ICLR 2017, https://arxiv.org/abs/1611.01224, §3.2
(without ACER's bias correction).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.utils import get_parameters_by_name, polyak_update
from torch.nn import functional as F

from sb3_pg_extras.common.buffers import BehaviorReplayBuffer, DictBehaviorReplayBuffer
from sb3_pg_extras.common.policies import stored_actions_log_prob


def clipped_importance_weights(
    log_probs: th.Tensor, behavior_log_probs: th.Tensor, is_clip: float
) -> tuple[th.Tensor, th.Tensor]:
    """
    rho = pi(a|s) / b(a|s) and the truncated rho_bar = min(rho, c); both (batch,) and without gradient: the
    off-policy policy gradient treats them as constant weights.

    A small c (>= 1) bounds each sample's weight and so the estimator's variance, at the price of a bias against
    actions the current policy likes much more than the behavior policy did; ``c = inf`` is the unbiased (given a
    correct critic) and highest-variance estimator.

    :raises FloatingPointError: where a truncated weight is not finite (``c = inf`` and a ratio past float range, or
        a NaN log-probability), instead of letting it turn the networks into NaN.
    """
    log_ratios = log_probs.detach() - behavior_log_probs
    rho = th.exp(log_ratios)
    rho_bar = th.clamp(rho, max=is_clip)
    if not bool(th.isfinite(rho_bar).all()):
        raise FloatingPointError(
            f"an importance weight min(pi(a|s) / b(a|s), is_clip={is_clip}) is not finite (largest log-ratio "
            f"{float(log_ratios.max()):.4g}): use a finite `is_clip` (default 1). Without one nothing bounds the "
            "weights, and a squashed Gaussian policy gives replayed actions at the action bounds (tanh saturated in "
            "float32) log-ratios far past float range."
        )
    return rho, rho_bar


def expected_sarsa_target(rewards: th.Tensor, dones: th.Tensor, next_values: th.Tensor, gamma: float) -> th.Tensor:
    """
    y = r + gamma (1 - done) E_{a'~pi(.|s')} Q_target(s', a') (expected SARSA), given that expectation ``next_values``;
    all (batch,). ``dones`` are true terminations only (SB3's buffer already maps time-limit truncations to 0).
    """
    return rewards + gamma * (1.0 - dones) * next_values


def off_policy_policy_gradient_loss(log_probs: th.Tensor, advantages: th.Tensor, weights: th.Tensor) -> th.Tensor:
    """
    Surrogate whose gradient is -mean_i rho_bar_i grad log pi(a_i|s_i) A_i (the off-policy actor step): minimizing
    it ascends the clipped off-policy policy gradient. ``advantages`` and ``weights`` must carry no gradient.
    """
    return -(weights * log_probs * advantages).mean()


def uniform_log_prob(action_space: spaces.Space) -> float:
    """
    log-probability of any action under SB3's warm-up sampling, in the space the replay buffer stores: 1/n for a
    Discrete space; for a Box space the uniform density on the [-1, 1] cube SB3 stores actions in, 2^-dim.
    """
    if isinstance(action_space, spaces.Discrete):
        return -math.log(int(action_space.n))
    if isinstance(action_space, spaces.Box):
        return -int(math.prod(action_space.shape)) * math.log(2.0)
    raise ValueError(f"No uniform behavior log-prob for the action space {action_space}.")


def check_behavior_buffer_class(algo: str, replay_buffer_class: Any) -> None:
    """The replay buffer must record behavior log-probs (a subclass of one of ours)."""
    if replay_buffer_class is not None and not (
        isinstance(replay_buffer_class, type)
        and issubclass(replay_buffer_class, (BehaviorReplayBuffer, DictBehaviorReplayBuffer))
    ):
        raise ValueError(
            f"{algo} needs a replay buffer that stores behavior log-probs: pass replay_buffer_class=None (the default) "
            f"or a subclass of BehaviorReplayBuffer / DictBehaviorReplayBuffer, got {replay_buffer_class!r}."
        )


class BehaviorLogProbRecorder:
    """
    Mixin for an SB3 ``OffPolicyAlgorithm`` whose behavior policy is its current stochastic policy: after SB3
    samples each action it records log b(a|s) of the action the buffer will store, in the replay buffer (a
    ``BehaviorReplayBuffer``). During warm-up SB3 samples uniformly, so b is the uniform distribution
    (:func:`uniform_log_prob`); afterwards b is the policy itself, evaluated by :func:`stored_actions_log_prob` on
    the stored (for Box: [-1, 1]-scaled) action, the same function the update evaluates pi(a|s) with, so that
    rho = 1 exactly on fresh on-policy data. Action noise would change b without changing what is recorded, so
    algorithms using this mixin must refuse it (:func:`check_no_action_noise`).
    """

    # attributes provided by the SB3 algorithm this is mixed into
    num_timesteps: int
    action_space: spaces.Space
    device: th.device
    _last_obs: Any
    policy: Any
    actor: Any
    replay_buffer: Any

    def _sample_action(
        self,
        learning_starts: int,
        action_noise: ActionNoise | None = None,
        n_envs: int = 1,
    ) -> tuple[np.ndarray, np.ndarray]:
        action, buffer_action = super()._sample_action(learning_starts, action_noise, n_envs)  # type: ignore[misc]
        if self.num_timesteps < learning_starts:  # SB3's warm-up: uniform actions
            log_probs = np.full(n_envs, uniform_log_prob(self.action_space), dtype=np.float32)
        else:
            obs, _ = self.policy.obs_to_tensor(self._last_obs)
            with th.no_grad():
                actions = th.as_tensor(buffer_action, device=self.device)
                log_probs = stored_actions_log_prob(self.actor, obs, actions).cpu().numpy()
        self.replay_buffer.set_behavior_log_probs(log_probs)
        return action, buffer_action


def check_no_action_noise(algo: str, action_noise: Any) -> None:
    if action_noise is not None:
        raise ValueError(
            f"{algo} records the stochastic policy's own probability of each action for importance sampling; added "
            f"action noise would make those probabilities wrong. Remove `action_noise` (got {action_noise!r}): the "
            "policy explores by sampling."
        )


def optimizer_step(optimizer: th.optim.Optimizer, loss: th.Tensor) -> None:
    """One step of ``optimizer`` down the gradient of ``loss`` (gradients zeroed first)."""
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


class ActorCriticOffPolicyAlgorithm(OffPolicyAlgorithm):
    """
    SB3 ``OffPolicyAlgorithm`` whose policy holds an ``actor`` and Q ``critic`` (each with its own optimizer) and
    ``critic_target`` copies of the critics, as SAC's policy does: the machinery OffPAC and DiscreteSAC share.

    - ``_setup_model`` aliases the three networks and collects the critics' batch-norm statistics;
    - ``train()`` runs :meth:`_gradient_step` on ``gradient_steps`` replayed batches, Polyak-averages the target
      critics (and copies their batch-norm statistics) every ``target_update_interval`` gradient steps, and logs
      the mean of every value the steps return under ``train/<key>``;
    - :meth:`_critic_regression_step` is the critics' step on ``0.5 sum_j MSE(Q_j(s, a), y)``;
    - saving leaves the aliases out of the pickle and saves the actor's and critics' optimizers as torch state.

    A subclass sets ``target_update_interval`` in ``__init__`` and implements :meth:`_gradient_step`; it overrides
    :meth:`_optimizers` when more optimizers follow the learning-rate schedule.
    """

    actor: Any
    critic: Any
    critic_target: Any
    target_update_interval: int

    def _setup_model(self) -> None:
        super()._setup_model()
        self.actor = self.policy.actor  # type: ignore[attr-defined]
        self.critic = self.policy.critic  # type: ignore[attr-defined]
        self.critic_target = self.policy.critic_target  # type: ignore[attr-defined]
        self.batch_norm_stats = get_parameters_by_name(self.critic, ["running_"])
        self.batch_norm_stats_target = get_parameters_by_name(self.critic_target, ["running_"])

    def _optimizers(self) -> list[th.optim.Optimizer]:
        """The optimizers whose learning rate follows ``lr_schedule``."""
        return [self.actor.optimizer, self.critic.optimizer]

    def _gradient_step(self, data: Any) -> dict[str, float]:
        """Update the networks on one replayed batch; returns the values to log (``train/<key>``, batch means)."""
        raise NotImplementedError

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self._optimizers())
        stats: dict[str, list[float]] = defaultdict(list)
        for _ in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            for key, value in self._gradient_step(data).items():
                stats[key].append(value)
            self._n_updates += 1
            if self._n_updates % self.target_update_interval == 0:
                polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
                polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        for key, values in stats.items():
            self.logger.record(f"train/{key}", float(np.mean(values)))

    def _critic_regression_step(self, q_taken: Iterable[th.Tensor], target: th.Tensor) -> float:
        """One critic step on ``0.5 sum_j MSE(Q_j(s, a), y)``, given every critic's Q_j(s, a) and the target y."""
        loss = 0.5 * sum(F.mse_loss(q, target) for q in q_taken)
        optimizer_step(self.critic.optimizer, loss)  # type: ignore[arg-type]
        return loss.item()  # type: ignore[union-attr]

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "actor", "critic", "critic_target"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "actor.optimizer", "critic.optimizer"], []


# The British spelling, deprecated: user code written before the rename (e.g. an algorithm mixing it in) imports
# it under this name. The same class.
BehaviourLogProbRecorder = BehaviorLogProbRecorder  # codespell:ignore behaviour
