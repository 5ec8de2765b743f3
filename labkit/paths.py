"""Where a lab's files live: the project checkout and the reports folder (``reports/<lab>/``)."""

from __future__ import annotations

import os
from pathlib import Path

REPORTS_ENV = "LABKIT_REPORTS_DIR"  # overrides where reports/ lives (e.g. a Drive folder on Colab)


def project_root(start: str | Path | None = None) -> Path | None:
    """Return the first folder at or above ``start`` (default: cwd) holding ``labkit/`` and ``notebooks/``."""
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "labkit").is_dir() and (folder / "notebooks").is_dir():
            return folder
    return None


def reports_dir(lab: str, root: str | Path | None = None, *, create: bool = True) -> Path:
    """Return ``<reports>/<lab>/``, created unless ``create=False``; reports is ``root``, else
    $LABKIT_REPORTS_DIR, else ``<project root>/reports``, else ``./reports``."""
    if root is None:
        root = os.environ.get(REPORTS_ENV) or None
    if root is None:
        project = project_root()
        root = project / "reports" if project is not None else Path("reports")
    folder = Path(root).expanduser() / lab
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder
