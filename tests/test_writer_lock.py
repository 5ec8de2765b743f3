"""labkit.writer_lock: one run writes a reports folder; a second run stops at once and names the first."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from labkit import results, writer_lock
from labkit.writer_lock import FolderInUseError

# Holds FOLDER (argv[1]) the way a run does, says so on stdout, then waits to be killed.
HOLDER = textwrap.dedent("""
    import sys, time
    from labkit import writer_lock
    writer_lock.hold(sys.argv[1])
    print("holding", flush=True)
    time.sleep(600)
""")

# A sweep of N_CONFIGS slow trials into argv[1]: what `labkit run` and a notebook kernel both do.
N_CONFIGS = 8
SWEEP = textwrap.dedent(f"""
    import os, sys, time
    from labkit import sweep

    def trial(config):
        time.sleep(0.2)
        return {{"square": config["i"] ** 2, "pid": os.getpid()}}

    sweep.run_sweep([{{"i": i}} for i in range({N_CONFIGS})], trial, sys.argv[1], sweep="two writers",
                    progress=False)
""")


def _start(tmp_path, script, *args, env=None):
    path = tmp_path / "script.py"
    path.write_text(script)
    return subprocess.Popen([sys.executable, str(path), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})})


@pytest.fixture
def held(tmp_path):
    """A reports folder held by another live process (killed at the end); yields (folder, process)."""
    folder = tmp_path / "01_mlp_sweeps"
    process = _start(tmp_path, HOLDER, folder)
    assert process.stdout.readline().strip() == "holding", process.stdout.read()
    yield folder, process
    process.kill()
    process.wait()


def test_a_second_run_stops_at_once_naming_the_run_that_holds_the_folder(held):
    folder, process = held
    started = time.monotonic()
    with pytest.raises(FolderInUseError) as stopped:
        writer_lock.hold(folder)
    message = str(stopped.value)
    assert time.monotonic() - started < 1.0, "a second run must stop at once, not wait for the first"
    assert str(folder.resolve()) in message and f"pid {process.pid} on {socket.gethostname()}" in message, message
    assert "script.py" in message, f"the message must name the other run's command: {message}"
    assert "since 20" in message, f"the message must say since when the other run writes: {message}"
    assert "--reports-dir" in message and "Wait for that run to finish" in message, message


def test_a_lock_left_by_a_killed_run_is_taken_over(held):
    folder, process = held
    process.send_signal(signal.SIGKILL)
    process.wait()
    writer_lock.hold(folder)  # no error: the killed run's lock died with it
    try:
        assert writer_lock.read_holder(folder)["pid"] == os.getpid()
    finally:
        writer_lock.release(folder)


def test_a_process_holds_its_folder_again_without_stopping_itself(tmp_path):
    writer_lock.hold(tmp_path)
    writer_lock.hold(tmp_path)
    writer_lock.release(tmp_path)
    assert writer_lock.read_holder(tmp_path) is None, "a released folder has no holder record"


def test_the_kernel_a_labkit_run_starts_writes_under_that_runs_lock(tmp_path):
    folder = tmp_path / "lab"
    with writer_lock.writing(folder):
        child = _start(tmp_path, HOLDER, folder)
        assert child.stdout.readline().strip() == "holding", "the run's own child process was refused"
        child.kill()
        child.wait()
        stranger = _start(tmp_path, HOLDER, folder, env={writer_lock.TOKEN_ENV: "not this run's"})
        output, _ = stranger.communicate(timeout=60)
        assert stranger.returncode != 0 and "is in use by another run" in output, output
    assert writer_lock.TOKEN_ENV not in os.environ, "the token is only lent for the run"


def test_two_runs_started_together_on_one_folder_record_every_config_exactly_once(tmp_path):
    path = tmp_path / "reports" / "01_mlp_sweeps" / "results.csv"
    first, second = _start(tmp_path, SWEEP, path), _start(tmp_path, SWEEP, path)  # started together
    outputs = [process.communicate(timeout=120)[0] for process in (first, second)]
    codes = sorted(process.returncode for process in (first, second))
    assert codes[0] == 0 and codes[1] != 0, f"one run must finish and the other stop; got {codes}:\n{outputs}"
    stopped = outputs[[first.returncode, second.returncode].index(codes[1])]
    assert "FolderInUseError" in stopped and "is in use by another run" in stopped, stopped
    assert str(path.parent.resolve()) in stopped and "script.py" in stopped, stopped
    rows = results.read_results(path)
    assert sorted(rows.i) == list(range(N_CONFIGS)) and rows.run_key.is_unique, f"every config exactly once:\n{rows}"
    assert rows.pid.nunique() == 1, "only one of the two runs wrote rows"
