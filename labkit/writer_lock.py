"""One writer per reports folder: a run holds ``reports/<lab>/`` while it writes there; a second run stops.

A notebook kernel, ``labkit run`` and a Ray driver write a lab's results file, tables, models and MLflow
store through labkit's runners (:func:`labkit.sweep.run_sweep`, the labs' start-model functions), which
call :func:`hold` first. The lock is an operating-system file lock (``filelock``: ``flock`` on Unix), so
it dies with its process: a run killed by SIGKILL or a lost runtime leaves nothing that stops the next
one. Who holds it (host, pid, command, since when) is recorded beside it, so a second run stops at once
and names the run to wait for. ``labkit run`` holds the folder for the whole notebook and lets the
kernel it starts write there (:func:`writing`). Two machines sharing a folder (two Colab runtimes on one
Drive) are protected only where the file system passes file locks between them.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import json
import os
import shlex
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout

LOCK_NAME = ".labkit-writer.lock"  # the operating-system lock (an empty file)
HOLDER_NAME = ".labkit-writer.json"  # who holds it: host, pid, command, since
TOKEN_ENV = "LABKIT_WRITER_TOKEN"  # set by `labkit run` for its kernel: the folders this run holds are its too
_SETTLE_S = 2.0  # how long a busy lock may go without a live holder record (a holder that has just taken it)

_token = uuid.uuid4().hex  # this process, in its holder records
_held: dict[Path, FileLock | None] = {}  # folder -> its lock; None: held for this process by the run that started it


class FolderInUseError(RuntimeError):
    """Another run is writing into the same reports folder."""


def process_started(pid: int) -> float | None:
    """Return the start time of process ``pid`` in seconds since the epoch (None without psutil)."""
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # psutil missing, or no such process
        return None


def process_alive(pid: int, started: float | None = None) -> bool:
    """True if process ``pid`` runs and (when known) started at ``started`` s, so a reused pid reads dead."""
    try:
        import psutil
    except ImportError:  # without psutil: os.kill(pid, 0), except on Windows where it would signal the process
        if os.name == "nt":
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(process.create_time() - started) < 1.0
    except psutil.Error:
        return False


def _command() -> str:
    """What this process is, in words a student recognises: the command line, or the notebook a kernel runs."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program == "ipykernel_launcher.py" or "ipykernel" in program:
        notebook = os.environ.get("JPY_SESSION_NAME")  # set by Jupyter Server for the kernel of a notebook
        return f"a Jupyter kernel running {notebook}" if notebook else "a Jupyter kernel (a notebook open in Jupyter)"
    if program == "-c":
        return "python -c ..."
    return shlex.join([program, *sys.argv[1:]])


def read_holder(folder: str | Path) -> dict[str, Any] | None:
    """Return the record of the run that holds (or last held) ``folder``: host, pid, command, since; None if none."""
    try:
        record = json.loads((Path(folder) / HOLDER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _write_holder(folder: Path) -> None:
    since = datetime.datetime.now().astimezone().isoformat(sep=" ", timespec="seconds")
    record = {"host": socket.gethostname(), "pid": os.getpid(), "pid_started": process_started(os.getpid()),
              "command": _command(), "since": since, "token": _token}
    temp = folder / f"{HOLDER_NAME}.{os.getpid()}.tmp"
    temp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    temp.replace(folder / HOLDER_NAME)


def _live(record: dict[str, Any] | None) -> bool:
    """True if ``record`` names a process that runs now (one on another host is taken to run)."""
    if not record or not isinstance(record.get("pid"), int):
        return False
    if record.get("host") != socket.gethostname():
        return True
    return process_alive(record["pid"], record.get("pid_started"))


def _started_us(record: dict[str, Any] | None) -> bool:
    """True if ``record`` is the ``labkit run`` that started this process (its token, and one of our ancestors)."""
    if not record or record.get("token") != os.environ.get(TOKEN_ENV) or record.get("host") != socket.gethostname():
        return False
    try:
        import psutil

        return record.get("pid") in {parent.pid for parent in psutil.Process().parents()}
    except Exception:  # psutil missing: the token alone, which only that run's children inherit
        return True


def in_use_message(folder: Path, record: dict[str, Any] | None) -> str:
    """The sentence a second run stops with: who writes into ``folder`` and what to do."""
    if _live(record):
        who = (f"{record.get('command', 'a labkit run')} (pid {record['pid']} on {record.get('host')}, "
               f"since {record.get('since')})")
    else:
        who = "another process, which has not recorded who it is"
    return (f"{folder} is in use by another run: {who}. Two runs writing one reports folder would record every "
            f"config twice, so this one stops. Wait for that run to finish (a Jupyter kernel keeps the folder until "
            f"it is shut down or restarted), or give this run another reports folder: `labkit run ... --reports-dir "
            f"DIR`, or reports_dir = \"DIR\" in the notebook's parameters cell.")


def hold(folder: str | Path) -> None:
    """Make this process the one writer of ``folder`` until it ends (or :func:`release`); raise
    :class:`FolderInUseError`, naming the other run, if one writes there. Holding a folder twice is a no-op."""
    folder = Path(folder).expanduser().resolve()
    if folder in _held:
        return
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / LOCK_NAME), timeout=0)
    deadline = time.monotonic() + _SETTLE_S
    while True:
        try:
            lock.acquire()
            break
        except Timeout:
            record = read_holder(folder)
            if _started_us(record):
                _held[folder] = None
                return
            if _live(record) or time.monotonic() > deadline:
                raise FolderInUseError(in_use_message(folder, record)) from None
            time.sleep(0.05)  # the holder has just taken the lock and not yet recorded who it is
    _write_holder(folder)
    _held[folder] = lock


def release(folder: str | Path) -> None:
    """Stop being the writer of ``folder`` (nothing happens if this process does not hold it)."""
    folder = Path(folder).expanduser().resolve()
    lock = _held.pop(folder, None)
    if lock is None:
        return
    record = read_holder(folder)
    if record is not None and record.get("token") == _token:
        (folder / HOLDER_NAME).unlink(missing_ok=True)
    lock.release()


@atexit.register
def _release_all() -> None:
    """At exit, take down this process's holder records (a killed process leaves one, which reads as stale)."""
    for folder in list(_held):
        release(folder)


@contextlib.contextmanager
def writing(folder: str | Path) -> Iterator[None]:
    """Hold ``folder`` for the block and let the processes started in it (a notebook's kernel) write there too."""
    hold(folder)
    before = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = _token
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(TOKEN_ENV, None)
        else:
            os.environ[TOKEN_ENV] = before
        release(folder)
