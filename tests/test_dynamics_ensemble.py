"""The batched ensemble (common/dynamics/ensemble.py) in the cases its main tests (tests/test_dynamics.py) leave out."""

import torch as th

from sb3_pg_extras.common.dynamics import GaussianEnsemble, forward_assigned

th.set_num_threads(1)


def test_forward_assigned_runs_a_single_sample_through_its_member():
    th.manual_seed(2)
    ensemble = GaussianEnsemble(3, 2, 2, n_logits=1, hidden_sizes=[4])
    x = th.randn(1, 2)
    with th.no_grad():
        outputs = forward_assigned(ensemble, x, th.tensor([2]))
        every_member = ensemble(x.expand(3, 1, -1))  # every member on the sample
    for got, want in zip(outputs, every_member):
        assert got.shape == (1, want.shape[-1])
        th.testing.assert_close(got[0], want[2, 0])
