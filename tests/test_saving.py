"""Files written by another algorithm, replay buffers that do not fit, and learn() without an env are refused."""

from __future__ import annotations

import json
import sys
import zipfile

import pytest
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.env_util import make_vec_env

from sb3_pg_extras import DiscreteSAC, OffPAC
from tests.algos import ALGO_IDS, ALGOS, AlgoCase

CASES = {case.zoo_key: case for case in ALGOS}


def tiny(case: AlgoCase, env=None):
    return case.cls("MlpPolicy", env or case.env_id, seed=0, **case.kwargs)


@pytest.fixture(scope="module")
def saved_files(tmp_path_factory) -> dict[str, str]:
    """One file per algorithm of the package, and SB3's PPO and SAC."""
    folder = tmp_path_factory.mktemp("files")
    files = {}
    for case in ALGOS:
        files[case.zoo_key] = str(folder / f"{case.zoo_key}.zip")
        tiny(case).save(files[case.zoo_key])
    files["ppo"] = str(folder / "ppo.zip")
    PPO("MlpPolicy", "CartPole-v1", n_steps=32, policy_kwargs=dict(net_arch=[8])).save(files["ppo"])
    files["sac"] = str(folder / "sac.zip")
    SAC("MlpPolicy", "Pendulum-v1", buffer_size=100, policy_kwargs=dict(net_arch=[8])).save(files["sac"])
    return files


_DELETE = object()


def with_record(src: str, dst: str, saved_by=_DELETE) -> None:
    """A copy of a saved file with another ``saved_by`` entry (deleted by default: as an earlier version of the
    package wrote it, with no record of the writing class)."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for item in old.infolist():
            content = old.read(item.filename)
            if item.filename == "data":
                data = json.loads(content)
                if saved_by is _DELETE:
                    del data["saved_by"]
                else:
                    data["saved_by"] = saved_by
                content = json.dumps(data).encode()
            new.writestr(item, content)


def without_record(src: str, dst: str) -> None:
    with_record(src, dst)


@pytest.mark.parametrize("writer", [*ALGO_IDS, "ppo", "sac"])
@pytest.mark.parametrize("reader", ALGO_IDS)
def test_a_file_written_by_another_algorithm_is_refused(saved_files, writer: str, reader: str) -> None:
    cls = CASES[reader].cls
    if writer == reader:
        assert isinstance(cls.load(saved_files[writer]), cls)
        return
    name = CASES[writer].cls.__name__ if writer in CASES else writer.upper()
    with pytest.raises(ValueError, match=f"written by {name}, not by {cls.__name__}"):
        cls.load(saved_files[writer])


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_files_of_earlier_versions_still_load(saved_files, case: AlgoCase, tmp_path) -> None:
    old = str(tmp_path / "old.zip")
    without_record(saved_files[case.zoo_key], old)
    assert isinstance(case.cls.load(old), case.cls)
    other = next(c for c in ALGOS if c.cls is not case.cls and c.env_id == case.env_id)
    without_record(saved_files[other.zoo_key], old)
    with pytest.raises(ValueError, match=f"not by {case.cls.__name__}"):
        case.cls.load(old)


def test_a_subclass_file_loads_with_its_base_class(tmp_path) -> None:
    class MyDiscreteSAC(DiscreteSAC):
        pass

    MyDiscreteSAC("MlpPolicy", "CartPole-v1", **CASES["sac_discrete"].kwargs).save(tmp_path / "mine.zip")
    assert isinstance(DiscreteSAC.load(tmp_path / "mine.zip"), DiscreteSAC)


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_learn_after_loading_without_env_says_how_to_give_one(saved_files, case: AlgoCase) -> None:
    model = case.cls.load(saved_files[case.zoo_key])
    with pytest.raises(ValueError, match="set_env"):
        model.learn(10)


def test_a_replay_buffer_of_another_kind_is_refused(tmp_path) -> None:
    offpac = OffPAC("MlpPolicy", "CartPole-v1", **CASES["offpac"].kwargs)
    dsac = DiscreteSAC("MlpPolicy", "CartPole-v1", **CASES["sac_discrete"].kwargs)
    dsac.save_replay_buffer(tmp_path / "dsac.pkl")
    own = offpac.replay_buffer
    with pytest.raises(ValueError, match="needs a BehaviorReplayBuffer"):
        offpac.load_replay_buffer(tmp_path / "dsac.pkl")
    assert offpac.replay_buffer is own  # the model's own buffer is kept


@pytest.mark.parametrize("n_envs, env_id, message", [(2, "CartPole-v1", "filled by 2 envs"), (1, "Acrobot-v1", "space")])
def test_a_replay_buffer_from_another_env_is_refused(tmp_path, n_envs, env_id, message) -> None:
    kwargs = CASES["sac_discrete"].kwargs
    DiscreteSAC("MlpPolicy", make_vec_env(env_id, n_envs=n_envs), **kwargs).save_replay_buffer(tmp_path / "b.pkl")
    model = DiscreteSAC("MlpPolicy", "CartPole-v1", **kwargs)
    with pytest.raises(ValueError, match=message):
        model.load_replay_buffer(tmp_path / "b.pkl")
    model.save_replay_buffer(tmp_path / "own.pkl")
    model.load_replay_buffer(tmp_path / "own.pkl")  # a fitting buffer still loads


@pytest.mark.parametrize(
    "saved_by",
    [["os.system"], [123], "sb3_pg_extras.mbpo.mbpo.MBPO", [], None, ["tests_damaged_module_42.Evil"], [["x"]]],
    ids=repr,
)
def test_a_damaged_saved_by_entry_is_refused_and_nothing_is_imported(saved_files, tmp_path, saved_by) -> None:
    """Issue 42: ``["os.system"]`` gave ``issubclass() arg 2 must be a class``, ``[123]`` an AttributeError, and the
    loader imported whatever module the entry named."""
    damaged = str(tmp_path / "damaged.zip")
    with_record(saved_files["mbpo"], damaged, saved_by)
    before = set(sys.modules)
    with pytest.raises(ValueError, match="This file is damaged: its `saved_by` entry is"):
        CASES["mbpo"].cls.load(damaged)
    assert "tests_damaged_module_42" not in set(sys.modules) - before


def test_a_subclass_file_loads_with_its_base_and_names_a_known_writer(saved_files, tmp_path) -> None:
    renamed = str(tmp_path / "sub.zip")
    with_record(saved_files["mbpo"], renamed, ["my_project.MyMBPO", "sb3_pg_extras.mbpo.mbpo.MBPO"])
    assert isinstance(CASES["mbpo"].cls.load(renamed), CASES["mbpo"].cls)
    with pytest.raises(ValueError, match="written by MyMBPO, not by SVG"):
        CASES["svg"].cls.load(renamed)
