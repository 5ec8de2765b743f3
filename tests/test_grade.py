"""`labkit grade`: filled-in student notebooks graded offline, one kernel per notebook, past failing exercises;
answer cells listed apart, never scored."""

import csv

import nbformat
import pytest

from labkit.course import assign, cli, grade

SOLVED = '''# EXERCISE 1.1 (1 point): the parameters of an MLP
def mlp_params(in_features, hidden, out_features):
    ### BEGIN SOLUTION
    sizes = [in_features, *hidden, out_features]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    ### END SOLUTION'''


def tiny_lab():
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("smoke = False")
    params.metadata["tags"] = ["parameters"]
    answer = nbformat.v4.new_code_cell('Markdown(f"{n:,} parameters.")')
    answer.metadata.update({"tags": ["answer"], "labkit": {"points": 3, "question": "Why so many?"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# Lab 1"), nbformat.v4.new_code_cell("import os"), params,
                nbformat.v4.new_code_cell("from IPython.display import Markdown\nfrom labkit.labs.mlp import checks"),
                nbformat.v4.new_code_cell(SOLVED), nbformat.v4.new_code_cell("checks.mlp_params(mlp_params)"),
                nbformat.v4.new_code_cell("n = mlp_params(784, [10], 10)"), answer]
    return nb


@pytest.fixture
def lab(tmp_path):
    path = tmp_path / "notebooks" / "01_tiny.ipynb"
    path.parent.mkdir()
    nbformat.write(tiny_lab(), path)
    return {"01_tiny": path}


def student(tmp_path, name, body=None, answer=None):
    nb = assign.student_notebook(tiny_lab(), "01_tiny")
    if body is not None:
        nb.cells[4].source = SOLVED.split("    ### BEGIN")[0] + body
    if answer is not None:
        nb.cells[8].source = answer
    path = tmp_path / name / "01_tiny.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_a_class_is_graded_past_failing_exercises_with_totals_and_a_csv(lab, tmp_path, capsys):
    untouched = student(tmp_path, "alice")
    wrong = student(tmp_path, "bob", "    return in_features * sum(hidden)", answer="Because the first layer is wide.")
    broken = student(tmp_path, "carol", "    return (")
    out = tmp_path / "grades.csv"
    assert grade.grade([untouched, wrong, broken, lab["01_tiny"]], lab, out=out) == 0
    printed = capsys.readouterr().out
    assert "Exercise 1.1: not done: the function still raises NotImplementedError (0/1 point)" in printed
    assert "Exercise 1.1: failed: in_features=784, hidden=[1024, 1024, 1024], out_features=10: expected 2913290" in printed
    assert "Exercise 1.1: the exercise cell raised SyntaxError" in printed
    assert printed.count("total: 0 / 1 points") == 3 and printed.count("total: 1 / 1 points") == 1
    assert "Question 1.1 (3 pts): empty: Why so many?" in printed
    assert "Question 1.1 (3 pts): answered: Why so many?" in printed
    rows = list(csv.DictReader(out.open()))
    assert [r["earned"] for r in rows if r["kind"] == "exercise"] == ["0", "0", "0", "1"]
    assert {r["earned"] for r in rows if r["kind"] == "answer"} == {""}  # never scored by the tool
    assert list(rows[0]) == grade.CSV_COLUMNS


@pytest.mark.slow
def test_run_mode_executes_the_whole_notebook_and_says_where_it_stopped(lab, tmp_path):
    rows = grade.grade_notebook(student(tmp_path, "dan"), lab, mode="run")
    run = next(r for r in rows if r.kind == "run")
    assert run.message.startswith("the whole notebook stopped working at cell 6: NotImplementedError")
    assert next(r for r in rows if r.kind == "exercise").earned == 0


def test_a_notebook_that_is_not_a_lab_is_refused_by_name(lab, tmp_path, capsys):
    other = tmp_path / "homework.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), other)
    assert grade.grade([other], lab) == 2
    assert f"labkit grade: {other}: not one of the labs (its name and metadata say 'homework'; the labs are 01_tiny)" \
        in capsys.readouterr().err


def test_a_file_that_is_not_a_notebook_is_refused(lab, tmp_path):
    text = tmp_path / "01_tiny.ipynb"
    text.write_text("my answers")
    with pytest.raises(grade.GradeError, match="not a Jupyter notebook"):
        grade.grade_notebook(text, lab)


def test_the_grade_and_assign_commands_are_wired():
    args = cli.build_parser().parse_args(["grade", "a.ipynb", "b.ipynb", "--out", "g.csv", "--run"])
    assert (args.command, args.notebooks, args.out, args.run, args.full) == ("grade", ["a.ipynb", "b.ipynb"], "g.csv", True, False)
    args = cli.build_parser().parse_args(["assign", "--fill-solutions", "/tmp/x"])
    assert (args.command, args.check, args.fill_solutions) == ("assign", False, "/tmp/x")
