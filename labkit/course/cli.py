"""The ``labkit`` command: ``labkit run [NOTEBOOK ...] [--smoke] [-p NAME VALUE ...] [--report]``.

Executes lab notebooks headlessly with papermill into ``reports/<lab>/``: the executed
notebook beside the results file and the figures the notebook saved; ``labkit report`` (or
``run --report``) turns them into PDF. Output that is not a terminal gets one line per finished
cell (elapsed time and section), so a long headless run is never silent.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import yaml

from labkit import writer_lock
from labkit.course import report
from labkit.paths import project_root, reports_dir


def notebooks_dir() -> Path:
    """Return the folder holding the lab notebooks (the repo's ``notebooks/``)."""
    for root in (project_root(), Path(__file__).resolve().parents[2]):
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
        raise SystemExit(f"labkit: no lab called {name!r}; choose from: {known} (or their numbers, 01 to "
                         f"{available_notebooks()[-1].stem[:2]})")
    return matches[0]


def parse_value(text: str) -> Any:
    """Parse a ``-p`` value the way papermill does (YAML): ``2`` -> int, ``[1, 2]`` -> list, ``mnist`` -> str."""
    return yaml.safe_load(text)


def check_parameters(notebook: Path, parameters: dict[str, Any]) -> None:
    """Stop, naming the known ones, if a parameter is not in ``notebook``'s parameters cell
    (papermill itself only warns, and the run goes on with the default)."""
    import papermill

    known = list(papermill.inspect_notebook(str(notebook)))
    unknown = [name for name in parameters if name not in known]
    if unknown:
        hints = [f"{name!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(name, known, 1))
                 else repr(name) for name in unknown]
        raise SystemExit(f"labkit run: {notebook.stem} has no parameter {', '.join(hints)}; "
                         f"its parameters are: {', '.join(known)}")


def datasets_read(notebooks: Sequence[Path], parameters: dict[str, Any]) -> dict[str, list[str]]:
    """Dataset -> the labs that will read it: ``-p dataset``, else ``$LABKIT_DATASET``, else the notebook's default."""
    import papermill

    from labkit.data import chosen_dataset, dataset_name

    read: dict[str, list[str]] = {}
    for notebook in notebooks:
        known = papermill.inspect_notebook(str(notebook))
        if "dataset" not in known:
            continue
        dataset = parameters.get("dataset") or chosen_dataset(parse_value(known["dataset"]["default"]))
        read.setdefault(dataset_name(dataset), []).append(notebook.stem)
    return read


def check_data(notebooks: Sequence[Path], parameters: dict[str, Any]) -> None:
    """Stop before the first lab when a dataset some lab reads is neither on disk nor downloadable (or is damaged)."""
    from labkit.data import DamagedDatasetError, DatasetNotFoundError, check_available
    for dataset, labs in datasets_read(notebooks, parameters).items():
        try:
            check_available(dataset)
        except DatasetNotFoundError as missing:
            other = "mnist" if dataset == "fashion_mnist" else "fashion_mnist"
            raise SystemExit(f"labkit run: {', '.join(labs)} read {dataset}, which is not here. {missing}\n"
                             f"Or run with --data-dir DIR (a folder holding it), or with --dataset {other} "
                             f"to run every lab on {other}.") from None
        except DamagedDatasetError as damaged:
            raise SystemExit(f"labkit run: {', '.join(labs)} read {dataset}: {damaged}") from None


def section_headings(cells: list[Any]) -> list[str]:
    """For each cell, the last Markdown heading at or above it ('' before the first)."""
    heading, headings = "", []
    for cell in cells:
        if cell.cell_type == "markdown":
            lines = [line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("#")]
            heading = lines[0] if lines else heading
        headings.append(heading)
    return headings


class CellLog:
    """papermill/nbclient hooks that print one line per finished code cell: elapsed time, count, section."""

    def __init__(self, lab: str, stream: Any = None) -> None:
        self.lab, self.stream = lab, stream if stream is not None else sys.stdout
        self.start = time.monotonic()
        self.headings: list[str] = []
        self.total = self.done = 0

    def on_notebook_start(self, notebook: Any, **_: Any) -> None:
        self.headings = section_headings(notebook.cells)
        self.total = sum(1 for c in notebook.cells if c.cell_type == "code" and c.source.strip())

    def on_cell_executed(self, cell_index: int, **_: Any) -> None:
        self.done += 1
        minutes, seconds = divmod(int(time.monotonic() - self.start), 60)
        heading = self.headings[cell_index] if cell_index < len(self.headings) else ""
        heading = heading if len(heading) <= 60 else heading[:57] + "..."
        print(f"  [{minutes:3d}:{seconds:02d}] {self.lab} cell {self.done}/{self.total}  {heading}",
              file=self.stream, flush=True)


def run_notebook(notebook: Path, parameters: dict[str, Any], *, kernel: str | None = None) -> Path:
    """Execute ``notebook`` with papermill into ``reports/<lab>/<lab>.ipynb``; return that path.
    Figures are kept as PNG and vector PDF (for ``labkit report``)."""
    import papermill

    lab = notebook.stem
    output = reports_dir(lab) / f"{lab}.ipynb"
    print(f"labkit run: {lab} -> {output}", flush=True)
    on_terminal = sys.stdout.isatty()
    hooks: dict[str, Any] = {}
    if not on_terminal:  # a log file or CI: one line per cell instead of a progress bar
        log = CellLog(lab)
        hooks = {"on_notebook_start": log.on_notebook_start, "on_cell_executed": log.on_cell_executed}
    with writer_lock.writing(output.parent):  # the lab folder is this run's (and its kernel's) until it ends
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters, cwd=str(notebook.parent),
                                   kernel_name=kernel, progress_bar=on_terminal, log_output=False,
                                   extra_arguments=list(report.PRINT_FIGURES_KERNEL_ARGS), **hooks)
    written = sorted(p for p in output.parent.rglob("*") if p.is_file() and not p.name.startswith("."))
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


def export_reports(labs: Sequence[str], *, hide_code: bool = False, html: bool = False) -> int:
    """``labkit report``: export the named labs (default: every lab with an executed notebook)."""
    names = [find_notebook(lab).stem for lab in labs]
    if not names:
        names = [nb.stem for nb in available_notebooks()
                 if (reports_dir(nb.stem, create=False) / f"{nb.stem}.ipynb").is_file()]
        if not names:
            raise SystemExit(f"labkit report: no executed notebooks under {reports_dir('', create=False)}: "
                             "run `labkit run` (or `labkit run --report`) first")
    for lab in names:
        try:
            print(f"labkit report: wrote {report.export(lab, hide_code=hide_code, html=html)}")
        except FileNotFoundError as error:
            raise SystemExit(f"labkit report: {error}") from None
    return 0


def print_budget(parameters: dict[str, Any], *, rounds: int) -> int:
    """Print the price of Lab 2's run with these notebook parameters (:mod:`labkit.labs.cnn.budget`)."""
    from labkit.labs.cnn import params
    from labkit.labs.cnn import budget as run_budget

    try:
        p = params.lab2(**parameters)
        print(run_budget.describe(p, rounds=rounds))
    except ValueError as error:
        raise SystemExit(f"labkit budget: {error}") from None
    return 0


def course_tool(args: argparse.Namespace) -> int:
    """``labkit assign`` and ``labkit grade`` (:mod:`labkit.course.assign`, :mod:`labkit.course.grade`)."""
    from labkit.course import assign, grade

    root = notebooks_dir().parent
    try:
        if args.command == "grade":
            labs = {nb.stem: nb for nb in available_notebooks()}
            mode = "full" if args.full else "run" if args.run else "cells"
            return grade.grade([Path(n) for n in args.notebooks], labs, out=Path(args.out) if args.out else None,
                               mode=mode)
        if args.check:
            problems = assign.check(root)
            for problem in problems:
                print(f"labkit assign --check: {problem}", file=sys.stderr)
            print(f"labkit assign --check: {'FAILED' if problems else 'student/ is up to date'}")
            return 1 if problems else 0
        if args.fill_solutions:
            written = assign.fill_solutions(root, Path(args.fill_solutions))
        else:
            written = assign.assign(root)
    except assign.AssignError as error:
        raise SystemExit(f"labkit assign: {error}") from None
    for path in written:
        print(f"labkit assign: wrote {path}")
    return 0


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
    run.add_argument("--dataset", help="dataset of every lab that reads one: fashion_mnist (the labs' default from "
                     "Lab 2 on) or mnist; sets LABKIT_DATASET")
    run.add_argument("--reports-dir", help="where reports/<lab>/ folders go; sets LABKIT_REPORTS_DIR")
    run.add_argument("--kernel", help="Jupyter kernel name (default: the notebook's own)")
    run.add_argument("--report", action="store_true", help="then export each executed notebook to PDF")
    report = commands.add_parser("report", help="export executed notebooks under reports/ to PDF (HTML without TeX)")
    report.add_argument("labs", nargs="*", metavar="LAB",
                        help="lab name or number; none: every lab that has an executed notebook")
    report.add_argument("--reports-dir", help="where reports/<lab>/ folders are; sets LABKIT_REPORTS_DIR")
    for command in (run, report):
        command.add_argument("--hide-code", action="store_true", help="leave the code cells out (for a hand-in)")
        command.add_argument("--html", action="store_true", help="write HTML instead of PDF")
    budget = commands.add_parser("budget", help="price Lab 2's run on this machine before starting it")
    budget.add_argument("--smoke", action="store_true", help="price the smoke run")
    budget.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a Lab 2 notebook parameter, as for run")
    budget.add_argument("--rounds", type=int, default=3, help="times each distinct step is timed (default 3)")
    commands.add_parser("list", help="list the lab notebooks")
    clean = commands.add_parser("clean", help="strip a notebook's outputs before committing it")
    clean.add_argument("notebook", metavar="NOTEBOOK")
    clean.add_argument("--checked-from", metavar="EXECUTED",
                       help="executed copy whose NBVAL_CHECK_OUTPUT cell outputs are kept for nbval")
    assign_ = commands.add_parser("assign", help="write the student notebooks (student/) from the solved labs")
    assign_.add_argument("--check", action="store_true", help="fail when student/ is not what assign would write")
    assign_.add_argument("--fill-solutions", metavar="DIR", help="write the student notebooks with the solutions "
                         "pasted back into DIR (a hand-in that should grade at full points)")
    grade = commands.add_parser("grade", help="grade filled-in student notebooks (exercise checks; answers listed)")
    grade.add_argument("notebooks", nargs="+", metavar="NOTEBOOK")
    grade.add_argument("--out", metavar="CSV", help="write one row per notebook and exercise")
    how = grade.add_mutually_exclusive_group()
    how.add_argument("--run", action="store_true", help="first execute each whole notebook in smoke mode")
    how.add_argument("--full", action="store_true", help="first execute each whole notebook at the real scale")
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
    if args.command in ("assign", "grade"):
        return course_tool(args)
    if args.command == "budget":
        parameters = {name: parse_value(value) for name, value in args.parameter}
        return print_budget({**parameters, "smoke": True} if args.smoke else parameters, rounds=args.rounds)
    if args.reports_dir:
        os.environ["LABKIT_REPORTS_DIR"] = str(Path(args.reports_dir).resolve())
    if args.command == "report":
        return export_reports(args.labs, hide_code=args.hide_code, html=args.html)
    # The kernel inherits these: paths resolved once here, progress bars as plain text.
    if args.data_dir:
        os.environ["LABKIT_DATA_DIR"] = str(Path(args.data_dir).resolve())
    os.environ.setdefault("LABKIT_PROGRESS", "text")
    parameters = {name: parse_value(value) for name, value in args.parameter}
    if args.smoke:
        parameters["smoke"] = True
    if args.dataset:
        from labkit.data import DATASET_ENV, dataset_name

        if "dataset" in parameters:
            raise SystemExit("labkit run: give the dataset once: --dataset (every lab) or -p dataset (these labs)")
        os.environ[DATASET_ENV] = dataset_name(args.dataset)
    notebooks = [find_notebook(n) for n in args.notebooks] or available_notebooks()
    for notebook in notebooks:  # every name checked before anything runs
        check_parameters(notebook, parameters)
    check_data(notebooks, parameters)
    failed = []
    for notebook in notebooks:
        try:
            run_notebook(notebook, parameters, kernel=args.kernel)
            if args.report:
                print(f"labkit run: wrote {report.export(notebook.stem, hide_code=args.hide_code, html=args.html)}")
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
