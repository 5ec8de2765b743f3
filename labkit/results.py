"""The tidy results file: one CSV row per run, every knob and metric a column.

Rows are appended one run at a time and every write is atomic (a temp file in the same
folder, then ``os.replace``), so an interrupted sweep leaves a whole file behind and
:func:`labkit.sweep.run_sweep` picks up where it stopped without repeating finished runs.
"""

from __future__ import annotations

import csv
import hashlib
import io
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


class DamagedResultsError(ValueError):
    """The results file exists but cannot be read as one (cut short, edited by hand, not text)."""


def _damaged(path: Path, line: int, problem: str) -> DamagedResultsError:
    """The error naming ``path``, its bad ``line`` and ``problem``, and the way on."""
    tables = path.parent / "tables"
    return DamagedResultsError(
        f"{path} cannot be read: line {line} {problem}. It was left as it is. Move it aside (rename it, e.g. to "
        f"{path.name}.damaged) and run again: a new {path.name} is started and the runs it held are run again "
        f"(their per-run tables under {tables} are intact); or mend line {line} by hand if you know what it held.")


_CSV_PROBLEMS = {"unexpected end of data": "opens a quoted field that never closes (the file ends inside it)"}


def _parse(path: Path) -> tuple[list[str], list[list[str]]]:
    """Return (header, rows) of the CSV at ``path``, checked strictly; raise :class:`DamagedResultsError` naming
    the first line that is not whole (an open quote, binary bytes, a row of another width than the header)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _damaged(path, data[:error.start].count(b"\n") + 1, "is not UTF-8 text (binary data?)") from None
    if "\0" in text:
        raise _damaged(path, text[:text.index("\0")].count("\n") + 1, "holds NUL bytes (binary data, not text)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] = []
    rows: list[list[str]] = []
    start = 1  # the line the record being read starts on (a quoted field may span lines)
    try:
        header = next(reader, [])
        while True:
            start = reader.line_num + 1
            record = next(reader, None)
            if record is None:
                break
            if record and len(record) != len(header):  # [] is a blank line
                raise _damaged(path, start, f"has {len(record)} field(s) where the header on line 1 has {len(header)}")
            if record:
                rows.append(record)
    except csv.Error as error:
        problem = _CSV_PROBLEMS.get(str(error), f"cannot be parsed as CSV ({error})")
        raise _damaged(path, start, problem) from None
    return header, rows


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Return (header, rows as raw strings) of a results CSV; empty when the file is missing."""
    if not path.exists():
        return [], []
    header, rows = _parse(path)
    return header, [dict(zip(header, row)) for row in rows]


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
    if header and KEY_COLUMN in row and KEY_COLUMN not in header:
        raise _damaged(path, 1, f"is not the header of a results file (no {KEY_COLUMN} column)")
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
    header, _ = _parse(path)  # a damaged file stops here, named, instead of in pandas' parser
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
