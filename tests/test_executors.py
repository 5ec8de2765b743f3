"""Where trials run: validation, the local executor, and Ray (one machine, and a two-node cluster with a
worker SIGKILLed mid-trial). Ray tests start Ray only here, and are skipped when Ray is not installed."""

import os
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
from labkit.cnn_sweeps import BASELINE, CNNSetup, run_cnn_sweep
from labkit.params import lab2
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


def test_ray_on_this_machine_records_the_same_metrics_as_local(data_dir, tmp_path):
    ray = pytest.importorskip("ray")
    setup = CNNSetup(data_dir=str(data_dir), epochs=2, device="cpu", checks_per_epoch=2, probe_examples=50)
    configs = [{**BASELINE, "channels": [4, 4], "hidden": [8 * (i + 1)], "batch_size": 16} for i in range(3)]
    local = run_cnn_sweep(configs, setup, tmp_path / "local" / "results.csv", sweep="grid", tracking=False,
                          executor=executors.Executor(threads_per_trial=1))
    try:
        remote = run_cnn_sweep(configs, setup, tmp_path / "ray" / "results.csv", sweep="grid", tracking=True,
                               executor=executors.Executor("ray", threads_per_trial=1))
    finally:
        ray.shutdown()
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

    def trial(config):
        # each attempt leaves its worker's pid, so the test can kill a worker mid-trial
        with open(os.path.join(sys.argv[2], f"{config['i']}.{os.getpid()}.{time.time_ns()}"), "w"):
            pass
        time.sleep(4)
        return {"square": config["i"] ** 2, "pid": os.getpid()}

    executor = executors.Executor("ray", ray_address=sys.argv[3], threads_per_trial=1, max_retries=2)
    rows = sweep.run_sweep([{"i": i} for i in range(6)], trial, sys.argv[1], sweep="faults", tracking=True,
                           progress=False, executor=executor)
    print("rows", len(rows))
""")


@pytest.fixture
def two_node_cluster(tmp_path):
    pytest.importorskip("ray")
    ray_cli = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    assert ray_cli, "Ray is installed but its `ray` command is not on PATH"
    port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--num-cpus=1", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]
    try:
        subprocess.run([ray_cli, "start", "--head", f"--port={port}", "--include-dashboard=false", *common],
                       check=True, env=env, capture_output=True, timeout=120)
        subprocess.run([ray_cli, "start", f"--address=127.0.0.1:{port}", *common],
                       check=True, env=env, capture_output=True, timeout=120)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=120)


def test_a_worker_killed_mid_trial_on_a_two_node_cluster_loses_and_repeats_nothing(two_node_cluster, tmp_path):
    import ray

    with ray.init(address=two_node_cluster, include_dashboard=False, logging_level="warning"):
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2, "the cluster must have two nodes"
    script, marks = tmp_path / "driver.py", tmp_path / "marks"
    script.write_text(DRIVER)
    marks.mkdir()
    path = tmp_path / "lab" / "results.csv"
    driver = subprocess.Popen([sys.executable, str(script), str(path), str(marks), two_node_cluster],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 180
    while not list(marks.iterdir()):  # the first trial has started on some worker
        assert driver.poll() is None, driver.stdout.read()
        assert time.monotonic() < deadline, "no trial started within 180 s"
        time.sleep(0.1)
    victim_config, victim_pid = list(marks.iterdir())[0].name.split(".")[:2]
    os.kill(int(victim_pid), signal.SIGKILL)
    output, _ = driver.communicate(timeout=300)
    assert driver.returncode == 0, output

    rows = results.read_results(path)
    assert sorted(rows.i) == list(range(6)) and rows.run_key.is_unique, rows
    assert list(rows.sort_values("i").square) == [i * i for i in range(6)]
    attempts = [m.name.split(".")[0] for m in marks.iterdir()]
    assert attempts.count(victim_config) == 2, "the killed trial ran again, once"
    assert int(rows.loc[rows.i == int(victim_config), "pid"].iloc[0]) != int(victim_pid)
    assert len(set(rows.pid)) >= 2, "trials ran in more than one worker"
    finished = finished_runs("labkit/lab", default_tracking_uri(path))
    assert sorted(finished.run_key) == sorted(rows.run_key), "exactly one FINISHED MLflow run per config"
