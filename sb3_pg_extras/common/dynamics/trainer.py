"""Fitting the dynamics ensemble: holdout split, per-member shuffles, early stopping with per-member best snapshots,
and elite selection (MBPO, Janner et al. 2019, appendix C and Algorithm 2 line 5).
"""

from dataclasses import dataclass

import numpy as np
import torch as th

from sb3_pg_extras.common.dynamics.ensemble import EnsembleLinear
from sb3_pg_extras.common.dynamics.model import DynamicsModel
from sb3_pg_extras.common.dynamics.transitions import Transitions


@dataclass
class FitResult:
    """What one call of :func:`fit_dynamics` did (logged under ``model/``)."""

    epochs: int
    train_loss: float
    holdout_mse: np.ndarray  # (n_members,) best holdout MSE of every member (normalized targets)
    elites: np.ndarray  # (n_elites,)
    # members whose kept parameters score a lower holdout MSE than their warm-start parameters did on this refit's
    # holdout split (a refit that learns nothing new shows 0 here)
    members_improved: int

    @property
    def elite_holdout_mse(self) -> float:
        return float(self.holdout_mse[self.elites].mean())


def default_weight_decay(n_hidden: int) -> list[float]:
    """MBPO's per-layer L2 coefficients (Janner et al. 2019, reference code): 2.5e-5, 5e-5, 7.5e-5, 7.5e-5 on the
    four hidden layers and 1e-4 on the output layer. Other depths keep the rule: hidden layer ``i`` (from 0) gets
    ``min(2.5e-5 * (i + 1), 7.5e-5)``, the output layer 1e-4."""
    return [min(2.5e-5 * (i + 1), 7.5e-5) for i in range(n_hidden)] + [1e-4]


def _member_params(model: DynamicsModel) -> list[th.Tensor]:
    """Parameters with a leading member dimension (snapshotted member by member)."""
    return [p for m in model.ensemble.modules() if isinstance(m, EnsembleLinear) for p in (m.weight, m.bias)]


@th.no_grad()
def holdout_mse(model: DynamicsModel, data: Transitions, batch_size: int = 4096) -> th.Tensor:
    """MSE of every member's mean prediction on ``data`` (normalized targets), shape (n_members,)."""
    total = th.zeros(model.n_members, device=data.observations.device)
    for start in range(0, len(data), batch_size):
        chunk = data.index(th.arange(start, min(start + batch_size, len(data)), device=data.observations.device))
        _, mse = model.losses(Transitions(*(t.unsqueeze(0).expand(model.n_members, *t.shape) for t in chunk.tensors())))
        total += mse * len(chunk)
    return total / len(data)


def fit_dynamics(
    model: DynamicsModel,
    optimizer: th.optim.Optimizer,
    data: Transitions,
    batch_size: int = 256,
    holdout_ratio: float = 0.2,
    max_holdout: int = 5000,
    max_epochs: int | None = None,
    patience: int = 5,
    improvement_threshold: float = 0.01,
    weight_decay: float | tuple[float, ...] | list[float] | None = None,
    log_var_bound_coef: float = 0.01,
    rng: np.random.Generator | None = None,
    bootstrap: bool = True,
) -> FitResult:
    """Fit the ensemble on real transitions until the holdout error stops improving, then keep, for every member,
    its parameters from its best holdout epoch and mark the ``n_elites`` best members as elites.

    With ``bootstrap`` (the default, as MBPO's reference implementation, Janner et al. 2019, and PETS, Chua et al.
    2018, section 4.1) every member trains on its own bootstrap resample of the training split, drawn once per call
    (``n_train`` indices with replacement), in a new random order every epoch; without it every member sees the
    whole training split, in its own order. An epoch counts as progress when some member's holdout MSE improves by
    more than ``improvement_threshold`` (relative) on the best of this call; training stops once more than
    ``patience`` epochs in a row made no progress (as the reference: ``patience + 1`` epochs without progress), or
    after ``max_epochs``. The best starts afresh at every call, so the first epoch of a warm-started refit is always
    kept (as in the reference implementation).

    :param model: the dynamics model (its normalizers are refitted on the training split here)
    :param optimizer: optimizer over ``model.parameters()``
    :param data: all real transitions to learn from
    :param batch_size: minibatch size per member
    :param holdout_ratio: fraction of the data held out for early stopping and elite selection
    :param max_holdout: cap on the holdout size (keeps evaluation cheap on large buffers)
    :param max_epochs: optional hard limit on the epochs of this call
    :param patience: epochs without holdout progress before the fit stops
    :param improvement_threshold: relative improvement that counts as progress
    :param weight_decay: L2 coefficients per ensemble layer (one value for all layers, or one per layer); default:
        MBPO's decays (:func:`default_weight_decay`)
    :param log_var_bound_coef: weight of the penalty that tightens the log-variance bounds
    :param rng: random generator for the split, the bootstrap resamples and the shuffles
    :param bootstrap: train every member on its own bootstrap resample of the training split
    """
    rng = np.random.default_rng() if rng is None else rng
    device = data.observations.device
    n_holdout = min(int(len(data) * holdout_ratio), max_holdout)
    if len(data) - n_holdout < 1:
        raise ValueError(f"Too few transitions ({len(data)}) to fit the dynamics model with a holdout split")
    perm = th.as_tensor(rng.permutation(len(data)), device=device)
    train, holdout = data.index(perm[n_holdout:]), data.index(perm[:n_holdout])
    if n_holdout == 0:  # tiny datasets (first fits): select on the training data rather than on nothing
        holdout = train
    model.fit_normalizers(train)
    params = _member_params(model)
    if weight_decay is None:
        weight_decay = default_weight_decay(len(model.ensemble.hidden))
    decays = list(weight_decay) if isinstance(weight_decay, (tuple, list)) else [weight_decay]  # numpy floats too

    # Each refit starts from a fresh best (as the reference implementation does): the warm-started weights are judged
    # against what this refit achieves, never against their own pre-refit error, so the first trained epoch of every
    # refit is kept. (Keeping the old weights unless an epoch beats them by `improvement_threshold` froze a converged
    # ensemble: new data was never learned.)
    initial = holdout_mse(model, holdout)
    best = th.full_like(initial, float("inf"))
    snapshot = [p.detach().clone() for p in params]
    epochs_since_update, epoch, loss_value = 0, 0, float("nan")
    n_train, n_members = len(train), model.n_members
    # (n_members, n_train): the training rows of every member, a bootstrap resample or every row once
    rows = rng.integers(n_train, size=(n_members, n_train)) if bootstrap else np.tile(np.arange(n_train), (n_members, 1))
    while epochs_since_update <= patience and (max_epochs is None or epoch < max_epochs):
        # an independent shuffle of every member's rows, cut into minibatches
        shuffled = np.take_along_axis(rows, np.argsort(rng.random((n_members, n_train)), axis=1), axis=1)
        order = th.as_tensor(shuffled, device=device)
        for start in range(0, n_train, batch_size):
            idx = order[:, start : start + batch_size]
            nll, _ = model.losses(train.index(idx))
            loss = (
                nll.sum() + log_var_bound_coef * model.ensemble.log_var_bound_loss() + model.ensemble.weight_decay_loss(decays)
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_value = float(loss.detach())
        epoch += 1
        current = holdout_mse(model, holdout)
        improved = best.isinf() | ((best - current) / best.clamp_min(1e-12) > improvement_threshold)
        if improved.any():
            best = th.where(improved, current, best)
            with th.no_grad():
                for saved, p in zip(snapshot, params):
                    saved[improved] = p[improved]
            epochs_since_update = 0
        else:
            epochs_since_update += 1
    with th.no_grad():
        for saved, p in zip(snapshot, params):
            p.copy_(saved)
    best_np = best.cpu().numpy()
    elites = np.sort(np.argsort(best_np)[: model.n_elites])
    model.elites.copy_(th.as_tensor(elites, device=model.elites.device))
    members_improved = int((best < initial).sum())
    return FitResult(
        epochs=epoch, train_loss=loss_value, holdout_mse=best_np, elites=elites, members_improved=members_improved
    )
