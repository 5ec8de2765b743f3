"""Grids over configs and the resumable sweep runner (each lab's trial lives with its lab's code).

:func:`run_sweep` calls a trial for every config not yet in the lab's tidy results file, appends
each row atomically as soon as it is done, and mirrors each trial as an MLflow run when tracking
is on. A sweep stopped at any moment (Ctrl-C, SIGKILL, a lost Colab runtime) and started again
skips the finished configs and redoes the unfinished one. Trials run here, one after another, or
as Ray tasks (:mod:`labkit.executors`); either way this process alone writes the file and MLflow,
and it holds the results folder (:mod:`labkit.writer_lock`) so that no other run writes there too.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import pandas as pd

from labkit.executors import Executor, TrialFailed, as_executor, outcomes
from labkit.progress import progress as progress_bar
from labkit.results import KEY_COLUMN, append_result, check_compatible, config_key, read_results
from labkit.writer_lock import hold

if TYPE_CHECKING:
    from labkit.tracking import Tracker

SWEEP_COLUMN = "sweep"  # the name of the sweep that recorded a row
# Entries a trial may return beside its metrics: per-epoch / per-check tables, kept out of the row. They are
# written to <results folder>/tables/<run_key>.<name>.csv (the recorded data behind every curve) and to MLflow.
TABLE_ENTRIES = ("history", "checks")
TABLES_DIR = "tables"


def table_path(results_path: str | Path, key: str, name: str) -> Path:
    """Return where run ``key``'s table ``name`` (``history`` or ``checks``) of a results file is kept."""
    return Path(results_path).parent / TABLES_DIR / f"{key}.{name}.csv"


def read_table(results_path: str | Path, key: str, name: str = "history") -> pd.DataFrame:
    """Return run ``key``'s recorded table ``name``; raise FileNotFoundError naming the file when it is missing."""
    path = table_path(results_path, key, name)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the run's {name} was not recorded (delete its row in "
                                f"{Path(results_path).name} to train it again)")
    return pd.read_csv(path)


def _write_table(path: Path, table: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    table.to_csv(temp, index=False)
    temp.replace(path)  # atomic: a table is whole or absent


def grid(base: dict[str, Any], **axes: Iterable[Any]) -> list[dict[str, Any]]:
    """Return ``base`` with every combination of the values in ``axes`` (last axis varies fastest)."""
    names = list(axes)
    return [{**base, **dict(zip(names, values))} for values in itertools.product(*(axes[n] for n in names))]


def _tracker(tracking: "bool | Tracker | None", path: Path, experiment: str | None,
             key_fields: dict[str, Any]) -> "Tracker | None":
    if not tracking:
        return None
    from labkit.tracking import Tracker  # MLflow is imported only when tracking is on
    if isinstance(tracking, Tracker):
        return tracking
    from labkit.sysinfo import fingerprint, fingerprint_id

    machine = fingerprint()
    lab = key_fields.get("lab") or path.parent.name
    return Tracker(experiment or f"labkit/{lab}", path,
                   tags={"fingerprint_id": fingerprint_id(machine), "fingerprint": json.dumps(machine, default=str)})


def _done_rows(path: Path, keys: set[str], config_names: set[str]) -> dict[str, tuple[dict, dict]]:
    """Return run_key -> (params, metrics) of the rows of ``keys`` already in the results file."""
    frame = read_results(path)
    if frame.empty:
        return {}
    done = {}
    for row in frame[frame[KEY_COLUMN].isin(keys)].to_dict("records"):
        params = {k: v for k, v in row.items() if k in config_names}
        metrics = {k: v for k, v in row.items() if k not in config_names and k not in (KEY_COLUMN, SWEEP_COLUMN)}
        done[row[KEY_COLUMN]] = (params, metrics)
    return done


def run_sweep(configs: Iterable[dict[str, Any]], trial: Callable[[dict[str, Any]], dict[str, Any]],
              path: str | Path, *, key_fields: dict[str, Any] | None = None, sweep: str = "sweep",
              tracking: "bool | Tracker | None" = False, experiment: str | None = None,
              progress: bool = True, executor: "str | Executor | None" = None) -> pd.DataFrame:
    """Call ``trial(config)`` for each config not yet in the results file at ``path``; append each row at once.

    ``key_fields`` (the fixed setup: epochs, seed, device, machine) join each config in its key and row; a file
    holding ``sweep`` rows of another setup is refused (:class:`labkit.results.IncompatibleResultsError`).
    A trial returns its metrics, optionally with ``history``/``checks`` tables (sent to MLflow only).
    ``tracking`` mirrors every trial as an MLflow run (True: the default store, see :mod:`labkit.tracking`).
    ``executor``: ``"local"`` (default), ``"ray"`` or a :class:`labkit.executors.Executor`; under Ray, trials
    that fail for good are recorded as failed MLflow runs, the others still land, and then an error lists them.
    Return the file's rows for ``configs``, in their order.
    """
    executor = as_executor(executor)
    path = Path(path)
    hold(path.parent)  # one writer per results folder: a second run stops here, naming this one
    configs = list(configs)
    key_fields = dict(key_fields or {})
    check_compatible(path, key_fields, sweep=sweep)
    keys = [config_key({**config, **key_fields}) for config in configs]
    unique = dict.fromkeys(keys)
    done = set(read_results(path).get(KEY_COLUMN, pd.Series(dtype=str)).dropna())
    pending, queued = [], set()
    for config, key in zip(configs, keys):
        if key not in done and key not in queued:
            pending.append((config, key))
            queued.add(key)
    tracker = _tracker(tracking, path, experiment, key_fields)
    if tracker is not None:
        names = {name for config in configs for name in config} | set(key_fields)
        tracker.reconcile(_done_rows(path, set(unique), names), sweep=sweep)
    skipped = len(unique) - len(pending)
    label = f"{sweep} ({skipped} of {len(unique)} done before)" if skipped else sweep
    finished = outcomes(pending, trial, executor)  # in the order trials finish
    todo = progress_bar(finished, total=len(pending), desc=label) if progress else finished
    failures = []
    for config, key, outcome in todo:
        params = {**config, **key_fields}
        run_id = tracker.start(key, params, sweep=sweep) if tracker is not None else None
        try:
            metrics = dict(outcome())  # local: the trial runs now; Ray: its result (or failure) is fetched
            tables = {name: metrics.pop(name) for name in TABLE_ENTRIES if name in metrics}
            for name, table in tables.items():
                _write_table(table_path(path, key, name), table)
            if tracker is not None:
                tracker.log(run_id, metrics, tables.get("history"), tables.get("checks"))
            append_result(path, {**params, **metrics, SWEEP_COLUMN: sweep, KEY_COLUMN: key})
        except TrialFailed as failure:
            if tracker is not None:
                tracker.fail(run_id, failure.reason)
            failures.append(f"{config}: {failure.reason}")
            continue
        except BaseException as error:
            if tracker is not None:
                tracker.fail(run_id, "interrupted" if isinstance(error, KeyboardInterrupt) else repr(error))
            raise
        if tracker is not None:
            tracker.finish(run_id)
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(pending)} trial(s) of sweep {sweep!r} failed (a trial whose "
                           f"worker died was retried first; failed ones are not recorded: run the sweep again to "
                           f"retry them):\n" + "\n".join(failures))

    frame = read_results(path)
    if frame.empty:
        return frame
    order = {key: position for position, key in enumerate(unique)}
    frame = frame[frame[KEY_COLUMN].isin(order)].drop_duplicates(KEY_COLUMN, keep="last")
    return frame.sort_values(KEY_COLUMN, key=lambda column: column.map(order)).reset_index(drop=True)


def summary(runs: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Return the sweep rows with the ``columns`` worth reading (those present), in that order."""
    return runs[[c for c in columns if c in runs.columns]].reset_index(drop=True)


def best_tradeoff(runs: pd.DataFrame, *, cost: str = "flops", accuracy: str = "test_acc",
                  tolerance: float = 0.01) -> pd.Series:
    """Return the cheapest run whose accuracy is within ``tolerance`` (a fraction) of the best one.

    That run always lies on the cost/accuracy Pareto front: nothing cheaper is as accurate.
    """
    good = runs[runs[accuracy] >= runs[accuracy].max() - tolerance]
    return good.sort_values([cost, accuracy], ascending=[True, False]).iloc[0]


def run_one(config: dict[str, Any], trial: Callable[[dict[str, Any]], dict[str, Any]], path: str | Path, *,
            key_fields: dict[str, Any] | None = None, sweep: str = "sweep",
            tracking: "bool | Tracker | None" = False) -> pd.Series:
    """Run one resumable step: ``trial(config)`` unless its row is already recorded at ``path``; return the row.
    For loops whose next config depends on the last row (Lab 4's pruning steps); see :func:`run_sweep`."""
    return run_sweep([config], trial, path, key_fields=key_fields, sweep=sweep, tracking=tracking,
                     progress=False).iloc[0]
