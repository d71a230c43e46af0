"""
Importance-sampling corrected off-policy actor-critic maths, ../shared/reference 004 §3.3.4 (eqs. 3.42-3.45), as
pure tensor functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.noise import ActionNoise

from sb3_pg_extras.common.buffers import BehaviourReplayBuffer, DictBehaviourReplayBuffer
from sb3_pg_extras.common.policies import stored_actions_log_prob


def clipped_importance_weights(
    log_probs: th.Tensor, behaviour_log_probs: th.Tensor, is_clip: float
) -> tuple[th.Tensor, th.Tensor]:
    """
    rho = pi(a|s) / b(a|s) (eq. 3.42) and the truncated rho_bar = min(rho, c); both (batch,) and without gradient:
    the policy gradient treats them as constant weights (eq. 3.43).

    A small c (>= 1) bounds each sample's weight and so the estimator's variance, at the price of a bias against
    actions the current policy likes much more than the behaviour policy did; ``c = inf`` is the unbiased (eq.
    3.43) and highest-variance estimator.
    """
    rho = th.exp(log_probs.detach() - behaviour_log_probs)
    return rho, th.clamp(rho, max=is_clip)


def expected_sarsa_target(rewards: th.Tensor, dones: th.Tensor, next_values: th.Tensor, gamma: float) -> th.Tensor:
    """
    y = r + gamma (1 - done) E_{a'~pi(.|s')} Q_target(s', a') (eq. 3.44), given that expectation ``next_values``;
    all (batch,). ``dones`` are true terminations only (SB3's buffer already maps time-limit truncations to 0).
    """
    return rewards + gamma * (1.0 - dones) * next_values


def off_policy_policy_gradient_loss(log_probs: th.Tensor, advantages: th.Tensor, weights: th.Tensor) -> th.Tensor:
    """
    Surrogate whose gradient is -mean_i rho_bar_i grad log pi(a_i|s_i) A_i (the actor step of §3.3.4): minimising
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
    raise ValueError(f"No uniform behaviour log-prob for the action space {action_space}.")


def check_behaviour_buffer_class(algo: str, replay_buffer_class: Any) -> None:
    """The replay buffer must record behaviour log-probs (a subclass of one of ours)."""
    if replay_buffer_class is not None and not (
        isinstance(replay_buffer_class, type)
        and issubclass(replay_buffer_class, (BehaviourReplayBuffer, DictBehaviourReplayBuffer))
    ):
        raise ValueError(
            f"{algo} needs a replay buffer that stores behaviour log-probs: pass replay_buffer_class=None (the default) "
            f"or a subclass of BehaviourReplayBuffer / DictBehaviourReplayBuffer, got {replay_buffer_class!r}."
        )


class BehaviourLogProbRecorder:
    """
    Mixin for an SB3 ``OffPolicyAlgorithm`` whose behaviour policy is its current stochastic policy: after SB3
    samples each action it records log b(a|s) of the action the buffer will store, in the replay buffer (a
    ``BehaviourReplayBuffer``). During warm-up SB3 samples uniformly, so b is the uniform distribution
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
        self, learning_starts: int, action_noise: ActionNoise | None = None, n_envs: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        action, buffer_action = super()._sample_action(learning_starts, action_noise, n_envs)  # type: ignore[misc]
        if self.num_timesteps < learning_starts:  # SB3's warm-up: uniform actions
            log_probs = np.full(n_envs, uniform_log_prob(self.action_space), dtype=np.float32)
        else:
            obs, _ = self.policy.obs_to_tensor(self._last_obs)
            with th.no_grad():
                actions = th.as_tensor(buffer_action, device=self.device)
                log_probs = stored_actions_log_prob(self.actor, obs, actions).cpu().numpy()
        self.replay_buffer.set_behaviour_log_probs(log_probs)
        return action, buffer_action


def check_no_action_noise(algo: str, action_noise: Any) -> None:
    if action_noise is not None:
        raise ValueError(
            f"{algo} records the stochastic policy's own probability of each action for importance sampling; added "
            f"action noise would make those probabilities wrong. Remove `action_noise` (got {action_noise!r}): the "
            "policy explores by sampling."
        )
