"""The shared buffers (common/buffers.py): Monte-Carlo returns, episode step indices and the ordered batch of the
rollout buffers of REINFORCE / NPG, and the behavior log-probabilities that OffPAC's replay buffer pairs with every
stored action, each against a loop over the stored steps."""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from sb3_pg_extras.common.buffers import BehaviorReplayBuffer, DictMonteCarloRolloutBuffer, MonteCarloRolloutBuffer

th.set_num_threads(1)

GAMMA = 0.9
# (step, env): 4 steps of 2 envs; env 0 starts episodes at steps 0 and 2 (the rollout cuts its second one), env 1
# runs one episode through the whole rollout and ends it at the last step
REWARDS = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
STARTS = np.array([[1.0, 1.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
VALUES = np.array([[0.5, 5.0], [0.25, 2.5], [1.5, 3.5], [0.75, 7.5]])
LAST_VALUES, DONES = np.array([100.0, 200.0]), np.array([0.0, 1.0])


def _filled(cls=MonteCarloRolloutBuffer, starts: np.ndarray = STARTS):
    if cls is DictMonteCarloRolloutBuffer:
        obs_space: spaces.Space = spaces.Dict({"x": spaces.Box(-9, 9, (1,))})
    else:
        obs_space = spaces.Box(-9, 9, (1,))
    buffer = cls(4, obs_space, spaces.Box(-1, 1, (1,)), "cpu", gamma=GAMMA, gae_lambda=0.3, n_envs=2)
    for t in range(4):
        obs = np.array([[t], [10 + t]], dtype=np.float32)  # obs tells (step, env) apart
        obs_in = {"x": obs} if cls is DictMonteCarloRolloutBuffer else obs
        buffer.add(obs_in, np.zeros((2, 1)), REWARDS[t], starts[t], th.as_tensor(VALUES[t]), th.zeros(2))
    buffer.compute_returns_and_advantage(th.as_tensor(LAST_VALUES), DONES)
    return buffer


def _returns_by_hand() -> np.ndarray:
    """G_t = r_t + gamma G_{t+1} within an episode; after the last step the value of the next observation where the
    rollout cuts the episode (env 0), nothing where it ended (env 1). gae_lambda plays no part."""
    returns = np.zeros((4, 2))
    for env in range(2):
        following = LAST_VALUES[env] * (1.0 - DONES[env])
        for t in reversed(range(4)):
            continues = t + 1 < 4 and not STARTS[t + 1, env]
            following = REWARDS[t, env] + GAMMA * (following if continues or t == 3 else 0.0)
            returns[t, env] = following
    return returns


@pytest.mark.parametrize("cls", [MonteCarloRolloutBuffer, DictMonteCarloRolloutBuffer])
def test_returns_are_monte_carlo_returns_to_go_and_advantages_subtract_the_values(cls):
    buffer = _filled(cls)
    expected = _returns_by_hand()
    assert expected[3, 0] == 4.0 + GAMMA * 100.0 and expected[1, 0] == 2.0 and expected[3, 1] == 40.0
    np.testing.assert_allclose(buffer.returns, expected, rtol=1e-6)
    np.testing.assert_allclose(buffer.advantages, expected - VALUES, rtol=1e-6)


def test_episode_steps_count_within_episodes_across_rollouts():
    buffer = _filled()
    assert buffer.episode_steps.tolist() == [[0, 0], [1, 1], [0, 2], [1, 3]]
    buffer.reset()
    assert buffer.episode_steps.tolist() == [[0, 0]] * 4
    for t in range(4):  # the next rollout: env 0 starts an episode at step 1, env 1 never
        buffer.add(np.zeros((2, 1)), np.zeros((2, 1)), np.zeros(2), np.array([0.0, 0.0]) if t != 1 else np.array([1.0, 0.0]),
                   th.zeros(2), th.zeros(2))  # fmt: skip
    buffer.compute_returns_and_advantage(th.zeros(2), np.zeros(2))
    assert buffer.episode_steps.tolist() == [[2, 4], [0, 5], [1, 6], [2, 7]]


@pytest.mark.parametrize("cls", [MonteCarloRolloutBuffer, DictMonteCarloRolloutBuffer])
def test_ordered_batch_is_the_whole_rollout_env_by_env_with_the_episode_steps(cls):
    buffer = _filled(cls)
    for _ in range(2):  # the first call flattens the buffer, the second reads it flattened
        batch, steps = buffer.ordered_batch()
        observations = batch.observations["x"] if cls is DictMonteCarloRolloutBuffer else batch.observations
        assert observations[:, 0].tolist() == [0, 1, 2, 3, 10, 11, 12, 13]  # env 0's steps, then env 1's
        assert steps.tolist() == [0, 1, 0, 1, 0, 1, 2, 3]
        np.testing.assert_allclose(batch.returns.numpy(), _returns_by_hand().T.flatten(), rtol=1e-6)
        np.testing.assert_allclose(batch.old_values.numpy(), VALUES.T.flatten(), rtol=1e-6)
    assert sum(len(b.returns) for b in buffer.get(batch_size=3)) == 8  # SB3's minibatches still work


def _behavior_buffer(n_envs: int = 3) -> BehaviorReplayBuffer:
    buffer = BehaviorReplayBuffer(20, spaces.Box(-1, 1, (1,)), spaces.Discrete(3), "cpu", n_envs=n_envs)
    for t in range(5):
        obs = (10.0 * t + np.arange(n_envs))[:, None]  # obs 10 t + env
        if t % 2:
            buffer.set_behavior_log_probs(th.as_tensor(-obs[:, 0]))
        else:
            buffer.set_behavior_log_probs((-obs[:, 0]).tolist())
        buffer.add(obs, obs, np.zeros(n_envs), np.zeros(n_envs), np.zeros(n_envs), [{}] * n_envs)
    return buffer


@pytest.mark.parametrize("n_envs", [1, 3])
def test_every_sampled_transition_comes_with_the_log_prob_stored_with_it(n_envs):
    buffer = _behavior_buffer(n_envs)
    np.random.seed(0)  # noqa: NPY002 (SB3 samples from numpy's global generator)
    batch = buffer.sample(200)
    th.testing.assert_close(batch.behavior_log_probs, -batch.observations[:, 0])
    assert len(set(batch.observations[:, 0].tolist())) == 5 * n_envs  # every stored transition drawn
    np.random.seed(0)  # noqa: NPY002
    sb3 = super(BehaviorReplayBuffer, buffer).sample(200)  # what SB3 alone draws: the same
    th.testing.assert_close(batch.observations, sb3.observations)


def test_a_transition_without_its_log_prob_is_refused():
    buffer = _behavior_buffer(2)
    with pytest.raises(RuntimeError, match="set_behavior_log_probs"):  # the pending log-probs were used up
        buffer.add(np.zeros((2, 1)), np.zeros((2, 1)), np.zeros(2), np.zeros(2), np.zeros(2), [{}, {}])
    with pytest.raises(ValueError):
        buffer.set_behavior_log_probs(np.zeros(3))  # one per env


@pytest.mark.parametrize("old_name", [False, True])
def test_a_pickled_behavior_buffer_loads_back_with_its_log_probs(old_name) -> None:
    """save_replay_buffer pickles the buffer: it loads back with the same behavior log-probs, also when it was saved
    under the attribute's former British spelling."""
    import pickle

    buffer = BehaviorReplayBuffer(8, spaces.Box(-1, 1, (1,)), spaces.Discrete(3), "cpu", n_envs=1)
    for t in range(3):
        buffer.set_behavior_log_probs(th.as_tensor([-1.0 - t]))
        buffer.add(np.array([[t]]), np.array([[t + 1]]), np.array([[0]]), np.array([1.0]), np.array([0.0]), [{}])
    state = dict(buffer.__dict__)
    if old_name:
        state["behaviour_log_probs"] = state.pop("behavior_log_probs")  # codespell:ignore behaviour
    loaded = BehaviorReplayBuffer.__new__(BehaviorReplayBuffer)
    loaded.__setstate__(pickle.loads(pickle.dumps(state)))
    np.testing.assert_array_equal(loaded.behavior_log_probs[:3, 0], [-1.0, -2.0, -3.0])
    assert not hasattr(loaded, "behaviour_log_probs")  # codespell:ignore behaviour
