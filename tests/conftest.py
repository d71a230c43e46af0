import importlib.util
import re

import gymnasium as gym
import pytest
import torch as th

# MuJoCo is an optional extra (pip install "sb3-pg-extras[mujoco]"): without it, the tests that run a MuJoCo env
# are skipped. Such a test is marked ``@pytest.mark.mujoco`` or has a MuJoCo env id in its id (e.g. a parametrized
# ``Hopper-v5``).
MUJOCO_ENV_IDS = re.compile(
    "|".join(re.escape(env_id) for env_id, spec in gym.registry.items() if "mujoco" in str(spec.entry_point))
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if importlib.util.find_spec("mujoco") is not None:
        return
    skip = pytest.mark.skip(reason='needs MuJoCo: pip install "sb3-pg-extras[mujoco]"')
    for item in items:
        if item.get_closest_marker("mujoco") or MUJOCO_ENV_IDS.search(item.nodeid):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # On 2 cores, two torch threads are many times slower as soon as anything else runs.
    th.set_num_threads(1)
