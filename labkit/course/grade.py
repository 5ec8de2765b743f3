"""``labkit grade NOTEBOOK... [--out grades.csv] [--run | --full]``: grade filled-in student notebooks offline.

By default a notebook is graded in seconds: a kernel runs only the lab's parameters and import cells (taken from
the solved lab, smoke mode), then each of the student's exercise cells followed by the lab's own check cell, and
goes on past a failing exercise. ``--run`` first executes the whole student notebook in smoke mode (the lab's own
use of the student's functions), ``--full`` at the real scale; the check lines then come from that run. Answer
cells are listed apart for marking by hand: never scored here. Grading runs the students' code: grade a class on
a throwaway machine or in a container.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from labkit.checking import LINE
from labkit.course import assign

CSV_COLUMNS = ["notebook", "lab", "kind", "exercise", "points", "earned", "message"]
CELL_TIMEOUT_S = 600


class GradeError(ValueError):
    """A file that cannot be graded (not a notebook, or not one of the labs)."""


@dataclass(frozen=True)
class Row:
    """One graded exercise (``kind`` "exercise": earned points) or answer cell (``kind`` "answer": earned None)."""

    notebook: str
    lab: str
    kind: str
    exercise: str
    points: int
    earned: int | None
    message: str


def identify(path: Path, nb: nbformat.NotebookNode, labs: dict[str, Path]) -> str:
    """Return which lab ``nb`` is: its ``labkit`` metadata (student notebooks), else its file name."""
    name = nb.metadata.get("labkit", {}).get("lab") or path.stem
    if name not in labs:
        known = ", ".join(labs)
        raise GradeError(f"{path}: not one of the labs (its name and metadata say {name!r}; the labs are {known})")
    return name


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook to grade, or raise GradeError saying why not."""
    if not path.is_file():
        raise GradeError(f"{path}: no such file")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise GradeError(f"{path}: not a Jupyter notebook ({type(error).__name__})") from None


@contextlib.contextmanager
def _environment(smoke: bool) -> Iterator[Path]:
    """A scratch folder for the kernel's reports, smoke mode on or off, plain-text progress; restored after."""
    with tempfile.TemporaryDirectory(prefix="labkit-grade-") as scratch:
        values = {"LABKIT_REPORTS_DIR": str(Path(scratch) / "reports"), "LABKIT_PROGRESS": "text",
                  "MPLBACKEND": "Agg", "LABKIT_SMOKE": "1" if smoke else "0"}
        saved = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        try:
            yield Path(scratch)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def execute(nb: nbformat.NotebookNode, cwd: Path, *, smoke: bool = True, timeout: int = CELL_TIMEOUT_S) -> None:
    """Execute ``nb`` in place with one kernel, going on past errors (nbclient)."""
    from nbclient import NotebookClient

    with _environment(smoke):
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(cwd)}}).execute()


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def _error(cell: nbformat.NotebookNode) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {' '.join(str(output.get('evalue', '')).split())}"
    return None


def result_of(exercise: assign.Exercise, exercise_cell: nbformat.NotebookNode | None,
              check_cell: nbformat.NotebookNode | None) -> tuple[int, str]:
    """Return (points earned, message) of one exercise from its executed exercise and check cells."""
    if exercise_cell is None:
        return 0, f"Exercise {exercise.number}: no exercise cell (its header '# EXERCISE {exercise.number} ...' is gone)"
    lines = [m for m in LINE.finditer(_text(check_cell)) if m["exercise"] == exercise.number] if check_cell else []
    if lines:
        line, message = lines[-1], lines[-1].group(0).strip()
        counted = re.search(r"\(\d+/(\d+) points?\)$", message)
        if counted and int(counted[1]) != exercise.points:
            message += f" [the check counts {counted[1]}, the exercise header {exercise.points}: the header counts]"
        return (exercise.points if line["status"] == "passed" else 0), message
    problem = _error(exercise_cell)
    if problem:
        return 0, f"Exercise {exercise.number}: the exercise cell raised {problem}"
    problem = _error(check_cell) if check_cell is not None else None
    return 0, f"Exercise {exercise.number}: the check printed no result" + (f" ({problem})" if problem else "")


def _answered(cell: nbformat.NotebookNode | None) -> str:
    if cell is None:
        return "missing"
    if cell.cell_type == "code":
        return "answered (generated by the solved lab)"
    text = cell.source.strip()
    return "empty" if not text or text == assign.ANSWER_PLACEHOLDER.strip() else "answered"


def answer_cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """The answer cells of a student notebook by number; a solved notebook's are numbered in order."""
    found, count = {}, 0
    for cell in nb.cells:
        if assign.ANSWER_TAG in cell.metadata.get("tags", []):
            count += 1
            number = cell.metadata.get("labkit", {}).get("answer")
            found[str(number) if number else None] = cell
            found.setdefault(f"#{count}", cell)
    return found


def grade_notebook(path: Path, labs: dict[str, Path], *, mode: str = "cells") -> list[Row]:
    """Grade one notebook; ``mode`` "cells" (the exercise and check cells only), "run" (the whole notebook in smoke
    mode first) or "full" (the whole notebook at the real scale)."""
    nb = read_notebook(path)
    name = identify(path, nb, labs)
    solved = nbformat.read(labs[name], as_version=4)
    lab = assign.parse(solved, name)
    cells = {e.number: assign.find_exercise_cell(nb, e.number) for e in lab.exercises}
    rows = []
    with tempfile.TemporaryDirectory(prefix="labkit-grade-run-") as cwd:
        if mode == "cells":
            graded = nbformat.v4.new_notebook(metadata=solved.metadata)
            graded.cells = [copy_cell(solved.cells[lab.parameters_cell]), copy_cell(solved.cells[lab.import_cell])]
            where = {}
            for exercise in lab.exercises:
                index = cells[exercise.number]
                if index is None:
                    continue
                graded.cells += [copy_cell(nb.cells[index]), copy_cell(solved.cells[exercise.check_cell])]
                where[exercise.number] = (len(graded.cells) - 2, len(graded.cells) - 1)
            execute(graded, Path(cwd), smoke=True)
            found = {n: (graded.cells[e], graded.cells[c]) for n, (e, c) in where.items()}
        else:
            run = copy_notebook(nb)
            execute(run, Path(cwd), smoke=mode == "run")
            found = {}
            for number, index in cells.items():
                if index is not None:
                    after = next((j for j in range(index + 1, len(run.cells)) if run.cells[j].cell_type == "code"), None)
                    found[number] = (run.cells[index], run.cells[after] if after is not None else None)
            failing = next(((i, _error(c)) for i, c in enumerate(run.cells) if c.cell_type == "code" and _error(c)), None)
            message = ("the whole notebook ran" if failing is None else
                       f"the whole notebook stopped working at cell {failing[0]}: {failing[1]}")
            rows.append(Row(str(path), name, "run", f"{'smoke' if mode == 'run' else 'full'} run", 0, None, message))
    for exercise in lab.exercises:
        exercise_cell, check_cell = found.get(exercise.number, (None, None))
        earned, message = result_of(exercise, exercise_cell, check_cell)
        rows.append(Row(str(path), name, "exercise", exercise.number, exercise.points, earned, message))
    submitted = answer_cells(nb)
    for k, answer in enumerate(lab.answers, start=1):
        cell = submitted.get(answer.number, submitted.get(f"#{k}"))
        rows.append(Row(str(path), name, "answer", answer.number, answer.points, None,
                        f"{_answered(cell)}: {answer.question}"))
    return rows


def copy_cell(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A fresh copy of a cell, outputs cleared."""
    fresh = nbformat.from_dict(dict(cell))
    if fresh.cell_type == "code":
        fresh.outputs, fresh.execution_count = [], None
    return fresh


def copy_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A fresh copy of a notebook, outputs cleared."""
    fresh = nbformat.from_dict(dict(nb))
    fresh.cells = [copy_cell(c) for c in nb.cells]
    return fresh


def summary(rows: Sequence[Row]) -> str:
    """The printed table of one notebook: each exercise, the total over the auto-graded exercises, then the
    answer cells to mark by hand."""
    exercises = [r for r in rows if r.kind == "exercise"]
    lines = [f"{rows[0].notebook} ({rows[0].lab})"]
    lines += [f"  {r.message}" for r in rows if r.kind == "run"]
    lines += [f"  {r.exercise:>5}  {r.earned}/{r.points}  {r.message}" for r in exercises]
    lines.append(f"  total: {sum(r.earned for r in exercises)} / {sum(r.points for r in exercises)} points")
    answers = [r for r in rows if r.kind == "answer"]
    if answers:
        lines.append("  to mark by hand (not scored):")
        lines += [f"    Question {r.exercise} ({r.points} pt{'s' if r.points != 1 else ''}): {r.message}" for r in answers]
    return "\n".join(lines)


def write_csv(rows: Sequence[Row], out: Path) -> None:
    """One row per notebook and exercise (and answer cell)."""
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for r in rows:
            writer.writerow([r.notebook, r.lab, r.kind, r.exercise, r.points, "" if r.earned is None else r.earned,
                             r.message])


def grade(paths: Sequence[Path], labs: dict[str, Path], *, out: Path | None = None, mode: str = "cells") -> int:
    """``labkit grade``: grade every notebook, print each one's table, write the CSV. Return 0, or 2 when a file
    is not a lab notebook (named on stderr; the others are still graded)."""
    import sys

    rows, bad = [], 0
    for path in paths:
        try:
            graded = grade_notebook(Path(path), labs, mode=mode)
        except (GradeError, assign.AssignError) as error:
            print(f"labkit grade: {error}", file=sys.stderr)
            bad += 1
            continue
        print(summary(graded), flush=True)
        rows += graded
    if out is not None:
        write_csv(rows, out)
        print(f"labkit grade: wrote {out} ({sum(r.kind == 'exercise' for r in rows)} exercise rows)")
    return 2 if bad else 0
