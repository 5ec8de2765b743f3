"""A real Lab 2 sweep killed mid-run (SIGKILL or Ctrl-C) and started again ends with every config
exactly once: one row in the results file and one FINISHED run in MLflow; the killed run is FAILED."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from labkit import results
from labkit.tracking import default_tracking_uri, finished_runs

N_CONFIGS = 6
SCRIPT = textwrap.dedent(f"""
    import signal
    import sys
    from labkit.labs.cnn.sweeps import BASELINE, CNNSetup, run_cnn_sweep

    # A runner that started the tests in the background (bash `cmd &`) leaves SIGINT ignored, and the child would
    # inherit that; Ctrl-C in a terminal raises KeyboardInterrupt, so restore Python's own handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    setup = CNNSetup(data_dir=sys.argv[1], epochs=3, device="cpu", checks_per_epoch=2, probe_examples=50)
    configs = [{{**BASELINE, "channels": [4, 4], "hidden": [8 + 4 * i], "batch_size": 8}} for i in range({N_CONFIGS})]
    run_cnn_sweep(configs, setup, sys.argv[2], sweep="kill test", tracking=True)
""")


def _start(script, data_dir, path):
    return subprocess.Popen([sys.executable, str(script), str(data_dir), str(path)], env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _rows(path):
    return results.read_results(path)


def _all_runs(path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(default_tracking_uri(path))
    experiment = client.get_experiment_by_name(f"labkit/{path.parent.name}")
    return client.search_runs([experiment.experiment_id]) if experiment else []


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_a_killed_sweep_resumes_with_every_config_exactly_once(how, data_dir, tmp_path):
    script = tmp_path / "sweep.py"
    script.write_text(SCRIPT)
    path = tmp_path / "02_cnn_sweeps" / "results.csv"
    process = _start(script, data_dir, path)
    deadline = time.monotonic() + 120
    while len(_rows(path)) < 2:  # kill it once two configs are recorded: during the third
        assert process.poll() is None, f"the sweep ended before it was killed:\n{process.stdout.read()}"
        assert time.monotonic() < deadline, "the sweep recorded no two rows within 120 s"
        time.sleep(0.05)
    process.send_signal(how)
    process.wait(timeout=60)
    killed_at = len(_rows(path))
    assert killed_at < N_CONFIGS, "the kill must land before the sweep finished"

    rerun = _start(script, data_dir, path)
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output

    rows = _rows(path)
    assert len(rows) == N_CONFIGS and rows.run_key.is_unique, f"expected {N_CONFIGS} distinct rows, got\n{rows}"
    finished = finished_runs(f"labkit/{path.parent.name}", default_tracking_uri(path))
    assert sorted(finished.run_key) == sorted(rows.run_key), "exactly one FINISHED MLflow run per config"
    statuses = [run.info.status for run in _all_runs(path)]
    assert "RUNNING" not in statuses, f"a run was left RUNNING: {statuses}"
    assert statuses.count("FINISHED") == N_CONFIGS
    assert set(statuses) <= {"FINISHED", "FAILED"}
