"""The ``labkit`` command: ``labkit run [NOTEBOOK ...] [--smoke] [-p NAME VALUE ...]``.

Executes lab notebooks headlessly with papermill into ``reports/<lab>/``: the executed
notebook beside the results file and the figures the notebook saved.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import yaml

from labkit.results import project_root, reports_dir


def notebooks_dir() -> Path:
    """Return the folder holding the lab notebooks (the repo's ``notebooks/``)."""
    for root in (project_root(), Path(__file__).resolve().parent.parent):
        if root is not None and (root / "notebooks").is_dir():
            return root / "notebooks"
    raise FileNotFoundError("no notebooks/ folder found: run labkit from inside the labkit-labs checkout")


def available_notebooks() -> list[Path]:
    """Return every lab notebook, in lab order."""
    return sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def find_notebook(name: str) -> Path:
    """Return the notebook for ``name``: a path, a lab name (``01_mlp_sweeps``) or its number (``01``)."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.is_file():
        return path.resolve()
    stem = path.stem if path.suffix == ".ipynb" else name
    matches = [nb for nb in available_notebooks() if nb.stem == stem or nb.stem.split("_")[0] == stem]
    if len(matches) != 1:
        known = ", ".join(nb.stem for nb in available_notebooks())
        raise SystemExit(f"labkit run: no notebook called {name!r}; choose from: {known}")
    return matches[0]


def parse_value(text: str) -> Any:
    """Parse a ``-p`` value the way papermill does (YAML): ``2`` -> int, ``[1, 2]`` -> list, ``mnist`` -> str."""
    return yaml.safe_load(text)


def run_notebook(notebook: Path, parameters: dict[str, Any], *, kernel: str | None = None) -> Path:
    """Execute ``notebook`` with papermill into ``reports/<lab>/<lab>.ipynb``; return that path."""
    import papermill

    lab = notebook.stem
    output = reports_dir(lab) / f"{lab}.ipynb"
    print(f"labkit run: {lab} -> {output}")
    papermill.execute_notebook(str(notebook), str(output), parameters=parameters, cwd=str(notebook.parent),
                               kernel_name=kernel, progress_bar=sys.stderr.isatty(), log_output=False)
    written = sorted(p for p in output.parent.rglob("*") if p.is_file())
    for path in written:
        print(f"  wrote {path}")
    return output


def clean_notebook(notebook: Path, executed: Path | None = None) -> int:
    """Strip outputs from ``notebook`` for committing; cells marked ``NBVAL_CHECK_OUTPUT`` take their
    output from ``executed`` (same source), since nbval compares against it. Return cells kept."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    checked = {}
    if executed is not None:
        checked = {c.source: c for c in nbformat.read(executed, as_version=4).cells
                   if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in c.source}
    kept = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        reference = checked.get(cell.source) if "NBVAL_CHECK_OUTPUT" in cell.source else None
        # nbval treats a cell with outputs but no execution count as an error ("unrun reference cell").
        cell.outputs = reference.outputs if reference is not None else []
        cell.execution_count = reference.execution_count if reference is not None else None
        kept += bool(cell.outputs)
    nbformat.write(nb, notebook)
    return kept


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description="Run the labkit lab notebooks headlessly.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute lab notebooks with papermill into reports/<lab>/")
    run.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                     help="lab name (01_mlp_sweeps), number (01) or path; none: every lab")
    run.add_argument("--smoke", action="store_true", help="tiny data, epochs and grids (under a minute per lab, for CI)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="set a notebook parameter, e.g. -p epochs 1 -p depths '[1, 2]'")
    run.add_argument("--data-dir", help="dataset folder (torchvision layout); sets LABKIT_DATA_DIR")
    run.add_argument("--reports-dir", help="where reports/<lab>/ folders go; sets LABKIT_REPORTS_DIR")
    run.add_argument("--kernel", help="Jupyter kernel name (default: the notebook's own)")
    commands.add_parser("list", help="list the lab notebooks")
    clean = commands.add_parser("clean", help="strip a notebook's outputs before committing it")
    clean.add_argument("notebook", metavar="NOTEBOOK")
    clean.add_argument("--checked-from", metavar="EXECUTED",
                       help="executed copy whose NBVAL_CHECK_OUTPUT cell outputs are kept for nbval")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "list":
        for nb in available_notebooks():
            print(nb.stem)
        return 0
    if args.command == "clean":
        executed = Path(args.checked_from) if args.checked_from else None
        kept = clean_notebook(find_notebook(args.notebook), executed)
        print(f"labkit clean: {args.notebook}: outputs stripped, {kept} checked cell output(s) kept")
        return 0
    # The kernel inherits these: paths resolved once here, progress bars as plain text.
    if args.data_dir:
        os.environ["LABKIT_DATA_DIR"] = str(Path(args.data_dir).resolve())
    if args.reports_dir:
        os.environ["LABKIT_REPORTS_DIR"] = str(Path(args.reports_dir).resolve())
    os.environ.setdefault("LABKIT_PROGRESS", "text")
    parameters = {name: parse_value(value) for name, value in args.parameter}
    if args.smoke:
        parameters["smoke"] = True
    notebooks = [find_notebook(n) for n in args.notebooks] or available_notebooks()
    failed = []
    for notebook in notebooks:
        try:
            run_notebook(notebook, parameters, kernel=args.kernel)
        except KeyboardInterrupt:
            print(f"labkit run: {notebook.stem} interrupted. Finished sweep runs are kept in its results.csv; "
                  "run the same command again to resume where it stopped.", file=sys.stderr)
            return 130
        except Exception as error:  # papermill raises PapermillExecutionError with the cell's traceback
            print(f"labkit run: {notebook.stem} failed: {error}", file=sys.stderr)
            failed.append(notebook.stem)
    if failed:
        print(f"labkit run: {len(failed)} of {len(notebooks)} notebook(s) failed: {', '.join(failed)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
