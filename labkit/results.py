"""The tidy results file: one CSV row per run, every knob and metric a column.

Rows are appended one run at a time and every write is atomic (a temp file in the same
folder, then ``os.replace``), so an interrupted sweep leaves a whole file behind and
:func:`labkit.sweep.run_sweep` picks up where it stopped without repeating finished runs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

KEY_COLUMN = "run_key"  # the column holding config_key() of each row's knobs


def _json_default(value: Any) -> Any:
    """Make numpy scalars hash like the Python numbers they hold; anything else by its str()."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return str(value)


def config_key(config: dict[str, Any]) -> str:
    """Return a 16-hex-digit hash of ``config``: the same knobs, in any order, give the same key."""
    text = json.dumps(config, sort_keys=True, default=_json_default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Return (header, rows as raw strings) of a results CSV; empty when the file is missing."""
    if not path.exists():
        return [], []
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames or []), list(reader)


def _default_file_mode() -> int:
    """The mode a plain ``open()`` would give a new file under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def append_result(path: str | Path, row: dict[str, Any]) -> None:
    """Append one run's ``row`` to the CSV at ``path``; new columns widen the file (old rows left blank).

    The whole file is rewritten to a temp file and swapped in with ``os.replace``: never half-written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header, rows = _read_rows(path)
    header += [column for column in row if column not in header]
    rows.append({column: "" if value is None else value for column, value in row.items()})
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=header, restval="")
            writer.writeheader()
            writer.writerows(rows)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp_name, _default_file_mode())  # mkstemp makes 0600; a results file is shared like any other
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _read_csv(path: str | Path, key_column: str = KEY_COLUMN) -> pd.DataFrame:
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame()
    header = pd.read_csv(path, nrows=0).columns
    # Keys are hex strings: keep them as text even when one happens to look like a number.
    return pd.read_csv(path, dtype={key_column: str} if key_column in header else None)


def read_results(path: str | Path) -> pd.DataFrame:
    """Return the results file at ``path`` as a DataFrame (one row per run); empty if there is no file."""
    return _read_csv(path)


def completed_keys(path: str | Path, key_column: str = KEY_COLUMN) -> set[str]:
    """Return the run keys already recorded in the results file at ``path``."""
    frame = _read_csv(path, key_column)
    if key_column not in frame.columns:
        return set()
    return set(frame[key_column].dropna())


class IncompatibleResultsError(ValueError):
    """The results file holds rows of another lab, or of the same sweep run with another setup."""


def _same(recorded: str, value: Any) -> bool:
    """True if a CSV cell (text) holds ``value`` as written by :func:`append_result`."""
    if value is None:
        return recorded == ""
    if recorded == str(value):
        return True
    try:
        return float(recorded) == float(value)
    except (TypeError, ValueError):
        return False


def check_compatible(path: str | Path, key_fields: dict[str, Any], *, sweep: str,
                     sweep_column: str = "sweep") -> None:
    """Raise :class:`IncompatibleResultsError` if ``path`` holds rows of another ``lab`` (when key_fields has
    one), or rows of ``sweep`` whose setup differs from ``key_fields``; the message names each differing field."""
    path = Path(path)
    header, rows = _read_rows(path)
    if not rows:
        return
    lab = key_fields.get("lab")
    if lab is not None and "lab" in header:
        others = sorted({row["lab"] for row in rows if row.get("lab") and row["lab"] != lab})
        if others:
            raise IncompatibleResultsError(
                f"{path} holds results of lab {others[0]!r}, not {lab!r}: give each lab its own "
                "reports folder (reports_dir / --reports-dir) instead of mixing their rows")
    same_sweep = [row for row in rows if row.get(sweep_column) == sweep]
    differing: dict[str, tuple[str, Any]] = {}
    for name, value in key_fields.items():
        if name not in header:
            continue
        for row in same_sweep:
            if not _same(row.get(name, ""), value):
                differing[name] = (row.get(name, ""), value)
                break
    if differing:
        listed = "; ".join(f"{name}: file {old or 'blank'!s}, this run {new}" for name, (old, new) in differing.items())
        raise IncompatibleResultsError(
            f"{path} already holds '{sweep}' runs with another setup ({listed}). Mixing them would compare "
            "unlike runs: delete that file (or its folder) to start over, or point reports_dir / --reports-dir "
            "at a new folder.")
