"""Several ``-optimize`` workers on one PostgreSQL server share one Optuna study (docs/zoo.md, several machines).

A throwaway PostgreSQL server is started for the test: the binaries come from PATH or /usr/lib/postgresql/*/bin
(Debian's ``postgresql`` package; .ci/run installs it), the driver is the one SQLAlchemy picks for a plain
``postgresql://`` URL (psycopg 3 with SQLAlchemy 2.1, from the ``tests`` extra). Without either the test is skipped.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

SERVER_USER = "postgres"  # the server refuses to run as root; as root, it runs as this user (created when missing)
OPTIMIZE = ["-n", "1024", "-optimize", "--n-trials", "2", "--n-jobs", "1", "--sampler", "random", "--pruner", "none"]
OPTIMIZE += ["--n-evaluations", "1", "--eval-episodes", "2", "--verbose", "0"]
OPTIMIZE += ["-params", "n_envs:1"]  # random REINFORCE trials collect n_steps (up to 2048) per env: one env, not 8


def _server_bin_dir() -> Path | None:
    """The folder with initdb and pg_ctl: PATH first, then the newest /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted((Path(p) for p in versions), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)[::-1]
    return next((c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None)


def _missing_driver() -> str | None:
    """None when SQLAlchemy can load the DBAPI module of a plain postgresql:// URL, else why not."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    try:
        sqlalchemy.create_engine("postgresql://user@127.0.0.1/db")  # imports the driver, connects to nothing
    except ImportError as error:
        return f"no PostgreSQL driver for SQLAlchemy ({error}): pip install 'psycopg[binary]' (the tests extra has it)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL server on 127.0.0.1 with an empty database; stopped and deleted afterwards."""
    bin_dir = _server_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin")
    if reason := _missing_driver():
        pytest.skip(reason)
    as_root = os.geteuid() == 0
    if as_root:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            if shutil.which("useradd") is None:
                pytest.skip(f"running as root, no user {SERVER_USER!r} to run the server as, and no useradd")
            subprocess.run(["useradd", "--system", "--no-create-home", SERVER_USER], check=True)
        # pytest's tmp_path sits in a root-only folder the server user cannot enter: use a folder of its own.
        base = Path(tempfile.mkdtemp(prefix="sb3-pg-test-"))
        shutil.chown(base, user=SERVER_USER)
        prefix = ["runuser", "-u", SERVER_USER, "--"]
    else:
        base, prefix = tmp_path, []
    data, log, port = base / "data", base / "server.log", _free_port()

    def as_server(*cmd: str) -> None:
        subprocess.run([*prefix, *cmd], cwd=base, check=True, capture_output=True, timeout=120)

    started = False
    try:
        as_server(str(bin_dir / "initdb"), "-A", "trust", "-N", "-U", "postgres", "-D", str(data))
        settings = f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\nfsync = off\n"
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(settings)
        as_server(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start")
        started = True
        import sqlalchemy

        admin = sqlalchemy.create_engine(f"postgresql://postgres@127.0.0.1:{port}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text("CREATE DATABASE optuna"))
        admin.dispose()
        yield f"postgresql://postgres@127.0.0.1:{port}/optuna"
    except subprocess.CalledProcessError as error:
        server_log = log.read_text()[-2000:] if log.exists() else ""
        pytest.fail(f"{error.cmd} failed: {error.stderr.decode()[-2000:]}\n{server_log}")
    finally:
        if started:
            as_server(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        if as_root:
            shutil.rmtree(base, ignore_errors=True)


def test_two_workers_on_one_postgres_server_share_one_study(postgres_url: str, tmp_path: Path) -> None:
    # Both workers start together on the fresh database: the zoo creates the tables first (prepare_shared_storage),
    # which on PostgreSQL races on CREATE TYPE / CREATE TABLE between the workers.
    names = ["shared", "shared"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    workers = []
    for index, name in enumerate(names):
        cmd = [sys.executable, "-m", "sb3_pg_extras.zoo", "train", "--algo", "reinforce", "--env", "CartPole-v1", *OPTIMIZE]
        cmd += ["--storage", postgres_url, "--study-name", name, "-f", f"opt{index}"]
        workers.append(subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    try:
        outputs = [worker.communicate(timeout=300)[0].decode() for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output[-3000:]

    study = optuna.load_study(study_name="shared", storage=postgres_url)
    states = [trial.state for trial in study.trials]
    allowed = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    assert len(states) == 4 and all(state in allowed for state in states), states  # 2 workers x 2 trials, none failed


def test_table_creation_race_errors_of_postgres_are_retried(monkeypatch) -> None:
    # The errors a worker losing the schema race gets from PostgreSQL (seen with 4 workers on fresh databases).
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    from sb3_pg_extras import zoo
    from sb3_pg_extras.zoo import cli

    raised = [
        ProgrammingError("CREATE TYPE studydirection", {}, Exception('type "studydirection" already exists')),
        IntegrityError("CREATE TABLE studies", {}, Exception('duplicate key ... "pg_type_typname_nsp_index"')),
    ]
    calls = []

    def storage(url: str) -> None:
        calls.append(url)
        if raised:
            raise raised.pop(0)

    monkeypatch.setattr(optuna.storages, "RDBStorage", storage)
    monkeypatch.setattr(cli.time, "sleep", lambda seconds: None)
    zoo.prepare_shared_storage("postgresql://host/db")
    assert len(calls) == 3  # two lost races, then the tables exist
