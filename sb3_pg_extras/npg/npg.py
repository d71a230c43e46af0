from __future__ import annotations

import copy
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.utils import flat_grad
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticCnnPolicy, ActorCriticPolicy, BasePolicy, MultiInputActorCriticPolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, PyTorchObs, RolloutBufferSamples, Schedule
from stable_baselines3.common.utils import explained_variance
from torch.nn import functional as F

from sb3_pg_extras.common.actor_critic import actor_parameters, value_only_parameters
from sb3_pg_extras.common.natural_gradient import (
    KL_REDUCTIONS,
    add_to_parameters,
    fisher_vector_product_fn,
    mean_kl,
    natural_gradient_direction,
    trust_region_step_size,
)
from sb3_pg_extras.common.saving import CheckedFiles
from sb3_pg_extras.common.utils import take_observations
from sb3_pg_extras.common.validation import (
    check_action_space,
    check_choice,
    check_common_arguments,
    check_env_spaces,
    check_in_range,
    check_non_negative,
    check_normalizable_batch,
    check_positive,
    check_positive_int,
)

SelfNPG = TypeVar("SelfNPG", bound="NPG")

STEP_RULES = ("trust_region", "fixed")


class NPG(CheckedFiles, OnPolicyAlgorithm):
    """
    Natural Policy Gradient (NPG) with GAE advantages.

    Each update fits the value function by minibatch regression, computes the policy gradient g of the surrogate,
    solves ``F p = g`` by conjugate gradient on Fisher-vector products (Hessian-vector products of the mean KL),
    and takes one step along p, without line search (the line search is what TRPO adds).

    Paper: S. Kakade, "A Natural Policy Gradient", NeurIPS 2001, https://papers.nips.cc/paper/2073-a-natural-policy-gradient
    Conjugate-gradient solve and trust-region step size as in J. Schulman, S. Levine, P. Moritz, M. I. Jordan,
    P. Abbeel, "Trust Region Policy Optimization", ICML 2015, https://arxiv.org/abs/1502.05477 (Appendix C); GAE from
    J. Schulman, P. Moritz, S. Levine, M. I. Jordan, P. Abbeel, "High-Dimensional Continuous Control Using Generalized
    Advantage Estimation", ICLR 2016, https://arxiv.org/abs/1506.02438.

    Step rules:

    - ``"trust_region"`` (default): ``theta += alpha p`` with ``alpha = sqrt(2 target_kl / p^T (F + xi I) p)``, so that
      the quadratic model of the mean KL of the step is ``target_kl`` (TRPO, Appendix C);
    - ``"fixed"``: ``theta += natural_learning_rate * p`` (monitor ``train/kl``).

    Defaults: sb3-contrib TRPO's, with the KL measured as TRPO measures it (the mean over action dimensions), so
    that NPG's step is TRPO's step without the line search (Schulman et al., 2015, "Trust Region Policy
    Optimization", Appendix C); on an action space of d > 1 dimensions a joint-KL radius of ``target_kl`` takes
    steps about sqrt(d) times smaller.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy, ...)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: Learning rate of the value function (critic), constant or a schedule
    :param n_steps: Number of steps to run for each environment per update (batch = n_steps * n_envs)
    :param batch_size: Minibatch size of the value-function regression
    :param gamma: Discount factor, in (0, 1]
    :param gae_lambda: GAE trade-off between bias and variance, in [0, 1]
    :param step_rule: ``"trust_region"`` or ``"fixed"`` (see above)
    :param target_kl: KL radius delta of the trust-region step rule
    :param kl_reduction: how the per-action-dimension KLs of a diagonal Gaussian (or Bernoulli) policy enter the KL
        whose Hessian is F and whose radius is ``target_kl``: ``"mean"`` (default) averages them, as sb3-contrib's
        TRPO does, so ``target_kl`` and ``cg_damping`` mean what they mean in TRPO; ``"sum"`` uses the joint KL
        (the radius then does not depend on the action dimension d; ``"mean"`` with delta and xi equals ``"sum"``
        with d * delta and d * xi). No effect on Discrete actions.
    :param natural_learning_rate: Step size eta of the fixed step rule
    :param cg_max_steps: Maximum number of conjugate-gradient iterations (K_cg)
    :param cg_damping: Damping xi >= 0 added to the Fisher matrix (F + xi I)
    :param cg_residual_tol: Conjugate gradient stops when the squared residual norm falls below this
    :param n_critic_updates: Number of epochs of value-function regression per update
    :param normalize_advantage: Standardize the advantages over the batch
    :param sub_sampling_factor: Use every k-th sample of the batch for the Fisher-vector products (speed)
    :param use_sde: Whether to use generalized State Dependent Exploration (gSDE) instead of action noise
    :param sde_sample_freq: Sample a new noise matrix every n steps when using gSDE (-1: only at rollout start)
    :param rollout_buffer_class: Rollout buffer class to use (None: selected automatically)
    :param rollout_buffer_kwargs: Keyword arguments to pass to the rollout buffer on creation
    :param stats_window_size: Window size for the rollout logging, specifying the number of episodes to average
    :param tensorboard_log: the log location for tensorboard (if None, no logging)
    :param policy_kwargs: additional arguments to be passed to the policy on creation
    :param verbose: Verbosity level: 0 for no output, 1 for info messages, 2 for debug messages
    :param seed: Seed for the pseudo random generators
    :param device: Device (cpu, cuda, ...) on which the code should be run
    :param _init_setup_model: Whether or not to build the network at the creation of the instance
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": ActorCriticPolicy,
        "CnnPolicy": ActorCriticCnnPolicy,
        "MultiInputPolicy": MultiInputActorCriticPolicy,
    }
    supported_action_spaces = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
    policy: ActorCriticPolicy

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-3,
        n_steps: int = 2048,
        batch_size: int = 128,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        step_rule: str = "trust_region",
        target_kl: float = 0.01,
        kl_reduction: str = "mean",
        natural_learning_rate: float = 0.1,
        cg_max_steps: int = 15,
        cg_damping: float = 0.1,
        cg_residual_tol: float = 1e-10,
        n_critic_updates: int = 10,
        normalize_advantage: bool = True,
        sub_sampling_factor: int = 1,
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        rollout_buffer_class: type[RolloutBuffer] | None = None,
        rollout_buffer_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        check_common_arguments(locals())
        check_in_range("gae_lambda", gae_lambda, 0.0, 1.0)
        check_choice("step_rule", step_rule, STEP_RULES)
        check_positive("target_kl", target_kl)
        check_choice("kl_reduction", kl_reduction, KL_REDUCTIONS)
        check_positive("natural_learning_rate", natural_learning_rate)
        check_positive_int("cg_max_steps", cg_max_steps)
        check_non_negative("cg_damping", cg_damping)
        check_non_negative("cg_residual_tol", cg_residual_tol)
        check_positive_int("n_critic_updates", n_critic_updates)
        check_positive_int("sub_sampling_factor", sub_sampling_factor)
        if env is not None:  # before SB3, which asserts on an unbounded Box: the shared message names the env
            env = maybe_make_env(env, verbose)
            check_env_spaces("NPG", env, self.supported_action_spaces)
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            gamma=gamma,
            gae_lambda=gae_lambda,
            ent_coef=0.0,  # no entropy bonus: the step is the natural gradient of the surrogate
            vf_coef=0.0,  # the value function has its own regression loss
            max_grad_norm=0.0,  # unused: the step size comes from the step rule
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            rollout_buffer_class=rollout_buffer_class,
            rollout_buffer_kwargs=rollout_buffer_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            device=device,
            seed=seed,
            _init_setup_model=False,
        )
        check_action_space("NPG", getattr(self, "action_space", None), self.supported_action_spaces)
        self.batch_size = batch_size
        self.step_rule = step_rule
        self.target_kl = target_kl
        self.kl_reduction = kl_reduction
        self.natural_learning_rate = natural_learning_rate
        self.cg_max_steps = cg_max_steps
        self.cg_damping = cg_damping
        self.cg_residual_tol = cg_residual_tol
        self.n_critic_updates = n_critic_updates
        self.normalize_advantage = normalize_advantage
        self.sub_sampling_factor = sub_sampling_factor
        check_normalizable_batch(normalize_advantage, n_steps, self.n_envs if self.env is not None else None)
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        super()._setup_model()
        # The policy's optimizer trains the critic only; the actor moves by natural-gradient steps.
        self.policy.optimizer = self.policy.optimizer_class(  # type: ignore[call-arg]
            value_only_parameters(self.policy), lr=self.lr_schedule(1), **self.policy.optimizer_kwargs
        )

    def train(self) -> None:
        """One NPG update: fit the critic (step 3), then one natural-gradient step of the actor (steps 4-7)."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        self._fit_value()
        for batch in self.rollout_buffer.get(batch_size=None):  # the whole rollout, once
            self._natural_step(batch)
        self._n_updates += 1
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        values, returns = self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten()
        self.logger.record("train/explained_variance", explained_variance(values, returns))
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())

    def _fit_value(self) -> None:
        """Minibatch regression of V_phi on the GAE targets A + V_old for ``n_critic_updates`` epochs."""
        losses = []
        for _ in range(self.n_critic_updates):
            for batch in self.rollout_buffer.get(self.batch_size):
                loss = F.mse_loss(self.policy.predict_values(batch.observations).flatten(), batch.returns)
                self.policy.optimizer.zero_grad()
                loss.backward()
                self.policy.optimizer.step()
                losses.append(loss.item())
        self.logger.record("train/value_loss", float(np.mean(losses)))

    def _natural_step(self, batch: RolloutBufferSamples) -> None:
        """theta <- theta + alpha p with p = F^-1 g by conjugate gradient, alpha from the step rule."""
        params = actor_parameters(self.policy)
        actions = batch.actions.long().flatten() if isinstance(self.action_space, spaces.Discrete) else batch.actions
        advantages = batch.advantages
        if self.normalize_advantage:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        # Surrogate L(theta) = mean(ratio * A); its gradient at theta_k is mean(A grad log pi), the policy gradient
        log_prob = self.policy.get_distribution(batch.observations).log_prob(actions)
        objective = (advantages * th.exp(log_prob - batch.old_log_prob)).mean()
        gradient = flat_grad(objective, params)
        with th.no_grad():
            # get_distribution returns the policy's one (mutable) distribution object: keep copies
            old_distribution = copy.copy(self.policy.get_distribution(batch.observations))
        fvp_obs: PyTorchObs = batch.observations
        fvp_old = old_distribution
        if self.sub_sampling_factor > 1:
            fvp_obs = take_observations(batch.observations, slice(None, None, self.sub_sampling_factor))
            with th.no_grad():
                fvp_old = copy.copy(self.policy.get_distribution(fvp_obs))
        kl = mean_kl(fvp_old, self.policy.get_distribution(fvp_obs), self.kl_reduction)
        fisher_product = fisher_vector_product_fn(kl, params, self.cg_damping)
        natural = natural_gradient_direction(fisher_product, gradient, self.cg_max_steps, self.cg_residual_tol)
        if self.step_rule == "trust_region":
            step_size = trust_region_step_size(natural.quadratic_form, self.target_kl)
        else:
            step_size = self.natural_learning_rate
        add_to_parameters(params, step_size * natural.direction)
        with th.no_grad():  # one forward pass for both diagnostics
            new_distribution = self.policy.get_distribution(batch.observations)
            realized_kl = mean_kl(old_distribution, new_distribution, self.kl_reduction).item()
            new_log_prob = new_distribution.log_prob(actions)
            new_objective = (advantages * th.exp(new_log_prob - batch.old_log_prob)).mean().item()
        self.logger.record("train/kl", realized_kl)
        self.logger.record("train/step_size", step_size)
        self.logger.record("train/cg_residual", natural.relative_residual)
        self.logger.record("train/policy_objective", objective.item())
        self.logger.record("train/policy_improvement", new_objective - objective.item())
        self.logger.record("train/natural_grad_norm", float(th.linalg.norm(natural.direction)))

    def learn(
        self: SelfNPG,
        total_timesteps: int = 1_000_000,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "NPG",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfNPG:
        """Train for ``total_timesteps`` environment steps (1M by default, a MuJoCo budget)."""
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )


__all__ = ["NPG"]
