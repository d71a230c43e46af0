"""Model Predictive Path Integral control (Williams et al. 2017, "Information Theoretic MPC for Model-Based
Reinforcement Learning", ICRA; Algorithm 2) as pure tensor functions and a small planner object.

Every function works on whole batches: K sampled sequences of H actions at once, never a Python loop over samples.

A sequence whose rollout diverged (a non-finite reward at a step it lives through: a simulation that blew up, a learned
model that predicted a non-finite state) has a non-finite cost and gets weight 0: it predicts nothing. If every sequence
diverged, the nominal plan is kept unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch as th

from sb3_pg_extras.common.validation import is_integer

# (start state, action sequences (K, H, action_dim), random generator or None) -> (rewards (K, H), alive (K, H)): one
# rollout of every sequence, ``alive[k, h]`` False once sequence k has terminated before step h (its later rewards do
# not count); a non-finite reward at a live step marks a diverged rollout; a stochastic model draws its randomness
# from the generator
RolloutFn = Callable[[th.Tensor, th.Tensor, th.Generator | None], tuple[th.Tensor, th.Tensor]]


def mppi_weights(costs: th.Tensor, temperature: float) -> th.Tensor:
    """Boltzmann weights ``w_k = exp(-C_k / lambda) / sum_j exp(-C_j / lambda)`` (Williams et al. 2017, Algorithm 2),
    computed stably (the minimum finite cost is subtracted first, so no exponent overflows and the best sequence always
    has a finite weight). A non-finite cost (NaN, +inf or -inf: a diverged rollout) gets weight 0.

    :param costs: (K,) total cost of every sampled sequence
    :param temperature: lambda > 0 (small: follow the best sequences; large: average them all)
    :return: (K,) non-negative weights summing to 1, or all 0 when no cost is finite
    """
    if not temperature > 0:
        raise ValueError(f"The MPPI temperature lambda must be > 0, got {temperature}")
    finite = th.isfinite(costs)
    # +inf for the diverged sequences: exp(-inf) = 0; the shift uses the smallest finite cost
    costs = th.where(finite, costs, th.inf)
    weights = th.softmax(-(costs - costs.min()) / temperature, dim=0)
    return th.where(finite, weights, 0.0)  # every cost non-finite: inf - inf is NaN everywhere, weights all 0


def smoothing_matrix(
    horizon: int, smoothing: float, dtype: th.dtype = th.float32, device: th.device | str | None = None
) -> th.Tensor:
    """The (H, H) lower-triangular map ``M`` of :func:`smooth_noise`, ``e = M n``: ``M[0, 0] = 1``, ``M[h, 0] =
    s^h`` and ``M[h, j] = sqrt(1 - s^2) s^(h - j)`` for ``1 <= j <= h``. Its rows have unit norm (every step keeps the
    unsmoothed marginal variance) and its diagonal is positive, so it is invertible for ``s < 1``; the smoothed noise
    of one action dimension has covariance ``std^2 M M^T``."""
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"The noise smoothing coefficient must be in [0, 1), got {smoothing}")
    steps = th.arange(horizon, device=device)
    lag = (steps.unsqueeze(1) - steps.unsqueeze(0)).clamp_min(0).to(dtype)
    mixing = th.tril(smoothing**lag) * (1 - smoothing**2) ** 0.5
    mixing[:, 0] = smoothing ** steps.to(dtype)
    return mixing


def smooth_noise(noise: th.Tensor, smoothing: float) -> th.Tensor:
    """Low-pass filter the sampled perturbations along time: ``e_0 = n_0``, ``e_h = smoothing * e_{h-1} +
    sqrt(1 - smoothing^2) * n_h`` (an AR(1) process that keeps every step's marginal variance equal to the
    unsmoothed one, and correlates neighboring steps by ``smoothing``): ``e = M n`` with :func:`smoothing_matrix`.

    :param noise: (K, H, action_dim) independent perturbations
    :param smoothing: in [0, 1) (:func:`smoothing_matrix` refuses the rest); 0 leaves the noise unchanged
    :return: (K, H, action_dim)
    """
    if smoothing == 0.0:
        return noise
    mixing = smoothing_matrix(noise.shape[1], smoothing, noise.dtype, noise.device)
    return th.einsum("hj,kja->kha", mixing, noise)


def knot_interpolation(
    horizon: int, n_knots: int, dtype: th.dtype = th.float32, device: th.device | str | None = None
) -> th.Tensor:
    """The (H, m) matrix ``B`` of linear interpolation from ``m`` knots spread evenly over a horizon of ``H`` steps: knot
    j sits at step ``j (H - 1) / (m - 1)`` (the first at step 0, the last at step H - 1), and step h, at ``u = h (m - 1)
    / (H - 1)`` knot spacings, takes ``(1 - f)`` of knot ``floor(u)`` and ``f = u - floor(u)`` of the next one. Every
    row sums to 1 and has at most two non-zero entries; with ``m = H`` it is the identity. The positions are computed in
    integers, so a step that sits on a knot takes exactly that knot's value.

    :param horizon: H >= 2
    :param n_knots: m, 2 <= m <= H
    :return: (H, m)
    """
    if not (is_integer(horizon) and is_integer(n_knots) and 2 <= n_knots <= horizon):
        raise ValueError(f"Knot interpolation needs integers 2 <= n_knots <= horizon, got {n_knots=!r}, {horizon=!r}")
    steps = th.arange(horizon, device=device)
    scaled = steps * (n_knots - 1)  # u * (H - 1), an integer
    lower = th.div(scaled, horizon - 1, rounding_mode="floor")
    frac = (scaled - lower * (horizon - 1)).to(dtype) / (horizon - 1)
    upper = (lower + 1).clamp_max(n_knots - 1)  # the last step sits on the last knot (f = 0)
    matrix = th.zeros(horizon, n_knots, dtype=dtype, device=device)
    matrix.index_put_((steps, lower), 1 - frac, accumulate=True)
    matrix.index_put_((steps, upper), frac, accumulate=True)
    return matrix


def interpolate_knots(knots: th.Tensor, horizon: int) -> th.Tensor:
    """Knot values (K, m, action_dim) -> the H steps between them (K, H, action_dim), linearly interpolated
    (:func:`knot_interpolation`)."""
    basis = knot_interpolation(horizon, knots.shape[1], knots.dtype, knots.device)
    return th.einsum("hm,kma->kha", basis, knots)


def sequence_costs(
    rewards: th.Tensor,
    alive: th.Tensor,
    gamma: float = 1.0,
    nominal: th.Tensor | None = None,
    perturbations: th.Tensor | None = None,
    noise_std: th.Tensor | float = 1.0,
    temperature: float = 1.0,
    control_cost: float = 0.0,
    termination_cost: float = 0.0,
    smoothing: float = 0.0,
) -> th.Tensor:
    """MPPI's cost of every sampled sequence: minus its (discounted) return, plus ``termination_cost`` for every step
    of the horizon lost to a termination (``termination_cost * sum_h gamma^h [sequence terminated before step h]``, so
    that a sequence that terminates scores below one that lives on with the same rewards so far), plus the control cost
    of Williams et al. 2017 (eq. 34), ``control_cost * lambda * sum_h nominal_h^T Sigma^-1 eps_h``, which keeps the
    importance-sampling update unbiased when the perturbations are drawn around a non-zero nominal plan and the
    candidates are not clipped (clipping them to the action bounds biases the plan toward the bound); 0 switches it
    off. With noise smoothed along time (``smoothing`` s > 0) the perturbations of one action dimension are Gaussian
    with covariance ``C = std^2 M M^T`` (:func:`smoothing_matrix`), and the term is the same log-likelihood ratio with
    that covariance, ``control_cost * lambda * sum_a nominal_a^T C^-1 eps_a`` (computed by two triangular solves,
    ``(M^-1 nominal_a) . (M^-1 eps_a) / std_a^2``); ``Sigma^-1`` of independent steps would weight it wrongly.
    The rewards of steps after a termination are ignored, even when non-finite; a non-finite reward at a live step
    makes the cost non-finite (a diverged rollout, weight 0 in :func:`mppi_weights`).

    :param rewards: (K, H) rewards of the imagined steps
    :param alive: (K, H) True where step h happens (before any termination)
    :param gamma: discount of the rewards along the horizon
    :param nominal: (H, action_dim) the nominal plan (needed with ``control_cost``)
    :param perturbations: (K, H, action_dim) the perturbations ``eps`` (needed with ``control_cost``)
    :param noise_std: standard deviation of the perturbations (scalar or (action_dim,)), ``Sigma = diag(std^2)``
    :param temperature: lambda
    :param control_cost: weight of the control cost term
    :param termination_cost: cost of every step lost to a termination (0: a terminated sequence only loses the rewards
        it does not collect)
    :param smoothing: the AR(1) correlation the perturbations were drawn with (:func:`smooth_noise`; 0: independent)
    :return: (K,)
    """
    horizon = rewards.shape[1]
    discounts = gamma ** th.arange(horizon, device=rewards.device, dtype=rewards.dtype)
    costs = -(th.where(alive, rewards, 0.0) * discounts).sum(1)
    if termination_cost:
        costs = costs + termination_cost * ((~alive) * discounts).sum(1)
    if control_cost:
        if nominal is None or perturbations is None:
            raise ValueError("The control cost needs the nominal plan and the perturbations")
        inv_var = 1.0 / th.as_tensor(noise_std, dtype=rewards.dtype, device=rewards.device) ** 2
        if smoothing:  # whiten along time: M^-1 applied to the plan and to every perturbation
            mixing = smoothing_matrix(horizon, smoothing, rewards.dtype, rewards.device)
            nominal = th.linalg.solve_triangular(mixing, nominal, upper=False)
            perturbations = th.linalg.solve_triangular(mixing, perturbations, upper=False)
        costs = costs + control_cost * temperature * (nominal * inv_var * perturbations).sum((1, 2))
    return costs


def weighted_update(nominal: th.Tensor, perturbations: th.Tensor, weights: th.Tensor) -> th.Tensor:
    """The MPPI step (Williams et al. 2017, Algorithm 2): ``nominal + sum_k w_k eps_k``, shape (H, action_dim)."""
    return nominal + th.einsum("k,kha->ha", weights, perturbations)


def shift_plan(plan: th.Tensor, fill: th.Tensor | float = 0.0) -> th.Tensor:
    """Warm start for the next env step (Williams et al. 2017, Algorithm 2): drop the executed first action, append
    ``fill`` (a copy of the plan, (H, A)). In SB3's [-1, 1] action scale the default 0 is the midpoint of the env's
    action range (a zero action in env units only where the bounds are symmetric)."""
    shifted = th.roll(plan, -1, dims=0)
    shifted[-1] = fill
    return shifted


@dataclass
class MPPIPlanner:
    """K perturbed action sequences around a nominal plan, scored by a rollout function, combined by Boltzmann
    weights; ``iterations`` rounds per call (Williams et al. 2017, Algorithm 2). Actions live in the space the rollout
    function takes (SB3's [-1, 1] for the algorithm of this package) and are clipped to ``[low, high]`` before the
    rollout; the update uses the clipped perturbations, which biases the plan toward a bound that the noise crosses.

    Diverged rollouts (non-finite costs) get weight 0; a round in which every rollout diverged leaves the plan as it
    was. The counters ``n_sampled``, ``n_diverged`` (sequences) and ``n_all_diverged`` (rounds) say how often.

    Knots (``n_knots = m``, off by default): the perturbations are drawn at ``m`` knots spread evenly over the horizon,
    from its first step to its last, and linearly interpolated to the H steps (:func:`knot_interpolation`), so that a
    long horizon has ``m * action_dim`` noise dimensions instead of ``H * action_dim``. This is the plan
    parameterization of predictive sampling in MuJoCo MPC (T. Howell, N. Gileadi, S. Tunyasuvunakool, K. Zakka, T.
    Erez, Y. Tassa, "Predictive Sampling", arXiv:2212.00541, 2022), whose spline knots are laid evenly from the current
    time to the end of the horizon and perturbed by Gaussian noise; it offers zero-order hold, linear and cubic
    interpolation.
    Linear is used here because (1) the perturbations are continuous: a zero-order hold jumps by about
    ``sqrt(2) * noise_std`` at every knot, an impulse that a torque-driven body has to absorb, and since the dense plan
    shifts by one step per call while the knots are laid afresh from step 0, those jumps would land at a different
    step of the plan at every call; (2) unlike a cubic, it never overshoots: every interpolated perturbation lies
    between its two knot values, so clipping to the action bounds bites no more often than at the knots; (3) it is a
    fixed linear map ``eps = B z`` of Gaussian knot noise ``z`` (B: (H, m)), so the unclipped candidates stay Gaussian
    around the nominal plan.
    Between two knots a step's standard deviation is ``noise_std * sqrt((1 - f)^2 + f^2)``, down to
    ``noise_std / sqrt(2)`` midway (as in MuJoCo MPC, not renormalized). Unlike MuJoCo MPC, whose plan is the spline
    itself (resampled onto fresh knots at every call) and whose update keeps the best candidate, the nominal plan here
    stays dense (one action per step): only the perturbations live on the knots, the update is MPPI's weighted average
    of the interpolated (and clipped) perturbations, and the shifted warm start is unchanged. With ``m = H`` the
    interpolation is the identity and the planner draws, and does, exactly what it does without knots. Knots refuse
    ``smoothing`` (both make the perturbations smooth along time; the interpolation already correlates the steps
    between two knots, so use one) and ``control_cost`` (the knotted perturbations are a degenerate Gaussian, covariance
    ``noise_std^2 B B^T`` on the m-dimensional span of ``B``; the likelihood ratio behind the control term of Williams
    et al. exists only for a nominal plan in that span, and the shifted warm start leaves it).

    :param n_samples: K >= 2
    :param horizon: H >= 1
    :param temperature: lambda > 0
    :param noise_std: perturbation standard deviation (in action units)
    :param iterations: MPPI rounds per planned action
    :param gamma: discount of rewards along the horizon
    :param control_cost: weight of the control cost term (0: none)
    :param smoothing: AR(1) correlation of the perturbations along time, in [0, 1)
    :param low: lower action bound
    :param high: upper action bound
    :param termination_cost: cost of every horizon step lost to a termination (0: none)
    :param n_knots: perturbations drawn at this many knots and linearly interpolated over the horizon (2 <= n_knots <=
        horizon; needs ``smoothing = 0`` and ``control_cost = 0``); None: every step its own perturbation
    :param nominal_sample: make the first of the K candidates of every round the nominal plan itself (zero
        perturbation), so that the plan the last call kept is scored again and outweighs the samples unless one of
        them does better (predictive sampling's nominal candidate, Howell et al. 2022). Off by default
    """

    n_samples: int
    horizon: int
    temperature: float = 1.0
    noise_std: float = 0.5
    iterations: int = 1
    gamma: float = 1.0
    control_cost: float = 0.0
    smoothing: float = 0.0
    low: float = -1.0
    high: float = 1.0
    termination_cost: float = 0.0
    n_knots: int | None = None
    nominal_sample: bool = False
    n_sampled: int = field(default=0, init=False)
    n_diverged: int = field(default=0, init=False)
    n_all_diverged: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if isinstance(self.n_samples, bool) or not isinstance(self.n_samples, int) or self.n_samples < 2:
            raise ValueError(f"MPPI needs at least 2 sampled sequences (n_samples >= 2), got {self.n_samples!r}")
        if isinstance(self.horizon, bool) or not isinstance(self.horizon, int) or self.horizon < 1:
            raise ValueError(f"The MPPI horizon must be an integer >= 1, got {self.horizon!r}")
        for name in ("temperature", "noise_std", "gamma", "control_cost", "smoothing", "low", "high", "termination_cost"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"MPPI's `{name}` must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"MPPI's `{name}` must be finite, got {value!r}")
        if not self.temperature > 0:
            raise ValueError(f"The MPPI temperature lambda must be > 0, got {self.temperature!r}")
        if not self.noise_std > 0:
            raise ValueError(f"noise_std must be > 0, got {self.noise_std!r}")
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int) or self.iterations < 1:
            raise ValueError(f"iterations must be an integer >= 1, got {self.iterations!r}")
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {self.smoothing!r}")
        if not isinstance(self.nominal_sample, bool):
            raise ValueError(f"nominal_sample must be True or False, got {self.nominal_sample!r}")
        if not self.low < self.high:
            raise ValueError(f"The action bounds must satisfy low < high, got low={self.low!r}, high={self.high!r}")
        if self.n_knots is not None:
            if not is_integer(self.n_knots) or not 2 <= self.n_knots <= self.horizon:
                raise ValueError(
                    f"n_knots must be None (every step its own perturbation) or an integer from 2 to the horizon "
                    f"({self.horizon}), got {self.n_knots!r}"
                )
            self.n_knots = int(self.n_knots)
            if self.smoothing:
                raise ValueError(
                    f"n_knots and smoothing both make the perturbations smooth along the horizon (the interpolation "
                    f"between knots already correlates the steps between two knots): use one, n_knots with smoothing=0 "
                    f"or smoothing with n_knots=None; got n_knots={self.n_knots}, smoothing={self.smoothing!r}"
                )
            if self.control_cost:
                raise ValueError(
                    f"n_knots cannot be used with control_cost (got control_cost={self.control_cost!r}): the knotted "
                    f"perturbations span only n_knots dimensions of the horizon, and the control term's likelihood "
                    f"ratio exists only for a nominal plan in that span, which the shifted warm start leaves; set "
                    f"control_cost=0 or n_knots=None"
                )

    def plan(
        self, start: th.Tensor, nominal: th.Tensor, rollout: RolloutFn, generator: th.Generator | None = None
    ) -> th.Tensor:
        """The optimized plan (H, action_dim) from ``start``, improving ``nominal`` (H, action_dim)."""
        for _ in range(self.iterations):
            if self.n_knots is None:
                shape = (self.n_samples, *nominal.shape)
                noise = th.randn(shape, generator=generator, device=nominal.device, dtype=nominal.dtype)
                noise = smooth_noise(noise, self.smoothing)
            else:
                shape = (self.n_samples, self.n_knots, *nominal.shape[1:])
                knots = th.randn(shape, generator=generator, device=nominal.device, dtype=nominal.dtype)
                noise = interpolate_knots(knots, nominal.shape[0])
            if self.nominal_sample:
                noise[0] = 0.0
            candidates = (nominal + self.noise_std * noise).clamp(self.low, self.high)
            perturbations = candidates - nominal
            rewards, alive = rollout(start, candidates, generator)
            costs = sequence_costs(
                rewards, alive, self.gamma, nominal, perturbations, self.noise_std, self.temperature, self.control_cost,
                self.termination_cost, self.smoothing,
            )  # fmt: skip
            diverged = int((~th.isfinite(costs)).sum())
            self.n_sampled += self.n_samples
            self.n_diverged += diverged
            if diverged == self.n_samples:  # nothing predicts anything: keep the plan
                self.n_all_diverged += 1
                continue
            nominal = weighted_update(nominal, perturbations, mppi_weights(costs, self.temperature))
        return nominal
