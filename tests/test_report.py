import base64
import io

import nbformat
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from labkit.course import report, report_check


def _executed(path, outputs):
    """Write an executed-looking notebook whose one code cell has ``outputs`` (list of mime dicts)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Lab 9 - A tiny lab\n\nWhy?"), nbformat.v4.new_code_cell("x")]
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", data=data) for data in outputs]
    nbformat.write(nb, path)
    return path


def test_pandas_tables_are_read_back_with_their_index_columns():
    df = pd.DataFrame({"model_name": ["CNN_c16k3", "CNN_c32k5"], "test_acc": [0.981, 0.99]},
                      index=pd.Index([3, 7], name="run"))
    header, body, index_columns = report.html_table_rows(df.to_html())
    assert index_columns == 1
    assert header[0] == ["", "model_name", "test_acc"] and header[1][0] == "run"
    assert body == [["3", "CNN_c16k3", "0.981"], ["7", "CNN_c32k5", "0.990"]]


def test_wide_tables_are_split_and_shrunk_to_the_page_and_text_is_escaped():
    df = pd.DataFrame(np.arange(20).reshape(1, 20), columns=[f"col_{i}%" for i in range(20)])
    latex = report.latex_tables(*report.html_table_rows(df.to_html()), max_columns=8)
    assert latex.count(r"\begin{tabular}") == 3, "20 columns in 3 chunks of at most 8"
    assert latex.count(r"max width=\linewidth") == 3
    assert r"col\_19\%" in latex and "col_19%" not in latex
    assert r"columns 15--20 of 20" in latex, "even chunks (7, 7, 6), not 8, 8, 4"
    first = latex.split(r"\end{tabular}")[0]
    assert first.count("&") == 2 * 7, "index column + 7 data columns on the header and the body row"


def test_long_tables_continue_in_pieces_that_fit_a_page_with_the_header_repeated():
    df = pd.DataFrame({"run": [f"r{i}" for i in range(95)], "test_acc": np.linspace(0.9, 0.99, 95)})
    latex = report.latex_tables(*report.html_table_rows(df.to_html()), max_rows=40)
    pieces = latex.split(r"\end{tabular}")[:-1]
    assert len(pieces) == 3, "95 rows in pieces of at most 40"
    assert all(r"\textbf{test\_acc}" in piece for piece in pieces), "every piece repeats the header"
    assert [piece.count(r" \\") - 1 for piece in pieces] == [40, 40, 15], "one header row, then the body rows"
    assert "rows 81--95 of 95" in latex and r"r94 &" in latex


def test_web_images_leave_the_printed_markdown():
    from labkit.course import colab

    source = f"# Lab 1\n\n{colab.badge('01_mlp_sweeps.ipynb')}\n\nSee ![the plot](https://example.org/p.png) here."
    assert report.printable_markdown(source) == "# Lab 1\n\n\n\nSee the plot here."


def test_print_ready_collapses_progress_lines_and_adds_latex_tables(tmp_path):
    nb = nbformat.read(_executed(tmp_path / "lab.ipynb", [{"text/html": pd.DataFrame({"a": [1]}).to_html(),
                                                           "text/plain": "   a\n0  1"}]), as_version=4)
    nb.cells[1].outputs.append(nbformat.v4.new_output("stream", name="stdout",
                                                      text="train  10%\rtrain  50%\rtrain 100%\ndone\n"))
    ready = report._print_ready(nb, tables=True)
    assert r"\begin{tabular}" in ready.cells[1].outputs[0].data["text/latex"]
    assert ready.cells[1].outputs[1].text == "train 100%\ndone\n"


def test_a_missing_executed_notebook_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"run `labkit run 01_mlp_sweeps` first"):
        report.executed_notebook("01_mlp_sweeps", tmp_path)
    assert not (tmp_path / "01_mlp_sweeps").exists(), "looking for a report creates no folder"


def test_without_tex_the_report_is_html_and_says_what_to_install(tmp_path, monkeypatch, capsys):
    (tmp_path / "lab9").mkdir()
    _executed(tmp_path / "lab9" / "lab9.ipynb", [{"text/markdown": "The answer is **42**.", "text/plain": "<Markdown>"}])
    monkeypatch.setattr(report, "missing_tools", lambda: ["xelatex", "pandoc"])
    written = report.export("lab9", hide_code=True, root=tmp_path)
    assert written.suffix == ".html" and "42" in written.read_text()
    err = capsys.readouterr().err
    assert "xelatex and pandoc" in err and "texlive-xetex" in err and "conda install" in err


@pytest.mark.skipif(bool(report.missing_tools()), reason="needs xelatex and pandoc (CI installs them)")
def test_pdf_report_has_the_figure_the_table_and_the_answer(tmp_path):
    fig = Figure(figsize=(3, 2))
    fig.subplots().plot([1, 3, 2])
    png = io.BytesIO()
    fig.savefig(png, format="png")
    table = pd.DataFrame(np.arange(24).reshape(2, 12) / 7, columns=[f"very_long_column_{i}" for i in range(12)])
    (tmp_path / "lab9").mkdir()
    notebook = _executed(tmp_path / "lab9" / "lab9.ipynb", [
        {"image/png": base64.b64encode(png.getvalue()).decode(), "text/plain": "<Figure>"},
        {"text/html": table.to_html(), "text/plain": repr(table)},
        {"text/markdown": "The deepest model is **2.5x** slower than the_shallowest one (98.1% vs 97.0%, "
                          "Δ ≈ 1.1 points → keep ≤ 4 layers of 784×1024).",
         "text/plain": "<Markdown>"}])
    pdf = report.export("lab9", hide_code=True, root=tmp_path)
    assert pdf.suffix == ".pdf"
    assert report_check.check_report(pdf, notebook) == []
    assert "very" in report_check.pdf_contents(pdf)["text"]


def _pdf_with(path, text, with_image=True):
    import matplotlib

    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(path) as pages:
        fig = Figure(figsize=(8, 3))
        fig.text(0.02, 0.9, text, fontsize=7)
        if with_image:
            fig.add_axes((0.1, 0.1, 0.3, 0.6)).imshow(np.arange(16).reshape(4, 4))
        pages.savefig(fig)
    return path


def test_report_check_flags_a_symbol_the_pdf_font_dropped(tmp_path):
    notebook = _executed(tmp_path / "lab.ipynb", [{"text/markdown": "Keep ≤ 4 layers → 2x faster.",
                                                   "text/plain": "<Markdown>"}])
    dropped = _pdf_with(tmp_path / "dropped.pdf", "Keep  4 layers  2x faster.", with_image=False)
    problems = report_check.check_report(dropped, notebook)
    assert any("symbols" in p and "'≤'" in p and "'→'" in p for p in problems), problems
    kept = _pdf_with(tmp_path / "kept.pdf", "Keep ≤ 4 layers → 2x faster.", with_image=False)
    assert not [p for p in report_check.check_report(kept, notebook) if "symbols" in p]


def test_report_check_finds_pages_figures_and_answers(tmp_path):
    notebook = _executed(tmp_path / "lab.ipynb", [{"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
                                                  {"text/markdown": "Batch **64** is the [fastest](#x) run.",
                                                   "text/plain": "<Markdown>"}])
    good = _pdf_with(tmp_path / "good.pdf", "Batch 64 is the fastest run.")
    assert report_check.check_report(good, notebook) == []
    no_answer = _pdf_with(tmp_path / "bad.pdf", "Batch 32 is the fastest run.", with_image=False)
    problems = report_check.check_report(no_answer, notebook)
    assert any("answer missing" in p for p in problems) and any("0 figure(s)" in p for p in problems)
    debris = _pdf_with(tmp_path / "debris.pdf", r"Batch 64 is the fastest run. \begin{tabular} HBox(children=")
    assert len(report_check.check_report(debris, notebook)) == 2
