"""labkit.tracking: every sweep trial mirrored as one MLflow run, in a SQLite store and on a real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from labkit.results import read_results
from labkit.sweep import run_sweep
from labkit.tracking import (TRACKING_ENV, Tracker, TrackingStoreError, default_tracking_uri, finished_runs,
                             ui_command)

# MLflow's own SQLAlchemy models use a loader that SQLAlchemy 2.1 deprecates: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

HISTORY = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.2, 0.6, 0.3], "test_acc": [0.5, 0.7, 0.9],
                        "epoch_time_s": [1.0, 2.0, 3.0]})
CHECKS = pd.DataFrame({"epoch": [0.25, 0.5, 0.75], "train_time_s": [0.1, 0.2, 0.3],
                       "train_loss": [1.5, 1.0, 0.8], "train_acc": [0.3, 0.6, 0.91]})


@pytest.fixture(scope="session")
def store_uri(tmp_path_factory) -> str:
    """One SQLite store for the module (creating its tables takes seconds); each test has its own experiment."""
    return "sqlite:///" + (tmp_path_factory.mktemp("mlflow") / "mlflow.db").as_posix()


@pytest.fixture
def experiment(request) -> str:
    return f"labkit/{request.node.name}"


@pytest.fixture
def tracker(store_uri, experiment, tmp_path) -> Tracker:
    return Tracker(experiment, tmp_path / "results.csv", tracking_uri=store_uri, tags={"fingerprint_id": "f00d"})


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def left_by(tracker: Tracker, pid: int, key: str) -> str:
    """Start a run of ``key`` as if process ``pid`` had started it and then been killed; return its id."""
    run_id = tracker.start(key, {"width": 8})
    tracker.client.set_tag(run_id, "labkit.pid", str(pid))
    return run_id


def status(tracker: Tracker, run_id: str) -> str:
    return tracker.client.get_run(run_id).info.status


def test_start_log_finish_records_one_finished_run_with_params_metrics_and_key(tracker, store_uri, experiment):
    run_id = tracker.start("k1", {"width": 64, "sizes": [16, 32], "dropout": None}, sweep="widths")
    tracker.log(run_id, {"test_acc": 0.9, "params": 1234, "device": "cpu", "time_to_90_s": None}, HISTORY)
    tracker.finish(run_id)

    runs = finished_runs(experiment, store_uri)
    assert len(runs) == 1, f"expected one FINISHED run, got {len(runs)}"
    run = runs.iloc[0]
    assert (run.run_id, run.run_key, run.sweep, run.status) == (run_id, "k1", "widths", "FINISHED")
    assert run["params.width"] == "64" and run["params.sizes"] == "[16, 32]" and run["params.device"] == "cpu"
    assert "params.dropout" not in runs.columns and "metrics.time_to_90_s" not in runs.columns
    assert run["metrics.test_acc"] == 0.9 and run["metrics.params"] == 1234
    assert tracker.client.get_run(run_id).data.tags["fingerprint_id"] == "f00d"


def test_history_columns_are_step_metrics_one_per_epoch(tracker):
    run_id = tracker.start("k1", {"width": 64})
    tracker.log(run_id, {"test_acc": 0.9}, HISTORY)

    points = [(m.step, m.value) for m in tracker.client.get_metric_history(run_id, "test_acc")]
    assert points == [(1, 0.5), (2, 0.7), (3, 0.9)], f"expected one test_acc point per epoch, got {points}"
    assert "epoch" not in tracker.client.get_run(run_id).data.metrics


def test_final_metric_differing_from_the_last_epoch_is_the_runs_value(tracker):
    run_id = tracker.start("k1", {"width": 64})
    tracker.log(run_id, {"epoch_time_s": 2.0}, HISTORY)  # the mean over epochs, not the last epoch's 3.0

    assert tracker.client.get_run(run_id).data.metrics["epoch_time_s"] == 2.0


def test_checks_are_check_metrics_stepped_by_row(tracker):
    run_id = tracker.start("k1", {"width": 64})
    tracker.log(run_id, {}, checks=CHECKS)

    points = [(m.step, m.value) for m in tracker.client.get_metric_history(run_id, "check_epoch")]
    assert points == [(0, 0.25), (1, 0.5), (2, 0.75)]
    assert tracker.client.get_run(run_id).data.metrics["check_train_acc"] == 0.91


def test_fail_marks_the_run_failed_with_its_reason(tracker):
    run_id = tracker.start("k1", {"width": 64})
    tracker.fail(run_id, "RuntimeError('x')" * 2000)

    run = tracker.client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["labkit.failure"].startswith("RuntimeError('x')") and len(run.data.tags["labkit.failure"]) <= 8000


def test_reconcile_fails_a_dead_processs_run_whose_key_has_no_row(tracker, dead_pid):
    run_id = left_by(tracker, dead_pid, "k1")
    tracker.reconcile({})

    run = tracker.client.get_run(run_id)
    assert (run.info.status, run.data.tags.get("labkit.failure")) == ("FAILED", "interrupted")


def test_reconcile_finishes_a_dead_processs_run_whose_key_has_a_row(tracker, dead_pid, store_uri, experiment):
    run_id = left_by(tracker, dead_pid, "k1")
    tracker.reconcile({"k1": ({"width": 8}, {"test_acc": 0.9})})

    assert status(tracker, run_id) == "FINISHED"
    assert list(finished_runs(experiment, store_uri).run_id) == [run_id], "the killed run counts; none back-filled"


def test_reconcile_leaves_a_live_processs_run_running(tracker):
    run_id = tracker.start("k1", {"width": 8})  # started by this very process, still alive
    tracker.reconcile({})

    assert status(tracker, run_id) == "RUNNING"


def test_reconcile_leaves_another_hosts_run_running(tracker, dead_pid):
    run_id = left_by(tracker, dead_pid, "k1")
    tracker.client.set_tag(run_id, "labkit.host", "another-machine")
    tracker.reconcile({})

    assert status(tracker, run_id) == "RUNNING"


def test_reconcile_leaves_another_results_files_run_running(tracker, store_uri, experiment, tmp_path, dead_pid):
    other = Tracker(experiment, tmp_path / "other" / "results.csv", tracking_uri=store_uri)
    run_id = left_by(other, dead_pid, "k1")
    tracker.reconcile({})

    assert status(other, run_id) == "RUNNING"


def test_reconcile_backfills_a_done_key_with_no_run(tracker, store_uri, experiment):
    tracker.reconcile({"k1": ({"width": 8, "note": float("nan")}, {"test_acc": 0.75, "device": "cpu"})})

    runs = finished_runs(experiment, store_uri)
    assert list(runs.run_key) == ["k1"]
    assert (runs["params.width"][0], runs["params.device"][0], runs["metrics.test_acc"][0]) == ("8", "cpu", 0.75)
    assert "params.note" not in runs.columns, "a blank CSV cell is not a param"
    assert tracker.client.get_run(runs.run_id[0]).data.tags["labkit.backfilled"] == "true"


def test_reconcile_twice_backfills_once(tracker, store_uri, experiment):
    done = {"k1": ({"width": 8}, {"test_acc": 0.75}), "k2": ({"width": 16}, {"test_acc": 0.8})}
    tracker.reconcile(done)
    tracker.reconcile(done)

    assert sorted(finished_runs(experiment, store_uri).run_key) == ["k1", "k2"]


def test_two_trackers_share_one_new_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = Tracker("labkit/a", tmp_path / "results.csv")
    second = Tracker("labkit/a", tmp_path / "results.csv")
    second.finish(first.start("k1", {"width": 8}))

    assert first.experiment_id == second.experiment_id
    assert list(finished_runs("labkit/a", first.tracking_uri).run_key) == ["k1"]
    assert (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()


def test_finished_runs_of_a_missing_experiment_is_empty(store_uri):
    assert finished_runs("labkit/no-such-lab", store_uri).empty


def test_default_tracking_uri_honours_the_environment(monkeypatch):
    monkeypatch.setenv(TRACKING_ENV, "http://mlflow.example:5000")

    assert default_tracking_uri("reports/02/results.csv") == "http://mlflow.example:5000"


def test_a_relative_sqlite_uri_in_the_environment_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.setenv(TRACKING_ENV, "sqlite:///runs/mlflow.db")
    monkeypatch.chdir(tmp_path)

    assert default_tracking_uri("results.csv") == "sqlite:///" + (tmp_path / "runs" / "mlflow.db").resolve().as_posix()


def test_default_tracking_uri_is_an_absolute_sqlite_file_beside_the_results(monkeypatch, tmp_path):
    monkeypatch.delenv(TRACKING_ENV, raising=False)
    monkeypatch.chdir(tmp_path)

    expected = "sqlite:///" + (tmp_path / "reports" / "02" / "mlflow.db").resolve().as_posix()
    assert default_tracking_uri("reports/02/results.csv") == expected
    assert ui_command("reports/02/results.csv") == f"mlflow ui --backend-store-uri {expected}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path) -> str:
    """A real ``mlflow server`` on a free local port (its own SQLite store); yield its URL, then stop it."""
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{(tmp_path / 'db.sqlite').as_posix()}",
         "--default-artifact-root", str(tmp_path / "art")],
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no job-queue worker processes
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not answer on {url} in 60 s:\n{(tmp_path / 'server.log').read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.mark.slow
def test_real_mlflow_server_gets_one_finished_run_per_sweep_config(mlflow_server, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(TRACKING_ENV, mlflow_server)
    results = tmp_path / "reports" / "02_cnn_sweeps" / "results.csv"

    def trial(config: dict) -> dict:
        history = HISTORY.assign(test_acc=HISTORY.test_acc * config["width"] / 64)
        return {"test_acc": float(history.test_acc.iloc[-1]), "history": history}

    run_sweep([{"width": w} for w in (16, 32, 64)], trial, results, sweep="widths", tracking=True,
              experiment="labkit/server-test", progress=False)

    assert "View run" not in capsys.readouterr().out, "MLflow's run links must not clutter the notebook"
    rows = read_results(results)
    runs = finished_runs("labkit/server-test", mlflow_server)
    assert sorted(runs.run_key) == sorted(rows.run_key), "expected one FINISHED run per row of the results file"
    by_key = runs.set_index("run_key")
    for row in rows.itertuples():
        assert by_key.loc[row.run_key, "metrics.test_acc"] == pytest.approx(row.test_acc)
        assert by_key.loc[row.run_key, "params.width"] == str(row.width)
    history = MlflowClient(mlflow_server).get_metric_history(by_key.run_id.iloc[0], "test_acc")
    assert [m.step for m in history] == [1, 2, 3]


def _store_copy_cut_to(store_uri: str, folder, size: int):
    """A copy of a real MLflow store, cut to ``size`` bytes (a half-synced copy), as ``folder/mlflow.db``."""
    path, whole = folder / "mlflow.db", open(store_uri[len("sqlite:///"):], "rb").read()
    assert len(whole) > size, f"the store is only {len(whole):,} bytes: cut it shorter"
    path.write_bytes(whole[:size])
    return path


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_store_stops_the_sweep_naming_the_file_and_the_ways_on(damage, store_uri, tmp_path, monkeypatch):
    monkeypatch.delenv(TRACKING_ENV, raising=False)
    Tracker("labkit/filled", tmp_path / "other" / "results.csv", tracking_uri=store_uri)  # the store has its tables
    if damage == "garbage":
        db = tmp_path / "mlflow.db"
        db.write_bytes(b"this is not a database, it only has its name\n" * 100)
    else:
        db = _store_copy_cut_to(store_uri, tmp_path, 20_000)
    before = db.read_bytes()
    calls = []
    with pytest.raises(TrackingStoreError) as error:
        run_sweep([{"width": 8}], lambda config: calls.append(config) or {"acc": 0.5}, tmp_path / "results.csv",
                  sweep="s", tracking=True, progress=False)
    message = str(error.value)
    assert f"The MLflow store {db} ({len(before):,} bytes) cannot be opened" in message, message
    assert "-p tracking false" in message and f"move {db.name} aside" in message, message
    assert "sqlalche.me" not in message and "[SQL:" not in message, message
    assert db.read_bytes() == before, "nothing may be written on top of a damaged store"
    assert calls == [] and not (tmp_path / "results.csv").exists(), "no trial runs before the store is known good"


def test_finished_runs_of_a_damaged_store_names_it(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"\x00garbage" * 500)
    with pytest.raises(TrackingStoreError, match=rf"{db} \(4,000 bytes\) cannot be opened: file is not a database"):
        finished_runs("labkit/x", f"sqlite:///{db}")
