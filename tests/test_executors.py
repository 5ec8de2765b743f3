"""Where trials run: validation, the local executor, and Ray (one machine, and a two-node cluster with a
worker SIGKILLed mid-trial). Ray tests start Ray only here, and are skipped when Ray is not installed."""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from labkit import executors, results, sweep
from labkit.course import cli
from labkit.labs.cnn.sweeps import BASELINE, CNNSetup, run_cnn_sweep
from labkit.labs.cnn.params import lab2
from labkit.labs.mlp.params import lab1
from labkit.tracking import default_tracking_uri, finished_runs


def test_bad_settings_say_what_to_change():
    with pytest.raises(ValueError, match="'local' runs trials one after another"):
        executors.Executor("dask")
    with pytest.raises(ValueError, match="whole number >= 1"):
        executors.Executor("ray", threads_per_trial=0)
    with pytest.raises(ValueError, match="set executor='ray'"):
        executors.Executor("local", ray_address="auto")
    with pytest.raises(ValueError, match="threads_per_trial"):
        lab2(threads_per_trial=-1)
    assert lab2(executor="ray", threads_per_trial=2).sweep_executor() == executors.Executor("ray", None, 2)
    with pytest.raises(ValueError, match="'local' runs trials one after another"):
        lab1(executor="threads")
    assert lab1(executor="ray", ray_address="auto").sweep_executor() == executors.Executor("ray", "auto", None)


@pytest.mark.parametrize("lab", ["01", "02"])
def test_the_labs_with_sweeps_take_the_executor_knobs(lab):
    import papermill

    known = papermill.inspect_notebook(str(cli.find_notebook(lab)))
    assert {"executor", "ray_address", "threads_per_trial"} <= set(known), f"lab {lab}: {sorted(known)}"
    assert known["executor"]["default"] == '"local"', "notebooks run trials locally unless asked"


def test_local_trials_use_the_threads_asked_for_and_restore_the_setting(tmp_path):
    before = torch.get_num_threads()
    seen = []
    rows = sweep.run_sweep([{"i": 1}, {"i": 2}], lambda c: seen.append(torch.get_num_threads()) or {"x": c["i"]},
                           tmp_path / "r.csv", progress=False, executor=executors.Executor(threads_per_trial=1))
    assert seen == [1, 1] and list(rows.x) == [1, 2]
    assert torch.get_num_threads() == before


def test_ray_without_ray_installed_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'labkit\[ray\]'"):
        sweep.run_sweep([{"i": 1}], lambda c: {"x": 1}, tmp_path / "r.csv", progress=False, executor="ray")


TIMING = ("time", "_s", "_ms", "per_s", "memory")


@pytest.mark.ray
@pytest.mark.slow
def test_ray_on_this_machine_gives_the_local_metrics_decodes_once_per_worker_and_records_failures(data_dir,
                                                                                                   tmp_path):
    ray = pytest.importorskip("ray")
    root = str(data_dir)

    def decode_training_images(config):  # defined here: Ray ships it by value to workers that cannot import tests/
        """Read the training images; say whether this call had to decode them."""
        from labkit import data

        before = data._raw_tensors.cache_info().misses
        data.load_raw("mnist", root)
        return {"pid": os.getpid(), "decoded": data._raw_tensors.cache_info().misses - before}

    def fails_on_one(config):
        if config["i"] == 1:
            raise ValueError("no 1")
        return {"square": config["i"] ** 2}

    setup = CNNSetup(data_dir=str(data_dir), epochs=2, device="cpu", checks_per_epoch=2, probe_examples=50)
    configs = [{**BASELINE, "channels": [4, 4], "hidden": [8 * (i + 1)], "batch_size": 16} for i in range(3)]
    local = run_cnn_sweep(configs, setup, tmp_path / "local" / "results.csv", sweep="grid", tracking=False,
                          executor=executors.Executor(threads_per_trial=1))
    try:
        remote = run_cnn_sweep(configs, setup, tmp_path / "ray" / "results.csv", sweep="grid", tracking=True,
                               executor=executors.Executor("ray", threads_per_trial=1))
        reads = sweep.run_sweep([{"i": i} for i in range(8)], decode_training_images, tmp_path / "reads.csv",
                                progress=False,
                                executor=executors.Executor("ray", threads_per_trial=1))
        with pytest.raises(RuntimeError, match=r"(?s)1 of 3 trial\(s\) of sweep 'odd' failed.*\{'i': 1\}: ValueError: no 1"):
            sweep.run_sweep([{"i": i} for i in range(3)], fails_on_one, tmp_path / "odd" / "results.csv",
                            sweep="odd", tracking=True, progress=False, executor=executors.Executor("ray"))
    finally:
        ray.shutdown()
    landed = results.read_results(tmp_path / "odd" / "results.csv")
    assert sorted(landed.i) == [0, 2], "the other trials still land; the failed one is no row"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(default_tracking_uri(tmp_path / "odd" / "results.csv"))
    runs = client.search_runs([client.get_experiment_by_name("labkit/odd").experiment_id])
    assert sorted(run.info.status for run in runs) == ["FAILED", "FINISHED", "FINISHED"]
    assert reads.pid.nunique() < len(reads), "Ray reused its worker processes"
    assert (reads.groupby("pid").decoded.sum() <= 1).all(), f"a worker decoded the images twice:\n{reads}"
    assert list(remote.run_key) == list(local.run_key), "same configs, same keys, same order"
    compared = [c for c in local.columns if not any(part in c for part in TIMING)]
    assert len(compared) > 20
    same_local, same_remote = local[compared].astype(str), remote[compared].astype(str)
    assert same_local.equals(same_remote), f"metrics differ:\n{same_local.compare(same_remote)}"
    tracked = finished_runs("labkit/02_cnn_sweeps", default_tracking_uri(tmp_path / "ray" / "results.csv"))
    assert sorted(tracked.run_key) == sorted(remote.run_key), "the driver logged one MLflow run per trial"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DRIVER = textwrap.dedent("""
    import os, sys, time
    from labkit import executors, sweep

    MARKS = sys.argv[2]  # read here: in a worker, sys.argv is the worker's own


    def trial(config):
        # each attempt leaves its worker's pid, so the test can kill a worker mid-trial
        with open(os.path.join(MARKS, f"{config['i']}.{os.getpid()}.{time.time_ns()}"), "w"):
            pass
        time.sleep(4)
        return {"square": config["i"] ** 2, "pid": os.getpid()}

    ray = executors.connect_ray(sys.argv[3])
    print("nodes", len([node for node in ray.nodes() if node["Alive"]]), flush=True)
    executor = executors.Executor("ray", ray_address=sys.argv[3], threads_per_trial=1, max_retries=2)
    rows = sweep.run_sweep([{"i": i} for i in range(6)], trial, sys.argv[1], sweep="faults", tracking=True,
                           progress=False, executor=executor)
    print("rows", len(rows))
""")


@pytest.fixture(scope="module")
def two_node_cluster():
    """A real Ray cluster on 127.0.0.1: a head node and a second node, one CPU each (stopped after the module)."""
    pytest.importorskip("ray")
    ray_cli = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    assert ray_cli, "Ray is installed but its `ray` command is not on PATH"
    port = _free_port()
    # Ray >= 2.59 turns token authentication on for some local clusters and not others (it depends on whether
    # ~/.ray/auth_token exists): one token, set for every node, the drivers and this process, keeps them agreeing.
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}
    saved = {name: os.environ.get(name) for name in auth}
    os.environ.update(auth)
    env = dict(os.environ)
    common = ["--num-cpus=1", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]
    try:
        subprocess.run([ray_cli, "start", "--head", f"--port={port}", "--include-dashboard=false", *common],
                       check=True, env=env, capture_output=True, timeout=120)
        subprocess.run([ray_cli, "start", f"--address=127.0.0.1:{port}", *common],
                       check=True, env=env, capture_output=True, timeout=120)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=120)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _start_driver(tmp_path, address):
    """Start the driver script in a process of its own; return it, the results path and the marks folder."""
    script, marks = tmp_path / "driver.py", tmp_path / "marks"
    script.write_text(DRIVER)
    marks.mkdir(exist_ok=True)
    path = tmp_path / "lab" / "results.csv"
    driver = subprocess.Popen([sys.executable, str(script), str(path), str(marks), address],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return driver, path, marks


def _wait_for(condition, driver, what, seconds=180):
    deadline = time.monotonic() + seconds
    while not condition():
        assert driver.poll() is None, f"the driver ended before {what}:\n{driver.stdout.read()}"
        assert time.monotonic() < deadline, f"not {what} within {seconds} s"
        time.sleep(0.1)


def _every_config_exactly_once(path):
    rows = results.read_results(path)
    assert sorted(rows.i) == list(range(6)) and rows.run_key.is_unique, rows
    assert list(rows.sort_values("i").square) == [i * i for i in range(6)]
    finished = finished_runs("labkit/lab", default_tracking_uri(path))
    assert sorted(finished.run_key) == sorted(rows.run_key), "exactly one FINISHED MLflow run per config"
    return rows


@pytest.mark.ray
@pytest.mark.slow
def test_a_worker_killed_mid_trial_on_a_two_node_cluster_loses_and_repeats_nothing(two_node_cluster, tmp_path):
    driver, path, marks = _start_driver(tmp_path, two_node_cluster)
    _wait_for(lambda: list(marks.iterdir()), driver, "a trial started on some worker")
    victim_config, victim_pid = list(marks.iterdir())[0].name.split(".")[:2]
    os.kill(int(victim_pid), signal.SIGKILL)
    output, _ = driver.communicate(timeout=300)
    assert driver.returncode == 0, output
    assert "nodes 2" in output, f"the driver did not see a two-node cluster:\n{output}"

    rows = _every_config_exactly_once(path)
    attempts = [m.name.split(".")[0] for m in marks.iterdir()]
    assert attempts.count(victim_config) == 2, "the killed trial ran again, once"
    assert int(rows.loc[rows.i == int(victim_config), "pid"].iloc[0]) != int(victim_pid)
    assert len(set(rows.pid)) >= 2, "trials ran in more than one worker"


@pytest.mark.ray
@pytest.mark.slow
def test_a_driver_killed_mid_sweep_on_the_cluster_resumes_without_repeating_finished_trials(two_node_cluster,
                                                                                               tmp_path):
    driver, path, marks = _start_driver(tmp_path, two_node_cluster)
    _wait_for(lambda: len(results.read_results(path)) >= 1, driver, "a row was recorded")
    driver.kill()  # SIGKILL: no cleanup in the driver; Ray ends its job's tasks
    driver.wait(timeout=60)
    done_before = set(results.read_results(path).i)
    assert len(done_before) < 6, "the kill must land before the sweep finished"

    rerun, _, _ = _start_driver(tmp_path, two_node_cluster)
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    _every_config_exactly_once(path)
    attempts = [int(m.name.split(".")[0]) for m in marks.iterdir()]
    assert all(attempts.count(i) == 1 for i in done_before), "a trial recorded before the kill ran again"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(default_tracking_uri(path))
    experiment = client.get_experiment_by_name("labkit/lab")
    statuses = [run.info.status for run in client.search_runs([experiment.experiment_id])]
    assert "RUNNING" not in statuses, f"a run was left RUNNING: {statuses}"
