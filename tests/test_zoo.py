"""rl_zoo3 command line: registration, default hyperparameter files, train / enjoy / optimize, every YAML entry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml

from sb3_pg_extras import zoo
from tests.algos import ALGO_IDS, ALGOS, AlgoCase

REPO = Path(__file__).resolve().parent.parent
YAML_ENTRIES = [
    (path.stem, env_id)
    for path in sorted((REPO / "zoo_hyperparams").glob("*.yml"))
    for env_id in yaml.safe_load(path.read_text())
    if env_id not in ("default", "atari")
]


def run_zoo(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "sb3_pg_extras.zoo", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_register_adds_ours_and_keeps_builtins() -> None:
    from rl_zoo3 import hyperparams_opt, utils
    from stable_baselines3 import PPO

    zoo.register()
    zoo.register()  # idempotent
    assert utils.ALGOS["reinforce"] is zoo.ALGOS["reinforce"]
    assert utils.ALGOS["ppo"] is PPO
    assert hyperparams_opt.HYPERPARAMS_SAMPLER["reinforce"] is zoo.sample_reinforce_params
    assert hyperparams_opt.HYPERPARAMS_CONVERTER["reinforce"] is zoo.convert_reinforce_params


def test_never_overwrites_a_builtin_key(monkeypatch) -> None:
    from rl_zoo3 import utils

    monkeypatch.setitem(zoo.ALGOS, "ppo", zoo.ALGOS["reinforce"])
    with pytest.raises(RuntimeError, match="never overwrites"):
        zoo.register()
    assert utils.ALGOS["ppo"].__name__ == "PPO"


def test_default_conf_file_only_for_our_algorithms() -> None:
    argv = zoo.with_default_conf_file(["--algo", "reinforce", "--env", "CartPole-v1"])
    assert argv[-2] == "--conf-file" and Path(argv[-1]) == zoo.hyperparams_path("reinforce")
    assert zoo.with_default_conf_file(["--algo", "ppo"]) == ["--algo", "ppo"]
    mine = ["--algo", "reinforce", "-conf", "mine.yml"]
    assert zoo.with_default_conf_file(mine) == mine


def test_sampler_output_builds_a_model() -> None:
    from sb3_pg_extras import REINFORCE

    trial = optuna.trial.FixedTrial(
        dict(
            one_minus_gamma=0.01,
            n_steps=64,
            learning_rate=1e-3,
            baseline_learning_rate=1e-3,
            baseline_epochs=5,
            normalize_advantage=True,
            ent_coef=1e-4,
            net_arch="tiny",
            activation_fn="relu",
        )
    )
    params = zoo.sample_reinforce_params(trial, n_actions=2, n_envs=1, additional_args={})
    assert params["gamma"] == pytest.approx(0.99)
    REINFORCE("MlpPolicy", "CartPole-v1", **params)


def test_sac_discrete_sampler_can_pick_n_step_returns_and_no_entropy_backup() -> None:
    from sb3_pg_extras import DiscreteSAC

    values = dict(one_minus_gamma=0.01, learning_rate=1e-3, batch_size=32, buffer_size=10_000, learning_starts=100)
    values.update(train_freq=4, tau=0.005, target_entropy_ratio=0.3, n_steps=3, backup_entropy=False, net_arch="small")
    params = zoo.sample_sac_discrete_params(optuna.trial.FixedTrial(values), n_actions=2, n_envs=1, additional_args={})
    assert params["n_steps"] == 3 and params["gradient_steps"] == 4 and params["target_entropy"] == "auto_0.3"
    model = DiscreteSAC("MlpPolicy", "CartPole-v1", **params)
    assert model.replay_buffer.__class__.__name__ == "NStepReplayBuffer" and model.backup_entropy is False


@pytest.mark.parametrize(("algo", "env_id"), YAML_ENTRIES, ids=[f"{a}-{e}" for a, e in YAML_ENTRIES])
def test_every_yaml_entry_builds_and_trains(algo: str, env_id: str, tmp_path: Path) -> None:
    run_zoo("train", "--algo", algo, "--env", env_id, "-n", "1", "-f", str(tmp_path), "--seed", "0", cwd=tmp_path)
    assert list((tmp_path / algo).glob(f"{env_id}_1/{env_id}.zip"))


@pytest.mark.filterwarnings("ignore:FigureCanvasAgg is non-interactive")  # plot_train's plt.show()
@pytest.mark.filterwarnings("ignore:No artists with labels found")  # all_plots' legend of no evaluation
def test_train_then_enjoy_and_plot(tmp_path: Path, monkeypatch) -> None:
    run_zoo("train", "--algo", "reinforce", "--env", "CartPole-v1", "-n", "3000", "-f", "logs", "--seed", "1", cwd=tmp_path)
    assert (tmp_path / "logs/reinforce/CartPole-v1_1/CartPole-v1.zip").is_file()
    out = run_zoo(
        "enjoy", "--algo", "reinforce", "--env", "CartPole-v1", "-f", "logs", "--no-render", "-n", "1000", cwd=tmp_path
    )
    assert "Mean reward" in out.stdout
    # The plotting scripts read only the logs (no model, nothing registered): through the same main(), in this process,
    # which saves two interpreter start-ups (torch and rl_zoo3 imports are most of a zoo command's time here).
    from matplotlib import pyplot as plt

    plt.switch_backend("Agg")  # plot_train calls plt.show()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # zoo.main sets it for rl_zoo3's parser
    zoo.main(["plot_train", "--algo", "reinforce", "--env", "CartPole-v1", "-f", "logs"])
    assert plt.get_fignums()  # a figure was drawn
    plt.close("all")
    zoo.main(["all_plots", "--algo", "reinforce", "--env", "CartPole-v1", "-f", "logs", "--no-display", "-o", "plots"])
    plt.close("all")
    assert (tmp_path / "plots.pkl").is_file()
    run_zoo(
        "record_video", "--algo", "reinforce", "--env", "CartPole-v1", "-f", "logs", "-n", "50", "-o", "video", cwd=tmp_path
    )
    assert list((tmp_path / "video").glob("*.mp4"))
    # a built-in keeps working through the same command, with the zoo's own file
    run_zoo("train", "--algo", "ppo", "--env", "CartPole-v1", "-n", "512", "-f", "logs", cwd=tmp_path)
    assert (tmp_path / "logs/ppo/CartPole-v1_1/CartPole-v1.zip").is_file()


def test_mppi_trains_and_enjoys_through_the_zoo(tmp_path: Path) -> None:
    tiny = ["-params", "n_samples:16", "horizon:3"]
    run_zoo("train", "--algo", "mppi", "--env", "Pendulum-v1", "-n", "20", "-f", "logs", "--seed", "1", *tiny, cwd=tmp_path)
    out = run_zoo("enjoy", "--algo", "mppi", "--env", "Pendulum-v1", "-f", "logs", "--no-render", "-n", "200", cwd=tmp_path)
    assert "Episode Reward:" in out.stdout and "Episode Length 200" in out.stdout  # a whole episode planned


OPTIMIZE = ["-n", "1024", "-optimize", "--n-trials", "2", "--n-jobs", "1", "--sampler", "random", "--pruner", "none"]
OPTIMIZE += ["--n-evaluations", "1", "--eval-episodes", "2", "--verbose", "0"]
# Random REINFORCE trials collect n_steps (up to 2048) per env before they stop: one env, not the entry's 8.
ONE_ENV = ["-params", "n_envs:1"]


def journal(path: Path) -> optuna.storages.JournalStorage:
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))


@pytest.mark.parametrize("case", ALGOS, ids=ALGO_IDS)
def test_optimize_two_trials(case: AlgoCase, tmp_path: Path) -> None:
    """``-optimize`` through the command line: our sampler is registered, its values reach the model, a trial trains and
    is evaluated. The trials are cheap points of the search space, enqueued in the study beforehand (Optuna's
    ``enqueue_trial``: the sampler's ``suggest_*`` calls return them); random ones would train the largest settings."""
    study = optuna.create_study(study_name="s", storage=journal(tmp_path / "study.log"), direction="maximize")
    for point in case.zoo_trials:
        study.enqueue_trial(point)
    params = ["-params", *case.zoo_params] if case.zoo_params else []
    storage = ["--storage", "study.log", "--study-name", "s", "--optimization-log-path", "trials"]
    run_zoo("train", "--algo", case.zoo_key, "--env", case.env_id, *OPTIMIZE, *params, *storage, "-f", "opt", cwd=tmp_path)
    study = optuna.load_study(study_name="s", storage=journal(tmp_path / "study.log"))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 2 and all(np.isfinite(t.value) for t in complete)  # two trials trained and were evaluated
    # the sampler suggested every one of its values (none left to the random sampler), and the model got them
    assert [t.params for t in complete] == list(case.zoo_trials)
    for trial in complete:
        model = case.cls.load(tmp_path / "trials" / f"trial_{trial.number}" / "best_model.zip", device="cpu")
        expected = zoo.CONVERTERS[case.zoo_key](trial.params)
        for name, value in expected.items():
            actual = getattr(model, name)
            if name == "policy_kwargs":
                actual = {key: actual.get(key) for key in value}
            elif name == "train_freq":
                actual = actual.frequency  # SB3 keeps it as TrainFreq(frequency, unit)
            assert actual == pytest.approx(value) if isinstance(value, float) else actual == value, name
        if "one_minus_gamma" in trial.params:  # and without the converter: no entry or default has this gamma
            assert model.gamma == pytest.approx(1 - trial.params["one_minus_gamma"])


@pytest.mark.parametrize("storage", ["study.log", "sqlite:///study.db"])
def test_two_workers_share_one_study(tmp_path: Path, storage: str) -> None:
    cmd = [sys.executable, "-m", "sb3_pg_extras.zoo", "train", "--algo", "reinforce", "--env", "CartPole-v1", *OPTIMIZE]
    cmd += [*ONE_ENV, "--storage", storage, "--study-name", "shared", "-f", "opt"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)
    ]
    outputs = [w.communicate(timeout=300)[0].decode() for w in workers]
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output[-3000:]
    if storage.endswith(".log"):
        backend = optuna.storages.journal.JournalFileBackend(str(tmp_path / storage))
        opened = optuna.storages.JournalStorage(backend)
    else:
        opened = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.load_study(study_name="shared", storage=opened)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4


@pytest.mark.parametrize(
    "extra, content, message",
    [
        (["-params", "learning_rate:abc"], None, "'abc' is not accepted.*quote other strings"),
        (["-params", "gamma:0.9", "learning_rate:lin_1e3x"], None, "quote other strings"),
        (["-params", "gamma:0.9", "learning_rate:(1"], None, "not a Python literal"),
        (["-params", "replay_buffer_class:'HerReplayBuffer'"], None, "trusted"),
        (["--conf-file", "CONF"], "", "is empty"),
        (["--conf-file", "CONF"], "- Pendulum-v1\n- CartPole-v1\n", "is a list"),
    ],
)
def test_command_line_mistakes_get_a_clear_message(tmp_path: Path, extra, content, message) -> None:
    if content is not None:
        (tmp_path / "conf.yml").write_text(content)
        extra = [str(tmp_path / "conf.yml") if e == "CONF" else e for e in extra]
    with pytest.raises(SystemExit, match=message):  # before rl_zoo3 starts, which fails with a bare traceback
        zoo.main(["train", "--algo", "reinforce", "--env", "CartPole-v1", *extra])


def test_a_wrong_value_through_params_is_refused_by_the_constructor(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"`gamma` must be in \(0, 1\], got 1.5"):
        zoo.main(
            ["train", "--algo", "reinforce", "--env", "CartPole-v1", "-n", "64", "-f", str(tmp_path), "-params", "gamma:1.5"]
        )


@pytest.mark.parametrize(
    "value",
    [
        "__import__('pathlib').Path('PWNED').touch()",
        "\"__import__('pathlib').Path('PWNED').touch()\"",  # a string that rl_zoo3 used to evaluate again
        "[x for x in ().__class__.__base__.__subclasses__()]",
    ],
)
@pytest.mark.parametrize("key", ["ent_coef", "policy_kwargs"])
def test_params_values_are_never_evaluated(tmp_path: Path, monkeypatch, key: str, value: str) -> None:
    """Issue 42: -params values were evaluated twice, first by ``eval(value, {}, {})`` (builtins reachable)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises((SystemExit, ValueError)):
        zoo.main(
            [
                "train",
                "--algo",
                "reinforce",
                "--env",
                "CartPole-v1",
                "-n",
                "32",
                "-f",
                str(tmp_path),
                "-params",
                f"{key}:{value}",
            ]
        )
    assert not (tmp_path / "PWNED").exists()


def test_params_are_parsed_once_into_values_that_rl_zoo3_does_not_evaluate() -> None:
    from torch import nn

    parsed = zoo.parse_params(
        ["learning_rate:lin_1e-3", "ent_coef:auto_0.1", "n_steps:32",
         "policy_kwargs:\"dict(net_arch=[8], activation_fn=nn.Tanh)\"", "is_clip:float('inf')", "normalize:False",
         "gamma:-1"]
    )  # fmt: skip
    assert parsed == {
        "learning_rate": "lin_1e-3", "ent_coef": "auto_0.1", "n_steps": 32,
        "policy_kwargs": {"net_arch": [8], "activation_fn": nn.Tanh}, "is_clip": float("inf"), "normalize": False,
        "gamma": -1,
    }  # fmt: skip
    zoo.use_safe_store_dict()
    import rl_zoo3.train
    import rl_zoo3.utils

    assert rl_zoo3.train.StoreDict is zoo.SafeStoreDict and rl_zoo3.utils.StoreDict is zoo.SafeStoreDict


def test_svg_trials_at_horizon_zero_drop_the_entrys_model_settings() -> None:
    """rl_zoo3 updates the entry's hyperparameters with a trial's: at horizon 0 (model-free, which refuses model
    settings) the trial must override the entry's dynamics_kwargs, or the trial fails."""
    from sb3_pg_extras import SVG

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    params = next(p for p in (zoo.sample_svg_params(study.ask(), 1, 1, {}) for _ in range(100)) if p["horizon"] == 0)
    entry = {"dynamics_kwargs": {"hidden_sizes": [8], "n_members": 2, "n_elites": 1}, "learn_reward": True}
    SVG("MlpPolicy", "Pendulum-v1", **{**entry, **params})  # builds: no model setting is left
