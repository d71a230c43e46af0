from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticCnnPolicy, ActorCriticPolicy, BasePolicy, MultiInputActorCriticPolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, PyTorchObs, Schedule
from stable_baselines3.common.utils import FloatSchedule, explained_variance, update_learning_rate
from torch.nn import functional as F

from sb3_pg_extras.common.actor_critic import actor_parameters, value_only_parameters
from sb3_pg_extras.common.buffers import DictMonteCarloRolloutBuffer, MonteCarloRolloutBuffer, _MonteCarloReturnsMixin
from sb3_pg_extras.common.returns import policy_gradient_weights, relative_improvement
from sb3_pg_extras.common.saving import CheckedFiles
from sb3_pg_extras.common.utils import optimized_parameters, take_observations
from sb3_pg_extras.common.validation import (
    check_action_space,
    check_choice,
    check_common_arguments,
    check_env_spaces,
    check_non_negative,
    check_normalizable_batch,
    check_optional_positive_int,
    check_positive,
    check_positive_int,
    learning_rate_schedule,
)

SelfREINFORCE = TypeVar("SelfREINFORCE", bound="REINFORCE")


class _EpisodeStepCounter(BaseCallback):
    """
    Counts each env's steps since its episode began at every env step, including the step SB3 takes but does not
    store when a callback stops training, and hands the count to the rollout buffer at each rollout start: the
    ``gamma^t`` index of ``gamma_weighting`` then follows the env after a stop and resume.
    """

    def __init__(self, steps: np.ndarray) -> None:
        super().__init__()
        self.steps = steps

    def _on_rollout_start(self) -> None:
        self.model.rollout_buffer._carried_step = self.steps.copy()  # type: ignore[attr-defined]

    def _on_step(self) -> bool:
        self.steps[:] = np.where(self.locals["dones"], 0, self.steps + 1)
        return True


class _InitializedCallbackList(CallbackList):
    """A callback list over callbacks that are already initialized (SB3's ``_setup_learn`` did the user's)."""

    def _init_callback(self) -> None:
        pass


BASELINES = ("learned", None)


class REINFORCE(CheckedFiles, OnPolicyAlgorithm):
    """
    REINFORCE (Monte-Carlo policy gradient) with a learned state-value baseline.

    Each update collects ``n_steps * n_envs`` on-policy steps, computes discounted returns-to-go to the end
    of each episode, fits the baseline V_phi to them (to convergence on this batch), and takes a single policy
    step along ``mean_t w_t grad log pi(a_t|s_t)`` with ``w_t = g_t - V_phi(s_t)``.
    Paper: R. J. Williams, "Simple statistical gradient-following algorithms for connectionist reinforcement
    learning", Machine Learning 8, 1992, http://www-anw.cs.umass.edu/~barto/courses/cs687/williams92simple.pdf.
    Discounted returns-to-go and the state-value baseline as in R. S. Sutton, A. G. Barto, "Reinforcement Learning:
    An Introduction", 2nd ed., 2018, §13.3 (REINFORCE) and §13.4 (REINFORCE with Baseline).

    Episodes cut by the end of a rollout, and episodes truncated by a time limit, are closed with the
    baseline's value of the next state (``gamma^k V_phi(s)``); with ``baseline=None`` that value is 0, so
    both are treated as episode ends (plain Monte-Carlo sums).

    Defaults: the CartPole-v1 zoo entry's settings for one env (baseline rate 3e-3, 512 steps per update, like the
    entry's 8 envs x 64 steps) with a policy rate of 1e-3 instead of the entry's 3e-3, which is less prone to
    collapse late in training on other tasks.

    :param policy: The policy model to use (MlpPolicy, CnnPolicy, MultiInputPolicy, ...)
    :param env: The environment to learn from (if registered in Gym, can be str)
    :param learning_rate: Learning rate of the policy (actor), constant or a schedule of the remaining progress
    :param n_steps: Number of steps to run for each environment per update (batch = n_steps * n_envs)
    :param gamma: Discount factor, in (0, 1]
    :param baseline: ``"learned"`` (a state-value network fitted to the returns before every policy step) or
        ``None`` (vanilla REINFORCE: the return itself weights the score)
    :param baseline_learning_rate: Learning rate of the baseline, constant, a schedule or ``"lin_<x>"`` (linear decay
        from x to 0 over training, rl_zoo3's convention: YAML files may use it for this key too)
    :param baseline_epochs: Maximum number of passes over the batch when fitting the baseline (K_max)
    :param baseline_batch_size: Minibatch size of the baseline fit; None uses the whole batch per gradient step
    :param baseline_tol: Relative improvement of the epoch loss under which an epoch counts as converged (epsilon)
    :param baseline_patience: Number of consecutive converged epochs that stop the fit (M)
    :param normalize_advantage: Standardize the advantages over the batch before the policy step
    :param gamma_weighting: Multiply each step's advantage by gamma^t (t = step index within the episode), which
        makes the estimate the exact gradient of the discounted objective (Sutton & Barto §13.3). Off by default, as in common
        practice: it shrinks the weight of late steps (0.99^400 ~ 0.02) and slows learning on long episodes.
    :param ent_coef: Entropy bonus coefficient of the policy loss
    :param max_grad_norm: Maximum norm of the policy (and baseline) gradient; None disables clipping
    :param use_sde: Whether to use generalized State Dependent Exploration (gSDE) instead of action noise
    :param sde_sample_freq: Sample a new noise matrix every n steps when using gSDE (-1: only at rollout start)
    :param rollout_buffer_class: Rollout buffer class; must derive from ``MonteCarloRolloutBuffer`` or
        ``DictMonteCarloRolloutBuffer`` (None picks the right one for the observation space)
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
    rollout_buffer: MonteCarloRolloutBuffer | DictMonteCarloRolloutBuffer  # type: ignore[assignment]

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-3,
        n_steps: int = 512,
        gamma: float = 0.99,
        baseline: str | None = "learned",
        baseline_learning_rate: float | Schedule | str = 3e-3,
        baseline_epochs: int = 20,
        baseline_batch_size: int | None = None,
        baseline_tol: float = 1e-3,
        baseline_patience: int = 2,
        normalize_advantage: bool = True,
        gamma_weighting: bool = False,
        ent_coef: float = 0.0,
        max_grad_norm: float | None = None,
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
        check_choice("baseline", baseline, BASELINES)
        learning_rate_schedule("baseline_learning_rate", baseline_learning_rate)  # refuses a bad value now
        check_positive_int("baseline_epochs", baseline_epochs)
        check_optional_positive_int("baseline_batch_size", baseline_batch_size)
        check_non_negative("baseline_tol", baseline_tol)
        check_positive_int("baseline_patience", baseline_patience)
        check_non_negative("ent_coef", ent_coef)
        if max_grad_norm is not None:
            check_positive("max_grad_norm", max_grad_norm)
        if rollout_buffer_class is not None and not issubclass(rollout_buffer_class, _MonteCarloReturnsMixin):
            raise ValueError(
                f"REINFORCE needs Monte-Carlo returns: `rollout_buffer_class` must derive from MonteCarloRolloutBuffer "
                f"or DictMonteCarloRolloutBuffer, got {rollout_buffer_class.__name__}."
            )
        if env is not None:  # before SB3, which asserts on an unbounded Box: the shared message names the env
            env = maybe_make_env(env, verbose)
            check_env_spaces("REINFORCE", env, self.supported_action_spaces)
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            gamma=gamma,
            gae_lambda=1.0,  # unused: returns are Monte-Carlo sums
            ent_coef=ent_coef,
            vf_coef=0.0,  # unused: the baseline has its own optimizer and loss
            max_grad_norm=max_grad_norm,  # type: ignore[arg-type]
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
        check_action_space("REINFORCE", getattr(self, "action_space", None), self.supported_action_spaces)
        self.baseline = baseline
        self.baseline_learning_rate = baseline_learning_rate
        self.baseline_epochs = baseline_epochs
        self.baseline_batch_size = baseline_batch_size
        self.baseline_tol = baseline_tol
        self.baseline_patience = baseline_patience
        self.normalize_advantage = normalize_advantage
        self.gamma_weighting = gamma_weighting
        check_normalizable_batch(normalize_advantage, n_steps, self.n_envs if self.env is not None else None)
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        if self.rollout_buffer_class is None:
            dict_obs = isinstance(self.observation_space, spaces.Dict)
            self.rollout_buffer_class = DictMonteCarloRolloutBuffer if dict_obs else MonteCarloRolloutBuffer
        super()._setup_model()
        baseline_learning_rate = learning_rate_schedule("baseline_learning_rate", self.baseline_learning_rate)
        self.baseline_lr_schedule = FloatSchedule(baseline_learning_rate)
        baseline_params = value_only_parameters(self.policy)
        actor_params = actor_parameters(self.policy)
        # The policy's own optimizer covers the actor only; the baseline gets its own.
        self.policy.optimizer = self.policy.optimizer_class(  # type: ignore[call-arg]
            actor_params, lr=self.lr_schedule(1), **self.policy.optimizer_kwargs
        )
        self.baseline_optimizer: th.optim.Optimizer | None = None
        if self.baseline == "learned":
            self.baseline_optimizer = self.policy.optimizer_class(  # type: ignore[call-arg]
                baseline_params, lr=self.baseline_lr_schedule(1), **self.policy.optimizer_kwargs
            )
        else:
            # Vanilla REINFORCE: V == 0 everywhere, so SB3's bootstrap at truncations and rollout ends adds nothing.
            with th.no_grad():
                for param in self.policy.value_net.parameters():
                    param.zero_()
            for param in baseline_params:
                param.requires_grad_(False)

    def train(self) -> None:
        """One REINFORCE update on the collected rollout: fit the baseline, then a single policy step."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        batch, episode_steps = self.rollout_buffer.ordered_batch()
        values = None
        if self.baseline == "learned":
            self._fit_baseline(batch.observations, batch.returns)
            with th.no_grad():
                values = self.policy.predict_values(batch.observations).flatten()
            self.logger.record(
                "train/explained_variance", explained_variance(values.cpu().numpy(), batch.returns.cpu().numpy())
            )
        weights = policy_gradient_weights(
            batch.returns, values, episode_steps, self.gamma, self.normalize_advantage, self.gamma_weighting
        )
        self._policy_step(batch.observations, batch.actions, weights)
        self._n_updates += 1
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())

    def _fit_baseline(self, observations: PyTorchObs, returns: th.Tensor) -> None:
        """
        Regress V_phi on the returns-to-go of this batch until the epoch loss stops improving by more than
        ``baseline_tol`` (relative) for ``baseline_patience`` epochs, or ``baseline_epochs`` passes.
        """
        assert self.baseline_optimizer is not None
        lr = self.baseline_lr_schedule(self._current_progress_remaining)
        update_learning_rate(self.baseline_optimizer, lr)
        self.logger.record("train/baseline_learning_rate", lr)
        n_samples = returns.shape[0]
        batch_size = min(self.baseline_batch_size or n_samples, n_samples)
        previous, converged, first_loss, epoch_loss, epochs_run = None, 0, float("nan"), float("nan"), 0
        while epochs_run < self.baseline_epochs:
            epochs_run += 1
            order = th.randperm(n_samples, device=returns.device) if batch_size < n_samples else None
            loss_sum = 0.0
            for start in range(0, n_samples, batch_size):
                idx = None if order is None else order[start : start + batch_size]
                target = returns if idx is None else returns[idx]
                loss = F.mse_loss(self.policy.predict_values(take_observations(observations, idx)).flatten(), target)
                self.baseline_optimizer.zero_grad()
                loss.backward()
                if self.max_grad_norm is not None:
                    th.nn.utils.clip_grad_norm_(optimized_parameters(self.baseline_optimizer), self.max_grad_norm)
                self.baseline_optimizer.step()
                loss_sum += loss.item() * target.shape[0]
            epoch_loss = loss_sum / n_samples
            if previous is None:
                first_loss = epoch_loss
            elif relative_improvement(previous, epoch_loss) < self.baseline_tol:
                converged += 1
                if converged >= self.baseline_patience:
                    break
            else:
                converged = 0
            previous = epoch_loss
        self.logger.record("train/value_loss", epoch_loss)
        self.logger.record("train/value_loss_first_epoch", first_loss)
        self.logger.record("train/baseline_epochs", epochs_run)

    def policy_loss(self, observations: PyTorchObs, actions: th.Tensor, weights: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """
        REINFORCE pseudo-loss ``-mean(w_t log pi(a_t|s_t))`` (its gradient is minus the policy-gradient estimate,
        averaged over samples instead of summed per trajectory) and the entropy loss ``-mean(H)``.
        """
        if isinstance(self.action_space, spaces.Discrete):
            actions = actions.long().flatten()
        distribution = self.policy.get_distribution(observations)
        log_prob = distribution.log_prob(actions)
        entropy = distribution.entropy()
        entropy_loss = -th.mean(-log_prob) if entropy is None else -th.mean(entropy)
        return -(weights * log_prob).mean(), entropy_loss

    def _policy_step(self, observations: PyTorchObs, actions: th.Tensor, weights: th.Tensor) -> None:
        """A single policy-gradient step, taken after the baseline fit."""
        pg_loss, entropy_loss = self.policy_loss(observations, actions, weights)
        loss = pg_loss + self.ent_coef * entropy_loss
        self.policy.optimizer.zero_grad()
        loss.backward()
        max_norm = float("inf") if self.max_grad_norm is None else self.max_grad_norm
        grad_norm = th.nn.utils.clip_grad_norm_(optimized_parameters(self.policy.optimizer), max_norm)
        self.policy.optimizer.step()
        self.logger.record("train/policy_loss", pg_loss.item())
        self.logger.record("train/entropy_loss", entropy_loss.item())
        self.logger.record("train/grad_norm", grad_norm.item())
        self.logger.record("train/advantage_std", weights.std().item() if weights.numel() > 1 else 0.0)

    def _setup_learn(self, total_timesteps: int, callback: MaybeCallback = None, *args: Any, **kwargs: Any) -> Any:
        reset_num_timesteps = kwargs.get("reset_num_timesteps", args[0] if args else True)
        env_resets = reset_num_timesteps or self._last_obs is None
        total_timesteps, user_callback = super()._setup_learn(total_timesteps, callback, *args, **kwargs)
        if env_resets or getattr(self, "_episode_step", None) is None:
            self._episode_step = np.zeros(self.n_envs, dtype=np.int64)
        counter = _EpisodeStepCounter(self._episode_step)
        counter.init_callback(self)
        callbacks = _InitializedCallbackList([counter, user_callback])
        callbacks.init_callback(self)
        return total_timesteps, callbacks

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        state_dicts = ["policy", "policy.optimizer"]
        if self.baseline == "learned":
            state_dicts.append("baseline_optimizer")
        return state_dicts, []

    def learn(
        self: SelfREINFORCE,
        total_timesteps: int = 100_000,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "REINFORCE",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfREINFORCE:
        """Train for ``total_timesteps`` environment steps (100k by default: enough for CartPole-v1)."""
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )


__all__ = ["REINFORCE"]
