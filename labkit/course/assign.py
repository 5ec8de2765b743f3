"""``labkit assign``: the student notebooks, written from the solved labs.

The solved notebooks (``notebooks/``) are the single source. An exercise is a code cell that starts with a
header comment ``# EXERCISE 4.2 (2 points): title`` and holds nbgrader's ``### BEGIN SOLUTION`` /
``### END SOLUTION`` around the lines a student writes; the next code cell is its check (``checks.<name>(...)``).
An answer cell (a generated answer to an explain / report question) carries the cell tag ``answer`` and
``metadata.labkit = {"points": 2, "question": "..."}``. ``labkit assign`` writes ``student/NN_<lab>.ipynb``: each
solution block replaced by ``raise NotImplementedError``, each answer cell by the question and an empty
Markdown cell to answer in, outputs cleared, the Colab badge and first cell pointing at ``student/``.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from labkit.course import colab

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HEADER = re.compile(r"#\s*EXERCISE\b(?P<rest>.*)")
HEADER_FULL = re.compile(r"#\s*EXERCISE\s+(?P<number>\d+\.\d+)\s+\((?P<points>\d+)\s+points?\)\s*:\s*(?P<title>\S.*)")
ANSWER_TAG, QUESTION_TAG = "answer", "question"
ANSWER_PLACEHOLDER = "*Your answer here.*"
STUDENT_DIR = "student"


class AssignError(ValueError):
    """A solved notebook whose exercise or answer markers are malformed; the message names notebook and cell."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of a solved notebook: its number (``4.2``), points, title, the cell and its check cell."""

    number: str
    points: int
    title: str
    cell: int
    check_cell: int
    solution: tuple[str, ...]  # the lines between the markers


@dataclass(frozen=True)
class Answer:
    """One answer cell: its number (``4.1``), points, the question, the cell."""

    number: str
    points: int
    question: str
    cell: int


@dataclass(frozen=True)
class Lab:
    """What the tools need to know of one solved lab notebook."""

    name: str
    exercises: tuple[Exercise, ...]
    answers: tuple[Answer, ...]
    parameters_cell: int
    import_cell: int

    @property
    def points(self) -> int:
        return sum(e.points for e in self.exercises)


def lab_number(name: str) -> int:
    """The lab's number from its notebook name: ``04_pruning`` -> 4."""
    return int(name.split("_")[0])


def _solution_blocks(source: str, where: str) -> list[tuple[int, int]]:
    """Return (begin, end) line indices of each solution block; raise AssignError on a marker out of place."""
    blocks, begin = [], None
    for i, line in enumerate(source.splitlines()):
        if line.strip() == BEGIN:
            if begin is not None:
                raise AssignError(f"{where}: line {i + 1}: {BEGIN} inside the block opened on line {begin + 1}")
            begin = i
        elif line.strip() == END:
            if begin is None:
                raise AssignError(f"{where}: line {i + 1}: {END} without a {BEGIN} before it")
            blocks.append((begin, i))
            begin = None
    if begin is not None:
        raise AssignError(f"{where}: line {begin + 1}: {BEGIN} without its {END}")
    return blocks


def _header(source: str, where: str, lab: int) -> re.Match | None:
    first = source.lstrip().splitlines()[0] if source.strip() else ""
    if not HEADER.match(first):
        return None
    match = HEADER_FULL.fullmatch(first.strip())
    if match is None:
        raise AssignError(f"{where}: exercise header {first.strip()!r} must read "
                          "'# EXERCISE <lab>.<n> (<points> point(s)): <title>', e.g. '# EXERCISE 4.2 (2 points): "
                          "the FLOPs of a pruned CNN' (an exercise without points cannot be graded)")
    if int(match["number"].split(".")[0]) != lab:
        raise AssignError(f"{where}: exercise {match['number']} is numbered for another lab (this is Lab {lab})")
    if int(match["points"]) < 1:
        raise AssignError(f"{where}: exercise {match['number']} is worth {match['points']} points (at least 1)")
    return match


def _stored_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _loaded_names(source: str) -> set[str]:
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    arguments = {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}  # a lambda's or function's own names
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - arguments


def _needed_later(nb: nbformat.NotebookNode, code: list[int], i: int) -> set[str]:
    """Names cell ``i`` assigns that a later code cell reads before any later cell assigns them again."""
    live, needed = _stored_names(nb.cells[i].source), set()
    for j in (j for j in code if j > i):
        stored = _stored_names(nb.cells[j].source)
        needed |= (_loaded_names(nb.cells[j].source) & live) - stored
        live -= stored
    return needed


def parse(nb: nbformat.NotebookNode, name: str) -> Lab:
    """Read the exercises and answer cells of solved notebook ``name`` (``04_pruning``); raise AssignError on a
    solution block without its end marker, an exercise without points, two exercises with one number, an
    exercise with no check cell after it, an answer cell without points or question, or one whose variables a
    later cell needs (the student version drops its code)."""
    lab, exercises, answers, seen = lab_number(name), [], [], {}
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    parameters = next((i for i in code if "parameters" in nb.cells[i].metadata.get("tags", [])), None)
    if parameters is None:
        raise AssignError(f"{name}: no cell tagged 'parameters'")
    import_cell = next(i for i in code if i > parameters)
    for i in code:
        cell, where = nb.cells[i], f"{name}: cell {i}"
        header = _header(cell.source, where, lab)
        blocks = _solution_blocks(cell.source, where)
        if header is None:
            if blocks:
                raise AssignError(f"{where}: a solution block outside an exercise cell (start the cell with "
                                  "'# EXERCISE <lab>.<n> (<points> points): <title>')")
        else:
            number = header["number"]
            if number in seen:
                raise AssignError(f"{where}: exercise {number} is numbered like the one in cell {seen[number]}")
            seen[number] = i
            if not blocks:
                raise AssignError(f"{where}: exercise {number} has no {BEGIN} / {END} block")
            following = [j for j in code if j > i]
            if not following or "checks." not in nb.cells[following[0]].source:
                raise AssignError(f"{where}: exercise {number} needs its check in the next code cell "
                                  "(e.g. 'checks.cnn_macs(cnn_macs)')")
            lines = cell.source.splitlines()
            solution = tuple(line for b, e in blocks for line in lines[b + 1:e])
            exercises.append(Exercise(number, int(header["points"]), header["title"].strip(), i, following[0],
                                      solution))
        if ANSWER_TAG in cell.metadata.get("tags", []):
            meta = cell.metadata.get("labkit", {})
            if not isinstance(meta.get("points"), int) or meta["points"] < 1 or not str(meta.get("question", "")).strip():
                raise AssignError(f"{where}: an answer cell needs metadata labkit.points (a whole number >= 1) and "
                                  "labkit.question")
            needed = _needed_later(nb, code, i)
            if needed:
                raise AssignError(f"{where}: answer cell defines {sorted(needed)}, which later cells use; the student "
                                  "version drops it, so move them to a cell of their own")
            answers.append(Answer(f"{lab}.{len(answers) + 1}", meta["points"], meta["question"].strip(), i))
    return Lab(name, tuple(exercises), tuple(answers), parameters, import_cell)


def read_lab(path: Path) -> Lab:
    """Parse the solved notebook at ``path``."""
    return parse(nbformat.read(path, as_version=4), path.stem)


def student_source(source: str, exercise: Exercise) -> str:
    """The exercise cell as a student gets it: each solution block replaced by ``# YOUR CODE HERE`` and a
    ``raise NotImplementedError`` naming the exercise, indented like the block's first marker."""
    lines, out, inside = source.splitlines(), [], False
    for line in lines:
        if line.strip() == BEGIN:
            indent = line[: len(line) - len(line.lstrip())]
            message = f"Exercise {exercise.number}: {exercise.title}"
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError({message!r})"]
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def question_markdown(answer: Answer) -> str:
    """The Markdown prompt that replaces an answer cell."""
    return (f"**Question {answer.number} ({answer.points} point{'s' if answer.points != 1 else ''}).** "
            f"{answer.question}\n\nWrite your answer in the cell below, from the numbers above.")


def student_notebook(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Return the student version of solved notebook ``name``."""
    lab = parse(nb, name)
    exercises = {e.cell: e for e in lab.exercises}
    answers = {a.cell: a for a in lab.answers}
    student = copy.deepcopy(nb)
    cells = []
    for i, cell in enumerate(student.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if i in exercises:
            cell.source = student_source(cell.source, exercises[i])
        if i in answers:
            answer = answers[i]
            question = nbformat.v4.new_markdown_cell(question_markdown(answer), id=f"{cell.id}-q"[:64])
            question.metadata = {"tags": [QUESTION_TAG]}
            reply = nbformat.v4.new_markdown_cell(ANSWER_PLACEHOLDER, id=cell.id)
            reply.metadata = {"tags": [ANSWER_TAG], "labkit": {"answer": answer.number, "points": answer.points,
                                                               "question": answer.question}}
            cells += [question, reply]
            continue
        cells.append(cell)
    student.cells = cells
    notebook = f"{name}.ipynb"
    intro = next(c for c in student.cells if c.cell_type == "markdown")
    intro.source = intro.source.replace(colab.badge(notebook), colab.badge(notebook, folder=STUDENT_DIR))
    first_code = next(c for c in student.cells if c.cell_type == "code")
    first_code.source = colab.setup_cell(folder=STUDENT_DIR)
    student.metadata["labkit"] = {"lab": name, "version": "student"}
    return student


def notebook_text(nb: nbformat.NotebookNode) -> str:
    """The file text ``labkit assign`` writes for ``nb``."""
    return nbformat.writes(nb) + "\n"


def solved_notebooks(root: Path) -> list[Path]:
    """The solved lab notebooks under ``root/notebooks``, in lab order."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def assign(root: Path, out: Path | None = None) -> list[Path]:
    """Write the student version of every solved notebook of ``root`` into ``out`` (default ``root/student``)."""
    out = out or root / STUDENT_DIR
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in solved_notebooks(root):
        target = out / path.name
        target.write_text(notebook_text(student_notebook(nbformat.read(path, as_version=4), path.stem)))
        written.append(target)
    return written


def _leaks(path: Path, lab: Lab, nb: nbformat.NotebookNode) -> list[str]:
    """Lines of the solution blocks (10 characters or more, not comments) that appear in a student notebook."""
    problems = []
    secret = {line.strip(): e.number for e in lab.exercises for line in e.solution
              if len(line.strip()) >= 10 and not line.strip().startswith("#")}
    for i, cell in enumerate(nb.cells):
        for line in cell.source.splitlines():
            if line.strip() in secret:
                problems.append(f"{path}: cell {i} holds a line of exercise {secret[line.strip()]}'s solution: "
                                f"{line.strip()!r}")
    return problems


def check(root: Path) -> list[str]:
    """Return what is wrong with ``root/student``: a notebook that is not what ``labkit assign`` would write
    (named with its first differing cell), or a line of a solution block in a student notebook."""
    problems = []
    for path in solved_notebooks(root):
        solved = nbformat.read(path, as_version=4)
        lab = parse(solved, path.stem)
        expected = student_notebook(solved, path.stem)
        target = root / STUDENT_DIR / path.name
        if not target.is_file():
            problems.append(f"{target}: missing (run labkit assign)")
            continue
        text = target.read_text()
        try:
            actual = nbformat.reads(text, as_version=4)
        except Exception as error:  # noqa: BLE001 - any unreadable file is reported the same way
            problems.append(f"{target}: not a readable notebook ({error})")
            continue
        problems += _leaks(target.relative_to(root), lab, actual)
        if text != notebook_text(expected):
            cells = zip(range(max(len(expected.cells), len(actual.cells))),
                        expected.cells + [None] * len(actual.cells), actual.cells + [None] * len(expected.cells))
            first = next((i for i, a, b in cells if a != b), None)
            where = f"cell {first}" if first is not None else "notebook metadata"
            problems.append(f"{target.relative_to(root)}: {where} differs from what `labkit assign` writes from "
                            f"{path.relative_to(root)} (run labkit assign)")
    return problems


def fill_solutions(root: Path, out: Path) -> list[Path]:
    """Write into ``out`` each committed student notebook with its exercise cells' solution blocks pasted back in
    (as a student who solved everything would hand in); answer cells stay as the student notebook has them."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in solved_notebooks(root):
        solved = nbformat.read(path, as_version=4)
        lab = parse(solved, path.stem)
        student = nbformat.read(root / STUDENT_DIR / path.name, as_version=4)
        for exercise in lab.exercises:
            cell = find_exercise_cell(student, exercise.number)
            if cell is None:
                raise AssignError(f"{root / STUDENT_DIR / path.name}: no cell for exercise {exercise.number}")
            student.cells[cell].source = solved.cells[exercise.cell].source
        target = out / path.name
        nbformat.write(student, target)
        written.append(target)
    return written


def find_exercise_cell(nb: nbformat.NotebookNode, number: str) -> int | None:
    """Index of the code cell whose header names exercise ``number``, or None."""
    pattern = re.compile(rf"#\s*EXERCISE\s+{re.escape(number)}\b")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.source.strip() and pattern.match(cell.source.lstrip().splitlines()[0]):
            return i
    return None
