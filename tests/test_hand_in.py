"""The hand-in PDF of a student's notebook: the exercise check lines and the student's answers, an answer
cell left empty marked "Not answered."."""

import nbformat

from labkit.course import assign, report, report_check


def executed_student_notebook(tmp_path, answers):
    nb = nbformat.v4.new_notebook()
    check = nbformat.v4.new_code_cell("checks.cnn_macs(cnn_macs)")
    check.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Exercise 4.3: passed (1/1 point)\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# Lab 4"), check]
    for text in answers:
        question = nbformat.v4.new_markdown_cell("**Question 4.1 (2 points).** Why?")
        reply = nbformat.v4.new_markdown_cell(text)
        reply.metadata.update({"tags": [assign.ANSWER_TAG], "labkit": {"answer": "4.1", "points": 2}})
        nb.cells += [question, reply]
    path = tmp_path / "04_pruning.ipynb"
    nbformat.write(nb, path)
    return path


def test_an_empty_answer_is_marked_not_answered_and_a_written_one_is_kept(tmp_path):
    path = executed_student_notebook(tmp_path, [assign.ANSWER_PLACEHOLDER, "Small weights matter little.", "  "])
    printed = report._print_ready(nbformat.read(path, as_version=4), tables=False)
    answers = [c.source for c in printed.cells if assign.ANSWER_TAG in c.metadata.get("tags", [])]
    assert answers == ["**Not answered.**", "**Answer:** Small weights matter little.", "**Not answered.**"]


def test_the_report_check_looks_for_the_check_lines_and_the_answers(tmp_path):
    path = executed_student_notebook(tmp_path, [assign.ANSWER_PLACEHOLDER, "Small weights matter little."])
    checks, written, empty = report_check.hand_in_lines(path)
    assert checks == ["Exercise 4.3: passed (1/1 point)"]
    assert (written, empty) == (["Small weights matter little."], 1)
