"""
One row per algorithm of the package: the tiny settings every generic test uses, and what the algorithm
supports. A new algorithm only adds its row here (and its zoo YAML file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.envs import IdentityEnv, IdentityEnvBox, IdentityEnvMultiBinary, IdentityEnvMultiDiscrete

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
    # tiny settings for zoo command lines (rl_zoo3's -params), where the sampler or the YAML file leaves them large
    zoo_params: tuple[str, ...] = ()
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
TINY_MODEL_BASED_ZOO = (
    "learning_starts:768",
    "dynamics_kwargs:dict(n_members=2,n_elites=1,hidden_sizes=[8],max_epochs=2,initial_max_epochs=2)",
)
MODEL_BASED_STATE = ("actor.optimizer", "critic.optimizer", "dynamics.model", "dynamics.optimizer")

ALGOS = [
    AlgoCase(
        zoo_key="reinforce",
        cls=REINFORCE,
        kwargs=dict(n_steps=32, baseline_epochs=3, policy_kwargs=dict(net_arch=[8])),
        action_spaces=("discrete", "box", "multidiscrete", "multibinary"),
        extra_state=("baseline_optimizer",),
    ),
    AlgoCase(
        zoo_key="npg",
        cls=NPG,
        kwargs=dict(n_steps=32, batch_size=16, n_critic_updates=2, cg_max_steps=3, policy_kwargs=dict(net_arch=[8])),
        action_spaces=("discrete", "box", "multidiscrete", "multibinary"),
    ),
    AlgoCase(
        zoo_key="sac_discrete",
        cls=DiscreteSAC,
        kwargs=dict(learning_starts=50, buffer_size=1000, batch_size=16, policy_kwargs=dict(net_arch=[8])),
        action_spaces=("discrete",),
        extra_state=("ent_coef_optimizer", "log_ent_coef", "actor.optimizer", "critic.optimizer"),
    ),
    AlgoCase(
        zoo_key="offpac",
        cls=OffPAC,
        kwargs=dict(learning_starts=50, buffer_size=1000, batch_size=16, n_action_samples=2, policy_kwargs=dict(net_arch=[8])),
        action_spaces=("discrete", "box"),
        extra_state=("actor.optimizer", "critic.optimizer"),
    ),
    AlgoCase(
        zoo_key="mbpo",
        cls=MBPO,
        kwargs=dict(**TINY_MODEL_BASED, gradient_steps=1, model_train_freq=64, rollouts_per_step=2, model_retain_steps=64),
        action_spaces=("box",),
        env_id="Pendulum-v1",
        extra_state=MODEL_BASED_STATE,
        zoo_params=TINY_MODEL_BASED_ZOO,
    ),
    AlgoCase(
        zoo_key="svg",
        cls=SVG,
        kwargs=dict(**TINY_MODEL_BASED, horizon=2, model_train_freq=64),
        action_spaces=("box",),
        env_id="Pendulum-v1",
        extra_state=MODEL_BASED_STATE,
        zoo_params=TINY_MODEL_BASED_ZOO,
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
        zoo_params=("n_samples:16", "horizon:3"),
        trains_policy=False,
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
