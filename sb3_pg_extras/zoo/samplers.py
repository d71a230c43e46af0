"""
Optuna search spaces of our algorithms for ``-optimize`` (rl_zoo3's sampler signature), and the converters that turn
a trial's raw values into constructor arguments (rl_zoo3's ``HYPERPARAMS_CONVERTER``, used to replay a trial).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_NET_ARCH = {
    "tiny": dict(pi=[64], vf=[64]),
    "small": dict(pi=[64, 64], vf=[64, 64]),
    "medium": dict(pi=[256, 256], vf=[256, 256]),
}


def _activation(name: str) -> Any:
    from torch import nn

    return {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "leaky_relu": nn.LeakyReLU}[name]


# Off-policy critics / actors (one list shared by both networks).
_OFF_POLICY_NET_ARCH = {"small": [64, 64], "medium": [256, 256], "big": [400, 300]}


def _suggest_one_minus_gamma(trial: Any, low: float, high: float) -> float:
    """Sample ``1 - gamma`` on a log scale and record gamma on the trial (as rl_zoo3's samplers do)."""
    one_minus_gamma = trial.suggest_float("one_minus_gamma", low, high, log=True)
    trial.set_user_attr("gamma", 1 - one_minus_gamma)
    return one_minus_gamma


def _pop_gamma_and_net_arch(sampled_params: dict[str, Any], net_archs: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Copy of the sampled values with ``one_minus_gamma`` turned into ``gamma``, and the named ``net_arch`` popped."""
    params = dict(sampled_params)
    params["gamma"] = 1 - params.pop("one_minus_gamma")
    return params, net_archs[params.pop("net_arch")]


def convert_reinforce_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Turn the raw values an Optuna trial sampled for REINFORCE into constructor arguments."""
    params, net_arch = _pop_gamma_and_net_arch(sampled_params, _NET_ARCH)
    activation_fn = _activation(params.pop("activation_fn"))
    return {"policy_kwargs": {"net_arch": net_arch, "activation_fn": activation_fn}, **params}


def sample_reinforce_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for REINFORCE (zoo sampler signature)."""
    one_minus_gamma = _suggest_one_minus_gamma(trial, 1e-4, 0.05)
    sampled = {
        "n_steps": trial.suggest_categorical("n_steps", [64, 128, 256, 512, 1024, 2048]),
        "one_minus_gamma": one_minus_gamma,
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        "baseline_learning_rate": trial.suggest_float("baseline_learning_rate", 1e-4, 1e-2, log=True),
        "baseline_epochs": trial.suggest_categorical("baseline_epochs", [5, 10, 20, 50]),
        "normalize_advantage": trial.suggest_categorical("normalize_advantage", [True, False]),
        "ent_coef": trial.suggest_float("ent_coef", 1e-8, 0.05, log=True),
        "net_arch": trial.suggest_categorical("net_arch", ["tiny", "small", "medium"]),
        "activation_fn": trial.suggest_categorical("activation_fn", ["tanh", "relu"]),
    }
    return convert_reinforce_params(sampled)


def convert_npg_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Raw Optuna values of an NPG trial -> constructor arguments (rl_zoo3's on-policy conversion)."""
    from rl_zoo3.hyperparams_opt import convert_onpolicy_params

    return convert_onpolicy_params(sampled_params)


def sample_npg_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for NPG (zoo sampler signature); the trust-region step rule is tuned through target_kl."""
    one_minus_gamma = _suggest_one_minus_gamma(trial, 1e-4, 0.03)
    n_steps_pow = trial.suggest_int("n_steps_pow", 7, 12)
    batch_size_pow = trial.suggest_int("batch_size_pow", 5, 10)
    trial.set_user_attr("n_steps", 2**n_steps_pow)
    trial.set_user_attr("batch_size", 2**batch_size_pow)
    sampled = {
        "n_steps_pow": n_steps_pow,
        "batch_size_pow": batch_size_pow,
        "one_minus_gamma": one_minus_gamma,
        "one_minus_gae_lambda": trial.suggest_float("one_minus_gae_lambda", 1e-4, 0.1, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "target_kl": trial.suggest_float("target_kl", 1e-3, 0.1, log=True),
        "cg_max_steps": trial.suggest_int("cg_max_steps", 5, 30),
        "cg_damping": trial.suggest_float("cg_damping", 1e-4, 0.2, log=True),
        "n_critic_updates": trial.suggest_int("n_critic_updates", 5, 30),
        "net_arch": trial.suggest_categorical("net_arch", ["small", "medium"]),
        "activation_fn": trial.suggest_categorical("activation_fn", ["tanh", "relu"]),
    }
    return convert_npg_params(sampled)


def convert_sac_discrete_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Raw Optuna values of a DiscreteSAC trial -> constructor arguments."""
    params, net_arch = _pop_gamma_and_net_arch(sampled_params, _OFF_POLICY_NET_ARCH)
    params["target_entropy"] = f"auto_{params.pop('target_entropy_ratio')}"
    return {"policy_kwargs": {"net_arch": net_arch}, **params}


def sample_sac_discrete_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for DiscreteSAC (zoo sampler signature)."""
    one_minus_gamma = _suggest_one_minus_gamma(trial, 1e-4, 0.03)
    sampled = {
        "one_minus_gamma": one_minus_gamma,
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256, 512]),
        "buffer_size": trial.suggest_categorical("buffer_size", [10_000, 100_000, 1_000_000]),
        "learning_starts": trial.suggest_categorical("learning_starts", [100, 1000, 5000]),
        "train_freq": trial.suggest_categorical("train_freq", [1, 4, 8]),
        "tau": trial.suggest_categorical("tau", [0.001, 0.005, 0.01, 0.02, 0.05]),
        "target_entropy_ratio": trial.suggest_categorical("target_entropy_ratio", [0.2, 0.3, 0.5, 0.7, 0.9]),
        "n_steps": trial.suggest_categorical("n_steps", [1, 3, 5]),
        "backup_entropy": trial.suggest_categorical("backup_entropy", [True, False]),
        "net_arch": trial.suggest_categorical("net_arch", ["small", "medium", "big"]),
    }
    sampled["gradient_steps"] = sampled["train_freq"]
    return convert_sac_discrete_params(sampled)


def convert_offpac_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Raw Optuna values of an OffPAC trial -> constructor arguments."""
    params, net_arch = _pop_gamma_and_net_arch(sampled_params, _OFF_POLICY_NET_ARCH)
    return {"policy_kwargs": {"net_arch": net_arch, "n_critics": params.pop("n_critics")}, **params}


def sample_offpac_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for OffPAC (zoo sampler signature)."""
    one_minus_gamma = _suggest_one_minus_gamma(trial, 1e-3, 0.05)
    sampled = {
        "one_minus_gamma": one_minus_gamma,
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
        "buffer_size": trial.suggest_categorical("buffer_size", [10_000, 100_000]),
        "tau": trial.suggest_categorical("tau", [0.005, 0.01, 0.02]),
        "is_clip": trial.suggest_categorical("is_clip", [1.0, 2.0, 5.0]),
        "ent_coef": trial.suggest_float("ent_coef", 1e-4, 0.1, log=True),
        "n_critics": trial.suggest_categorical("n_critics", [1, 2]),
        "net_arch": trial.suggest_categorical("net_arch", ["small", "medium"]),
    }
    return convert_offpac_params(sampled)


def convert_sac_policy_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Raw Optuna values of a trial of an algorithm with SAC's policy (MBPO, SVG) -> constructor arguments."""
    params, net_arch = _pop_gamma_and_net_arch(sampled_params, _OFF_POLICY_NET_ARCH)
    return {"policy_kwargs": {"net_arch": net_arch}, **params}


def sample_mbpo_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for MBPO (zoo sampler signature): the model-based knobs plus SAC's main ones."""
    one_minus_gamma = _suggest_one_minus_gamma(trial, 1e-3, 0.05)
    sampled = {
        "one_minus_gamma": one_minus_gamma,
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [128, 256]),
        "gradient_steps": trial.suggest_categorical("gradient_steps", [5, 10, 20]),
        "real_ratio": trial.suggest_categorical("real_ratio", [0.05, 0.1, 0.5]),
        "model_train_freq": trial.suggest_categorical("model_train_freq", [100, 250, 500]),
        "rollouts_per_step": trial.suggest_categorical("rollouts_per_step", [50, 100, 400]),
        "max_rollout_horizon": trial.suggest_categorical("max_rollout_horizon", [1, 3, 5]),
        "net_arch": trial.suggest_categorical("net_arch", ["small", "medium"]),
    }
    return convert_sac_policy_params(sampled)


def sample_svg_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for SVG: the horizon n (0 is model-free, "inf" has no critic), noise inference or
    re-simulation, the model refit frequency, plus SAC's main knobs."""
    one_minus_gamma = _suggest_one_minus_gamma(trial, 1e-3, 0.05)
    sampled = {
        "one_minus_gamma": one_minus_gamma,
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [128, 256]),
        "gradient_steps": trial.suggest_categorical("gradient_steps", [1, 2, 4]),
        "horizon": trial.suggest_categorical("horizon", [0, 1, 2, 3, 5, "inf"]),
        "noise_inference": trial.suggest_categorical("noise_inference", [True, False]),
        "model_train_freq": trial.suggest_categorical("model_train_freq", [250, 500, 1000]),
        "net_arch": trial.suggest_categorical("net_arch", ["small", "medium"]),
    }
    params = convert_sac_policy_params(sampled)
    if params["horizon"] == 0:
        # SVG(0) is model-free and refuses model settings: a trial at horizon 0 drops those of the YAML entry
        params.update(dynamics_kwargs=None, learn_reward=False, learn_termination=False)
    return params


def convert_mppi_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Raw Optuna values of an MPPI trial -> constructor arguments (MPPI has no policy network)."""
    return dict(sampled_params)


def sample_mppi_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
    """Optuna search space for MPPI: the planner's temperature, noise, horizon, samples, and the shape of the
    perturbations along the horizon: spline knots (``n_knots``, at most the shortest horizon) or, without knots, AR(1)
    smoothing (MPPI refuses the two together)."""
    sampled = {
        "temperature": trial.suggest_float("temperature", 0.01, 10.0, log=True),
        "noise_std": trial.suggest_float("noise_std", 0.1, 1.0, log=True),
        "horizon": trial.suggest_categorical("horizon", [10, 20, 30, 50]),
        "n_samples": trial.suggest_categorical("n_samples", [100, 300, 1000]),
        "n_knots": trial.suggest_categorical("n_knots", [None, 3, 5, 10]),
    }
    if sampled["n_knots"] is None:
        sampled["smoothing"] = trial.suggest_categorical("smoothing", [0.0, 0.5, 0.8])
    return convert_mppi_params(sampled)


SAMPLERS: dict[str, Callable[..., dict[str, Any]]] = {
    "reinforce": sample_reinforce_params,
    "npg": sample_npg_params,
    "sac_discrete": sample_sac_discrete_params,
    "offpac": sample_offpac_params,
    "mbpo": sample_mbpo_params,
    "svg": sample_svg_params,
    "mppi": sample_mppi_params,
}
CONVERTERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "reinforce": convert_reinforce_params,
    "npg": convert_npg_params,
    "sac_discrete": convert_sac_discrete_params,
    "offpac": convert_offpac_params,
    "mbpo": convert_sac_policy_params,
    "svg": convert_sac_policy_params,
    "mppi": convert_mppi_params,
}
