"""Progress bars that stay readable everywhere.

Live Jupyter gets tqdm's widget; a headless run (``labkit run``, papermill, nbconvert, nbval,
a terminal, or ``LABKIT_PROGRESS=text``) gets plain text that nbconvert collapses to the final
line, never a frozen "0%" widget snapshot in the executed notebook. A kernel tells a headless
run by its parent process: the runner that started it.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterable, TypeVar

from tqdm import std as tqdm_std

T = TypeVar("T")

MODES = ("auto", "widget", "text", "off")
# Programs that execute notebooks without a person watching (argv names, with or without a path or -m).
HEADLESS_RUNNERS = ("papermill", "nbconvert", "jupyter-nbconvert", "jupyter-execute", "nbclient",
                    "pytest", "py.test")


def progress_mode() -> str:
    """Return the progress style: ``LABKIT_PROGRESS`` if set, else widget in Jupyter, text elsewhere."""
    mode = os.environ.get("LABKIT_PROGRESS", "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"LABKIT_PROGRESS={mode!r} is not one of {MODES}")
    if mode != "auto":
        return mode
    return "widget" if _in_jupyter_kernel() and not _started_by_headless_runner() else "text"


def is_headless_command(argv: list[str]) -> bool:
    """True if ``argv`` (a command line, split) runs one of :data:`HEADLESS_RUNNERS`."""
    names = {Path(arg).name.removesuffix(".py").removesuffix("-script") for arg in argv}
    return any(runner in names for runner in HEADLESS_RUNNERS)


@functools.lru_cache(maxsize=1)
def _started_by_headless_runner() -> bool:
    """True when this process's parent (the kernel's launcher) is a headless notebook runner."""
    parent = os.getppid()
    try:
        argv = Path(f"/proc/{parent}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:  # no /proc (macOS, Windows): ask ps
        try:
            argv = subprocess.run(["ps", "-o", "command=", "-p", str(parent)], capture_output=True,
                                  text=True, timeout=5).stdout.split()
        except (OSError, subprocess.SubprocessError):
            return False
    return is_headless_command(argv)


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
