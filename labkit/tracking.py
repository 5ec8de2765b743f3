"""MLflow mirror of every sweep run: one MLflow run per trial, tagged with its results-file key.

The tidy results file (:mod:`labkit.results`) stays the source of truth and of every plot; this
module only mirrors it so a class can browse runs in the MLflow UI. The store is a SQLite file
beside the results file (no server needed) unless ``$MLFLOW_TRACKING_URI`` names another (a shared
server). Only :class:`mlflow.tracking.MlflowClient` is used: no global active run, no console lines.
"""

from __future__ import annotations

import contextlib
import getpass
import io
import logging
import math
import numbers
import os
import re
import shlex
import socket
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import pandas as pd

from labkit.writer_lock import process_alive, process_started

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

TRACKING_ENV = "MLFLOW_TRACKING_URI"
# MLflow 3 sends usage telemetry unless told not to; a course lab opts out (set it to "false" to opt back in).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
KEY_TAG, SWEEP_TAG, FILE_TAG = "run_key", "labkit.sweep", "labkit.results_file"
HOST_TAG, PID_TAG, PID_START_TAG = "labkit.host", "labkit.pid", "labkit.pid_start"
FAILURE_TAG, BACKFILL_TAG = "labkit.failure", "labkit.backfilled"
# MLflow's limits (mlflow.utils.validation): value lengths in characters, entities per log_batch call.
_MAX_PARAM, _MAX_TAG, _METRICS_PER_BATCH, _PARAMS_PER_BATCH, _PAGE = 6000, 8000, 1000, 100, 1000


def _absolute(uri: str) -> str:
    """Return ``uri`` with a relative SQLite path made absolute (against the cwd); others unchanged."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri == prefix + ":memory:":
        return uri
    path = Path(uri[len(prefix):]).expanduser()
    return prefix + path.resolve().as_posix() if not path.is_absolute() else uri


def default_tracking_uri(results_path: str | Path) -> str:
    """Return $MLFLOW_TRACKING_URI if set, else ``sqlite:///<abs folder of results_path>/mlflow.db``."""
    env = os.environ.get(TRACKING_ENV)
    if env:
        return _absolute(env)
    return "sqlite:///" + (Path(results_path).expanduser().resolve().parent / "mlflow.db").as_posix()


def ui_command(results_path: str | Path) -> str:
    """Return the shell command that opens the MLflow UI on this lab's runs (a browser for a server)."""
    uri = default_tracking_uri(results_path)
    if uri.startswith(("http://", "https://")):
        return f"python -m webbrowser {shlex.quote(uri)}"
    return f"mlflow ui --backend-store-uri {shlex.quote(uri)}"


class TrackingStoreError(RuntimeError):
    """The MLflow store cannot be opened: a damaged ``mlflow.db``, or a server that does not answer."""


def _cause(error: BaseException | str) -> str:
    """The root cause of ``error`` in one line: the database's own words, without SQLAlchemy's SQL and link."""
    while isinstance(error, BaseException) and error.__cause__ is not None:
        error = error.__cause__
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return re.sub(r"^\([\w.]+\)\s*", "", lines[0]) if lines else type(error).__name__


def _store_error(uri: str, error: BaseException | str) -> TrackingStoreError:
    """The error naming the store at ``uri``, what is wrong with it and the two ways on."""
    without = ("run without the mirror (-p tracking false with labkit run, tracking = False in the notebook's "
               "parameters cell)")
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        size = f"{db.stat().st_size:,} bytes" if db.is_file() else "no file"
        return TrackingStoreError(
            f"The MLflow store {db} ({size}) cannot be opened: {_cause(error)}. It was left as it is. MLflow only "
            f"mirrors the runs: results.csv beside it stays the source of every table and plot. Either {without}, "
            f"or move {db.name} aside (rename it, e.g. to {db.name}.damaged) and run again: a new store is made "
            "and every run in results.csv is mirrored into it again.")
    return TrackingStoreError(
        f"The MLflow tracking server {uri} (${TRACKING_ENV}) cannot be used: {_cause(error)}. results.csv stays "
        f"the source of every table and plot. Either {without}, or unset {TRACKING_ENV} to keep the runs in an "
        "SQLite file beside results.csv.")


def check_store(uri: str) -> None:
    """Raise :class:`TrackingStoreError` naming the file if the SQLite store of ``uri`` exists but is not a sound
    database (SQLite's ``quick_check``; nothing is written). Other stores are not checked here."""
    if not uri.startswith("sqlite:///"):
        return
    db = Path(uri[len("sqlite:///"):])
    if not db.is_file() or db.stat().st_size == 0:
        return
    try:
        with contextlib.closing(sqlite3.connect(db)) as connection:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.Error as error:
        raise _store_error(uri, error) from error
    if verdict != "ok":
        raise _store_error(uri, f"SQLite finds it damaged ({verdict})")


def _client(uri: str) -> MlflowClient:
    """An MlflowClient on ``uri``, with MLflow's database-setup INFO lines silenced (imported lazily)."""
    for name in ("mlflow.store.db.utils", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from mlflow.tracking import MlflowClient

    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri)


@contextlib.contextmanager
def _opening(uri: str) -> Iterator[None]:
    """Turn any failure to open the store at ``uri`` into :class:`TrackingStoreError` naming it."""
    check_store(uri)
    try:
        yield
    except (ImportError, TrackingStoreError):
        raise
    except Exception as error:  # SQLAlchemy's DatabaseError, MlflowException, a server that does not answer
        raise _store_error(uri, error) from error


def _quoted(value: str) -> str | None:
    """``value`` quoted for an MLflow filter string (no escapes exist there); None if it holds both quotes."""
    for quote in ("'", '"'):
        if quote not in value:
            return f"{quote}{value}{quote}"
    return None


def _search(client: MlflowClient, experiment_id: str, filter_string: str = "") -> Iterator[Run]:
    """Yield every run matching ``filter_string``, page by page (MLflow returns at most 1000 a call)."""
    token = None
    while True:
        page = client.search_runs([experiment_id], filter_string, max_results=_PAGE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _number(value: Any) -> float | None:
    """Return ``value`` as a finite float (int, float, numpy scalar, bool), else None."""
    if isinstance(value, (numbers.Real, np.bool_)):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _blank(value: Any) -> bool:
    """True for None and NaN (a blank CSV cell), which are never logged."""
    return value is None or (isinstance(value, float) and math.isnan(value))


class Tracker:
    """Mirror the trials of one results file into the MLflow ``experiment`` (created if missing)."""

    def __init__(self, experiment: str, results_path: str | Path, *, tracking_uri: str | None = None,
                 tags: dict[str, str] | None = None) -> None:
        self.results_file = str(Path(results_path).expanduser().resolve())
        self.tracking_uri = _absolute(tracking_uri) if tracking_uri else default_tracking_uri(results_path)
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        with _opening(self.tracking_uri):
            self.client = _client(self.tracking_uri)
            self.experiment_id = self._experiment(experiment)

    def _experiment(self, name: str) -> str:
        """Return the id of experiment ``name``, created (artifacts beside a SQLite db) or restored."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            return found.experiment_id
        location = None
        if self.tracking_uri.startswith("sqlite:///"):
            location = (Path(self.tracking_uri[len("sqlite:///"):]).parent / "mlartifacts").as_uri()
        try:
            return self.client.create_experiment(name, artifact_location=location)
        except Exception:  # created meanwhile by another process
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def _runs(self, status: str) -> list[Run]:
        """Runs of this results file with ``status`` (RUNNING, FINISHED, FAILED)."""
        quoted = _quoted(self.results_file)
        where = f"attributes.status = '{status}'"
        if quoted is None:  # a path holding both quote kinds: filter it here instead
            runs = _search(self.client, self.experiment_id, where)
            return [run for run in runs if run.data.tags.get(FILE_TAG) == self.results_file]
        return list(_search(self.client, self.experiment_id, f"tags.`{FILE_TAG}` = {quoted} and {where}"))

    def _log_batch(self, run_id: str, metrics: list, params: list) -> None:
        """Send ``metrics`` and ``params`` in batches within MLflow's per-call limits."""
        for start in range(0, len(params), _PARAMS_PER_BATCH):
            self.client.log_batch(run_id, params=params[start:start + _PARAMS_PER_BATCH])
        for start in range(0, len(metrics), _METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=metrics[start:start + _METRICS_PER_BATCH])

    def start(self, key: str, params: dict[str, Any], *, run_name: str | None = None,
              sweep: str | None = None) -> str:
        """Create a RUNNING run for config ``key`` with ``params`` (None skipped, others str()-ed); return its id."""
        from mlflow.entities import Param

        tags = {**self.tags, KEY_TAG: key, SWEEP_TAG: sweep or "", FILE_TAG: self.results_file,
                HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
        started = process_started(os.getpid())
        if started is not None:
            tags[PID_START_TAG] = repr(started)
        try:
            tags["mlflow.user"] = getpass.getuser()
        except Exception:  # no user name in some containers
            pass
        run = self.client.create_run(self.experiment_id, tags={k: str(v)[:_MAX_TAG] for k, v in tags.items()},
                                     run_name=run_name or key)
        run_id = run.info.run_id
        self._log_batch(run_id, [], [Param(str(k), str(v)[:_MAX_PARAM]) for k, v in params.items() if not _blank(v)])
        return run_id

    def log(self, run_id: str, metrics: dict[str, Any], history: pd.DataFrame | None = None,
            checks: pd.DataFrame | None = None) -> None:
        """Log final ``metrics`` (numbers as metrics, strings as params), per-epoch ``history`` rows as
        step metrics (step = epoch) and train-accuracy ``checks`` as ``check_<column>`` (step = row index)."""
        from mlflow.entities import Metric, Param

        now_ms = int(time.time() * 1000)
        steps: list[Metric] = []
        last: dict[str, tuple[int, float]] = {}  # metric -> (step, value) of its last history point
        if history is not None and "epoch" in history.columns:
            for column in history.select_dtypes("number").columns.drop("epoch"):
                points = [(int(epoch), number) for epoch, value in zip(history["epoch"], history[column])
                          if not pd.isna(epoch) and (number := _number(value)) is not None]
                steps += [Metric(str(column), number, now_ms, step) for step, number in points]
                if points:
                    last[str(column)] = max(points, key=lambda point: point[0])
        if checks is not None:
            for column in checks.select_dtypes("number").columns:
                for index, value in enumerate(checks[column]):
                    if (number := _number(value)) is not None:
                        steps.append(Metric(f"check_{column}", number, now_ms, index))
        final_step = max((step for step, _ in last.values()), default=0)
        finals, params = [], []
        for name, value in metrics.items():
            if isinstance(value, str):
                params.append(Param(str(name), value[:_MAX_PARAM]))
            elif (number := _number(value)) is not None and last.get(str(name), (None, None))[1] != number:
                # Logged after the epochs (same last step, later time) so MLflow shows it as the run's value.
                finals.append(Metric(str(name), number, now_ms + 1, final_step))
        self._log_batch(run_id, steps + finals, params)

    def _terminate(self, run_id: str, status: str) -> None:
        """End run ``run_id`` with ``status``, without the "View run at" lines MLflow prints for a server."""
        with contextlib.redirect_stdout(io.StringIO()):
            self.client.set_terminated(run_id, status)

    def finish(self, run_id: str) -> None:
        """Mark run ``run_id`` FINISHED."""
        self._terminate(run_id, "FINISHED")

    def fail(self, run_id: str, reason: str) -> None:
        """Mark run ``run_id`` FAILED, with ``reason`` (truncated) in tag labkit.failure."""
        self.client.set_tag(run_id, FAILURE_TAG, str(reason)[:_MAX_TAG])
        self._terminate(run_id, "FAILED")

    def reconcile(self, done: dict[str, tuple[dict[str, Any], dict[str, Any]]], *, sweep: str | None = None) -> None:
        """Settle runs left RUNNING by a dead process of this host (FINISHED if their key is ``done``, else
        FAILED) and back-fill a FINISHED run from (params, metrics) for each ``done`` key that has none."""
        finished = {run.data.tags.get(KEY_TAG) for run in self._runs("FINISHED")}
        host = socket.gethostname()
        for run in self._runs("RUNNING"):
            tags = run.data.tags
            pid, started = tags.get(PID_TAG, ""), tags.get(PID_START_TAG)
            if (tags.get(HOST_TAG) != host or not pid.isdigit()
                    or process_alive(int(pid), float(started) if started else None)):
                continue
            if tags.get(KEY_TAG) in done and tags.get(KEY_TAG) not in finished:
                self.finish(run.info.run_id)
                finished.add(tags.get(KEY_TAG))
            else:
                self.fail(run.info.run_id, "interrupted")
        for key, (params, metrics) in done.items():
            if key not in finished:
                run_id = self.start(key, params, sweep=sweep)
                self.client.set_tag(run_id, BACKFILL_TAG, "true")
                self.log(run_id, metrics)
                self.finish(run_id)
                finished.add(key)


def finished_runs(experiment: str, tracking_uri: str) -> pd.DataFrame:
    """Return one row per FINISHED run of ``experiment``: run_id, run_key, sweep, status, start_time
    (UTC), then ``params.*`` and ``metrics.*`` columns; empty if the experiment does not exist."""
    uri = _absolute(tracking_uri)
    with _opening(uri):
        client = _client(uri)
        found = client.get_experiment_by_name(experiment)
    if found is None:
        return pd.DataFrame()
    rows = [{"run_id": run.info.run_id, "run_key": run.data.tags.get(KEY_TAG), "sweep": run.data.tags.get(SWEEP_TAG),
             "status": run.info.status, "start_time": pd.to_datetime(run.info.start_time, unit="ms", utc=True),
             **{f"params.{k}": v for k, v in sorted(run.data.params.items())},
             **{f"metrics.{k}": v for k, v in sorted(run.data.metrics.items())}}
            for run in _search(client, found.experiment_id, "attributes.status = 'FINISHED'")]
    frame = pd.DataFrame(rows)
    return frame.sort_values("start_time", ignore_index=True) if not frame.empty else frame
