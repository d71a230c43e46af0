"""The data of the model-based algorithms (common/dynamics/transitions.py and buffers.py): the transition record, the
real transitions and start states read from an SB3 replay buffer, the circular buffer of imagined transitions and
the replay buffer that mixes the two, each against the transitions put in, counted by hand."""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from sb3_pg_extras.common.dynamics import (
    MixedReplayBuffer,
    ModelTransitionBuffer,
    Transitions,
    real_transitions,
    sample_observations,
)

th.set_num_threads(1)


def _numbered(first: int, n: int, obs_dim: int = 2, action_dim: int = 3) -> Transitions:
    """n transitions numbered first, first + 1, ...: every entry of transition i holds i (obs i, action -i,
    next obs i + 0.5, reward 10 i), terminated where i is odd."""
    i = th.arange(first, first + n, dtype=th.float32)
    return Transitions(
        i[:, None].expand(n, obs_dim),
        -i[:, None].expand(n, action_dim),
        i[:, None].expand(n, obs_dim) + 0.5,
        10 * i,
        (i % 2 == 1),
    )


def _assert_holds(stored: Transitions, numbers: list[int]) -> None:
    """``stored`` holds the numbered transitions ``numbers``, in this order (terminated as SB3's float dones)."""
    expected = _numbered(0, max(numbers) + 1).index(th.tensor(numbers, dtype=th.long))
    for got, want in zip(stored.tensors(), expected.tensors()):
        th.testing.assert_close(got.float(), want.float())


def test_transitions_index_concatenate_and_come_from_numpy_as_float32():
    data = _numbered(0, 4)
    assert len(data) == 4 and [t.shape[0] for t in data.tensors()] == [4] * 5
    assert data.tensors()[1] is data.actions and data.tensors()[4] is data.terminated  # declaration order
    _assert_holds(data.index(th.tensor([3, 1])), [3, 1])
    _assert_holds(data.index(slice(1, 3)), [1, 2])
    _assert_holds(Transitions.cat([data.index(slice(2, 4)), data.index(slice(0, 1))]), [2, 3, 0])
    arrays = [np.asarray(t, dtype=np.float64) for t in data.tensors()]
    converted = Transitions.from_numpy(*arrays, device="cpu")
    # static methods: an instance calls them too
    _assert_holds(data.cat([data.index(slice(0, 1))]), [0])
    _assert_holds(data.from_numpy(*arrays[:4], arrays[4]), [0, 1, 2, 3])
    assert all(t.dtype == th.float32 and t.device.type == "cpu" for t in converted.tensors())
    _assert_holds(converted, [0, 1, 2, 3])


def _sb3_buffer(n_envs: int, steps: int, size: int = 10) -> MixedReplayBuffer:
    """A replay buffer of ``steps`` adds of ``n_envs`` envs: obs [t, e], actions [t, -e], next obs obs + 1, reward
    10 t + e; env 0 terminates at t = 1, env n_envs - 1 is truncated by its time limit at t = 2."""
    rows = size * n_envs  # SB3 counts the buffer size in transitions: size rows of n_envs
    buffer = MixedReplayBuffer(rows, spaces.Box(-99, 99, (2,)), spaces.Box(-99, 99, (2,)), "cpu", n_envs=n_envs)
    for t in range(steps):
        envs = np.arange(n_envs, dtype=np.float64)
        obs = np.stack([np.full(n_envs, t), envs], axis=1)
        dones = np.zeros(n_envs, dtype=bool)
        infos: list[dict] = [{} for _ in range(n_envs)]
        dones[0] |= t == 1
        if t == 2:
            dones[-1] = True
            infos[-1]["TimeLimit.truncated"] = True
        buffer.add(obs, obs + 1, np.stack([np.full(n_envs, t), -envs], axis=1), 10 * t + envs, dones, infos)
    return buffer


def test_real_transitions_are_every_stored_step_of_every_env_in_order():
    for steps, size in ((3, 10), (5, 4)):  # part-filled; wrapped (every row of the full buffer)
        buffer = _sb3_buffer(3, steps, size)
        data = real_transitions(buffer)
        rows = [(t, e) for t in range(steps) for e in range(3)]
        if steps > size:  # the oldest rows were overwritten in place: row t % size holds the newest step t
            rows = [(steps - size + (r - steps) % size, e) for r in range(size) for e in range(3)]
        assert len(data) == len(rows) and data.observations.dtype == th.float32
        assert data.observations.tolist() == [[t, e] for t, e in rows]
        assert data.actions.tolist() == [[t, -e] for t, e in rows]
        assert data.next_observations.tolist() == [[t + 1, e + 1] for t, e in rows]
        assert data.rewards.tolist() == [10 * t + e for t, e in rows]
        # env 0's termination at t = 1 is one; env 2's truncation at t = 2 is none
        assert data.terminated.tolist() == [float(t == 1 and e == 0) for t, e in rows]


def test_start_states_are_drawn_uniformly_from_every_stored_observation():
    buffer = _sb3_buffer(2, 3)  # 6 observations stored, 14 empty rows after them
    np.random.seed(0)  # noqa: NPY002 (SB3's buffers draw from numpy's global generator)
    drawn = sample_observations(buffer, 6000)
    assert drawn.shape == (6000, 2) and drawn.dtype == th.float32
    observations, counts = np.unique(drawn.numpy(), axis=0, return_counts=True)
    assert observations.tolist() == [[t, e] for t in range(3) for e in range(2)]
    assert np.all(np.abs(counts / 6000 - 1 / 6) < 0.03)  # binomial std 0.005


def test_model_buffer_keeps_the_newest_capacity_transitions_oldest_first():
    buffer = ModelTransitionBuffer(5, obs_dim=2, action_dim=3)
    assert len(buffer) == 0 and len(buffer.stored()) == 0 and len(buffer.resized(3)) == 0  # empty: nothing stored
    buffer.extend(_numbered(0, 3))
    assert len(buffer) == 3
    _assert_holds(buffer.stored(), [0, 1, 2])
    buffer.extend(_numbered(3, 4))  # wraps: 0 and 1 are overwritten
    assert len(buffer) == 5
    _assert_holds(buffer.stored(), [2, 3, 4, 5, 6])
    buffer.extend(_numbered(7, 12))  # more than the capacity at once: only the newest 5 of them
    assert len(buffer) == 5
    _assert_holds(buffer.stored(), [14, 15, 16, 17, 18])
    buffer.extend(_numbered(19, 5))  # exactly the capacity
    _assert_holds(buffer.stored(), [19, 20, 21, 22, 23])
    buffer.extend(_numbered(24, 1))
    _assert_holds(buffer.stored(), [20, 21, 22, 23, 24])
    smaller, bigger = buffer.resized(2), buffer.resized(8)
    assert (smaller.capacity, len(smaller), bigger.capacity, len(bigger)) == (2, 2, 8, 5)
    _assert_holds(smaller.stored(), [23, 24])
    _assert_holds(bigger.stored(), [20, 21, 22, 23, 24])
    bigger.extend(_numbered(25, 4))
    _assert_holds(bigger.stored(), [21, 22, 23, 24, 25, 26, 27, 28])


def test_model_buffer_samples_uniformly_from_the_stored_transitions_only():
    buffer = ModelTransitionBuffer(10, obs_dim=2, action_dim=3)
    buffer.extend(_numbered(0, 4))
    np.random.seed(1)  # noqa: NPY002
    batch = buffer.sample(4000)
    assert batch.observations.shape == (4000, 2) and batch.actions.shape == (4000, 3)
    assert batch.rewards.shape == (4000, 1) and batch.dones.shape == (4000, 1)
    number = batch.observations[:, 0]
    th.testing.assert_close(batch.actions, -number[:, None].expand(4000, 3))
    th.testing.assert_close(batch.next_observations, number[:, None].expand(4000, 2) + 0.5)
    th.testing.assert_close(batch.rewards[:, 0], 10 * number)
    th.testing.assert_close(batch.dones[:, 0], number % 2)
    counts = np.bincount(number.long().numpy(), minlength=4)
    assert len(counts) == 4 and np.all(np.abs(counts / 4000 - 1 / 4) < 0.03)  # binomial std 0.007


def _mixed(real_ratio: float, n_real: int, n_model: int, **kwargs) -> MixedReplayBuffer:
    """Real transitions with reward 1, model transitions with reward -1."""
    buffer = MixedReplayBuffer(100, spaces.Box(-1, 1, (2,)), spaces.Box(-1, 1, (1,)), "cpu", real_ratio=real_ratio, **kwargs)
    for _ in range(n_real):
        buffer.add(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 1)), np.ones(1), np.zeros(1), [{}])
    if n_model:
        buffer.model_buffer.extend(Transitions(th.zeros(n_model, 2), th.zeros(n_model, 1), th.zeros(n_model, 2),
                                               -th.ones(n_model), th.ones(n_model)))  # fmt: skip
    return buffer


@pytest.mark.parametrize(
    ("real_ratio", "n_real", "n_model", "real_in_batch"),
    [
        (0.25, 10, 20, 2),  # round(0.25 x 8)
        (0.3, 10, 20, 2),  # round(2.4)
        (0.35, 10, 20, 3),  # round(2.8)
        (0.875, 10, 20, 7),  # one model transition
        (0.25, 10, 0, 8),  # model buffer empty: all real
        (1.0, 10, 20, 8),
        (0.0, 10, 20, 0),
        (0.0, 0, 20, 0),  # all from the model: the (empty) real buffer is never read
    ],
)
def test_mixed_buffer_minibatch_holds_round_real_ratio_x_batch_size_real_transitions(
    real_ratio, n_real, n_model, real_in_batch
):
    np.random.seed(0)  # noqa: NPY002
    batch = _mixed(real_ratio, n_real, n_model).sample(8)
    assert batch.observations.shape == (8, 2) and batch.rewards.shape == (8, 1) and batch.dones.shape == (8, 1)
    assert batch.rewards[:, 0].tolist() == [1.0] * real_in_batch + [-1.0] * (8 - real_in_batch)  # real ones first
    assert batch.dones[:, 0].tolist() == [0.0] * real_in_batch + [1.0] * (8 - real_in_batch)


def test_mixed_buffer_defaults_are_mbpos():
    # 5% real data, a model buffer of 10^5 transitions, one env whose time-limit truncations are no terminations
    buffer = MixedReplayBuffer(100, spaces.Box(-1, 1, (2,)), spaces.Box(-1, 1, (1,)), "cpu")
    for t in range(3):
        buffer.add(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 1)), np.ones(1), np.ones(1),
                   [{"TimeLimit.truncated": t == 2}])  # fmt: skip
    assert real_transitions(buffer).terminated.tolist() == [1.0, 1.0, 0.0]
    n = 100_001
    buffer.model_buffer.extend(Transitions(th.zeros(n, 2), th.zeros(n, 1), th.zeros(n, 2), -th.arange(n) - 1.0,
                                           th.zeros(n)))  # fmt: skip
    assert len(buffer.model_buffer) == 100_000 and float(buffer.model_buffer.stored().rewards[0]) == -2.0
    assert int((buffer.sample(200).rewards == 1).sum()) == 10
    with pytest.raises(ValueError, match="optimize_memory_usage=False"):
        MixedReplayBuffer(100, spaces.Box(-1, 1, (2,)), spaces.Box(-1, 1, (1,)), "cpu", optimize_memory_usage=True)
    with pytest.raises(ValueError, match="optimize_memory_usage=False"):
        real_transitions(type("Compact", (), {"optimize_memory_usage": True})())  # type: ignore[arg-type]
