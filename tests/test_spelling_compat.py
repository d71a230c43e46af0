"""Names renamed to American spelling: models, policies and replay buffers saved under the British names still load.

An old file is simulated by writing the current object under its old name: the class's ``__qualname__`` is set to the
old name while it is pickled (pickle and cloudpickle record classes by module + qualified name), and a buffer's
log-probs are stored under the old attribute name.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch as th

from sb3_pg_extras import MBPO, OffPAC
from sb3_pg_extras.common import buffers, critics, off_policy
from tests.algos import ALGOS

CASES = {case.zoo_key: case for case in ALGOS}
OLD_ATTRIBUTE = "behaviour_log_probs"  # codespell:ignore behaviour


def test_the_old_names_are_the_new_classes() -> None:
    assert buffers.BehaviourReplayBuffer is buffers.BehaviorReplayBuffer  # codespell:ignore behaviour
    assert buffers.DictBehaviourReplayBuffer is buffers.DictBehaviorReplayBuffer  # codespell:ignore behaviour
    assert buffers.BehaviourReplayBufferSamples is buffers.BehaviorReplayBufferSamples  # codespell:ignore behaviour
    assert off_policy.BehaviourLogProbRecorder is off_policy.BehaviorLogProbRecorder  # codespell:ignore behaviour
    assert critics.RegularisedContinuousCritic is critics.RegularizedContinuousCritic  # codespell:ignore regularised


@contextmanager
def named(cls: type, name: str) -> Iterator[None]:
    """``cls`` as pickle sees a class of that name (an alias of that name must exist in its module)."""
    saved = cls.__name__, cls.__qualname__
    cls.__name__ = cls.__qualname__ = name
    try:
        yield
    finally:
        cls.__name__, cls.__qualname__ = saved


def offpac() -> OffPAC:
    return OffPAC("MlpPolicy", "CartPole-v1", seed=0, **CASES["offpac"].kwargs)


def test_a_replay_buffer_saved_under_the_old_names_loads_samples_and_trains(tmp_path) -> None:
    model = offpac()
    model.learn(80)  # 80 transitions, learning from 50
    old = model.replay_buffer
    stored = old.behavior_log_probs.copy()
    assert stored[:80].min() < 0  # real log-probs, not the zeros of an empty buffer
    old.__dict__[OLD_ATTRIBUTE] = old.__dict__.pop("behavior_log_probs")
    with named(buffers.BehaviorReplayBuffer, "BehaviourReplayBuffer"):  # codespell:ignore behaviour
        content = pickle.dumps(old)
    assert b"BehaviourReplayBuffer" in content and OLD_ATTRIBUTE.encode() in content  # codespell:ignore behaviour
    (tmp_path / "old_buffer.pkl").write_bytes(content)

    fresh = offpac()
    fresh.load_replay_buffer(tmp_path / "old_buffer.pkl")
    loaded = fresh.replay_buffer
    assert type(loaded) is buffers.BehaviorReplayBuffer
    assert OLD_ATTRIBUTE not in vars(loaded)
    np.testing.assert_array_equal(loaded.behavior_log_probs, stored)
    batch = loaded.sample(16)
    assert batch.behavior_log_probs.shape == (16,) and bool((batch.behavior_log_probs < 0).all())
    fresh.learn(40, reset_num_timesteps=False)  # trains from the loaded transitions and keeps adding to them
    assert loaded.pos == 120 and loaded.behavior_log_probs[80:120].min() < 0


def test_a_model_saved_with_the_old_buffer_class_name_loads_and_trains(tmp_path) -> None:
    model = offpac()
    with named(buffers.BehaviorReplayBuffer, "BehaviourReplayBuffer"):  # codespell:ignore behaviour
        model.save(tmp_path / "old.zip")
    with zipfile.ZipFile(tmp_path / "old.zip") as archive:
        data = json.loads(archive.read("data"))
    serialized = base64.b64decode(data["replay_buffer_class"][":serialized:"])
    assert b"BehaviourReplayBuffer" in serialized  # the file names the class by its old name  # codespell:ignore behaviour

    loaded = OffPAC.load(tmp_path / "old.zip", env=model.get_env())
    assert loaded.replay_buffer_class is buffers.BehaviorReplayBuffer
    loaded.learn(80)
    assert loaded.replay_buffer.behavior_log_probs[:80].min() < 0


def test_a_policy_pickled_with_the_old_critic_class_name_loads() -> None:
    case = CASES["mbpo"]
    model = MBPO("MlpPolicy", case.env_id, seed=0, **case.kwargs)
    assert isinstance(model.critic, critics.RegularizedContinuousCritic)
    file = io.BytesIO()
    with named(critics.RegularizedContinuousCritic, "RegularisedContinuousCritic"):  # codespell:ignore regularised
        th.save(model.policy, file)
    assert b"RegularisedContinuousCritic" in file.getvalue()  # codespell:ignore regularised
    file.seek(0)
    policy = th.load(file, weights_only=False)
    assert type(policy.critic) is critics.RegularizedContinuousCritic
    obs = th.as_tensor(model.observation_space.sample()[None], dtype=th.float32)
    action = th.as_tensor(model.action_space.sample()[None], dtype=th.float32)
    policy.set_training_mode(False)  # no dropout: both critics answer deterministically
    model.policy.set_training_mode(False)
    for new, old in zip(policy.critic(obs, action), model.critic(obs, action)):
        assert new.item() == pytest.approx(old.item())
