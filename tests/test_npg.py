"""NPG: Fisher-vector products against explicit Fisher matrices, CG against a dense solve, step rules, errors."""

from __future__ import annotations

import copy
import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import (
    DiagGaussianDistribution,
    StateDependentNoiseDistribution,
    kl_divergence,
)

from sb3_pg_extras import NPG
from sb3_pg_extras.common.actor_critic import actor_parameters
from sb3_pg_extras.common.natural_gradient import (
    add_to_parameters,
    fisher_vector_product_fn,
    mean_kl,
    natural_gradient_direction,
    trust_region_step_size,
)

TINY = dict(n_steps=64, batch_size=32, policy_kwargs=dict(net_arch=[4]))


class TinyEnv(gym.Env):
    """Two observation dimensions and an action space chosen by the test."""

    def __init__(self, action_space: spaces.Space):
        self.observation_space = spaces.Box(-1.0, 1.0, (2,))
        self.action_space = action_space

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


def fvp_of(model: NPG, obs: th.Tensor, damping: float = 0.0):
    params = actor_parameters(model.policy)
    with th.no_grad():
        old = copy.copy(model.policy.get_distribution(obs))
    kl = mean_kl(old, model.policy.get_distribution(obs))
    return params, fisher_vector_product_fn(kl, params, damping)


def flat(grads) -> th.Tensor:
    return th.cat([g.reshape(-1) for g in grads])


def explicit_fisher_categorical(model: NPG, obs: th.Tensor) -> th.Tensor:
    """(1/N) sum_s sum_a pi(a|s) grad log pi(a|s) grad log pi(a|s)^T, exactly."""
    params = actor_parameters(model.policy)
    n_params = sum(p.numel() for p in params)
    fisher = th.zeros(n_params, n_params)
    for s in range(obs.shape[0]):
        for a in range(model.action_space.n):
            dist = model.policy.get_distribution(obs[s : s + 1])
            log_prob = dist.log_prob(th.tensor([a]))
            score = flat(th.autograd.grad(log_prob.sum(), params))
            fisher += log_prob.exp().item() * th.outer(score, score)
    return fisher / obs.shape[0]


def explicit_fisher_gaussian(model: NPG, obs: th.Tensor) -> th.Tensor:
    """
    Diagonal Gaussian with state-independent log std: per state, the Fisher in (mu, log sigma) is
    diag(1 / sigma^2, 2); chain rule through J = d(mu(s), log sigma) / d theta.
    """
    params = actor_parameters(model.policy)
    log_std = model.policy.log_std
    sigma2 = th.exp(2 * log_std.detach())
    metric = th.cat([1.0 / sigma2, 2.0 * th.ones_like(sigma2)])
    n_params = sum(p.numel() for p in params)
    fisher = th.zeros(n_params, n_params)
    for s in range(obs.shape[0]):
        mean = model.policy.get_distribution(obs[s : s + 1]).distribution.mean[0]
        outputs = [*mean, *log_std]
        jacobian = th.stack(
            [
                flat(
                    g if g is not None else th.zeros_like(p)
                    for g, p in zip(th.autograd.grad(o, params, retain_graph=True, allow_unused=True), params)
                )
                for o in outputs
            ]
        )
        fisher += jacobian.T @ th.diag(metric) @ jacobian
    return fisher / obs.shape[0]


def test_fvp_equals_explicit_fisher_categorical() -> None:
    model = NPG("MlpPolicy", TinyEnv(spaces.Discrete(3)), seed=0, **TINY)
    obs = th.as_tensor(np.stack([model.observation_space.sample() for _ in range(5)]))
    _, fvp = fvp_of(model, obs)
    fisher = explicit_fisher_categorical(model, obs)
    for seed in range(3):
        v = th.randn(fisher.shape[0], generator=th.Generator().manual_seed(seed))
        th.testing.assert_close(fvp(v), fisher @ v, rtol=1e-4, atol=1e-6)


def test_fvp_equals_explicit_fisher_diagonal_gaussian() -> None:
    model = NPG("MlpPolicy", TinyEnv(spaces.Box(-1.0, 1.0, (2,))), seed=0, **TINY)
    with th.no_grad():
        model.policy.log_std.copy_(th.tensor([-0.3, 0.4]))
    obs = th.as_tensor(np.stack([model.observation_space.sample() for _ in range(5)]))
    _, fvp = fvp_of(model, obs, damping=0.5)
    fisher = explicit_fisher_gaussian(model, obs)
    v = th.randn(fisher.shape[0], generator=th.Generator().manual_seed(0))
    th.testing.assert_close(fvp(v), fisher @ v + 0.5 * v, rtol=1e-4, atol=1e-6)


def test_cg_matches_dense_solve() -> None:
    model = NPG("MlpPolicy", TinyEnv(spaces.Discrete(3)), seed=1, **TINY)
    obs = th.as_tensor(np.stack([model.observation_space.sample() for _ in range(8)]))
    damping = 0.05
    _, fvp = fvp_of(model, obs, damping)
    matrix = explicit_fisher_categorical(model, obs) + damping * th.eye(27)
    g = th.randn(27, generator=th.Generator().manual_seed(0))
    natural = natural_gradient_direction(fvp, g, cg_max_steps=200, cg_residual_tol=1e-20)
    th.testing.assert_close(natural.direction, th.linalg.solve(matrix, g), rtol=1e-3, atol=1e-4)
    assert natural.relative_residual < 1e-3
    assert natural.quadratic_form == pytest.approx(float(g @ th.linalg.solve(matrix, g)), rel=1e-3)


def test_relative_residual_is_residual_norm_over_gradient_norm() -> None:
    # one CG step on an ill-conditioned system overshoots along the stiff axis: the residual exceeds the gradient
    matrix = th.diag(th.tensor([1.0, 1000.0]))
    g = th.tensor([0.1, 0.01])  # ||g|| < 1, so a floor of the norm at 1 would show
    th.manual_seed(0)
    natural = natural_gradient_direction(lambda v: matrix @ v, g, cg_max_steps=1)
    th.testing.assert_close(natural.fisher_direction, matrix @ natural.direction)
    expected = float(th.linalg.norm(g - matrix @ natural.direction) / th.linalg.norm(g))
    assert expected > 2.0  # above 1, so a remainder or an integer division would show
    assert natural.relative_residual == pytest.approx(expected, rel=1e-6)
    # a zero gradient: the norm is floored at 1e-12, the residual stays finite
    zero = natural_gradient_direction(lambda v: matrix @ v, th.zeros(2), cg_max_steps=1)
    assert math.isfinite(zero.relative_residual)


def test_default_cg_tolerance_solves_a_small_system_exactly() -> None:
    # ||g||^2 = 0.38: a tolerance near 1 on the squared residual would stop before the first step
    matrix = th.diag(th.tensor([1.0, 2.0, 3.0]))
    g = th.tensor([0.5, 0.3, 0.2])
    th.manual_seed(0)
    natural = natural_gradient_direction(lambda v: matrix @ v, g, cg_max_steps=10)
    th.testing.assert_close(natural.direction, g / th.tensor([1.0, 2.0, 3.0]), rtol=1e-4, atol=1e-6)
    assert natural.relative_residual < 1e-5
    # on 2 I one step is exact (residual exactly 0): the solver must stop there, not divide 0 by 0 in a second step
    exact = natural_gradient_direction(lambda v: 2.0 * v, g, cg_max_steps=5)
    th.testing.assert_close(exact.direction, g / 2)


def test_add_to_parameters_adds_in_order_and_refuses_a_wrong_length() -> None:
    params = [th.nn.Parameter(th.zeros(2, 2)), th.nn.Parameter(th.ones(3))]
    add_to_parameters(params, th.arange(7.0))
    th.testing.assert_close(params[0].data, th.tensor([[0.0, 1.0], [2.0, 3.0]]))
    th.testing.assert_close(params[1].data, th.tensor([5.0, 6.0, 7.0]))
    for length in (6, 8):
        with pytest.raises(ValueError, match=f"Flat step has {length} entries for 7 parameters"):
            add_to_parameters(params, th.zeros(length))


def test_trust_region_step_size_closed_form() -> None:
    assert trust_region_step_size(8.0, 0.01) == pytest.approx(np.sqrt(2 * 0.01 / 8.0))
    # p^T F p of zero (a zero gradient) or a rounding-negative one: floored at 1e-12, a finite step
    for quadratic_form in (0.0, -1e-9):
        assert trust_region_step_size(quadratic_form, 0.01) == pytest.approx(np.sqrt(2 * 0.01 / 1e-12))


def test_mean_kl_sums_action_dimensions() -> None:
    model = NPG("MlpPolicy", TinyEnv(spaces.Box(-1.0, 1.0, (2,))), seed=0, **TINY)
    obs = th.as_tensor(np.stack([model.observation_space.sample() for _ in range(4)]))
    with th.no_grad():
        old = copy.copy(model.policy.get_distribution(obs))
        model.policy.log_std.add_(th.tensor([0.1, -0.2]))
        new = model.policy.get_distribution(obs)
        # same means, only the std changed: KL = sum_d [log(s1/s0) + s0^2 / (2 s1^2) - 1/2]
        ratio = th.exp(th.tensor([0.1, -0.2]))
        expected = (th.log(ratio) + 1 / (2 * ratio**2) - 0.5).sum()
        th.testing.assert_close(mean_kl(old, new), expected, rtol=1e-5, atol=1e-7)


def test_mean_kl_sums_the_last_axis_of_batched_gaussians() -> None:
    # a (2, 3) batch of 4-dimensional actions: the joint KL sums the action axis (the last), then averages the batch
    old, new = DiagGaussianDistribution(4), DiagGaussianDistribution(4)
    means = th.randn(2, 3, 4, generator=th.Generator().manual_seed(0))
    old.proba_distribution(means, th.zeros(4))
    new.proba_distribution(means + th.tensor([0.1, 0.2, 0.3, 0.4]), th.zeros(4))
    # equal unit stds: KL = sum_d (mu_new - mu_old)^2 / 2
    th.testing.assert_close(mean_kl(old, new), th.tensor(0.15), rtol=1e-5, atol=1e-7)


def test_mean_kl_mean_reduction_averages_action_dimensions() -> None:
    # the (2, 3) batch of 4-dimensional actions above: "mean" is the joint KL over d = 4, as TRPO's .mean() measures it
    old, new = DiagGaussianDistribution(4), DiagGaussianDistribution(4)
    means = th.randn(2, 3, 4, generator=th.Generator().manual_seed(0))
    old.proba_distribution(means, th.zeros(4))
    new.proba_distribution(means + th.tensor([0.1, 0.2, 0.3, 0.4]), th.zeros(4))
    th.testing.assert_close(mean_kl(old, new, "mean"), th.tensor(0.15 / 4), rtol=1e-5, atol=1e-7)
    th.testing.assert_close(mean_kl(old, new, "mean"), kl_divergence(old, new).mean())  # sb3-contrib TRPO's KL
    with pytest.raises(ValueError, match="reduction"):
        mean_kl(old, new, "max")


class RewardedEnv(TinyEnv):
    """TinyEnv with a reward that depends on the action (a non-zero policy gradient), and observations drawn from the
    env's seeded generator (the same rollout for two algorithms with the same seed)."""

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32), {}

    def step(self, action):
        obs = self.np_random.uniform(-1.0, 1.0, 2).astype(np.float32)
        return obs, float(-np.sum((np.asarray(action) - 0.3) ** 2)), False, False, {}


@pytest.mark.parametrize("kl_reduction", ["mean", "sum"])
def test_default_step_is_trpos_full_step_on_a_multidimensional_box(kl_reduction: str) -> None:
    # NPG = TRPO without the line search: with TRPO's KL ("mean", the default) and the same radius and damping, one
    # update from the same weights and rollout moves the actor exactly as TRPO's accepted full step; with the joint
    # KL ("sum") the same settings make a different (here smaller) step
    from sb3_contrib import TRPO

    kwargs = dict(n_steps=64, batch_size=64, seed=0, policy_kwargs=dict(net_arch=[8]), target_kl=0.05)
    npg = NPG("MlpPolicy", RewardedEnv(spaces.Box(-1.0, 1.0, (3,))), kl_reduction=kl_reduction, **kwargs)
    trpo = TRPO("MlpPolicy", RewardedEnv(spaces.Box(-1.0, 1.0, (3,))), **kwargs)
    start = [p.detach().clone() for p in actor_parameters(npg.policy)]
    for mine, theirs in zip(start, actor_parameters(trpo.policy)):
        th.testing.assert_close(mine, theirs)  # same initial weights
    trpo.learn(64)
    assert trpo.logger.name_to_value["train/is_line_search_success"] == 1.0
    npg.learn(64)  # (sets NPG up to train), then NPG's update from the start weights on TRPO's rollout
    with th.no_grad():
        for param, value in zip(actor_parameters(npg.policy), start):
            param.copy_(value)
    npg.rollout_buffer = trpo.rollout_buffer
    npg.train()
    npg_step = th.cat([(p - q).flatten() for p, q in zip(actor_parameters(npg.policy), start)])
    trpo_step = th.cat([(p - q).flatten() for p, q in zip(actor_parameters(trpo.policy), start)])
    if kl_reduction == "mean":
        th.testing.assert_close(npg_step, trpo_step, rtol=1e-4, atol=1e-6)
    else:
        assert th.linalg.norm(npg_step) < 0.9 * th.linalg.norm(trpo_step)


def test_kl_reduction_is_checked() -> None:
    with pytest.raises(ValueError, match="kl_reduction"):
        NPG("MlpPolicy", TinyEnv(spaces.Box(-1.0, 1.0, (2,))), kl_reduction="joint", **TINY)


def test_trust_region_step_realizes_target_kl() -> None:
    delta = 1e-4
    model = NPG(
        "MlpPolicy", "CartPole-v1", n_steps=512, batch_size=128, target_kl=delta, cg_damping=1e-4, cg_max_steps=60, seed=0
    )
    model.learn(512)
    realized = model.logger.name_to_value["train/kl"]
    assert 0.7 * delta < realized < 1.3 * delta


def test_fixed_step_rule_moves_by_eta_times_direction() -> None:
    model = NPG("MlpPolicy", "CartPole-v1", step_rule="fixed", natural_learning_rate=0.05, seed=0, **TINY)
    before = th.nn.utils.parameters_to_vector(actor_parameters(model.policy)).detach().clone()
    model.learn(64)
    after = th.nn.utils.parameters_to_vector(actor_parameters(model.policy)).detach()
    logged = model.logger.name_to_value
    assert logged["train/step_size"] == 0.05
    assert float(th.linalg.norm(after - before)) == pytest.approx(0.05 * logged["train/natural_grad_norm"], rel=1e-4)


def test_critic_optimizer_holds_value_parameters_only() -> None:
    model = NPG("MlpPolicy", "CartPole-v1", **TINY)
    critic = {id(p) for g in model.policy.optimizer.param_groups for p in g["params"]}
    assert {id(p) for p in model.policy.value_net.parameters()} <= critic
    assert not critic & {id(p) for p in actor_parameters(model.policy)}


def test_sub_sampling_and_gsde() -> None:
    model = NPG("MlpPolicy", "Pendulum-v1", sub_sampling_factor=4, use_sde=True, sde_sample_freq=4, seed=0, **TINY)
    assert isinstance(model.policy.action_dist, StateDependentNoiseDistribution)
    log_std = model.policy.log_std.detach().clone()
    model.learn(128)
    assert np.isfinite(model.logger.name_to_value["train/kl"])
    assert not th.equal(log_std, model.policy.log_std)  # gSDE's exploration parameters are trained


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(target_kl=0.0), "target_kl"),
        (dict(target_kl=-0.01), "target_kl"),
        (dict(cg_damping=-0.1), "cg_damping"),
        (dict(cg_max_steps=0), "cg_max_steps"),
        (dict(step_rule="line_search"), "step_rule"),
        (dict(natural_learning_rate=0.0), "natural_learning_rate"),
        (dict(n_steps=0), "n_steps"),
        (dict(batch_size=0), "batch_size"),
        (dict(gamma=0.0), "gamma"),
        (dict(gae_lambda=1.5), "gae_lambda"),
        (dict(n_critic_updates=0), "n_critic_updates"),
        (dict(sub_sampling_factor=0), "sub_sampling_factor"),
    ],
)
def test_bad_hyperparameters_are_refused_at_construction(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NPG("MlpPolicy", "CartPole-v1", **kwargs)


def test_the_value_fit_runs_every_epoch_over_every_minibatch_and_lowers_the_loss() -> None:
    """_fit_value: n_critic_updates epochs of minibatch regression on the rollout's returns (one optimizer step per
    minibatch), which lowers the value loss on that rollout."""
    model = NPG("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=16, n_critic_updates=3, learning_rate=1e-2, seed=0)
    model.learn(64)  # a filled rollout buffer
    buffer = model.rollout_buffer

    def value_loss() -> float:
        with th.no_grad():
            values = model.policy.predict_values(th.as_tensor(buffer.observations).reshape(-1, 4)).flatten()
        return float(((values - th.as_tensor(buffer.returns).flatten()) ** 2).mean())

    steps = []
    original_step = model.policy.optimizer.step
    model.policy.optimizer.step = lambda *a, **k: (steps.append(1), original_step(*a, **k))[1]
    before = value_loss()
    model._fit_value()
    assert len(steps) == 3 * (64 // 16)
    assert value_loss() < 0.98 * before  # 12 steps at 1e-2 from V = 0: a few percent lower


@pytest.mark.parametrize(("sub_sampling_factor", "step_rule"), [(1, "trust_region"), (2, "trust_region"), (1, "fixed")])
def test_the_natural_step_equals_a_dense_reference(sub_sampling_factor: int, step_rule: str) -> None:
    """_natural_step on a hand-made batch against the algorithm written densely: the surrogate mean(A_n ratio) with
    standardized advantages and ratios pi / pi_old of a batch whose old log-probs differ from the current ones, its
    gradient, the explicit Fisher matrix (the Hessian of the mean KL over the states the Fisher uses: every
    ``sub_sampling_factor``-th), the damped solve, the step size, and the logged objective, improvement and KL."""
    from stable_baselines3.common.type_aliases import RolloutBufferSamples

    model = NPG(
        "MlpPolicy", "CartPole-v1", seed=0, sub_sampling_factor=sub_sampling_factor, step_rule=step_rule,
        natural_learning_rate=0.3, target_kl=0.02, cg_damping=0.1, cg_max_steps=200, cg_residual_tol=1e-14, **TINY,
    )  # fmt: skip
    model._setup_learn(64)
    params = actor_parameters(model.policy)
    assert [tuple(p.shape) for p in params] == [(4, 4), (4,), (2, 4), (2,)]  # policy_net Linear, action_net Linear
    theta_k = th.cat([p.detach().flatten() for p in params]).double()

    def logits(theta: th.Tensor, obs: th.Tensor) -> th.Tensor:
        w1, b1 = theta[:16].reshape(4, 4), theta[16:20]
        w2, b2 = theta[20:28].reshape(2, 4), theta[28:30]
        return th.tanh(obs @ w1.T + b1) @ w2.T + b2

    gen = th.Generator().manual_seed(0)
    obs = th.randn(12, 4, generator=gen)
    actions = th.randint(0, 2, (12,), generator=gen)
    advantages = 1.0 + 2.0 * th.randn(12, generator=gen)
    with th.no_grad():
        current = model.policy.get_distribution(obs).log_prob(actions)
    th.testing.assert_close(
        th.log_softmax(logits(theta_k, obs.double()), -1)[th.arange(12), actions].float(), current, rtol=1e-5, atol=1e-6
    )
    old_log_prob = current - 0.2 * th.randn(12, generator=gen)  # the policy moved since the rollout: ratios != 1
    batch = RolloutBufferSamples(obs, actions.float().unsqueeze(1), th.zeros(12), old_log_prob, advantages, th.zeros(12))

    x, a, old = obs.double(), actions, old_log_prob.double()
    adv = (advantages.double() - advantages.double().mean()) / (advantages.double().std() + 1e-8)

    def surrogate(theta: th.Tensor) -> th.Tensor:
        return (adv * th.exp(th.log_softmax(logits(theta, x), -1)[th.arange(12), a] - old)).mean()

    def kl_from(theta_old: th.Tensor, theta: th.Tensor, states: th.Tensor) -> th.Tensor:
        p_old = th.log_softmax(logits(theta_old, states), -1)
        return (p_old.exp() * (p_old - th.log_softmax(logits(theta, states), -1))).sum(-1).mean()

    gradient = th.autograd.functional.jacobian(surrogate, theta_k)
    fisher = th.autograd.functional.hessian(lambda t: kl_from(theta_k, t, x[::sub_sampling_factor]), theta_k)
    damped = fisher + 0.1 * th.eye(30, dtype=th.float64)
    direction = th.linalg.solve(damped, gradient)
    if step_rule == "trust_region":
        step_size = math.sqrt(2 * 0.02 / float(direction @ damped @ direction))
    else:
        step_size = 0.3
    theta_new = theta_k + step_size * direction

    model._natural_step(batch)
    moved = th.cat([p.detach().flatten() for p in params]).double()
    th.testing.assert_close(moved, theta_new, rtol=1e-3, atol=1e-5)
    logged = model.logger.name_to_value
    assert logged["train/step_size"] == pytest.approx(step_size, rel=1e-3)
    assert logged["train/policy_objective"] == pytest.approx(float(surrogate(theta_k)), rel=1e-4, abs=1e-6)
    improvement = float(surrogate(theta_new) - surrogate(theta_k))
    assert abs(improvement) > 1e-3
    assert logged["train/policy_improvement"] == pytest.approx(improvement, rel=2e-3)
    assert logged["train/kl"] == pytest.approx(float(kl_from(theta_k, theta_new, x)), rel=2e-3)
