import pytest
import torch as th


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # On 2 cores, two torch threads are many times slower as soon as anything else runs.
    th.set_num_threads(1)
