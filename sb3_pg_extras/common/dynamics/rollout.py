"""Batched imagined rollouts through a learned dynamics model (MBPO's branched rollouts, SVG's model expansion,
MPPI's particles). ../shared/reference/ 004 §3.5 step 3.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch as th

from sb3_pg_extras.common.dynamics.model import DynamicsModel

ActFn = Callable[[th.Tensor], th.Tensor]
TransitionFn = Callable[[th.Tensor, th.Tensor, th.Tensor], th.Tensor]


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

    def flat_valid(self) -> tuple[th.Tensor, th.Tensor, th.Tensor, th.Tensor, th.Tensor]:
        """The valid transitions as flat tensors (obs, actions, rewards, next_obs, terminated)."""
        mask = self.valid
        return (
            self.observations[mask],
            self.actions[mask],
            self.rewards[mask],
            self.next_observations[mask],
            self.terminated[mask],
        )


def imagine_rollout(
    model: DynamicsModel,
    act_fn: ActFn,
    start_obs: th.Tensor,
    horizon: int,
    reward_fn: TransitionFn | None = None,
    termination_fn: TransitionFn | None = None,
    member_mode: str = "random",
    deterministic: bool = False,
    generator: th.Generator | None = None,
) -> ImaginedRollout:
    """Roll ``act_fn`` out for ``horizon`` steps inside ``model`` from every start state at once.

    Nothing here disables gradients: under ``torch.no_grad()`` it produces data (MBPO); with gradients enabled and a
    reparameterised ``act_fn`` the returns are differentiable w.r.t. the policy (SVG).

    :param model: the dynamics ensemble
    :param act_fn: maps observations (batch, obs_dim) to actions (batch, action_dim), in the units the model uses
    :param start_obs: (batch, obs_dim) start states (MBPO: recent real states)
    :param horizon: number of model steps (>= 1)
    :param reward_fn: ``(obs, action, next_obs) -> (batch,)`` reward; None to use the model's learned reward
    :param termination_fn: ``(obs, action, next_obs) -> (batch,) bool``; None to use the model's learned termination
        head (probability > 0.5)
    :param member_mode: ``"random"``: a random elite per sample and step (MBPO); ``"fixed"``: sample ``i`` follows
        elite ``i % n_elites`` for the whole rollout (one member per particle, PETS' TS-inf)
    :param deterministic: use the members' means instead of sampling the Gaussian
    :param generator: random generator for member choice and model noise
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
    members = model.sample_members(batch, member_mode, generator)
    alive = th.ones(batch, dtype=th.bool, device=start_obs.device)
    steps: list[tuple[th.Tensor, ...]] = []
    obs = start_obs
    for _ in range(horizon):
        if member_mode == "random":
            members = model.sample_members(batch, member_mode, generator)
        actions = act_fn(obs)
        next_obs, learned_reward, done_prob = model.predict(obs, actions, members, deterministic, generator)
        reward = reward_fn(obs, actions, next_obs) if reward_fn is not None else learned_reward
        if termination_fn is not None:
            terminated = termination_fn(obs, actions, next_obs).bool()
        else:
            assert done_prob is not None
            terminated = done_prob > 0.5
        assert reward is not None
        steps.append((obs, actions, reward, next_obs, terminated, alive))
        alive = alive & ~terminated
        obs = next_obs
    stacked = [th.stack(column) for column in zip(*steps)]
    return ImaginedRollout(*stacked)
