"""The learned dynamics ensemble (common/dynamics): batched members vs loops, learning a known linear system,
elites and normalizers in the saved state, imagined rollouts with termination functions."""

import io

import numpy as np
import pytest
import torch as th
import torch.nn.functional as F

from sb3_pg_extras.common.dynamics import (
    DynamicsModel,
    EnsembleLinear,
    GaussianEnsemble,
    Transitions,
    fit_dynamics,
    forward_assigned,
    gaussian_nll,
    holdout_mse,
    imagine_rollout,
    open_loop_rollout,
    soft_bound_log_var,
)
from sb3_pg_extras.common.dynamics.trainer import default_weight_decay

th.set_num_threads(1)


def test_ensemble_linear_equals_member_loop():
    th.manual_seed(0)
    layer = EnsembleLinear(4, 3, 5)
    x = th.randn(4, 6, 3)
    out = layer(x)
    for k in range(4):
        th.testing.assert_close(out[k], F.linear(x[k], layer.weight[k].T, layer.bias[k, 0]))
    members = th.tensor([2, 0])
    th.testing.assert_close(layer(x[:2], members)[0], F.linear(x[0], layer.weight[2].T, layer.bias[2, 0]))


def _member_forward(ensemble: GaussianEnsemble, x: th.Tensor, k: int) -> tuple[th.Tensor, ...]:
    outs = ensemble(x.unsqueeze(0), th.tensor([k]))
    return tuple(o[0] for o in outs)


def test_forward_assigned_matches_per_sample_loop_and_is_differentiable():
    th.manual_seed(1)
    ensemble = GaussianEnsemble(5, 3, 2, n_logits=1, hidden_sizes=[8])
    x = th.randn(17, 3, requires_grad=True)
    member = th.tensor([4, 0, 0, 2, 4, 4, 1, 2, 0, 4, 4, 2, 1, 1, 0, 4, 2])  # unbalanced groups, member 3 unused
    mean, log_var, logits = forward_assigned(ensemble, x, member)
    for i in range(len(x)):
        ref = _member_forward(ensemble, x[i : i + 1], int(member[i]))
        th.testing.assert_close(mean[i], ref[0][0])
        th.testing.assert_close(log_var[i], ref[1][0])
        th.testing.assert_close(logits[i], ref[2][0])
    mean.sum().backward()
    assert x.grad is not None and th.all(x.grad.abs().sum(1) > 0)


def test_soft_bounded_log_var_stays_inside_and_keeps_gradient():
    lo, hi = th.tensor(-3.0), th.tensor(1.0)
    raw = th.linspace(-50, 50, 101, requires_grad=True)
    bounded = soft_bound_log_var(raw, lo, hi)
    # The lower bound is applied last, so the upper one can be exceeded by at most softplus(lo - hi).
    assert th.all(bounded >= lo) and th.all(bounded <= hi + F.softplus(lo - hi))
    # Inside the range it is close to the identity.
    assert abs(float(soft_bound_log_var(th.tensor(-1.0), th.tensor(-20.0), th.tensor(20.0))) + 1.0) < 1e-6
    bounded.sum().backward()
    inside = (raw > -2.5) & (raw < 0.5)
    assert th.all(raw.grad > 0) and th.all(raw.grad[inside] > 0.1)


def test_gaussian_nll_is_twice_the_per_dimension_normal_nll():
    # The reference implementations' loss: mean over batch and dimensions of (m - t)^2 / var + log var, i.e. twice the
    # per-dimension negative log-likelihood without its constant.
    th.manual_seed(2)
    mean, log_var, target = th.randn(3, 7, 4), th.randn(3, 7, 4), th.randn(3, 7, 4)
    dist = th.distributions.Normal(mean, th.exp(0.5 * log_var))
    const = 0.5 * np.log(2 * np.pi)
    expected = 2 * (-dist.log_prob(target) - const).mean((-2, -1))
    th.testing.assert_close(gaussian_nll(mean, log_var, target), expected)
    loop = [sum(float((mean[k, i, d] - target[k, i, d]) ** 2 / log_var[k, i, d].exp() + log_var[k, i, d])
                for i in range(7) for d in range(4)) / 28 for k in range(3)]  # fmt: skip
    th.testing.assert_close(gaussian_nll(mean, log_var, target), th.tensor(loop), rtol=1e-5, atol=1e-6)


def test_default_weight_decay_is_mbpos():
    assert default_weight_decay(4) == [2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4]
    assert default_weight_decay(1) == [2.5e-5, 1e-4]
    ensemble = GaussianEnsemble(2, 3, 2, hidden_sizes=[4])
    with th.no_grad():
        ensemble.hidden[0].weight.fill_(2.0)  # 2 members x 3 x 4 weights of 2.0
        ensemble.output.weight.fill_(1.0)  # 2 members x 4 x 4 outputs of 1.0
    # tf.nn.l2_loss convention: coef * sum(w^2) / 2, summed over members; biases are not decayed.
    expected = 0.1 * (2 * 3 * 4 * 4.0) / 2 + 0.3 * (2 * 4 * 4 * 1.0) / 2
    th.testing.assert_close(ensemble.weight_decay_loss([0.1, 0.3]), th.tensor(expected))


def test_holdout_mse_is_the_mean_over_every_transition_whatever_the_chunks():
    th.manual_seed(0)
    data, _, _ = _linear_system(7)
    model = DynamicsModel(3, 1, n_members=2, n_elites=1, hidden_sizes=[4], learn_reward=True)
    model.fit_normalizers(_linear_system(50, seed=1)[0])
    # brute force: every member on every transition alone, squared error of its mean on the normalized targets
    expected = th.zeros(2)
    with th.no_grad():
        for i in range(7):
            inputs = model.model_inputs(data.observations[i : i + 1], data.actions[i : i + 1])
            mean = model.ensemble(inputs.expand(2, 1, -1))[0][:, 0]  # (member, target)
            raw = model.raw_targets(data.observations[i], data.next_observations[i], data.rewards[i])
            expected += ((mean - model.target_normalizer.normalize(raw)) ** 2).mean(-1) / 7
    for batch_size in (3, 7, 4096):  # chunks of 3, 3 and 1; one chunk
        th.testing.assert_close(holdout_mse(model, data, batch_size=batch_size), expected)


class _ScriptedOptimizer:
    """Stands in for the optimizer of a scripted fit: its step ``e`` (one minibatch per epoch) sets the members' mean
    output biases to ``biases[e]``; a step past the script fails (the fit should have stopped)."""

    def __init__(self, model: DynamicsModel, biases: list[list[float]]) -> None:
        self.bias, self.biases, self.steps = model.ensemble.output.bias, biases, 0

    def zero_grad(self) -> None:
        pass

    def step(self) -> None:
        assert self.steps < len(self.biases), f"the fit ran past the {len(self.biases)} scripted epochs"
        with th.no_grad():
            self.bias[:, 0, 0] = th.tensor(self.biases[self.steps])
        self.steps += 1


def _scripted_fit(mses: list[list[float]], initial: list[float], n_elites: int = 1, **kwargs) -> tuple:
    """A fit whose holdout MSEs follow a script. Every transition is the same, so the normalized inputs and targets
    are exactly 0 and member k predicts its output bias b_k everywhere: its holdout MSE is b_k ** 2. ``mses[e][k]`` is
    member k's holdout MSE after epoch e + 1, ``initial[k]`` before the fit (exact for squares of dyadic biases).
    Returns the result and the MSEs of the parameters the fit kept."""
    n = 20  # 4 held out by default, 16 in one minibatch
    ones = th.ones(n, 1)
    data = Transitions(ones, ones, 2 * ones, th.zeros(n), th.zeros(n))
    model = DynamicsModel(1, 1, n_members=len(initial), n_elites=n_elites, hidden_sizes=[2])
    with th.no_grad():
        model.ensemble.output.bias[:, 0, 0] = th.tensor(initial) ** 0.5
    optimizer = _ScriptedOptimizer(model, [[m**0.5 for m in epoch] for epoch in mses])
    result = fit_dynamics(model, optimizer, data, rng=np.random.default_rng(0), **kwargs)  # type: ignore[arg-type]
    kept = (model.ensemble.output.bias[:, 0, 0].detach() ** 2).tolist()
    return result, kept


def test_fit_progress_is_a_relative_improvement_on_the_best_holdout_mse_of_the_call():
    # MBPO's defaults: progress = some member improves by more than 1% on its best; stop after patience + 1 = 6
    # epochs in a row without progress. Epoch 3 improves by 1.25% on the best (0.5% on epoch 2), epoch 4 is worse,
    # epochs 5-9 improve by less than 1% on epoch 3's 3.95.
    mses = [[4.0], [3.97], [3.95], [4.2], [3.94], [3.93], [3.92], [3.915], [3.912]]
    result, kept = _scripted_fit(mses, initial=[4.0])
    assert result.epochs == 9
    np.testing.assert_allclose(kept, [3.95], rtol=1e-6)  # epoch 3's parameters
    np.testing.assert_allclose(result.holdout_mse, [3.95], rtol=1e-6)
    assert result.members_improved == 1 and result.elites.tolist() == [0]
    # patience 0: the first epoch without progress ends the fit
    result, kept = _scripted_fit([[4.0], [1.0], [1.0]], initial=[4.0], patience=0)
    assert result.epochs == 3 and kept == [1.0]
    # an improvement of exactly the threshold is not progress; it is relative, also below an MSE of 1: member 1's
    # 0.25 -> 1/64 at epoch 3 (-94%) is progress, member 0's 4 -> 1 (-75%) never is
    mses = [[4.0, 0.25], [1.0, 0.25], [1.0, 1 / 64], [1.0, 1 / 64], [1.0, 1 / 64]]
    result, kept = _scripted_fit(mses, initial=[4.0, 0.25], patience=1, improvement_threshold=0.75)
    assert result.epochs == 5  # epoch 2 without progress, epoch 3 with, epochs 4 and 5 without
    assert kept == [4.0, 1 / 64] and result.holdout_mse.tolist() == [4.0, 1 / 64]
    assert result.members_improved == 1 and result.elites.tolist() == [1]


def test_fit_counts_the_members_that_beat_their_warm_start_and_keeps_the_best_as_elites():
    # one epoch (always kept): member 0 beats its starting holdout MSE of 1, members 1 and 2 tie it, 3 and 4 lose
    result, kept = _scripted_fit([[0.25, 1.0, 1.0, 2.25, 4.0]], initial=[1.0] * 5, n_elites=3, max_epochs=1)
    assert result.epochs == 1 and kept == [0.25, 1.0, 1.0, 2.25, 4.0]
    assert result.members_improved == 1
    assert result.elites.tolist() == [0, 1, 2]


def test_fit_minimizes_the_summed_member_nll_plus_the_bound_and_decay_penalties():
    data, _, _ = _linear_system(24)
    model = DynamicsModel(3, 1, n_members=3, n_elites=1, hidden_sizes=[4])
    ensemble = model.ensemble
    # learning rate 0: the parameters stay, so the reported loss is the objective at them; no holdout: the normalizers
    # and the selection use all the data; one minibatch holding every transition once
    result = fit_dynamics(model, th.optim.SGD(model.parameters(), lr=0.0), data, batch_size=24, holdout_ratio=0.0,
                          max_epochs=1, weight_decay=0.5, bootstrap=False, rng=np.random.default_rng(0))  # fmt: skip
    with th.no_grad():
        nll = model.losses(Transitions(*(t.expand(3, *t.shape) for t in data.tensors())))[0]  # (member,)
        bounds = float((ensemble.max_log_var - ensemble.min_log_var).sum())  # 3 x (0.5 - (-10))
        decay = sum(0.5 * float((layer.weight**2).sum()) / 2 for layer in (*ensemble.hidden, ensemble.output))
    # every member's mean NLL counts in full (as if trained alone), plus MBPO's 0.01 x the log-variance bound width
    assert bounds == pytest.approx(31.5)
    assert result.train_loss == pytest.approx(float(nll.sum()) + 0.01 * bounds + decay, rel=1e-5)
    th.testing.assert_close(th.as_tensor(result.holdout_mse), holdout_mse(model, data))


def _record_fit(data: Transitions, **kwargs) -> tuple[np.ndarray, list[np.ndarray]]:
    """The row ids (in the action) of one fit epoch: those of the holdout evaluated before training, and every
    training minibatch (n_members, batch)."""
    model = DynamicsModel(data.observations.shape[1], 1, n_members=2, n_elites=1, hidden_sizes=[4])
    calls: list[tuple[bool, np.ndarray]] = []
    losses = model.losses

    def recording(batch: Transitions) -> tuple[th.Tensor, th.Tensor]:
        calls.append((th.is_grad_enabled(), batch.actions[..., 0].detach().long().numpy()))
        return losses(batch)

    model.losses = recording  # type: ignore[method-assign]
    fit_dynamics(model, th.optim.Adam(model.parameters()), data, max_epochs=1, rng=np.random.default_rng(0), **kwargs)
    first_train = next(i for i, (grad, _) in enumerate(calls) if grad)
    holdout = np.concatenate([rows[0] for _, rows in calls[:first_train]])
    return holdout, [rows for grad, rows in calls if grad]


def _with_ids(n: int) -> Transitions:
    zeros = th.zeros(n, 1)
    return Transitions(th.randn(n, 1, generator=th.Generator().manual_seed(n)), th.arange(n, dtype=th.float32)[:, None],
                       zeros, th.zeros(n), th.zeros(n))  # fmt: skip


def test_fit_defaults_are_mbpos_holdout_minibatches_and_bootstrap():
    # 20% held out (floor), the rest in minibatches of 256, every member on its own bootstrap resample
    holdout, batches = _record_fit(_with_ids(401))
    assert len(holdout) == 80 == len(np.unique(holdout))
    assert [b.shape for b in batches] == [(2, 256), (2, 65)]
    rows = np.concatenate(batches, axis=1)
    assert not np.isin(rows, holdout).any()
    assert all(len(np.unique(member)) < 321 for member in rows)  # draws with replacement
    # the holdout is capped at 5000 transitions
    holdout, batches = _record_fit(_with_ids(25010), batch_size=25010)
    assert len(holdout) == 5000 and batches[0].shape == (2, 20010)


def test_fit_needs_a_training_transition_and_selects_on_it_without_a_holdout():
    one = Transitions(th.ones(1, 3), th.zeros(1, 1), th.ones(1, 3), th.zeros(1), th.zeros(1))
    model = DynamicsModel(3, 1, n_members=2, n_elites=1, hidden_sizes=[4])
    result = fit_dynamics(model, th.optim.Adam(model.parameters()), one, max_epochs=1, rng=np.random.default_rng(0))
    # 20% of one transition holds out none: the fit selects on the training transition
    assert result.epochs == 1
    th.testing.assert_close(th.as_tensor(result.holdout_mse), holdout_mse(model, one))
    with pytest.raises(ValueError, match="Too few transitions"):  # everything held out: nothing to train on
        fit_dynamics(model, th.optim.Adam(model.parameters()), _linear_system(5)[0], holdout_ratio=1.0)


def _linear_system(n: int, seed: int = 0) -> tuple[Transitions, th.Tensor, th.Tensor]:
    gen = th.Generator().manual_seed(seed)
    a_mat = th.tensor([[0.9, 0.2, 0.0], [-0.1, 0.8, 0.3], [0.0, 0.0, 0.95]])
    b_mat = th.tensor([[0.5], [0.0], [-1.0]])
    obs = 3 * th.randn(n, 3, generator=gen)
    actions = th.rand(n, 1, generator=gen) * 2 - 1
    next_obs = obs @ a_mat.T + actions @ b_mat.T + 0.01 * th.randn(n, 3, generator=gen)
    rewards = -(obs**2).sum(1)
    return Transitions(obs, actions, next_obs, rewards, th.zeros(n)), a_mat, b_mat


def test_ensemble_learns_a_known_linear_system():
    th.manual_seed(0)
    data, a_mat, b_mat = _linear_system(2000)
    model = DynamicsModel(3, 1, n_members=4, n_elites=2, hidden_sizes=[32, 32], learn_reward=True)
    optimizer = th.optim.Adam(model.parameters(), lr=3e-3)
    result = fit_dynamics(model, optimizer, data, batch_size=64, max_epochs=40, rng=np.random.default_rng(0))
    assert result.epochs >= 1 and len(result.elites) == 2
    # Elites are the members with the lowest holdout error.
    assert set(result.elites) == set(np.argsort(result.holdout_mse)[:2])
    assert result.elite_holdout_mse < 0.01  # normalized targets: < 1% of the target variance left
    test, _, _ = _linear_system(200, seed=1)
    members = model.sample_members(len(test), "random")
    with th.no_grad():
        next_obs, reward, _ = model.predict(test.observations, test.actions, members, deterministic=True)
    truth = test.observations @ a_mat.T + test.actions @ b_mat.T
    rel_err = (next_obs - truth).norm(dim=1) / truth.norm(dim=1).clamp_min(1.0)
    assert float(rel_err.mean()) < 0.05
    assert reward is not None and float(((reward - test.rewards).abs() / test.rewards.abs().clamp_min(1)).mean()) < 0.1
    # The learned noise level is small (the data's noise is 0.01 against state changes of order 1).
    with th.no_grad():
        _, log_var, _ = model.ensemble(model.model_inputs(test.observations, test.actions).expand(4, -1, -1))
    assert float(log_var[result.elites].exp().mean()) < 0.05


def test_fit_keeps_each_members_best_holdout_parameters():
    th.manual_seed(3)
    data, _, _ = _linear_system(600)
    model = DynamicsModel(3, 1, n_members=3, n_elites=1, hidden_sizes=[16])
    optimizer = th.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(5)
    result = fit_dynamics(model, optimizer, data, batch_size=32, max_epochs=6, rng=rng)
    # Recompute the same holdout split and check the restored members score their recorded best.
    perm = th.as_tensor(np.random.default_rng(5).permutation(len(data)))
    holdout = data.index(perm[: int(0.2 * len(data))])
    th.testing.assert_close(holdout_mse(model, holdout).numpy(), result.holdout_mse, rtol=1e-5, atol=1e-7)
    assert model.elites.tolist() == [int(np.argmin(result.holdout_mse))]


def _noisy_linear_system(n: int, seed: int, shift: float = 0.0, noise: float = 0.3) -> Transitions:
    gen = th.Generator().manual_seed(seed)
    a_mat = th.tensor([[0.9, 0.2, 0.0], [-0.1, 0.8, 0.3], [0.0, 0.0, 0.95]])
    b_mat = th.tensor([[0.5], [0.0], [-1.0]])
    obs = th.randn(n, 3, generator=gen) + shift
    actions = th.rand(n, 1, generator=gen) * 2 - 1
    next_obs = obs @ a_mat.T + actions @ b_mat.T + noise * th.randn(n, 3, generator=gen)
    return Transitions(obs, actions, next_obs, -(obs**2).sum(1), th.zeros(n))


def test_refit_learns_new_data_even_when_the_holdout_error_barely_moves():
    # A warm-started ensemble that has fitted noisy data (holdout error at its noise floor) gets a few new transitions
    # from another region. One refit epoch cannot lower the holdout error by 1%, yet it must be kept: every member
    # changes and the error on the new data drops (a refit that compared against its own pre-refit error threw the
    # epoch away, so the model stopped learning from new data).
    th.manual_seed(2)
    old, new = _noisy_linear_system(2000, 2), _noisy_linear_system(20, 102, shift=2.5, noise=0.0)
    model = DynamicsModel(3, 1, n_members=3, n_elites=2, hidden_sizes=[16, 16])
    optimizer = th.optim.Adam(model.parameters(), lr=1e-3)
    fit_dynamics(model, optimizer, old, batch_size=64, max_epochs=20, rng=np.random.default_rng(2))
    both = Transitions.cat([old, new])
    model.fit_normalizers(both)
    error_before = holdout_mse(model, new)
    weights_before = [layer.weight.detach().clone() for layer in (*model.ensemble.hidden, model.ensemble.output)]
    result = fit_dynamics(model, optimizer, both, batch_size=64, max_epochs=1, rng=np.random.default_rng(52))
    for before, layer in zip(weights_before, (*model.ensemble.hidden, model.ensemble.output)):
        assert bool((layer.weight != before).flatten(1).any(1).all()), "a member kept its pre-refit weights"
    error_after = holdout_mse(model, new)
    assert th.all(error_after < error_before), (error_before, error_after)
    assert float(error_after.mean()) < 0.8 * float(error_before.mean())
    assert result.epochs == 1 and 1 <= result.members_improved <= 3


def test_elites_and_normalizers_survive_save_load():
    th.manual_seed(4)
    data, _, _ = _linear_system(300)
    model = DynamicsModel(3, 1, n_members=3, n_elites=2, hidden_sizes=[8], learn_termination=True)
    fit_dynamics(model, th.optim.Adam(model.parameters(), lr=1e-3), data, max_epochs=2, rng=np.random.default_rng(0))
    model.elites.copy_(th.tensor([2, 0]))
    buffer = io.BytesIO()
    th.save(model.state_dict(), buffer)
    buffer.seek(0)
    loaded = DynamicsModel(3, 1, n_members=3, n_elites=2, hidden_sizes=[8], learn_termination=True)
    loaded.load_state_dict(th.load(buffer, weights_only=True))
    assert loaded.elites.tolist() == [2, 0]
    for name in ("mean", "std"):
        th.testing.assert_close(getattr(loaded.input_normalizer, name), getattr(model.input_normalizer, name))
        th.testing.assert_close(getattr(loaded.target_normalizer, name), getattr(model.target_normalizer, name))
    assert not th.allclose(model.input_normalizer.std, th.ones(4))
    members = model.sample_members(10, "fixed")
    a = model.predict(data.observations[:10], data.actions[:10], members, deterministic=True)
    b = loaded.predict(data.observations[:10], data.actions[:10], members, deterministic=True)
    for x, y in zip(a, b):
        th.testing.assert_close(x, y)


def test_member_modes():
    model = DynamicsModel(2, 1, n_members=5, n_elites=3, hidden_sizes=[4])
    model.elites.copy_(th.tensor([4, 1, 3]))
    assert model.sample_members(7, "fixed").tolist() == [4, 1, 3, 4, 1, 3, 4]
    drawn = model.sample_members(300, "random", th.Generator().manual_seed(0))
    assert set(drawn.tolist()) == {1, 3, 4}
    with pytest.raises(ValueError, match="member mode"):
        model.sample_members(3, "all")


@pytest.mark.parametrize(("n_members", "n_elites"), [(0, 0), (3, 4), (3, 0)])
def test_bad_ensemble_sizes_are_refused(n_members, n_elites):
    with pytest.raises(ValueError, match=r"n_elites|n_members"):
        DynamicsModel(2, 1, n_members=n_members, n_elites=n_elites)


def test_imagined_rollout_uses_termination_and_reward_functions():
    th.manual_seed(5)
    model = DynamicsModel(2, 1, n_members=3, n_elites=2, hidden_sizes=[4])
    # Make the model predict next_obs = obs + 1 exactly: zero network output, target mean 1 (normalized delta = 0).
    with th.no_grad():
        for p in model.ensemble.parameters():
            p.zero_()
        model.target_normalizer.mean.fill_(1.0)
    start = th.tensor([[0.0, 0.0], [1.5, 0.0], [3.0, 0.0], [10.0, 0.0]])
    calls = []

    def reward_fn(obs, action, next_obs):
        calls.append(1)
        return next_obs[:, 0] - obs[:, 0] + action[:, 0]

    def termination_fn(obs, action, next_obs):
        return next_obs[:, 0] > 3.0

    rollout = imagine_rollout(
        model, lambda o: th.full((len(o), 1), 0.5), start, 3, reward_fn, termination_fn, deterministic=True
    )
    assert len(calls) == 3 and rollout.observations.shape == (3, 4, 2)
    th.testing.assert_close(rollout.next_observations[:, :, 0], start[:, 0] + th.arange(1, 4).unsqueeze(1).float())
    th.testing.assert_close(rollout.rewards, th.full((3, 4), 1.5))
    # next x per step: sample 0: 1, 2, 3 (never > 3); sample 1: 2.5, 3.5 (terminates at step 2); samples 2, 3 at step 1.
    expected_term = th.tensor([[0, 0, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]], dtype=th.bool)
    assert th.equal(rollout.terminated, expected_term)
    expected_valid = th.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=th.bool)
    assert th.equal(rollout.valid, expected_valid)
    flat = rollout.flat_valid()
    assert all(len(t) == int(expected_valid.sum()) for t in flat.tensors())
    th.testing.assert_close(flat.observations[:, 0], th.tensor([0.0, 1.5, 3.0, 10.0, 1.0, 2.5, 2.0]))
    # a terminated branch adds nothing after its terminal step
    th.testing.assert_close(rollout.returns(), th.tensor([4.5, 3.0, 1.5, 1.5]))
    th.testing.assert_close(rollout.returns(gamma=0.5), th.tensor([1.5 * 1.75, 1.5 * 1.5, 1.5, 1.5]))


def test_imagined_rollout_is_differentiable_and_needs_reward_and_termination():
    th.manual_seed(6)
    model = DynamicsModel(2, 1, n_members=2, n_elites=2, hidden_sizes=[4], learn_reward=True, learn_termination=True)
    gain = th.tensor(0.3, requires_grad=True)
    rollout = imagine_rollout(model, lambda o: gain * o[:, :1], th.randn(5, 2), 2)
    rollout.rewards.sum().backward()
    assert gain.grad is not None and th.isfinite(gain.grad) and gain.grad != 0
    plain = DynamicsModel(2, 1, n_members=2, n_elites=1, hidden_sizes=[4])
    with pytest.raises(ValueError, match="reward"):
        imagine_rollout(plain, lambda o: o[:, :1], th.randn(3, 2), 1, termination_fn=lambda o, a, n: o[:, 0] > 0)
    with pytest.raises(ValueError, match="termination"):
        imagine_rollout(plain, lambda o: o[:, :1], th.randn(3, 2), 1, reward_fn=lambda o, a, n: o[:, 0])
    with pytest.raises(ValueError, match="horizon"):
        imagine_rollout(model, lambda o: o[:, :1], th.randn(3, 2), 0)


def test_open_loop_rollout_matches_a_per_particle_loop_with_one_member_each():
    th.manual_seed(7)
    model = DynamicsModel(2, 1, n_members=4, n_elites=3, hidden_sizes=[8])
    model.elites.copy_(th.tensor([3, 0, 2]))
    n, horizon = 6, 4
    start = th.randn(2)
    actions = th.rand(n, horizon, 1) * 2 - 1

    def reward_fn(obs, action, next_obs):
        return next_obs[:, 0] - 0.1 * action[:, 0] ** 2

    with th.no_grad():
        rollout = open_loop_rollout(
            model, start, actions, reward_fn, lambda o, a, s: s[:, 1] > 1e6, deterministic=True,
            generator=th.Generator().manual_seed(0),
        )  # fmt: skip
    # "particle": one elite drawn per particle (with the same generator), kept for the whole horizon
    members = model.sample_members(n, "particle", th.Generator().manual_seed(0))
    assert set(members.tolist()) <= {0, 2, 3}
    for i in range(n):
        obs, total = start.unsqueeze(0), 0.0
        for h in range(horizon):
            with th.no_grad():
                next_obs, _, _ = model.predict(obs, actions[i, h].unsqueeze(0), members[i : i + 1], deterministic=True)
            th.testing.assert_close(rollout.next_observations[h, i], next_obs[0])
            total += float(reward_fn(obs, actions[i, h].unsqueeze(0), next_obs)[0])
            obs = next_obs
        assert abs(float(rollout.returns()[i]) - total) < 1e-4
    with pytest.raises(ValueError, match="start states"):
        open_loop_rollout(model, th.randn(2, 2), actions, reward_fn, lambda o, a, s: s[:, 0] > 0)
    with pytest.raises(ValueError, match="N, H, action_dim"):
        open_loop_rollout(model, start, actions[0], reward_fn, lambda o, a, s: s[:, 0] > 0)


def test_particle_mode_keeps_one_member_per_particle_and_random_mode_redraws():
    model = DynamicsModel(1, 1, n_members=5, n_elites=5, hidden_sizes=[4])
    seen: dict[str, list[th.Tensor]] = {"particle": [], "random": []}
    original = model.predict

    def spy(obs, actions, members, *args, **kwargs):
        seen[mode].append(members.clone())
        return original(obs, actions, members, *args, **kwargs)

    model.predict = spy  # type: ignore[method-assign]
    for mode in ("particle", "random"):
        imagine_rollout(model, lambda o: th.zeros(len(o), 1), th.zeros(64, 1), 3, lambda o, a, s: o[:, 0],
                        lambda o, a, s: o[:, 0] > 1e6, member_mode=mode)  # fmt: skip
    assert all(th.equal(m, seen["particle"][0]) for m in seen["particle"])
    assert not th.equal(seen["random"][0], seen["random"][1])


def test_scoring_only_rollouts_and_the_never_terminates_shortcut_give_the_same_scores():
    from sb3_pg_extras.common.dynamics import KnownDynamics
    from sb3_pg_extras.envs import get_env_functions
    from sb3_pg_extras.envs.base import never_terminates

    functions = get_env_functions("Pendulum-v1")
    assert functions is not None and functions.dynamics is not None and functions.termination is never_terminates
    model = KnownDynamics(functions.dynamics, None)
    start, sequences = th.tensor([0.3, 0.95, 1.0]), th.rand(50, 7, 1, generator=th.Generator().manual_seed(0)) * 4 - 2
    reference = open_loop_rollout(model, start, sequences, functions.reward, lambda o, a, n: th.zeros(len(o)) > 0)
    lean = open_loop_rollout(model, start, sequences, functions.reward, never_terminates, keep_transitions=False)
    assert th.equal(lean.rewards, reference.rewards) and th.equal(lean.valid, reference.valid)
    assert th.equal(lean.terminated, reference.terminated) and lean.observations.shape == (7, 50, 0)
    # a branch that terminates still masks what follows when the shortcut is not used
    ends = open_loop_rollout(model, start, sequences, functions.reward, lambda o, a, n: n[:, 2] > 0, keep_transitions=False)
    assert th.equal(
        ends.valid, reference.valid & th.cat([th.ones(1, 50, dtype=th.bool), ~ends.terminated[:-1].cumsum(0).bool()])
    )


def test_ensemble_defaults_and_penalties_by_hand():
    ensemble = GaussianEnsemble(2, 3, 2)
    # MBPO's network: 4 hidden layers of 200 units; log-variance bounds start at [-10, 0.5] (PETS)
    assert [tuple(layer.weight.shape[1:]) for layer in ensemble.hidden] == [(3, 200), (200, 200), (200, 200), (200, 200)]
    th.testing.assert_close(ensemble.max_log_var.data, th.full((2,), 0.5))
    th.testing.assert_close(ensemble.min_log_var.data, th.full((2,), -10.0))
    small = GaussianEnsemble(2, 3, 2, hidden_sizes=[4])
    with th.no_grad():
        small.max_log_var.copy_(th.tensor([0.5, 0.2]))
        small.min_log_var.copy_(th.tensor([-10.0, -3.0]))
    th.testing.assert_close(small.log_var_bound_loss(), th.tensor(0.7 + 13.0))  # sum(max) - sum(min)
    # one coefficient is used for every layer
    th.testing.assert_close(small.weight_decay_loss([0.1]), small.weight_decay_loss([0.1, 0.1]))
    with pytest.raises(ValueError, match="1 or 2 coefficients"):
        small.weight_decay_loss([0.1, 0.2, 0.3])
    # hidden layers of different widths: the output layer takes the last one's; too few coefficients are refused
    tapered = GaussianEnsemble(2, 3, 2, n_logits=1, hidden_sizes=[4, 5])
    mean, log_var, logits = tapered(th.randn(2, 6, 3))
    assert (mean.shape, log_var.shape, logits.shape) == ((2, 6, 2), (2, 6, 2), (2, 6, 1))
    with pytest.raises(ValueError, match="1 or 3 coefficients"):
        tapered.weight_decay_loss([0.1, 0.2])


def test_alive_after_is_the_last_steps_validity_without_its_termination():
    from sb3_pg_extras.common.dynamics import ImaginedRollout

    valid = th.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]], dtype=th.bool)
    terminated = th.tensor([[0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]], dtype=th.bool)
    zeros = th.zeros(3, 4)
    rollout = ImaginedRollout(zeros[..., None], zeros[..., None], zeros, zeros[..., None], terminated, valid)
    # sample 1 terminates at the last step, 2 and 3 earlier (no longer valid): only sample 0 may be bootstrapped
    assert rollout.alive_after.tolist() == [True, False, False, False]


def test_given_model_noise_replaces_the_draws_of_its_steps_only():
    th.manual_seed(8)
    model = DynamicsModel(2, 1, n_members=2, n_elites=2, hidden_sizes=[4])
    start, members = th.randn(5, 2), th.zeros(5, dtype=th.long)

    def act(obs):
        return 0.1 * obs[:, :1]

    def reward(obs, action, next_obs):
        return next_obs[:, 0]

    def never(obs, action, next_obs):
        return next_obs[:, 0] > 1e6

    with th.no_grad():
        # zero noise for step 0 only: step 0 is the members' mean, steps 1 and 2 fresh draws
        rollout = imagine_rollout(model, act, start, 3, reward, never, members=members, model_noise=[th.zeros(5, 2)])
        for h, noisy in ((0, False), (1, True), (2, True)):
            obs = rollout.observations[h]
            mean, _, _ = model.predict(obs, act(obs), members, deterministic=True)
            assert th.allclose(rollout.next_observations[h], mean) != noisy


def test_learned_termination_needs_a_probability_above_one_half():
    model = DynamicsModel(2, 1, n_members=1, n_elites=1, hidden_sizes=[4], learn_termination=True)
    with th.no_grad():
        for p in model.ensemble.parameters():
            p.zero_()  # termination logit 0: probability exactly 1/2

        def rollout():
            return imagine_rollout(model, lambda o: th.zeros(len(o), 1), th.zeros(3, 2), 2, lambda o, a, s: s[:, 0])

        assert not rollout().terminated.any()
        model.ensemble.output.bias[..., -1] = 1e-3  # just above 1/2
        assert rollout().terminated.all()
        model.ensemble.output.bias[..., -1] = -1e-3  # just below
        assert not rollout().terminated.any()
    with pytest.raises(ValueError, match="N, H, action_dim"):
        open_loop_rollout(model, th.zeros(2), th.zeros(4, 2, 1, 1), lambda o, a, s: s[:, 0], lambda o, a, s: s[:, 0] > 0)

    def score(start_obs):
        return open_loop_rollout(model, start_obs, th.zeros(4, 2, 1), lambda o, a, s: s[:, 0], lambda o, a, s: s[:, 0] > 0)

    for n_starts in (3, 5):  # one start state per sequence: fewer or more are refused
        with pytest.raises(ValueError, match=f"{n_starts} start states for 4 action sequences"):
            score(th.zeros(n_starts, 2))
    for start in (th.tensor(0.0), th.zeros(4, 1, 2)):
        with pytest.raises(ValueError, match=r"\(obs_dim,\) or \(N, obs_dim\)"):
            score(start)
    # a termination function may return 0/1 numbers: they are read as flags
    numeric = imagine_rollout(
        model, lambda o: th.zeros(len(o), 1), th.zeros(3, 2), 2, lambda o, a, s: s[:, 0], lambda o, a, s: th.ones(len(o))
    )
    assert numeric.terminated.dtype == th.bool and numeric.terminated.all()
    assert numeric.valid.tolist() == [[True] * 3, [False] * 3]
    # open-loop rollouts sample the model by default (trajectory sampling), the mean only when asked
    sampled, mean = (
        open_loop_rollout(model, th.zeros(2), th.zeros(4, 2, 1), lambda o, a, s: s[:, 0], lambda o, a, s: s[:, 0] > 1e6, **kw)
        for kw in ({}, {"deterministic": True})
    )
    assert not th.allclose(sampled.next_observations, mean.next_observations)


def _fit_recording_rows(bootstrap: bool, n: int = 200) -> np.ndarray:
    """(n_members, n_train) the rows of the training split every member saw in one epoch (rows are told apart by an
    id in the action)."""
    data, _, _ = _linear_system(n)
    ids = th.arange(n, dtype=th.float32)[:, None]
    data = Transitions(data.observations, ids, data.next_observations, data.rewards, data.terminated)
    model = DynamicsModel(3, 1, n_members=3, n_elites=1, hidden_sizes=[8])
    seen: list[th.Tensor] = []
    losses = model.losses

    def recording(batch: Transitions) -> tuple[th.Tensor, th.Tensor]:
        seen.append(batch.actions[..., 0].detach().clone())  # (n_members, batch)
        return losses(batch)

    model.losses = recording  # type: ignore[method-assign]
    fit_dynamics(model, th.optim.Adam(model.parameters()), data, batch_size=32, holdout_ratio=0.0, max_epochs=1,
                 rng=np.random.default_rng(0), bootstrap=bootstrap)  # fmt: skip
    # calls: the holdout evaluation before training (the training split itself here: no holdout), the epoch's
    # minibatches, the holdout evaluation after it
    n_batches = len(range(0, n, 32))
    assert len(seen) == 1 + n_batches + 1
    return th.cat(seen[1 : 1 + n_batches], dim=1).long().numpy()


def test_every_member_trains_on_its_own_bootstrap_resample_as_mbpos_reference():
    rows = _fit_recording_rows(bootstrap=True)
    unique = [len(np.unique(member)) for member in rows]
    # n draws with replacement from n rows leave about 1 - 1/e = 63% of them: never all, and not the same ones
    assert all(0.5 * rows.shape[1] < u < 0.8 * rows.shape[1] for u in unique)
    assert not np.array_equal(np.sort(rows[0]), np.sort(rows[1]))
    whole = _fit_recording_rows(bootstrap=False)  # without: every member sees every row exactly once
    assert all(np.array_equal(np.sort(member), np.arange(whole.shape[1])) for member in whole)


def test_fit_stops_after_more_than_patience_epochs_without_progress():
    data, _, _ = _linear_system(300)
    model = DynamicsModel(3, 1, n_members=2, n_elites=1, hidden_sizes=[8])
    # no epoch but the first (measured against an infinite best) counts as progress: 1 + (patience + 1) epochs,
    # as the reference implementation (it stops when epochs_since_update > 5)
    result = fit_dynamics(model, th.optim.Adam(model.parameters()), data, patience=2, improvement_threshold=1e9,
                          rng=np.random.default_rng(0))  # fmt: skip
    assert result.epochs == 1 + 3


def test_ensemble_weights_start_as_mbpos_truncated_normal_and_biases_at_zero():
    th.manual_seed(0)
    layer = EnsembleLinear(7, 400, 300)
    std = 1 / (2 * 400**0.5)
    weight = layer.weight.detach()
    assert float(weight.abs().max()) <= 2 * std + 1e-7
    # a normal truncated at 2 std has std 0.88 std; a uniform on +/- 1/sqrt(fan_in) would have 1.15 std
    assert abs(float(weight.std()) / std - 0.88) < 0.02
    assert float(layer.bias.detach().abs().max()) == 0.0
