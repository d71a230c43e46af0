"""
One row per algorithm of the package: the tiny settings every generic test uses, and what the algorithm
supports. A new algorithm only adds its row here (and its zoo YAML file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.envs import IdentityEnv, IdentityEnvBox, IdentityEnvMultiBinary, IdentityEnvMultiDiscrete
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from sb3_pg_extras import MBPO, MPPI, NPG, REINFORCE, SVG, DiscreteSAC, OffPAC


@dataclass
class AlgoCase:
    zoo_key: str
    cls: type[BaseAlgorithm]
    kwargs: dict[str, Any]
    action_spaces: tuple[str, ...]
    # an env id of each supported kind, used by tests that need a real task
    env_id: str = "CartPole-v1"
    # attributes holding extra optimizers / modules besides the policy, compared after save/load
    extra_state: tuple[str, ...] = field(default_factory=tuple)
    # steps for a "learn a little" run: past the off-policy warm-ups (learning_starts=50) and two model fits
    # (model_train_freq=64), and 4 rollouts of n_steps=32
    learn_steps: int = 128
    # tiny settings for zoo command lines (rl_zoo3's -params), where the YAML file leaves them large and the sampler
    # does not set them (rl_zoo3 applies a trial's sampled values over the YAML entry and -params)
    zoo_params: tuple[str, ...] = ()
    # cheap points of the zoo sampler's search space, a value for every name it suggests: the -optimize test enqueues
    # them (Optuna's enqueue_trial), so its trials run the sampler and the command line without the largest settings
    zoo_trials: tuple[dict[str, Any], ...] = ()
    # whether the policy has parameters that training changes (MPPI plans and has none)
    trains_policy: bool = True


# Model-based algorithms: a tiny ensemble, and learned reward/termination heads so that they also run on the identity
# envs (which have no known env functions). The first fit is capped too (`initial_max_epochs=2`), for speed: the
# uncapped first fit has its own tests (test_dynamics_component.py, test_mbpo.py).
TINY_MODEL_BASED: dict[str, Any] = dict(
    learning_starts=50,
    buffer_size=1000,
    batch_size=16,
    dynamics_kwargs=dict(n_members=2, n_elites=1, hidden_sizes=[8], batch_size=16, max_epochs=2, initial_max_epochs=2),
    learn_reward=True,
    learn_termination=True,
    policy_kwargs=dict(net_arch=[8]),
)
# (the -optimize test runs 1024 steps: the last 64 train)
TINY_MODEL_BASED_ZOO = (
    "learning_starts:960",
    "dynamics_kwargs:dict(n_members=2,n_elites=1,hidden_sizes=[8],max_epochs=2,initial_max_epochs=2)",
)
MODEL_BASED_STATE = ("actor.optimizer", "critic.optimizer", "dynamics.model", "dynamics.optimizer")


def two_trials(first: dict[str, Any], **second: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two trial points for ``zoo_trials``: ``first``, then ``first`` with the values of ``second``."""
    return first, {**first, **second}


# gamma 0.975 in every trial: no YAML entry and no constructor default has it, so the model shows the trial's value
OFF_POLICY_TRIAL = dict(one_minus_gamma=0.025, learning_rate=2e-3, batch_size=64, net_arch="small")

ALGOS = [
    AlgoCase(
        zoo_key="reinforce",
        cls=REINFORCE,
        kwargs=dict(n_steps=32, baseline_epochs=3, policy_kwargs=dict(net_arch=[8])),
        action_spaces=("discrete", "box", "multidiscrete", "multibinary"),
        extra_state=("baseline_optimizer",),
        zoo_trials=two_trials(
            dict(
                one_minus_gamma=0.025,
                n_steps=128,
                learning_rate=2e-3,
                baseline_learning_rate=2e-3,
                baseline_epochs=5,
                normalize_advantage=True,
                ent_coef=1e-3,
                net_arch="tiny",
                activation_fn="tanh",
            ),
            normalize_advantage=False,
            activation_fn="relu",
        ),
    ),
    AlgoCase(
        zoo_key="npg",
        cls=NPG,
        kwargs=dict(n_steps=32, batch_size=16, n_critic_updates=2, cg_max_steps=3, policy_kwargs=dict(net_arch=[8])),
        action_spaces=("discrete", "box", "multidiscrete", "multibinary"),
        zoo_trials=two_trials(
            dict(
                one_minus_gamma=0.025,
                n_steps_pow=7,
                batch_size_pow=6,
                one_minus_gae_lambda=0.05,
                learning_rate=2e-3,
                target_kl=0.01,
                cg_max_steps=5,
                cg_damping=0.01,
                n_critic_updates=5,
                net_arch="small",
                activation_fn="tanh",
            ),
            activation_fn="relu",
        ),
    ),
    AlgoCase(
        zoo_key="sac_discrete",
        cls=DiscreteSAC,
        kwargs=dict(learning_starts=50, buffer_size=1000, batch_size=16, policy_kwargs=dict(net_arch=[8])),
        action_spaces=("discrete",),
        extra_state=("ent_coef_optimizer", "log_ent_coef", "actor.optimizer", "critic.optimizer"),
        zoo_trials=two_trials(
            dict(
                OFF_POLICY_TRIAL,
                batch_size=32,
                buffer_size=10_000,
                learning_starts=1000,
                train_freq=1,
                tau=0.01,
                target_entropy_ratio=0.5,
                n_steps=1,
                backup_entropy=True,
            ),
            n_steps=3,
            backup_entropy=False,
        ),
    ),
    AlgoCase(
        zoo_key="offpac",
        cls=OffPAC,
        kwargs=dict(learning_starts=50, buffer_size=1000, batch_size=16, n_action_samples=2, policy_kwargs=dict(net_arch=[8])),
        action_spaces=("discrete", "box"),
        extra_state=("actor.optimizer", "critic.optimizer"),
        zoo_trials=two_trials(
            dict(OFF_POLICY_TRIAL, buffer_size=10_000, tau=0.01, is_clip=2.0, ent_coef=1e-2, n_critics=1),
            n_critics=2,
        ),
    ),
    AlgoCase(
        zoo_key="mbpo",
        cls=MBPO,
        kwargs=dict(**TINY_MODEL_BASED, gradient_steps=1, model_train_freq=64, rollouts_per_step=2, model_retain_steps=64),
        action_spaces=("box",),
        env_id="Pendulum-v1",
        extra_state=MODEL_BASED_STATE,
        zoo_params=TINY_MODEL_BASED_ZOO,
        zoo_trials=two_trials(
            dict(
                OFF_POLICY_TRIAL,
                learning_rate=5e-4,
                batch_size=128,
                gradient_steps=5,
                real_ratio=0.5,
                model_train_freq=500,
                rollouts_per_step=50,
                max_rollout_horizon=1,
            ),
            max_rollout_horizon=3,
        ),
    ),
    AlgoCase(
        zoo_key="svg",
        cls=SVG,
        kwargs=dict(**TINY_MODEL_BASED, horizon=2, model_train_freq=64),
        action_spaces=("box",),
        env_id="Pendulum-v1",
        extra_state=MODEL_BASED_STATE,
        zoo_params=TINY_MODEL_BASED_ZOO,
        # SVG(0) is model-free and refuses model settings: the sampler drops the entry's and -params' (second trial)
        zoo_trials=two_trials(
            dict(OFF_POLICY_TRIAL, batch_size=128, gradient_steps=1, horizon=2, noise_inference=True, model_train_freq=1000),
            horizon=0,
        ),
    ),
    AlgoCase(
        zoo_key="mppi",
        cls=MPPI,
        # learned dynamics so that it also runs on the identity envs (Pendulum-v1 would use its known dynamics)
        kwargs=dict(
            dynamics_mode="learned",
            n_samples=16,
            horizon=3,
            learning_starts=50,
            buffer_size=1000,
            model_train_freq=64,
            dynamics_kwargs=TINY_MODEL_BASED["dynamics_kwargs"],
            learn_reward=True,
            learn_termination=True,
        ),
        action_spaces=("box",),
        env_id="Pendulum-v1",
        extra_state=("dynamics.model", "dynamics.optimizer"),
        trains_policy=False,
        zoo_trials=(  # knots, then smoothing without knots (the sampler asks for smoothing only without knots)
            dict(temperature=1.0, noise_std=0.5, horizon=10, n_samples=100, n_knots=3),
            dict(temperature=1.0, noise_std=0.5, horizon=10, n_samples=100, n_knots=None, smoothing=0.5),
        ),
    ),
]

ALGO_IDS = [case.zoo_key for case in ALGOS]


def identity_env(kind: str, ep_length: int = 20) -> gym.Env:
    """Tiny env whose action space is of the given kind."""
    return {
        "discrete": lambda: IdentityEnv(dim=3, ep_length=ep_length),
        "box": lambda: IdentityEnvBox(ep_length=ep_length),
        "multidiscrete": lambda: IdentityEnvMultiDiscrete(dim=3, ep_length=ep_length),
        "multibinary": lambda: IdentityEnvMultiBinary(dim=3, ep_length=ep_length),
    }[kind]()


class TupleActionEnv(gym.Env):
    """An env with an action space no algorithm of the package supports."""

    observation_space = spaces.Box(-1.0, 1.0, (2,))
    action_space = spaces.Tuple((spaces.Discrete(2), spaces.Discrete(3)))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


class BatchNormExtractor(BaseFeaturesExtractor):
    """A features extractor that is one BatchNorm1d over a flat Box observation: its running statistics are buffers
    ("running_mean", "running_var") that target networks must copy, not average."""

    def __init__(self, observation_space: spaces.Box) -> None:
        super().__init__(observation_space, int(observation_space.shape[0]))
        self.norm = th.nn.BatchNorm1d(int(observation_space.shape[0]))

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return self.norm(observations)
