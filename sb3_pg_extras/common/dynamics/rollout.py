"""Batched imagined rollouts through a learned dynamics model: closed loop, where a policy picks every action (MBPO's
branched rollouts, Janner et al. 2019, Algorithm 2 line 8; SVG's model expansion), and open loop, where whole action
sequences are scored (the particles of a sampling-based planner such as MPPI, Williams et al. 2017).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch as th

from sb3_pg_extras.common.dynamics.transitions import Transitions
from sb3_pg_extras.envs import TransitionFn
from sb3_pg_extras.envs.base import never_terminates


class TransitionModel(Protocol):
    """What the rollouts need of a model: the learned :class:`DynamicsModel` or a known one
    (:class:`~sb3_pg_extras.common.dynamics.KnownDynamics`)."""

    learn_reward: bool
    learn_termination: bool

    def sample_members(self, batch: int, mode: str = ..., generator: th.Generator | None = ...) -> th.Tensor: ...

    def predict(
        self,
        obs: th.Tensor,
        actions: th.Tensor,
        member_of_sample: th.Tensor,
        deterministic: bool = ...,
        generator: th.Generator | None = ...,
        noise: th.Tensor | None = ...,
    ) -> tuple[th.Tensor, th.Tensor | None, th.Tensor | None]: ...


ActFn = Callable[[th.Tensor], th.Tensor | tuple[th.Tensor, th.Tensor]]
"""Maps observations (batch, obs_dim) to actions (batch, action_dim), or to ``(actions, log_probs)`` where the caller
also wants the policy's log-probabilities (batch,) recorded in the rollout (SVG's entropy terms)."""


@dataclass
class ImaginedRollout:
    """Model transitions, each tensor with leading shape (horizon, batch).

    ``valid[h, i]`` is False once sample ``i`` terminated at an earlier step: those rows continue to be computed (to
    keep shapes fixed) but are not transitions of the imagined episode and must be dropped or masked by the caller.
    """

    observations: th.Tensor  # (H, B, obs_dim)
    actions: th.Tensor  # (H, B, action_dim)
    rewards: th.Tensor  # (H, B)
    next_observations: th.Tensor  # (H, B, obs_dim)
    terminated: th.Tensor  # (H, B) bool
    valid: th.Tensor  # (H, B) bool
    log_probs: th.Tensor | None = None  # (H, B) when the act function returned them

    @property
    def alive_after(self) -> th.Tensor:
        """(B,) True where the sample has not terminated within the horizon (it may be bootstrapped)."""
        return self.valid[-1] & ~self.terminated[-1]

    def flat_valid(self) -> Transitions:
        """The valid transitions, flattened over (horizon, batch) in step-major order."""
        mask = self.valid
        return Transitions(
            self.observations[mask],
            self.actions[mask],
            self.next_observations[mask],
            self.rewards[mask],
            self.terminated[mask],
        )

    def returns(self, gamma: float = 1.0) -> th.Tensor:
        """Sum over steps of ``gamma^h r_h`` while the sample is alive (a terminated branch adds nothing after its
        terminal step), shape (batch,)."""
        discount = gamma ** th.arange(len(self.rewards), device=self.rewards.device, dtype=self.rewards.dtype)
        return (discount.unsqueeze(1) * self.rewards * self.valid).sum(0)


def imagine_rollout(
    model: TransitionModel,
    act_fn: ActFn,
    start_obs: th.Tensor,
    horizon: int,
    reward_fn: TransitionFn | None = None,
    termination_fn: TransitionFn | None = None,
    member_mode: str = "random",
    deterministic: bool = False,
    generator: th.Generator | None = None,
    members: th.Tensor | None = None,
    model_noise: list[th.Tensor | None] | None = None,
    keep_transitions: bool = True,
) -> ImaginedRollout:
    """Roll ``act_fn`` out for ``horizon`` steps inside ``model`` from every start state at once.

    Nothing here disables gradients: under ``torch.no_grad()`` it produces data (MBPO); with gradients enabled and a
    reparameterized ``act_fn`` the returns are differentiable w.r.t. the policy (SVG).

    :param model: the dynamics ensemble (or a known model with its interface)
    :param act_fn: maps observations (batch, obs_dim) to actions (batch, action_dim), in the units the model uses
    :param start_obs: (batch, obs_dim) start states (MBPO: recent real states)
    :param horizon: number of model steps (>= 1)
    :param reward_fn: ``(obs, action, next_obs) -> (batch,)`` reward; None to use the model's learned reward
    :param termination_fn: ``(obs, action, next_obs) -> (batch,) bool``; None to use the model's learned termination
        head (probability > 0.5)
    :param member_mode: ``"random"``: a random elite per sample and step (MBPO, PETS' TS-1); ``"particle"``: a random
        elite per sample, kept for the whole rollout (one member per particle, PETS' TS-inf); ``"fixed"``: sample ``i``
        follows elite ``i % n_elites`` for the whole rollout
    :param deterministic: use the members' means instead of sampling the Gaussian
    :param generator: random generator for member choice and model noise
    :param members: (batch,) member of every sample for the whole rollout (overrides ``member_mode``), e.g. the
        members under which noise was inferred
    :param model_noise: per step, the model noise ``xi`` to use instead of a fresh draw (None entries draw), e.g.
        noise inferred from a real transition for the first step (SVG)
    :param keep_transitions: False leaves ``observations``, ``actions`` and ``next_observations`` empty (shape
        (H, batch, 0)): a planner that only scores sequences skips stacking them (a quarter of a Pendulum rollout)
    """
    if horizon < 1:
        raise ValueError(f"The rollout horizon must be >= 1, got {horizon}")
    if reward_fn is None and not model.learn_reward:
        raise ValueError("No reward function: pass reward_fn or build the dynamics model with learn_reward=True")
    if termination_fn is None and not model.learn_termination:
        raise ValueError(
            "No termination function: pass termination_fn or build the dynamics model with learn_termination=True"
        )
    batch = start_obs.shape[0]
    redraw = members is None and member_mode == "random"
    if members is None:
        members = model.sample_members(batch, member_mode, generator)
    alive = th.ones(batch, dtype=th.bool, device=start_obs.device)
    no_termination = th.zeros(batch, dtype=th.bool, device=start_obs.device)
    steps: list[tuple[th.Tensor, ...]] = []
    rewards_per_step: list[th.Tensor] = []
    masks: list[tuple[th.Tensor, th.Tensor]] = []
    log_probs: list[th.Tensor] = []
    obs = start_obs
    for h in range(horizon):
        if redraw:
            members = model.sample_members(batch, member_mode, generator)
        actions = act_fn(obs)
        if isinstance(actions, tuple):
            actions, log_prob = actions
            log_probs.append(log_prob)
        noise = model_noise[h] if model_noise is not None and h < len(model_noise) else None
        next_obs, learned_reward, done_prob = model.predict(obs, actions, members, deterministic, generator, noise)
        reward = reward_fn(obs, actions, next_obs) if reward_fn is not None else learned_reward
        if termination_fn is never_terminates:  # known to be all False: no per-step mask to compute
            terminated = no_termination
        elif termination_fn is not None:
            terminated = termination_fn(obs, actions, next_obs)
            terminated = terminated if terminated.dtype == th.bool else terminated.bool()
        else:
            assert done_prob is not None
            terminated = done_prob > 0.5
        assert reward is not None
        steps.append((obs, actions, next_obs) if keep_transitions else ())
        rewards_per_step.append(reward)
        if terminated is not no_termination:
            masks.append((terminated, alive))
            alive = alive & ~terminated
        obs = next_obs
    rewards = th.stack(rewards_per_step)
    if masks:
        terminated, valid = (th.stack(column) for column in zip(*masks))
    else:  # never_terminates: nothing to stack
        terminated, valid = th.zeros_like(rewards, dtype=th.bool), th.ones_like(rewards, dtype=th.bool)
    if keep_transitions:
        observations, actions, next_observations = (th.stack(column) for column in zip(*steps))
    else:
        observations = actions = next_observations = rewards.new_empty((horizon, batch, 0))
    return ImaginedRollout(
        observations,
        actions,
        rewards,
        next_observations,
        terminated,
        valid,
        log_probs=th.stack(log_probs) if log_probs else None,
    )


def open_loop_rollout(
    model: TransitionModel,
    start_obs: th.Tensor,
    action_sequences: th.Tensor,
    reward_fn: TransitionFn | None = None,
    termination_fn: TransitionFn | None = None,
    member_mode: str = "particle",
    deterministic: bool = False,
    generator: th.Generator | None = None,
    keep_transitions: bool = True,
) -> ImaginedRollout:
    """Play ``N`` action sequences open loop through the model, all at once: particle ``i`` starts from
    ``start_obs[i]`` (or the one shared start state) and applies ``action_sequences[i, h]`` at step ``h``. By default
    every particle follows one randomly drawn elite member for the whole horizon (trajectory sampling, TS-inf, Chua
    et al. 2018). Score the sequences with :meth:`ImaginedRollout.returns`.

    :param model: the dynamics ensemble
    :param start_obs: (obs_dim,) one start state for every particle, or (N, obs_dim)
    :param action_sequences: (N, H, action_dim), in the units the model uses
    :param reward_fn: as in :func:`imagine_rollout`
    :param termination_fn: as in :func:`imagine_rollout`
    :param member_mode: as in :func:`imagine_rollout` (default ``"particle"``)
    :param deterministic: use the members' means instead of sampling
    :param generator: random generator for member choice and model noise
    :param keep_transitions: as in :func:`imagine_rollout` (False: only rewards, terminations and validity)
    :return: the rollout, tensors with leading shape (H, N)
    """
    if action_sequences.dim() != 3:
        raise ValueError(f"action_sequences must be (N, H, action_dim), got shape {tuple(action_sequences.shape)}")
    n_particles, horizon = action_sequences.shape[:2]
    if start_obs.dim() not in (1, 2):
        raise ValueError(f"start_obs must be (obs_dim,) or (N, obs_dim), got shape {tuple(start_obs.shape)}")
    if start_obs.dim() == 1:
        start_obs = start_obs.expand(n_particles, -1)
    if start_obs.shape[0] != n_particles:
        raise ValueError(f"{start_obs.shape[0]} start states for {n_particles} action sequences: give one or N")
    steps = iter(action_sequences.unbind(1))  # the h-th call of the act function returns the actions of step h
    return imagine_rollout(
        model,
        lambda obs: next(steps),
        start_obs,
        horizon,
        reward_fn,
        termination_fn,
        member_mode,
        deterministic,
        generator,
        keep_transitions=keep_transitions,
    )
