"""`labkit assign`: the student notebooks written from the solved labs, their check, and clear errors on bad
markers."""

import json

import nbformat
import pytest

from labkit.course import assign, colab
from labkit.paths import project_root

EXERCISE = '''# EXERCISE 1.1 (2 points): the parameters of an MLP
def mlp_params(in_features, hidden, out_features):
    """Weights and biases."""
    ### BEGIN SOLUTION
    sizes = [in_features, *hidden, out_features]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    ### END SOLUTION'''


def solved(exercise=EXERCISE, check="checks.mlp_params(mlp_params)", answer_meta=None, extra=()):
    nb = nbformat.v4.new_notebook()
    intro = nbformat.v4.new_markdown_cell(f"# Lab 1\n\n{colab.badge('01_tiny.ipynb')}")
    params = nbformat.v4.new_code_cell("smoke = False")
    params.metadata["tags"] = ["parameters"]
    answer = nbformat.v4.new_code_cell('Markdown(f"The model has {n:,} parameters.")')
    answer.metadata.update({"tags": ["answer"], "labkit": answer_meta or {"points": 1, "question": "Is it big?"}})
    nb.cells = [intro, nbformat.v4.new_code_cell(colab.setup_cell()), params,
                nbformat.v4.new_code_cell("from labkit.labs.mlp import checks"),
                nbformat.v4.new_code_cell(exercise), nbformat.v4.new_code_cell(check),
                nbformat.v4.new_code_cell("n = mlp_params(784, [10], 10)"), answer, *extra]
    return nb


def test_a_solution_block_becomes_not_implemented_naming_the_exercise():
    student = assign.student_notebook(solved(), "01_tiny")
    source = student.cells[4].source
    assert "### BEGIN SOLUTION" not in source and "sizes = " not in source
    assert source.endswith("    # YOUR CODE HERE\n    raise NotImplementedError('Exercise 1.1: the parameters of an MLP')")
    assert source.startswith("# EXERCISE 1.1 (2 points)") and '"""Weights and biases."""' in source


def test_an_answer_cell_becomes_the_question_and_an_empty_markdown_cell():
    student = assign.student_notebook(solved(), "01_tiny")
    question, reply = student.cells[7], student.cells[8]
    assert question.cell_type == reply.cell_type == "markdown"
    assert question.source.startswith("**Question 1.1 (1 point).** Is it big?")
    assert reply.source == assign.ANSWER_PLACEHOLDER and reply.metadata["tags"] == ["answer"]
    assert reply.metadata["labkit"] == {"answer": "1.1", "points": 1, "question": "Is it big?"}
    assert "Markdown(f" not in json.dumps(student)


def test_the_student_notebook_opens_the_student_copy_in_colab():
    student = assign.student_notebook(solved(), "01_tiny")
    assert colab.badge("01_tiny.ipynb", folder="student") in student.cells[0].source
    assert student.cells[1].source == colab.setup_cell(folder="student")
    assert 'os.path.join(checkout, "student")' in student.cells[1].source
    assert student.metadata["labkit"]["lab"] == "01_tiny"


@pytest.mark.parametrize("notebook, message", [
    (solved(exercise=EXERCISE.replace("    ### END SOLUTION", "")), r"cell 4: line 4: ### BEGIN SOLUTION without its ### END SOLUTION"),
    (solved(exercise=EXERCISE.replace(" (2 points)", "")), r"cell 4: exercise header .* \(an exercise without points cannot be graded\)"),
    (solved(extra=[nbformat.v4.new_code_cell(EXERCISE.replace("mlp_params", "again")),
                   nbformat.v4.new_code_cell("checks.mlp_params(again)")]), r"cell 8: exercise 1.1 is numbered like the one in cell 4"),
    (solved(check="print('no check')"), r"cell 4: exercise 1.1 needs its check in the next code cell"),
    (solved(exercise=EXERCISE.replace("1.1", "4.1")), r"exercise 4.1 is numbered for another lab"),
    (solved(answer_meta={"question": "Is it big?"}), r"cell 7: an answer cell needs metadata labkit.points"),
])
def test_bad_markers_get_an_error_naming_the_notebook_and_cell(notebook, message):
    with pytest.raises(assign.AssignError, match=message):
        assign.parse(notebook, "01_tiny")


def test_an_answer_cell_whose_variables_a_later_cell_needs_is_refused():
    nb = solved()
    nb.cells[7].source = 'total = n * 4\nMarkdown(f"{total:,} bytes")'
    nb.cells.append(nbformat.v4.new_code_cell("print(total)"))
    with pytest.raises(assign.AssignError, match=r"cell 7: answer cell defines \['total'\], which later cells use"):
        assign.parse(nb, "01_tiny")


def test_a_variable_assigned_again_later_does_not_count_as_needed():
    nb = solved()
    nb.cells[7].source = 'best = n\nMarkdown(f"{best}")'
    nb.cells.append(nbformat.v4.new_code_cell("best = 3\nprint(best)"))
    assert len(assign.parse(nb, "01_tiny").answers) == 1


@pytest.fixture
def course(tmp_path):
    (tmp_path / "notebooks").mkdir()
    nbformat.write(solved(), tmp_path / "notebooks" / "01_tiny.ipynb")
    assign.assign(tmp_path)
    return tmp_path


def test_check_passes_right_after_assign(course):
    assert assign.check(course) == []


def test_check_names_the_notebook_and_cell_when_student_is_stale(course):
    nb = nbformat.read(course / "notebooks" / "01_tiny.ipynb", as_version=4)
    nb.cells[6].source = "n = mlp_params(784, [20], 10)"
    nbformat.write(nb, course / "notebooks" / "01_tiny.ipynb")
    assert assign.check(course) == ["student/01_tiny.ipynb: cell 6 differs from what `labkit assign` writes from "
                                    "notebooks/01_tiny.ipynb (run labkit assign)"]


def test_check_finds_a_solution_line_pasted_into_a_student_notebook(course):
    path = course / "student" / "01_tiny.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[6].source += "\nsizes = [in_features, *hidden, out_features]"
    nbformat.write(nb, path)
    problems = assign.check(course)
    assert "student/01_tiny.ipynb: cell 6 holds a line of exercise 1.1's solution: " \
           "'sizes = [in_features, *hidden, out_features]'" in problems


def test_check_reports_a_missing_student_notebook(course):
    (course / "student" / "01_tiny.ipynb").unlink()
    assert assign.check(course) == [f"{course / 'student' / '01_tiny.ipynb'}: missing (run labkit assign)"]


def test_fill_solutions_pastes_the_blocks_back_into_the_student_notebook(course, tmp_path):
    [filled] = assign.fill_solutions(course, tmp_path / "filled")
    nb = nbformat.read(filled, as_version=4)
    assert nb.cells[4].source == EXERCISE
    assert nb.cells[8].source == assign.ANSWER_PLACEHOLDER  # answers are the student's to write


def test_the_committed_student_notebooks_are_what_assign_writes():
    assert assign.check(project_root(__file__)) == []


def test_every_committed_student_notebook_opens_itself_in_colab():
    root = project_root(__file__)
    for path in sorted((root / "student").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        intro = next(c for c in nb.cells if c.cell_type == "markdown")
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert colab.badge(path.name, folder="student") in intro.source, path.name
        assert first_code.source == colab.setup_cell(folder="student"), path.name
