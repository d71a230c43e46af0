"""MPPI math (common/planning) against plain loops, and the planner on a 1-D task with a known optimum."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch as th

from sb3_pg_extras.common.planning import (
    MPPIPlanner,
    interpolate_knots,
    knot_interpolation,
    mppi_weights,
    sequence_costs,
    shift_plan,
    smooth_noise,
    smoothing_matrix,
    weighted_update,
)

th.set_num_threads(1)


def test_weights_equal_the_boltzmann_formula_and_survive_huge_costs():
    costs = th.tensor([3.0, 1.0, 2.5, 10.0], dtype=th.float64)
    lam = 0.7
    expected = [math.exp(-c / lam) for c in costs.tolist()]
    total = sum(expected)
    th.testing.assert_close(mppi_weights(costs, lam), th.tensor([e / total for e in expected], dtype=th.float64))
    # exp(-1e7) underflows to 0 without the shift by the minimum; float32 holds 1e7 + 1 exactly, and so the difference
    huge = th.tensor([1e7, 1e7 + 1.0, 2e7])
    weights = mppi_weights(huge, 1.0)
    assert th.isfinite(weights).all() and abs(float(weights.sum()) - 1) < 1e-6
    th.testing.assert_close(weights[:2], th.softmax(th.tensor([0.0, -1.0]), 0), rtol=1e-5, atol=1e-6)
    for temperature in (0.0, -0.5):
        with pytest.raises(ValueError, match="lambda"):
            mppi_weights(costs, temperature)


def test_smoothing_is_the_ar1_recursion_with_unit_variance():
    gen = th.Generator().manual_seed(0)
    noise = th.randn(3, 6, 2, generator=gen, dtype=th.float64)
    s = 0.6
    out = smooth_noise(noise, s)
    expected = noise.clone()
    for h in range(1, 6):
        expected[:, h] = s * expected[:, h - 1] + math.sqrt(1 - s * s) * noise[:, h]
    th.testing.assert_close(out, expected)
    th.testing.assert_close(smooth_noise(noise, 0.0), noise)
    big = smooth_noise(th.randn(20000, 5, 1, generator=gen), 0.8)
    assert abs(float(big[:, 4].std()) - 1.0) < 0.03  # marginal variance kept
    assert abs(float((big[:, 3] * big[:, 4]).mean()) - 0.8) < 0.03  # neighbors correlated by the coefficient
    for bad in (1.0, 1.5, -0.5):
        with pytest.raises(ValueError, match="smoothing"):
            smooth_noise(noise, bad)
        with pytest.raises(ValueError, match="smoothing"):
            smoothing_matrix(4, bad)
    th.testing.assert_close(smoothing_matrix(4, 0.0), th.eye(4))  # 0 is allowed: no smoothing


def test_the_control_cost_of_smoothed_noise_uses_its_covariance():
    """With AR(1)-smoothed perturbations, the control term is lambda * c * sum_a u_a^T C_a^-1 eps_a with the noise's
    covariance C_a = std_a^2 M M^T (brute force: the explicit inverse), not the independent steps' Sigma^-1."""
    gen = th.Generator().manual_seed(3)
    k, h, a, s, lam, c = 4, 6, 2, 0.7, 0.5, 0.3
    std = th.tensor([0.5, 2.0], dtype=th.float64)
    nominal = th.randn(h, a, generator=gen, dtype=th.float64)
    perturbations = std * smooth_noise(th.randn(k, h, a, generator=gen, dtype=th.float64), s)
    rewards, alive = th.zeros(k, h, dtype=th.float64), th.ones(k, h, dtype=th.bool)
    mixing = smoothing_matrix(h, s, th.float64)
    th.testing.assert_close(th.diagonal(mixing @ mixing.T), th.ones(h, dtype=th.float64))  # unit marginal variance
    expected = th.zeros(k, dtype=th.float64)
    for j in range(k):
        for d in range(a):
            covariance = std[d] ** 2 * mixing @ mixing.T
            expected[j] += nominal[:, d] @ th.linalg.inv(covariance) @ perturbations[j, :, d]
    costs = sequence_costs(
        rewards, alive, nominal=nominal, perturbations=perturbations, noise_std=std, temperature=lam, control_cost=c,
        smoothing=s,
    )  # fmt: skip
    th.testing.assert_close(costs, c * lam * expected)
    independent = sequence_costs(
        rewards, alive, nominal=nominal, perturbations=perturbations, noise_std=std, temperature=lam, control_cost=c
    )
    assert not th.allclose(independent, costs)  # Sigma^-1 of independent steps weights it otherwise
    th.testing.assert_close(
        independent, c * lam * (nominal / std**2 * perturbations).sum((1, 2))
    )  # smoothing 0: the diagonal form


def test_costs_and_update_equal_loops():
    gen = th.Generator().manual_seed(1)
    k, h, a = 5, 4, 2
    rewards, alive = th.randn(k, h, generator=gen), th.rand(k, h, generator=gen) > 0.3
    nominal, eps = th.randn(h, a, generator=gen), th.randn(k, h, a, generator=gen)
    std, lam, gamma, ctrl = th.tensor([0.5, 2.0]), 0.8, 0.9, 0.3
    costs = sequence_costs(rewards, alive, gamma, nominal, eps, std, lam, ctrl)
    for i in range(k):
        total = 0.0
        for t in range(h):
            if alive[i, t]:
                total -= gamma**t * float(rewards[i, t])
            total += ctrl * lam * sum(float(nominal[t, j] * eps[i, t, j]) / float(std[j]) ** 2 for j in range(a))
        assert abs(total - float(costs[i])) < 1e-4
    weights = mppi_weights(costs, lam)
    loop = nominal.clone()
    for i in range(k):
        loop += float(weights[i]) * eps[i]
    th.testing.assert_close(weighted_update(nominal, eps, weights), loop)
    with pytest.raises(ValueError, match="control cost"):
        sequence_costs(rewards, alive, control_cost=1.0)


def test_shift_plan_drops_the_executed_action():
    plan = th.arange(6.0).reshape(3, 2)
    shifted = shift_plan(plan, fill=-1.0)
    th.testing.assert_close(shifted, th.tensor([[2.0, 3.0], [4.0, 5.0], [-1.0, -1.0]]))
    th.testing.assert_close(plan, th.arange(6.0).reshape(3, 2))  # the input is not modified


def _reach_target(start: th.Tensor, actions: th.Tensor, generator=None) -> tuple[th.Tensor, th.Tensor]:
    """x' = x + a, reward -(x' - 1)^2: the optimal first action from x = 0 moves to 1."""
    positions = start + actions[..., 0].cumsum(1)
    return -((positions - 1.0) ** 2), th.ones_like(positions, dtype=th.bool)


def test_planner_finds_the_known_optimum_and_more_iterations_help():
    planner = MPPIPlanner(n_samples=400, horizon=5, temperature=0.05, noise_std=0.5, iterations=1)
    start, nominal = th.tensor(0.0), th.zeros(5, 1)
    gen = th.Generator().manual_seed(0)
    one = planner.plan(start, nominal, _reach_target, gen)
    planner.iterations = 5
    five = planner.plan(start, nominal, _reach_target, gen)
    assert abs(float(five[0, 0]) - 1.0) < 0.1 and float(five[1:].abs().max()) < 0.15
    cost = lambda plan: -float(_reach_target(start, plan.unsqueeze(0))[0].sum())  # noqa: E731
    assert cost(five) < cost(one) < cost(nominal)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n_samples=1), "n_samples"),
        (dict(horizon=0), "horizon"),
        (dict(horizon=1.5), "horizon"),
        (dict(n_samples=2.5), "n_samples"),
        (dict(temperature=0.0), "lambda"),
        (dict(noise_std=-1.0), "noise_std"),
        (dict(iterations=0), "iterations"),
        (dict(iterations=1.5), "iterations"),
        (dict(iterations=True), "iterations"),
        (dict(smoothing=1.0), "smoothing"),
        (dict(smoothing=1.5), "smoothing"),
        (dict(smoothing=-0.1), "smoothing"),
        (dict(gamma="0.9"), "must be a number"),
        (dict(control_cost=True), "must be a number"),
        (dict(control_cost=float("nan")), "`control_cost` must be finite"),
        (dict(temperature=float("inf")), "`temperature` must be finite"),
        (dict(noise_std=float("nan")), "`noise_std` must be finite"),
        (dict(termination_cost=float("inf")), "`termination_cost` must be finite"),
        (dict(low=1.0, high=-1.0), "low < high"),
        (dict(low=0.5, high=0.5), "low < high"),
        (dict(n_knots=1), "n_knots"),
        (dict(n_knots=4), "n_knots"),  # more knots than the horizon's 3 steps
        (dict(n_knots=2.0), "n_knots"),
        (dict(n_knots=True), "n_knots"),
        (dict(n_knots="3"), "n_knots"),
        (dict(n_knots=2, horizon=1), "n_knots"),
        (dict(n_knots=2, smoothing=0.5), "n_knots and smoothing"),
        (dict(n_knots=3, control_cost=0.1), "n_knots cannot be used with control_cost"),
        (dict(nominal_sample=1), "nominal_sample must be True or False"),
    ],
)
def test_bad_planner_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MPPIPlanner(**{"n_samples": 10, "horizon": 3, **kwargs})


def test_planner_and_cost_defaults():
    planner = MPPIPlanner(n_samples=2, horizon=1)
    defaults = (planner.temperature, planner.noise_std, planner.iterations, planner.gamma, planner.control_cost)
    assert defaults == (1.0, 0.5, 1, 1.0, 0.0)
    assert (planner.smoothing, planner.low, planner.high) == (0.0, -1.0, 1.0)
    assert MPPIPlanner(n_samples=2, horizon=1, smoothing=0.5).smoothing == 0.5
    assert MPPIPlanner(n_samples=2, horizon=1, iterations=3).iterations == 3
    assert planner.n_knots is None and planner.termination_cost == 0.0
    assert (planner.n_sampled, planner.n_diverged, planner.n_all_diverged) == (0, 0, 0)  # counters start at zero
    for counter in ("n_sampled", "n_diverged", "n_all_diverged"):  # and are no constructor arguments
        with pytest.raises(TypeError, match=counter):
            MPPIPlanner(n_samples=2, horizon=1, **{counter: 1})
    knotted = MPPIPlanner(n_samples=2, horizon=5, n_knots=np.int64(3))  # a numpy integer, as a YAML file may give
    assert knotted.n_knots == 3 and type(knotted.n_knots) is int
    gen = th.Generator().manual_seed(3)
    rewards, alive = th.randn(4, 3, generator=gen), th.ones(4, 3, dtype=th.bool)
    nominal, perturbations = th.randn(3, 2, generator=gen), th.randn(4, 3, 2, generator=gen)
    returns = -rewards.sum(1)  # undiscounted by default
    th.testing.assert_close(sequence_costs(rewards, alive), returns)
    # no control cost unless asked; when asked, Sigma defaults to the identity
    th.testing.assert_close(sequence_costs(rewards, alive, nominal=nominal, perturbations=perturbations), returns)
    control = (nominal * perturbations).sum((1, 2))
    th.testing.assert_close(
        sequence_costs(rewards, alive, nominal=nominal, perturbations=perturbations, control_cost=0.5), returns + 0.5 * control
    )
    for given in (dict(nominal=nominal), dict(perturbations=perturbations)):
        with pytest.raises(ValueError, match="nominal plan and the perturbations"):
            sequence_costs(rewards, alive, control_cost=0.5, **given)


def test_planner_samples_noise_std_times_standard_normal_perturbations():
    seen = []

    def rollout(start, candidates, generator):
        seen.append(candidates)
        return th.zeros(candidates.shape[:2]), th.ones(candidates.shape[:2], dtype=th.bool)

    planner = MPPIPlanner(n_samples=6, horizon=4, noise_std=0.3)
    planner.plan(th.zeros(1), th.zeros(4, 2), rollout, th.Generator().manual_seed(0))
    expected = (0.3 * th.randn(6, 4, 2, generator=th.Generator().manual_seed(0))).clamp(-1.0, 1.0)
    th.testing.assert_close(seen[0], expected)


@pytest.mark.parametrize("noise", [dict(), dict(smoothing=0.5), dict(n_knots=2)])
def test_the_nominal_sample_is_the_plan_itself_and_the_other_candidates_are_unchanged(noise):
    seen = []

    def rollout(start, candidates, generator):
        seen.append(candidates)
        return th.zeros(candidates.shape[:2]), th.ones(candidates.shape[:2], dtype=th.bool)

    nominal = th.tensor([[0.2, -0.4], [0.9, 0.0], [-0.3, 0.5], [0.1, 0.1]])
    for flag in (False, True):
        planner = MPPIPlanner(n_samples=6, horizon=4, noise_std=0.3, nominal_sample=flag, **noise)
        planner.plan(th.zeros(1), nominal, rollout, th.Generator().manual_seed(0))
    without, with_nominal = seen
    th.testing.assert_close(with_nominal[0], nominal)
    assert not th.allclose(without[0], nominal)
    th.testing.assert_close(with_nominal[1:], without[1:])


def test_with_exact_dynamics_the_nominal_sample_never_loses_the_best_plan_found():
    # a cost that only one narrow plan scores well on: once the plan is there, noisy samples only lose; at a low
    # temperature the planner with the nominal sample keeps it, the one without drifts away by its noisy average
    def narrow(start, candidates, generator=None):
        positions = start + candidates[..., 0].cumsum(1)
        return -(100.0 * (positions - 1.0) ** 2), th.ones_like(positions, dtype=th.bool)

    best = th.tensor([[1.0], [0.0], [0.0]])
    cost = lambda plan: -float(narrow(th.tensor(0.0), plan.unsqueeze(0))[0].sum())  # noqa: E731
    for flag, bound in ((True, 1e-9), (False, None)):
        planner = MPPIPlanner(n_samples=8, horizon=3, temperature=0.01, noise_std=0.3, nominal_sample=flag)
        plan = planner.plan(th.tensor(0.0), best.clone(), narrow, th.Generator().manual_seed(0))
        if bound is None:
            assert cost(plan) > 1e-3
        else:
            assert cost(plan) <= bound


def test_a_diverged_sample_gets_zero_weight_and_if_all_diverge_the_plan_is_kept():
    costs = th.tensor([1.0, float("nan"), 2.0, float("inf"), float("-inf")])
    weights = mppi_weights(costs, 0.5)
    th.testing.assert_close(weights[[0, 2]], th.softmax(-th.tensor([1.0, 2.0]) / 0.5, 0))
    assert weights[[1, 3, 4]].eq(0).all()
    th.testing.assert_close(mppi_weights(th.tensor([float("nan"), float("inf")]), 1.0), th.zeros(2))

    # a rollout in which the sequences whose first action exceeds 0.3 blow up (NaN rewards from step 1)
    def diverging(start, candidates, generator=None):
        rewards, alive = _reach_target(start, candidates)
        blown = candidates[:, 0, 0] > 0.3
        rewards[blown, 1:] = float("nan")
        return rewards, alive

    planner = MPPIPlanner(n_samples=200, horizon=3, temperature=0.1, noise_std=0.5)
    plan = planner.plan(th.tensor(0.0), th.zeros(3, 1), diverging, th.Generator().manual_seed(0))
    assert th.isfinite(plan).all() and float(plan[0, 0]) <= 0.3  # an average of the sequences that did not blow up
    assert 0 < planner.n_diverged < planner.n_sampled == 200 and planner.n_all_diverged == 0
    nominal = th.full((3, 1), 0.9)  # every candidate's first action is then above 0.3 (noise std 0.1, clipped at 1)
    planner.noise_std = 0.1
    kept = planner.plan(th.tensor(0.0), nominal, diverging, th.Generator().manual_seed(0))
    th.testing.assert_close(kept, nominal)
    assert planner.n_all_diverged == 1

    # an all-diverged round skips only its own update: the next iteration still improves the plan
    calls = []

    def first_round_diverges(start, candidates, generator=None):
        calls.append(len(candidates))
        rewards, alive = _reach_target(start, candidates)
        if len(calls) == 1:
            rewards[:] = float("nan")
        return rewards, alive

    planner = MPPIPlanner(n_samples=50, horizon=3, temperature=0.1, noise_std=0.5, iterations=2)
    plan = planner.plan(th.tensor(0.0), th.zeros(3, 1), first_round_diverges, th.Generator().manual_seed(0))
    assert calls == [50, 50] and (planner.n_sampled, planner.n_diverged, planner.n_all_diverged) == (100, 50, 1)
    assert not th.equal(plan, th.zeros(3, 1))


def test_a_terminated_rollout_pays_for_the_steps_it_loses():
    rewards = th.full((2, 5), -0.5)  # the same reward at every step, e.g. a cost-type reward
    alive = th.ones(2, 5, dtype=th.bool)
    alive[1, 2:] = False  # sequence 1 terminates at step 1
    without = sequence_costs(rewards, alive)
    assert without[1] < without[0]  # without a termination cost, terminating early pays
    costs = sequence_costs(rewards, alive, gamma=0.9, termination_cost=1.0)
    assert costs[1] > costs[0]
    expected = 0.5 * (1 + 0.9) + sum(0.9**h for h in range(2, 5))
    assert abs(float(costs[1]) - expected) < 1e-6
    # rewards after the termination do not count, even where they are not finite
    rewards[1, 2:] = float("nan")
    th.testing.assert_close(sequence_costs(rewards, alive, gamma=0.9, termination_cost=1.0), costs)

    # the planner: sequences that push the first action above 0.5 terminate at once
    def falls(start, candidates, generator=None):
        alive = th.ones(candidates.shape[:2], dtype=th.bool)
        alive[candidates[:, 0, 0] > 0.5, 1:] = False
        return th.full(candidates.shape[:2], -1.0), alive

    first = {}
    for cost in (0.0, 2.0):
        planner = MPPIPlanner(n_samples=300, horizon=5, temperature=0.2, noise_std=0.6, termination_cost=cost)
        first[cost] = float(planner.plan(th.tensor(0.0), th.zeros(5, 1), falls, th.Generator().manual_seed(0))[0, 0])
    assert first[0.0] > 0.5 > first[2.0]


def _interpolate_by_hand(knots: th.Tensor, horizon: int) -> th.Tensor:
    """Linear interpolation, one step at a time: knot j at step j (H - 1) / (m - 1), exact fractions."""
    n_knots = knots.shape[1]
    out = th.empty(knots.shape[0], horizon, knots.shape[2], dtype=knots.dtype)
    for h in range(horizon):
        position = Fraction(h * (n_knots - 1), horizon - 1)  # in knot spacings
        j = math.floor(position)
        f = float(position - j)
        for k in range(knots.shape[0]):
            for a in range(knots.shape[2]):
                value = (1 - f) * float(knots[k, j, a])
                if f > 0:
                    value += f * float(knots[k, j + 1, a])
                out[k, h, a] = value
    return out


@pytest.mark.parametrize(("horizon", "n_knots"), [(2, 2), (3, 2), (7, 3), (10, 4), (12, 12), (40, 5), (100, 10), (9, 8)])
def test_knot_interpolation_equals_a_loop(horizon, n_knots):
    knots = th.randn(3, n_knots, 2, generator=th.Generator().manual_seed(horizon), dtype=th.float64)
    out = interpolate_knots(knots, horizon)
    th.testing.assert_close(out, _interpolate_by_hand(knots, horizon), rtol=0, atol=1e-12)
    basis = knot_interpolation(horizon, n_knots, th.float64)
    th.testing.assert_close(basis.sum(1), th.ones(horizon, dtype=th.float64))
    # the first and the last step sit on the first and the last knot
    assert th.equal(out[:, 0], knots[:, 0]) and th.equal(out[:, -1], knots[:, -1])
    if n_knots == horizon:
        assert th.equal(basis, th.eye(horizon, dtype=th.float64)) and th.equal(out, knots)


def test_bad_knot_interpolation_settings_are_refused():
    for horizon, n_knots in ((5, 1), (5, 6), (1, 1), (5, 2.0), (5.0, 2)):
        with pytest.raises(ValueError, match="n_knots"):
            knot_interpolation(horizon, n_knots)


def _recording(seen: list):
    def rollout(start, candidates, generator):
        seen.append(candidates.clone())
        # any cost that varies: the plan moves, so a second iteration samples around a different nominal plan
        rewards = -(candidates[..., 0] - 0.3).abs()
        return rewards, th.ones(candidates.shape[:2], dtype=th.bool)

    return rollout


def test_with_as_many_knots_as_steps_the_planner_does_what_it_does_without_knots():
    """n_knots = horizon draws the same (K, H, action_dim) normals from the generator and the interpolation is the
    identity: the candidates and the plan are bit-identical to those without knots."""
    plans, seen = {}, {}
    for n_knots in (None, 6):
        seen[n_knots] = []
        planner = MPPIPlanner(n_samples=8, horizon=6, temperature=0.5, noise_std=0.4, iterations=2, n_knots=n_knots)
        plans[n_knots] = planner.plan(
            th.zeros(1), th.full((6, 2), 0.1), _recording(seen[n_knots]), th.Generator().manual_seed(5)
        )
    assert len(seen[6]) == 2 and all(th.equal(a, b) for a, b in zip(seen[None], seen[6]))
    assert th.equal(plans[None], plans[6])


def test_the_planner_weights_smoothed_noise_by_the_control_cost_of_its_covariance():
    seen: list = []
    nominal = th.linspace(-0.5, 0.5, 6).unsqueeze(1).repeat(1, 2)
    planner = MPPIPlanner(n_samples=5, horizon=6, noise_std=0.3, smoothing=0.6, control_cost=0.4, temperature=0.5)
    plan = planner.plan(th.zeros(1), nominal, _recording(seen), th.Generator().manual_seed(0))
    noise = smooth_noise(th.randn(5, 6, 2, generator=th.Generator().manual_seed(0)), 0.6)
    th.testing.assert_close(seen[0], (nominal + 0.3 * noise).clamp(-1.0, 1.0))
    rewards, alive = _recording([])(None, seen[0], None)
    perturbations = seen[0] - nominal
    costs = sequence_costs(rewards, alive, 1.0, nominal, perturbations, 0.3, 0.5, 0.4, smoothing=0.6)
    th.testing.assert_close(plan, weighted_update(nominal, perturbations, mppi_weights(costs, 0.5)))


def test_the_planner_perturbs_a_dense_plan_by_interpolated_knot_noise():
    seen: list = []
    nominal = th.linspace(-0.5, 0.5, 10).unsqueeze(1).repeat(1, 2)  # a plan that is not on any knot grid
    planner = MPPIPlanner(n_samples=5, horizon=10, noise_std=0.3, n_knots=4)
    plan = planner.plan(th.zeros(1), nominal, _recording(seen), th.Generator().manual_seed(0))
    knots = th.randn(5, 4, 2, generator=th.Generator().manual_seed(0))
    expected = (nominal + 0.3 * interpolate_knots(knots, 10)).clamp(-1.0, 1.0)
    th.testing.assert_close(seen[0], expected)
    # the update is the weighted average of the (clipped) interpolated perturbations, applied to the dense plan
    rewards, _ = _recording([])(None, seen[0], None)
    weights = mppi_weights(-rewards.sum(1), planner.temperature)
    th.testing.assert_close(plan, weighted_update(nominal, seen[0] - nominal, weights))


_TRACK_HORIZON = 40
_TARGET = 0.8 * th.sin(2 * math.pi * th.arange(_TRACK_HORIZON) / _TRACK_HORIZON)


def _track_a_slow_sine(start, actions, generator=None):
    """Reward for following one period of a sine over the horizon, minus 10 times the squared change of action: only
    a smooth action sequence scores."""
    a = actions[..., 0]
    previous = th.cat([th.zeros(a.shape[0], 1), a[:, :-1]], 1)
    rewards = -((a - _TARGET) ** 2) - 10.0 * (a - previous) ** 2
    return rewards, th.ones_like(rewards, dtype=th.bool)


def test_knots_find_a_smooth_plan_that_per_step_noise_misses():
    """With 32 samples of 40 steps, per-step noise makes every candidate rough, so the weighted average is worse than
    the zero plan it started from; 5 knots (linear interpolation) search a 5-dimensional space of smooth sequences and
    cut the cost of the zero plan (12.8) to about 3. Broken interpolations score 8 or more: swapped weights (a sawtooth),
    nearest knot or zero-order hold (jumps), shuffled steps."""
    zero = th.zeros(_TRACK_HORIZON, 1)

    def cost(plan: th.Tensor) -> float:
        return -float(_track_a_slow_sine(None, plan.unsqueeze(0))[0].sum())

    costs = {}
    for n_knots in (None, 5):
        planner = MPPIPlanner(
            n_samples=32, horizon=_TRACK_HORIZON, temperature=0.1, noise_std=0.3, iterations=3, n_knots=n_knots
        )
        plans = [planner.plan(th.tensor(0.0), zero, _track_a_slow_sine, th.Generator().manual_seed(s)) for s in range(3)]
        costs[n_knots] = sum(cost(plan) for plan in plans) / len(plans)
    assert costs[5] < 0.4 * cost(zero) < cost(zero) < costs[None], costs
