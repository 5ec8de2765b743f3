"""Google Colab: the "Open in Colab" badges, the first cell of every notebook, reports on Drive.

The repository URL lives here (:data:`REPO_URL`) and nowhere else by hand: ``python -m labkit.course.colab``
rewrites each notebook's badge and first code cell from it, and a test checks they agree. The first
cell installs labkit from the repository only when ``google.colab`` is imported (a no-op in Jupyter,
papermill and nbval); labkit's loose requirements keep Colab's own CUDA torch.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from labkit.paths import REPORTS_ENV, project_root

REPO_URL = "https://github.com/labkit-labs/labkit-labs"
BRANCH = "main"
DRIVE_FOLDER = "labkit-reports"  # reports/ on Google Drive: MyDrive/labkit-reports/<lab>/
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
_BADGE_PATTERN = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")


def badge(notebook: str, folder: str = "notebooks") -> str:
    """Markdown for the "Open in Colab" badge of ``notebook`` (a file name such as ``01_mlp_sweeps.ipynb``) in
    ``folder`` (``notebooks``: the solved labs; ``student``: the student notebooks ``labkit assign`` writes)."""
    github = REPO_URL.removeprefix("https://github.com/")
    return f"[![Open In Colab]({BADGE_IMAGE})](https://colab.research.google.com/github/{github}/blob/{BRANCH}/{folder}/{notebook})"


def setup_cell(folder: str = "notebooks") -> str:
    """Source of every notebook's first code cell; it works in ``folder`` of the checkout. ``LABKIT_REPO_URL`` and
    ``LABKIT_COLAB_HOME`` exist so a test (or a course fork) can install from another clone."""
    return f'''import os, subprocess, sys

if "google.colab" in sys.modules:  # Colab only (a no-op in Jupyter, papermill and nbval)
    # Fetch the labs, install labkit (Colab's own torch is kept), keep reports/ on Google Drive.
    checkout = os.path.join(os.environ.get("LABKIT_COLAB_HOME", "/content"), "labkit-labs")
    if not os.path.isdir(checkout):
        repo = os.environ.get("LABKIT_REPO_URL", "{REPO_URL}")
        subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "{BRANCH}", repo, checkout], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", checkout], check=True)
    os.chdir(os.path.join(checkout, "{folder}"))
    from labkit.course import colab
    colab.keep_reports_on_drive()'''


def colab_home() -> Path:
    """Where Colab keeps files: ``/content`` (``LABKIT_COLAB_HOME`` overrides it, for tests)."""
    return Path(os.environ.get("LABKIT_COLAB_HOME", "/content"))


def keep_reports_on_drive(folder: str = DRIVE_FOLDER, *, mount_point: str | Path | None = None) -> Path | None:
    """Mount Google Drive (at ``<colab home>/drive``) and point ``LABKIT_REPORTS_DIR`` at
    ``MyDrive/<folder>``, so a disconnect loses no finished sweep run. Return the folder; None (reason
    printed) if Drive stays unmounted or ``LABKIT_REPORTS_DIR`` was already chosen."""
    if os.environ.get(REPORTS_ENV):
        print(f"reports go to {os.environ[REPORTS_ENV]} ({REPORTS_ENV} was already set)")
        return None
    from google.colab import drive

    mount_point = Path(mount_point) if mount_point is not None else colab_home() / "drive"
    try:
        drive.mount(str(mount_point))
    except Exception as error:  # the student declined, or Drive is unavailable
        print(f"Google Drive is not mounted ({error}): reports stay on this Colab machine and a disconnect "
              "loses them. Run this cell again to mount Drive.", file=sys.stderr)
        return None
    target = mount_point / "MyDrive" / folder
    target.mkdir(parents=True, exist_ok=True)
    os.environ[REPORTS_ENV] = str(target)
    print(f"reports go to {target} (Google Drive): finished runs survive a disconnect; rerun a sweep to resume it")
    return target


def sync_notebook(path: Path) -> bool:
    """Rewrite ``path``'s badge and first code cell from :data:`REPO_URL`; return True if it changed."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    intro = next(cell for cell in nb.cells if cell.cell_type == "markdown")
    line = badge(path.name)
    intro.source = _BADGE_PATTERN.sub(line, intro.source) if _BADGE_PATTERN.search(intro.source) \
        else intro.source.rstrip() + "\n\n" + line
    first_code = next(cell for cell in nb.cells if cell.cell_type == "code")
    if "google.colab" in first_code.source:
        first_code.source = setup_cell()
    else:
        nb.cells.insert(nb.cells.index(first_code), nbformat.v4.new_code_cell(setup_cell()))
    if nbformat.writes(nb) == before:
        return False
    nbformat.write(nb, path)
    return True


def main() -> int:
    root = project_root() or project_root(Path(__file__))
    if root is None:
        raise SystemExit("no notebooks/ folder found: run from inside the labkit-labs checkout")
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        print(f"{path.name}: {'updated' if sync_notebook(path) else 'already in sync'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
