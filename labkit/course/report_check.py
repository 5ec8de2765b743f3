"""Check a PDF report the way a reader would: pages, figures, the generated answers and their symbols, no debris.

Used by CI after ``labkit run 01 --smoke --report``: ``python -m labkit.course.report_check REPORT.pdf NOTEBOOK.ipynb``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from labkit.course.report import NOT_ANSWERED

# Text that must never reach a hand-in: raw LaTeX, terminal colour codes, widget placeholders.
DEBRIS = (r"\begin{", r"\textbf{", r"\end{", "\x1b[", "[0;3", "HBox(", "FloatProgress(", "IntProgress(",
          "VBox(", "Output()")
ANSWER_PREFIX = 60  # characters (letters and digits) of each generated answer looked for in the PDF


def pdf_contents(path: str | Path) -> dict[str, Any]:
    """Return ``pages``, ``figures`` (image or vector drawings placed on pages) and ``text`` of a PDF."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    figures = 0
    for page in reader.pages:
        xobjects = page.get("/Resources", {}).get("/XObject", {})
        for ref in xobjects.values():
            if ref.get_object().get("/Subtype") in ("/Image", "/Form"):
                figures += 1
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    return {"pages": len(reader.pages), "figures": figures, "text": text}


def letters_and_digits(text: str) -> str:
    """Lower-case letters and digits only: what survives line breaks, hyphenation and markup."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


def generated_answers(notebook: str | Path) -> list[str]:
    """The Markdown outputs of an executed notebook (its generated answers), links reduced to their text."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    answers = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            markdown = output.get("data", {}).get("text/markdown")
            if markdown:
                answers.append(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown))
    return answers


def hand_in_lines(notebook: str | Path) -> tuple[list[str], list[str], int]:
    """A student's hand-in: (the exercise check lines printed, the answers written, answer cells left empty)."""
    import nbformat

    from labkit.checking import LINE
    from labkit.course.report import answer_text

    nb = nbformat.read(notebook, as_version=4)
    checks = [m.group(0) for cell in nb.cells for output in cell.get("outputs", [])
              for m in LINE.finditer(output.get("text", "") if output.get("output_type") == "stream" else "")]
    answers = [answer_text(cell) for cell in nb.cells]
    return checks, [a for a in answers if a], sum(a == "" for a in answers)


def figure_outputs(notebook: str | Path) -> int:
    """Number of figure outputs (PNG or PDF) in an executed notebook."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    return sum(1 for cell in nb.cells for output in cell.get("outputs", [])
               if {"image/png", "application/pdf"} & set(output.get("data", {})))


def check_report(pdf: str | Path, notebook: str | Path) -> list[str]:
    """Return what is wrong with ``pdf`` as the report of ``notebook`` (empty when nothing is)."""
    contents = pdf_contents(pdf)
    problems = []
    if contents["pages"] == 0:
        problems.append("the PDF has no pages")
    expected_figures = figure_outputs(notebook)
    if contents["figures"] < expected_figures:
        problems.append(f"the PDF shows {contents['figures']} figure(s); the notebook has {expected_figures}")
    text = letters_and_digits(contents["text"])
    answers = generated_answers(notebook)
    if not answers:
        problems.append("the notebook has no generated answers (Markdown outputs) to look for")
    for answer in answers:
        wanted = letters_and_digits(answer)[:ANSWER_PREFIX]
        if wanted not in text:
            problems.append(f"generated answer missing from the PDF: {answer[:80]!r}")
    symbols = sorted({char for answer in answers for char in answer if ord(char) > 127 and not char.isspace()})
    missing = [char for char in symbols if char not in contents["text"]]
    if missing:
        problems.append(f"symbols of the generated answers missing from the PDF (no glyph in its font?): {missing}")
    checks, written, empty = hand_in_lines(notebook)
    problems += [f"exercise check line missing from the PDF: {line!r}" for line in checks
                 if letters_and_digits(line)[:ANSWER_PREFIX] not in text]
    problems += [f"the student's answer missing from the PDF: {answer[:80]!r}" for answer in written
                 if letters_and_digits(answer)[:ANSWER_PREFIX] not in text]
    if text.count(letters_and_digits(NOT_ANSWERED)) < empty:
        problems.append(f"{empty} answer cell(s) left empty, but the PDF does not mark each {NOT_ANSWERED!r}")
    problems += [f"the PDF shows {debris!r}" for debris in DEBRIS if debris in contents["text"]]
    return problems


def main(argv: list[str] | None = None) -> int:
    pdf, notebook = (argv if argv is not None else sys.argv[1:])[:2]
    contents = pdf_contents(pdf)
    problems = check_report(pdf, notebook)
    print(f"{pdf}: {contents['pages']} pages, {contents['figures']} figures, "
          f"{len(generated_answers(notebook))} generated answers looked for")
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
