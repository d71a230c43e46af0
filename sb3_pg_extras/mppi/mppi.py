from __future__ import annotations

import hashlib
import math
import time
import warnings
from typing import Any, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback

from sb3_pg_extras.common.dynamics import (
    DynamicsComponent,
    ScheduledModelRefits,
    check_env_id,
    check_model_based_env,
    vec_env_id,
)
from sb3_pg_extras.common.planning import MPPIPlanner, shift_plan
from sb3_pg_extras.common.planning.backends import (
    KnownFunctionsBackend,
    LearnedEnsembleBackend,
    RolloutBackend,
    SimulatorBackend,
    resolve_dynamics_mode,
)
from sb3_pg_extras.common.planning.backends import MarkDivergedModel as _MarkDivergedModel  # noqa: F401 (its old name)
from sb3_pg_extras.common.saving import CheckedFiles, CheckedReplayBuffer
from sb3_pg_extras.common.utils import user_stacklevel
from sb3_pg_extras.common.validation import (
    check_choice,
    check_common_arguments,
    check_env_spaces,
    check_non_negative,
    check_positive_int,
)
from sb3_pg_extras.envs import DynamicsFn, TransitionFn
from sb3_pg_extras.mppi.policies import MPPIPolicy

SelfMPPI = TypeVar("SelfMPPI", bound="MPPI")


DYNAMICS_MODES = ("auto", "known", "simulator", "learned")


class MPPI(CheckedFiles, CheckedReplayBuffer, ScheduledModelRefits, OffPolicyAlgorithm):
    """
    Model Predictive Path Integral control: at every step, ``n_samples`` perturbed action sequences of ``horizon``
    steps around a nominal plan are rolled out through a model, weighted by ``softmax(-cost / temperature)``, and
    averaged into the new plan, whose first action is taken; the rest of the plan, shifted by one step, is the next
    step's nominal plan (the warm start).

    Paper: G. Williams, N. Wagener, B. Goldfain, P. Drews, J. Rehg, B. Boots, E. Theodorou, "Information Theoretic
    MPC for Model-Based Reinforcement Learning", ICRA 2017 (Algorithm 2).

    Dynamics (``dynamics_mode``):

    - ``"known"``: a batched torch transition of the env: ``dynamics_fn`` when given, else the env's own from
      ``sb3_pg_extras.envs`` (Pendulum-v1, MountainCarContinuous-v0); nothing is learned;
    - ``"learned"``: the shared dynamics ensemble (``dynamics_kwargs``), one random elite member per particle for the
      whole horizon (trajectory sampling); ``learn()`` takes ``learning_starts`` uniform random steps, then acts with
      the planner and refits the ensemble on all real data every ``model_train_freq`` env steps;
    - ``"simulator"``: the env's true MuJoCo simulator, rolled out in batch with ``mujoco.rollout`` from the state behind
      the observation (each control held for the env's frame skip), rewards and terminations computed from the
      simulator states exactly as the env computes them (InvertedPendulum-v5, HalfCheetah-v5, Hopper-v5, Walker2d-v5:
      ``sb3_pg_extras.envs.simulator``); nothing is learned;
    - ``"auto"`` (default): ``"known"`` when the env's torch dynamics are known, else ``"simulator"`` when its simulator
      state mapping is, else ``"learned"``.

    Costs are minus the (``gamma``-discounted) rewards of the imagined steps (a terminated sequence earns nothing
    after its termination, and pays ``termination_cost`` for every step of the horizon it loses) plus an optional
    control cost. A sampled sequence whose rollout diverged (in the simulator: MuJoCo's instability check fired, a
    state is not finite, an acceleration exceeds 1e5, or the rollout gained more than 0.25 J per kg of the model's
    mass beyond its actuators' work; with known or learned dynamics: a predicted state or a reward is not finite) gets
    weight 0; if every sequence diverged, the (shifted) nominal plan is kept, and the counts are
    logged under ``planner/``. Rewards and terminations come from ``reward_fn`` /
    ``termination_fn`` (in every mode: in the simulator mode they score the observations of the rolled-out states),
    the env's known functions, or learned heads. Settings that the resolved mode does not use (``dynamics_fn``
    outside ``"known"``; ``dynamics_kwargs``, ``learn_reward``, ``learn_termination`` outside ``"learned"``) are
    refused at construction. The planner works in SB3's [-1, 1] action
    scale (``noise_std`` is in that scale) and unscales actions for the env and the known functions.

    ``predict(obs, state, episode_start)`` plans for every env; the warm-start plans travel in SB3's ``state``
    (shape (n_envs, horizon, action_dim)) and are reset where ``episode_start`` is True. Without a ``state`` it plans
    from a zero nominal plan in SB3's [-1, 1] scale, which is the midpoint of the env's action range; the shifted plan
    is filled with the same midpoint (not a zero action where the bounds are asymmetric). Observations are cast to
    float32, also in the simulator mode (the simulator's predictions then agree with the env to about 1e-5, not to
    the 1e-9 of a float64 state); a non-finite observation is refused. ``learn()`` keeps its own plans across steps.
    In the learned mode it acts at random until the first fit of the ensemble (after ``learning_starts`` steps), so
    the first planned action uses a fitted model.

    Defaults: K = 1000 sequences of H = 30 steps, enough for the known Pendulum-v1 dynamics; in the simulator mode
    of MuJoCo envs that is K x H = 30,000 simulator steps per action, so use fewer samples there. The planner
    maximizes the reward it is given: HalfCheetah-v5's reward pays for forward speed in any posture, so planning on
    it makes the cheetah somersault; a ``reward_fn`` that penalizes the root's rotation makes it run.

    :param policy: "MlpPolicy" (a parameter-free placeholder: MPPI learns no policy network)
    :param env: the environment (flat Box observations, bounded Box actions)
    :param dynamics_mode: "auto", "known", "simulator" or "learned" (see above)
    :param n_samples: K, sampled sequences per planning iteration (>= 2)
    :param horizon: H, steps of every sequence (>= 1)
    :param temperature: lambda > 0 of the weights ``softmax(-cost / lambda)``
    :param noise_std: standard deviation of the perturbations, in SB3's [-1, 1] action scale
    :param iterations: planning iterations per action
    :param gamma: discount of the rewards along the horizon
    :param control_cost: weight of the control cost ``lambda * nominal^T Sigma^-1 eps`` (0: none)
    :param smoothing: AR(1) correlation of the perturbations along the horizon, in [0, 1)
    :param termination_cost: cost of every horizon step that a sampled sequence loses to a termination (discounted
        like the rewards), a number >= 0, or ``"auto"``: in the simulator mode the env's reward for staying alive one
        step (``healthy_reward`` of Hopper-v5 / Walker2d-v5, 1 for InvertedPendulum-v5, 0 for HalfCheetah-v5), else 0
        (a known or learned termination may be a goal, as in MountainCarContinuous-v0)
    :param n_knots: draw the perturbations at this many knots spread evenly over the horizon and interpolate them
        linearly to its steps (2 <= n_knots <= horizon; the spline knots of MuJoCo MPC's predictive sampling, Howell et
        al. 2022), so that a long horizon has few noise dimensions; the plan itself stays one action per step. Needs
        ``smoothing = 0`` and ``control_cost = 0`` (see :class:`~sb3_pg_extras.common.planning.MPPIPlanner`). None
        (default): every step its own perturbation
    :param nominal_sample: score the nominal plan (the previous call's plan, shifted) as the first of the K candidates
        of every round, so that a sequence the planner already has is kept unless a sample beats it (the nominal
        candidate of MuJoCo MPC's predictive sampling, Howell et al. 2022). With exact dynamics (the simulator mode)
        this makes the plan the planner keeps one it has evaluated. Off by default
    :param learning_starts: uniform random env steps before the first fit of the model (learned dynamics only)
    :param model_train_freq: env steps between two refits of the learned ensemble
    :param dynamics_kwargs: settings of the learned ensemble (:class:`~sb3_pg_extras.common.dynamics.DynamicsSettings`)
    :param dynamics_fn: known batched dynamics ``(obs, action) -> next_obs``, actions in env units (``"known"`` mode)
    :param reward_fn: ``(obs, action, next_obs) -> reward``, batched torch, actions in env units; None: the env's
        known function (the simulator mode: the env's own reward), or the learned head if ``learn_reward``
    :param termination_fn: ``(obs, action, next_obs) -> bool``, as ``reward_fn``
    :param learn_reward: learn a reward head with the ensemble (learned dynamics, no reward function)
    :param learn_termination: learn a termination head with the ensemble (learned dynamics, no termination function)
    :param env_id: versioned env id for the known functions (default: the env's ``spec.id``)
    :param buffer_size: size of the buffer of real transitions (the learned model's data)
    :param stats_window_size: as SB3
    :param tensorboard_log: as SB3
    :param policy_kwargs: unused (the placeholder policy has no settings)
    :param verbose: as SB3
    :param seed: as SB3 (seeds the planner's noise too)
    :param device: as SB3
    :param _init_setup_model: whether or not to build the model at the creation of the instance
    """

    policy_aliases = {"MlpPolicy": MPPIPolicy}

    def __init__(
        self,
        policy: str | type[MPPIPolicy],
        env: GymEnv | str,
        dynamics_mode: str = "auto",
        n_samples: int = 1000,
        horizon: int = 30,
        temperature: float = 1.0,
        noise_std: float = 0.5,
        iterations: int = 1,
        gamma: float = 1.0,
        control_cost: float = 0.0,
        smoothing: float = 0.0,
        termination_cost: float | str = "auto",
        n_knots: int | None = None,
        nominal_sample: bool = False,
        learning_starts: int = 1000,
        model_train_freq: int = 250,
        dynamics_kwargs: dict[str, Any] | None = None,
        dynamics_fn: DynamicsFn | None = None,
        reward_fn: TransitionFn | None = None,
        termination_fn: TransitionFn | None = None,
        learn_reward: bool = False,
        learn_termination: bool = False,
        env_id: str | None = None,
        buffer_size: int = 1_000_000,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        check_common_arguments(locals())
        check_env_id(env_id)
        if env is not None:
            env = maybe_make_env(env, verbose)
            check_env_spaces("MPPI", env, (spaces.Box,), "flat_box")
        check_choice("dynamics_mode", dynamics_mode, DYNAMICS_MODES)
        # the planner refuses bad K, H, lambda, noise, iterations, smoothing and knots with a message naming them
        MPPIPlanner(
            n_samples, horizon, temperature, noise_std, iterations, gamma, control_cost, smoothing, n_knots=n_knots,
            nominal_sample=nominal_sample,
        )  # fmt: skip
        check_non_negative("control_cost", control_cost)
        if termination_cost != "auto":
            if isinstance(termination_cost, bool) or not isinstance(termination_cost, (int, float)):
                raise ValueError(f"MPPI's `termination_cost` must be a number >= 0 or 'auto', got {termination_cost!r}")
            if not (math.isfinite(termination_cost) and termination_cost >= 0):
                raise ValueError(f"MPPI's `termination_cost` must be finite and >= 0, got {termination_cost!r}")
        for name, value in (("model_train_freq", model_train_freq), ("buffer_size", buffer_size)):
            check_positive_int(name, value)
        self.dynamics_mode = dynamics_mode
        self.n_samples = n_samples
        self.horizon = horizon
        self.temperature = temperature
        self.noise_std = noise_std
        self.iterations = iterations
        self.control_cost = control_cost
        self.smoothing = smoothing
        self.termination_cost = termination_cost
        self.n_knots = None if n_knots is None else int(n_knots)
        self.nominal_sample = nominal_sample
        self.model_train_freq = model_train_freq
        self.dynamics_kwargs = dynamics_kwargs
        self.dynamics_fn = dynamics_fn
        self.reward_fn = reward_fn
        self.termination_fn = termination_fn
        self.learn_reward = learn_reward
        self.learn_termination = learn_termination
        self.env_id = env_id
        self._init_refit_counters()
        self.plan_time = 0.0
        self.n_planned = 0
        super().__init__(
            policy,
            env,
            learning_rate=0.0,  # nothing is optimized by gradient outside the learned ensemble (its own settings)
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            gamma=gamma,
            train_freq=1,
            gradient_steps=1,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            support_multi_env=True,
            seed=seed,
            sde_support=False,
            supported_action_spaces=(spaces.Box,),
        )
        if self.env_id is None:
            self.env_id = vec_env_id(self.env)
        if _init_setup_model:
            self._setup_model()

    @property
    def uses_learned_model(self) -> bool:
        return self.resolved_dynamics == "learned"

    @property
    def resolved_dynamics(self) -> str:
        """The dynamics actually used: ``"auto"`` becomes ``"known"`` where the env's torch dynamics are known, else
        ``"simulator"`` where its simulator state mapping is, else ``"learned"``."""
        return resolve_dynamics_mode(self.dynamics_mode, self.env_id, self.dynamics_fn)

    def _setup_model(self) -> None:
        super()._setup_model()
        assert isinstance(self.action_space, spaces.Box) and isinstance(self.observation_space, spaces.Box)
        self._check_mode_settings()
        mode = self.resolved_dynamics  # VecNormalize, user functions, env id and env settings: the shared checks
        check_model_based_env(
            "MPPI", self.env, self.env_id, self.observation_space, self.action_space, self.reward_fn, self.termination_fn,
            self.dynamics_fn, mode == "known" and self.dynamics_fn is None, mode == "simulator", self.device,
        )  # fmt: skip
        self._backend = self._make_backend()
        # the learned ensemble, if any, is fitted and saved by ScheduledModelRefits under this name
        self.dynamics: DynamicsComponent | None = self._backend.dynamics
        self.planner = MPPIPlanner(
            self.n_samples, self.horizon, self.temperature, self.noise_std, self.iterations, self.gamma,
            self.control_cost, self.smoothing, termination_cost=self.resolved_termination_cost, n_knots=self.n_knots,
            nominal_sample=self.nominal_sample,
        )  # fmt: skip
        self._plans: np.ndarray | None = None  # learn()'s warm-start plans, one per env
        self._all_diverged_reported = 0

    @property
    def resolved_termination_cost(self) -> float:
        """The cost of a horizon step lost to a termination: ``termination_cost``, or for ``"auto"`` the env's alive
        reward in the simulator mode and 0 otherwise."""
        if self.termination_cost != "auto":
            return float(self.termination_cost)
        return self._backend.alive_reward  # 0 for known or learned dynamics, whose termination may be a goal

    def _check_mode_settings(self) -> None:
        """Settings that the resolved dynamics mode would not use are refused, never silently ignored."""
        mode = self.resolved_dynamics
        unused = [name for name, used_by in (
            ("dynamics_fn", "known"), ("dynamics_kwargs", "learned"), ("learn_reward", "learned"),
            ("learn_termination", "learned"),
        ) if getattr(self, name) and mode != used_by]  # fmt: skip
        if unused:
            modes = " or ".join(repr(m) for m in sorted({"known" if name == "dynamics_fn" else "learned" for name in unused}))
            raise ValueError(
                f"MPPI plans with dynamics_mode={mode!r} for the env {self.env_id!r} (dynamics_mode="
                f"{self.dynamics_mode!r}), which does not use {', '.join(f'`{name}`' for name in unused)}: those "
                f"settings belong to dynamics_mode={modes}; pass that mode, or drop them"
            )

    def _make_backend(self) -> RolloutBackend:
        """The dynamics the planner rolls its sequences through, chosen once from the resolved ``dynamics_mode``."""
        assert isinstance(self.action_space, spaces.Box) and isinstance(self.observation_space, spaces.Box)
        mode = self.resolved_dynamics
        if mode == "simulator":
            # a private copy of the env (made from the training env's spec, or from ``env_id`` and the saved kwargs
            # after a load without env) whose MuJoCo model is rolled out; the training env's simulator is never touched
            env_spec = self.env.get_attr("spec")[0] if self.env is not None else None
            if env_spec is not None:
                self.simulator_env_kwargs = dict(env_spec.kwargs)
            return SimulatorBackend(
                "MPPI", self.env_id, self.action_space, getattr(self, "simulator_env_kwargs", {}), self.reward_fn,
                self.termination_fn,
            )  # fmt: skip
        if mode == "known":
            return KnownFunctionsBackend(
                "MPPI", self.env_id, self.action_space, self.dynamics_fn, self.reward_fn, self.termination_fn, self.device
            )
        return LearnedEnsembleBackend(
            "MPPI", self.env_id, self.observation_space, self.action_space, self.dynamics_kwargs, self.reward_fn,
            self.termination_fn, self.learn_reward, self.learn_termination, self.device,
        )  # fmt: skip

    @th.inference_mode()  # lighter than no_grad for the many small ops of a plan (no version counters)
    def plan(
        self, observations: th.Tensor, plans: th.Tensor, generator: th.Generator | list[th.Generator] | None = None
    ) -> th.Tensor:
        """Optimized plans (n, H, action_dim), in SB3's [-1, 1] action scale, for n observations and nominal plans
        (one planning problem per env: a loop over envs, never over samples); ``generator``: one for all envs, or one
        per env."""
        start = time.perf_counter()
        generators = generator if isinstance(generator, list) else [generator] * len(observations)
        optimized = []
        for obs, nominal, env_generator in zip(observations, plans, generators):
            optimized.append(self.planner.plan(obs, nominal, self._backend.rollout, env_generator))
            self._backend.executed(obs, optimized[-1][0])  # the simulator predicts what the observation will clip
        out = th.stack(optimized)
        self.plan_time += time.perf_counter() - start
        self.n_planned += len(observations)
        if self.planner.n_all_diverged > self._all_diverged_reported:
            self._all_diverged_reported = self.planner.n_all_diverged
            warnings.warn(
                "MPPI: every sampled sequence diverged (non-finite costs); the shifted previous plan is kept "
                "(counted in `planner/all_diverged`)",
                RuntimeWarning,
                stacklevel=user_stacklevel(),
            )
        logger = getattr(self, "_logger", None)  # set by learn(); predict() alone has none
        if logger is not None:
            logger.record("planner/diverged_fraction", self.planner.n_diverged / max(self.planner.n_sampled, 1))
            logger.record("planner/all_diverged", self.planner.n_all_diverged)
            for name, value in self._backend.diagnostics().items():
                logger.record(f"planner/{name}", value)
        return out

    # The state is one array of plans, not SB3's tuple of arrays: SB3 hands any state object back unchanged.
    def predict(  # type: ignore[override]
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | np.ndarray | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Plan and return the first action of every env's optimized plan (env units), and the shifted plans as the
        next ``state``. ``deterministic=True`` draws each env's perturbations from a generator seeded by the model's
        seed, that env's observation and its warm-start plan: the same observation and state always give the same
        action, and every step draws new perturbations (a generator reset to one seed would draw the same K
        perturbations at every step, a search that never widens); ``False`` draws them from torch's global
        generator. In the simulator mode on an env that clips velocities in its observation (Hopper, Walker2d), the
        simulator restores clipped velocities from the state it predicted after the action of the call before (when
        its observation matches: :class:`~sb3_pg_extras.common.planning.simulator.SimulatorRollout`)."""
        assert isinstance(self.action_space, spaces.Box)
        if not isinstance(observation, np.ndarray):
            raise ValueError(f"MPPI plans from flat Box observations (numpy arrays), got {type(observation).__name__}")
        # flat Box observations (checked at construction): one observation is 1-D, a batch 2-D; SB3's generic check
        # costs a few milliseconds per call, as much as a tenth of a plan
        vectorized = observation.ndim == 2
        if not np.isfinite(observation).all():
            raise ValueError(
                "MPPI cannot plan from a non-finite observation (NaN or inf): the env diverged or returned a bad value; "
                "wrap it in VecCheckFinite to find where"
            )
        obs_dim = int(np.prod(observation.shape[1:] if vectorized else observation.shape))
        obs = th.as_tensor(observation, device=self.device, dtype=th.float32).reshape(-1, obs_dim)
        n_envs, shape = obs.shape[0], (self.horizon, *self.action_space.shape)
        nominal = np.zeros((n_envs, *shape), dtype=np.float32) if state is None else np.array(state, dtype=np.float32)
        if nominal.shape != (n_envs, *shape):
            raise ValueError(f"MPPI's state must be the plans of shape {(n_envs, *shape)}, got {nominal.shape}")
        if not np.isfinite(nominal).all():
            raise ValueError("MPPI's state (the warm-start plans) must be finite")
        if episode_start is not None:
            nominal[np.asarray(episode_start, dtype=bool).reshape(n_envs)] = 0.0
        generators = [self._input_generator(o, p) for o, p in zip(obs, nominal)] if deterministic else None
        plans = self.plan(obs, th.as_tensor(nominal, device=self.device), generators)
        actions = self.policy.unscale_action(plans[:, 0].cpu().numpy())
        next_state = th.stack([shift_plan(p) for p in plans]).cpu().numpy()
        return (actions if vectorized else actions[0]), next_state

    def _input_generator(self, obs: th.Tensor, nominal: np.ndarray) -> th.Generator:
        """Deterministic predict's generator for one env: seeded by a hash of the model's seed, the observation and
        the warm-start plan (bytes of float32 arrays)."""
        data = np.int64(self.seed or 0).tobytes() + obs.cpu().numpy().tobytes() + np.ascontiguousarray(nominal).tobytes()
        seed = int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1
        return th.Generator(device=self.device).manual_seed(seed)

    def _sample_action(self, learning_starts: int, action_noise: Any = None, n_envs: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Random warm-up steps (learned dynamics) until the first fit of the model, else the planner's action with
        learn()'s own warm-start plans. SB3 trains only once ``num_timesteps > learning_starts``, so the warm-up lasts
        ``learning_starts + 1`` steps and the first planned action uses the fitted model."""
        if self.uses_learned_model and (self.num_timesteps < learning_starts or self.last_model_update < 0):
            # SB3 samples uniformly while num_timesteps < its learning_starts argument: ask for a warm-up step
            return super()._sample_action(self.num_timesteps + 1, None, n_envs)
        actions, self._plans = self.predict(self._last_obs, self._plans)  # type: ignore[arg-type]
        scaled = self.policy.scale_action(actions)
        return self.policy.unscale_action(scaled), scaled

    def _store_transition(self, replay_buffer: ReplayBuffer, buffer_action: np.ndarray, new_obs: Any, reward: np.ndarray,
                          dones: np.ndarray, infos: list[dict[str, Any]]) -> None:  # fmt: skip
        if self._plans is not None:  # a new episode starts from a fresh plan
            self._plans[np.asarray(dones, dtype=bool)] = 0.0
        super()._store_transition(replay_buffer, buffer_action, new_obs, reward, dones, infos)

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        """Refit the learned ensemble every ``model_train_freq`` env steps (nothing to train with known dynamics)."""
        if self._refit_dynamics_if_due():
            self._n_updates += 1  # MPPI's only update is a model refit
            self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        if self.n_planned:
            self.logger.record("time/plan_ms", 1000 * self.plan_time / self.n_planned)

    def learn(
        self: SelfMPPI,
        total_timesteps: int = 10_000,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "MPPI",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfMPPI:
        """Run the controller in the env (callbacks, evaluation and logging as usual) and, with learned dynamics, fit
        the model; the default budget is 10k env steps."""
        return super().learn(total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps, progress_bar)

    def _excluded_save_params(self) -> list[str]:
        # the dynamics component is handled by ScheduledModelRefits
        return [*super()._excluded_save_params(), "_backend", "planner", "_plans"]


__all__ = ["MPPI"]
