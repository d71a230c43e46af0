"""The dynamics model (common/dynamics/model.py) against closed forms: the normalizers' statistics, the default
ensemble, the reparameterized prediction and its inverse (noise inference), the member modes."""

import numpy as np
import pytest
import torch as th

from sb3_pg_extras.common.dynamics import DynamicsModel, Normalizer, Transitions

th.set_num_threads(1)


def test_an_ensemble_needs_a_member_and_between_one_and_all_members_as_elites():
    with pytest.raises(ValueError, match="at least one member"):
        DynamicsModel(2, 1, n_members=0, n_elites=0)
    for n_members, n_elites in ((1, 1), (3, 3)):
        assert DynamicsModel(2, 1, n_members=n_members, n_elites=n_elites, hidden_sizes=[4]).n_elites == n_elites


def test_member_modes_refuse_every_unknown_name():
    model = DynamicsModel(2, 1, n_members=3, n_elites=2, hidden_sizes=[4])
    for mode in ("all", "uniform", "Fixed"):  # sorting before and after "fixed"
        with pytest.raises(ValueError, match="member mode"):
            model.sample_members(3, mode)


def test_normalizer_standardizes_every_feature_and_leaves_constant_ones_unscaled():
    eps = float(th.tensor(1e-6))  # the default floor, as a float32 compares it
    data = th.tensor(
        [  # spread, constant, std 0.5, std below the floor, std exactly the floor
            [1.0, 5.0, 0.0, 2.0, -eps],
            [3.0, 5.0, 1.0, 2.0, eps],
            [2.0, 5.0, 0.0, 2.0000021, -eps],
            [6.0, 5.0, 1.0, 2.0, eps],
        ]
    )
    normalizer = Normalizer(5)
    normalizer.fit(data)
    spread = float(np.std([1.0, 3.0, 2.0, 6.0]))  # the biased (population) std
    th.testing.assert_close(normalizer.mean, data.mean(0))
    th.testing.assert_close(normalizer.std, th.tensor([spread, 1.0, 0.5, 1.0, eps]))
    x = th.tensor([[4.0, 7.0, 3.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1e-6]])
    expected = (x - data.mean(0)) / th.tensor([spread, 1.0, 0.5, 1.0, eps])
    th.testing.assert_close(normalizer.normalize(x), expected)
    th.testing.assert_close(normalizer.denormalize(expected), x)
    for n in (1, 2):  # one sample: mean only; two: their (biased) spread
        normalizer.fit(data[:n])
        th.testing.assert_close(normalizer.mean, data[:n].mean(0))
        std = data[:n].std(0, unbiased=False) if n > 1 else th.zeros(5)
        th.testing.assert_close(normalizer.std, th.where(std < eps, th.ones(5), std))


def test_dynamics_model_defaults_are_mbpos_ensemble_without_learned_heads():
    model = DynamicsModel(3, 1)
    assert (model.n_members, model.n_elites, model.elites.tolist()) == (7, 5, [0, 1, 2, 3, 4])
    assert [layer.out_features for layer in model.ensemble.hidden] == [200, 200, 200, 200]
    assert model.ensemble.hidden[0].in_features == 4 and model.input_normalizer.mean.shape == (4,)
    assert (model.ensemble.n_gaussian, model.ensemble.n_logits, model.target_normalizer.mean.shape) == (3, 0, (3,))
    single = DynamicsModel(3, 2, n_members=1, n_elites=1, hidden_sizes=[4], learn_reward=True, learn_termination=True)
    assert (single.ensemble.n_gaussian, single.ensemble.n_logits, single.ensemble.hidden[0].in_features) == (4, 1, 5)


def _model_with_heads() -> tuple[DynamicsModel, Transitions, th.Tensor]:
    th.manual_seed(0)
    model = DynamicsModel(2, 1, n_members=3, n_elites=3, hidden_sizes=[8], learn_reward=True, learn_termination=True)
    n = 20
    obs, actions = th.randn(n, 2), th.rand(n, 1)
    model.fit_normalizers(Transitions(obs, actions, 2 * obs + 1, 3 * obs[:, 0] - 2, th.zeros(n)))
    batch = Transitions(obs[:5], actions[:5], 2 * obs[:5] + 1, 3 * obs[:5, 0] - 2, th.zeros(5))
    return model, batch, th.tensor([0, 2, 1, 2, 0])


def test_predict_samples_mean_plus_std_times_noise_and_infer_noise_inverts_it():
    model, batch, members = _model_with_heads()
    obs, actions = batch.observations, batch.actions
    xi = th.randn(5, 3, generator=th.Generator().manual_seed(1))
    with th.no_grad():
        # brute force: every member on every sample, then sample i's own member
        out = model.ensemble(model.model_inputs(obs, actions).expand(3, 5, -1))
        mean, log_var, logits = (t[members, th.arange(5)] for t in out)
        raw = model.target_normalizer.denormalize(mean + th.exp(log_var / 2) * xi)
        next_obs, reward, done = model.predict(obs, actions, members, noise=xi)
        th.testing.assert_close(next_obs, obs + raw[:, :2])
        assert reward is not None and done is not None and done.shape == (5,)
        th.testing.assert_close(reward, raw[:, 2])
        th.testing.assert_close(done, th.sigmoid(logits[:, 0]))
        raw_mean = model.target_normalizer.denormalize(mean)
        th.testing.assert_close(model.predict(obs, actions, members, deterministic=True)[0], obs + raw_mean[:, :2])
        # by default a fresh standard normal draw
        draw = th.randn(5, 3, generator=th.Generator().manual_seed(2))
        sampled = model.predict(obs, actions, members, generator=th.Generator().manual_seed(2))[0]
        th.testing.assert_close(sampled, obs + model.target_normalizer.denormalize(mean + th.exp(log_var / 2) * draw)[:, :2])
    recovered = model.infer_noise(Transitions(obs, actions, next_obs, reward, th.zeros(5)), members)
    th.testing.assert_close(recovered, xi, rtol=1e-4, atol=1e-4)
    assert not recovered.requires_grad


def test_infer_noise_floors_the_standard_deviation():
    model, batch, members = _model_with_heads()
    with th.no_grad():
        model.ensemble.min_log_var.fill_(-60.0)
        model.ensemble.output.bias[..., 3:6] = -60.0  # log-variances near -59: std 1e-13
        model.ensemble.output.weight[..., 3:6] = 0.0
        mean = model.ensemble(model.model_inputs(batch.observations, batch.actions).expand(3, 5, -1))[0]
    mean = mean[members, th.arange(5)]
    target = model.target_normalizer.normalize(model.raw_targets(batch.observations, batch.next_observations, batch.rewards))
    th.testing.assert_close(model.infer_noise(batch, members), (target - mean) / 1e-6)
    th.testing.assert_close(model.infer_noise(batch, members, min_std=0.5), (target - mean) / 0.5)
