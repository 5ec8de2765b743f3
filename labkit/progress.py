"""Progress bars that stay readable everywhere.

Live Jupyter gets tqdm's widget; a headless run (papermill, nbval, a terminal, or
``LABKIT_PROGRESS=text``) gets plain text that nbconvert collapses to the final line,
never a frozen "0%" widget snapshot in the executed notebook.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, TypeVar

from tqdm import std as tqdm_std

T = TypeVar("T")

MODES = ("auto", "widget", "text", "off")


def progress_mode() -> str:
    """Return the progress style: ``LABKIT_PROGRESS`` if set, else widget in Jupyter, text elsewhere."""
    mode = os.environ.get("LABKIT_PROGRESS", "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"LABKIT_PROGRESS={mode!r} is not one of {MODES}")
    if mode != "auto":
        return mode
    return "widget" if _in_jupyter_kernel() else "text"


def _in_jupyter_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str | None = None,
             leave: bool = True) -> Iterable[T]:
    """Wrap ``iterable`` in a progress bar in the style :func:`progress_mode` picks."""
    mode = progress_mode()
    if mode == "off":
        return tqdm_std.tqdm(iterable, total=total, desc=desc, disable=True)
    if mode == "widget":
        try:
            from tqdm.notebook import tqdm as tqdm_notebook

            return tqdm_notebook(iterable, total=total, desc=desc, leave=leave)
        except ImportError:  # ipywidgets missing: fall back to text
            pass
    # Text: stdout so Jupyter shows it as the cell's output; few refreshes keep saved notebooks small.
    return tqdm_std.tqdm(iterable, total=total, desc=desc, leave=leave, file=sys.stdout,
                         mininterval=2.0, ncols=90, ascii=True)
