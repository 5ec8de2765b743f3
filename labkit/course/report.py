"""Reports for hand-in: ``labkit report [LAB ...]`` turns executed notebooks into PDF (or HTML).

The PDF goes through nbconvert's LaTeX route (xelatex and pandoc). Before export, pandas tables
(HTML, which LaTeX cannot show) are rewritten as LaTeX tables of at most :data:`MAX_COLUMNS`
columns, shrunk to the text width when still too wide, and tqdm's ``\\r`` progress lines are
collapsed to their final line. Figures are vector PDFs when the notebook ran through ``labkit run``
(:data:`PRINT_FIGURES_KERNEL_ARGS`), else the notebook's PNGs. Without xelatex or pandoc the
report is written as HTML and the message says what to install.
"""

from __future__ import annotations

import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from labkit.course.assign import ANSWER_PLACEHOLDER, ANSWER_TAG
from labkit.paths import reports_dir

TEX_TOOLS = ("xelatex", "pandoc")
APT_INSTALL = ("sudo apt-get install -y texlive-xetex texlive-fonts-recommended "
               "texlive-plain-generic pandoc")
CONDA_INSTALL = "conda install -c conda-forge texlive-core pandoc"
MAX_COLUMNS = 10  # data columns per printed table; wider tables are split evenly, the index repeated
MAX_ROWS = 40  # body rows per printed table (a tabular never breaks across pages); longer ones continue, header repeated
# The LaTeX template: nbconvert's, with fonts that cover the symbols the labs print (x, <=, ->, ~, Greek) when
# DejaVu is installed (Latin Modern, nbconvert's default, drops them silently).
LATEX_TEMPLATE = r"""((*- extends 'index.tex.j2' -*))
((* block packages *))
((( super() )))
    \setcounter{secnumdepth}{0} % the notebooks number their own sections
    \IfFontExistsTF{DejaVu Serif}{\setmainfont{DejaVu Serif}[Scale=0.9]}{}
    \IfFontExistsTF{DejaVu Sans}{\setsansfont{DejaVu Sans}[Scale=0.9]}{}
    \IfFontExistsTF{DejaVu Sans Mono}{\setmonofont{DejaVu Sans Mono}[Scale=0.8]}{}
((* endblock packages *))
"""
# Kernel arguments for `labkit run`: every figure also as a vector PDF, which the LaTeX route prefers.
NOT_ANSWERED = "Not answered."  # what the PDF shows for an answer cell a student left empty
PRINT_FIGURES_KERNEL_ARGS = ["--InlineBackend.figure_formats=png", "--InlineBackend.figure_formats=pdf"]


def missing_tools() -> list[str]:
    """Return the programs the PDF route needs that are not on ``PATH``."""
    return [tool for tool in TEX_TOOLS if shutil.which(tool) is None]


def install_hint(missing: list[str]) -> str:
    """Say what to install for the PDF route, on Debian/Ubuntu and with conda."""
    return (f"PDF export needs {' and '.join(missing)} (nbconvert's LaTeX route, about 600 MB). Install with\n"
            f"  {APT_INSTALL}\nor\n  {CONDA_INSTALL}")


def executed_notebook(lab: str, root: str | Path | None = None) -> Path:
    """Return ``<reports>/<lab>/<lab>.ipynb``, the notebook ``labkit run`` executed; say how to make it if absent."""
    path = reports_dir(lab, root, create=False) / f"{lab}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"no executed notebook for {lab} at {path}: run `labkit run {lab}` first "
                                f"(add --smoke for a one-minute run), or `labkit run {lab} --report` to do both")
    return path


# ---------------------------------------------------------------- tables for print

class _TableParser(HTMLParser):
    """Collect the rows of the first ``<table>`` as lists of cell texts; header cells (``th``) marked."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[tuple[str, bool]]] = []
        self._cell: list[str] | None = None
        self._is_header = False
        self._span = 1
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._depth += 1
        elif self._depth == 1 and tag == "tr":
            self.rows.append([])
        elif self._depth == 1 and tag in ("td", "th") and self.rows:
            self._cell, self._is_header = [], tag == "th"
            span = dict(attrs).get("colspan") or "1"
            self._span = int(span) if span.isdigit() else 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._depth -= 1
        elif tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            self.rows[-1].extend([(text, self._is_header)] * self._span)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_table_rows(html: str) -> tuple[list[list[str]], list[list[str]], int]:
    """Split a pandas HTML table into (header rows, body rows, number of index columns)."""
    parser = _TableParser()
    parser.feed(html)
    rows = [row for row in parser.rows if row]
    header = [[text for text, _ in row] for row in rows if all(is_th for _, is_th in row)]
    body_rows = [row for row in rows if not all(is_th for _, is_th in row)]
    index_columns = sum(1 for _, is_th in body_rows[0] if is_th) if body_rows else 0
    width = max((len(row) for row in rows), default=0)
    pad = lambda row: row + [""] * (width - len(row))  # noqa: E731
    return [pad(r) for r in header], [pad([text for text, _ in row]) for row in body_rows], index_columns


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in plain text."""
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def latex_tables(header: list[list[str]], body: list[list[str]], index_columns: int,
                 max_columns: int = MAX_COLUMNS, max_rows: int = MAX_ROWS) -> str:
    """LaTeX for a table: split into even chunks of at most ``max_columns`` data columns (index repeated) and
    ``max_rows`` body rows (header repeated), each small type and shrunk to the text width if still too wide."""
    width = len((header or body)[0]) if (header or body) else 0
    data_columns = list(range(index_columns, width))
    pieces = -(-len(data_columns) // max_columns) or 1  # as few as fit, then as even as can be
    size = -(-len(data_columns) // pieces) or 1
    chunks = [data_columns[i:i + size] for i in range(0, len(data_columns), size)] or [[]]
    row_chunks = [body[i:i + max_rows] for i in range(0, len(body), max_rows)] or [[]]
    parts = []
    for chunk in chunks:
        columns = list(range(index_columns)) + chunk
        spec = "l" * index_columns + "r" * len(chunk)
        for number, rows in enumerate(row_chunks):
            lines = [r"\begin{center}\footnotesize", r"\begin{adjustbox}{max width=\linewidth}",
                     rf"\begin{{tabular}}{{{spec}}}", r"\hline"]
            for row in header:
                lines.append(" & ".join(rf"\textbf{{{latex_escape(row[c])}}}" for c in columns) + r" \\")
            lines.append(r"\hline")
            for row in rows:
                lines.append(" & ".join(latex_escape(row[c]) for c in columns) + r" \\")
            lines += [r"\hline", r"\end{tabular}", r"\end{adjustbox}"]
            where = []
            if len(chunks) > 1:
                where.append(f"columns {chunk[0] - index_columns + 1}--{chunk[-1] - index_columns + 1} "
                             f"of {len(data_columns)}")
            if len(row_chunks) > 1:
                first = number * max_rows + 1
                where.append(f"rows {first}--{first + len(rows) - 1} of {len(body)}")
            if where:
                lines.append(rf"\\ \emph{{{', '.join(where)}}}")
            lines.append(r"\end{center}")
            parts.append("\n".join(lines))
    return "\n".join(parts)


_LINKED_WEB_IMAGE = re.compile(r"\[!\[[^\]]*\]\(https?://[^)]*\)\]\([^)]*\)")  # a badge: [![alt](img)](link)
_WEB_IMAGE = re.compile(r"!\[([^\]]*)\]\(https?://[^)]*\)")


def printable_markdown(source: str) -> str:
    """Markdown without what a printed report cannot hold: linked web images (the "Open in Colab" badge) are
    dropped, other web images become their alt text (LaTeX cannot fetch a URL)."""
    return _WEB_IMAGE.sub(r"\1", _LINKED_WEB_IMAGE.sub("", source))


def answer_text(cell: Any) -> str | None:
    """A student's answer: the text of a Markdown cell tagged ``answer`` ("" when left empty); None for any other
    cell."""
    if cell.cell_type != "markdown" or ANSWER_TAG not in cell.get("metadata", {}).get("tags", []):
        return None
    text = cell.source.strip()
    return "" if text == ANSWER_PLACEHOLDER.strip() else text


def _print_ready(nb: Any, *, tables: bool) -> Any:
    """Collapse ``\\r`` progress lines of stream outputs; give HTML tables a ``text/latex`` form; drop web images;
    mark a student's answer cell left empty as not answered."""
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
    for cell in nb.cells:
        answer = answer_text(cell)
        if answer is not None:
            cell.source = f"**Answer:** {answer}" if answer else f"**{NOT_ANSWERED}**"
        if cell.cell_type == "markdown":
            cell.source = printable_markdown(cell.source)
        for output in cell.get("outputs", []):
            html = output.get("data", {}).get("text/html") if tables else None
            if html and "<table" in html and "text/latex" not in output.data:
                header, body, index_columns = html_table_rows(html)
                if header or body:
                    output.data["text/latex"] = latex_tables(header, body, index_columns)
    return nb


def _title(nb: Any, lab: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return lab


def export(lab: str, *, hide_code: bool = False, html: bool = False, root: str | Path | None = None) -> Path:
    """Write ``<reports>/<lab>/<lab>.pdf`` (or ``.html`` when asked, or when xelatex/pandoc are missing,
    which is printed with the install line) from the executed notebook; return the path written."""
    import nbformat
    from nbconvert import HTMLExporter, PDFExporter

    notebook = executed_notebook(lab, root)
    missing = [] if html else missing_tools()
    if missing:
        print(f"labkit report: {install_hint(missing)}\nlabkit report: writing HTML instead.", file=sys.stderr)
    as_pdf = not html and not missing
    nb = _print_ready(nbformat.read(notebook, as_version=4), tables=as_pdf)
    if as_pdf:
        from jinja2 import DictLoader

        exporter = PDFExporter(extra_loaders=[DictLoader({"labkit_report.tex.j2": LATEX_TEMPLATE})],
                               template_file="labkit_report.tex.j2")
    else:
        exporter = HTMLExporter(embed_images=True)
    exporter.exclude_input = hide_code
    exporter.exclude_input_prompt = exporter.exclude_output_prompt = hide_code
    resources = {"metadata": {"name": _title(nb, lab), "path": str(notebook.parent)}}
    output = notebook.with_suffix(".pdf" if as_pdf else ".html")
    try:
        body, _ = exporter.from_notebook_node(nb, resources=resources)
    except Exception as error:  # nbconvert's LatexFailed carries xelatex's whole log
        if not hasattr(error, "output"):
            raise
        log = output.with_suffix(".latex.log")
        log.write_text(str(error.output), encoding="utf-8")
        tail = "\n".join(str(error.output).splitlines()[-15:])
        raise RuntimeError(f"xelatex could not typeset {lab}; the end of its log:\n{tail}\n"
                           f"(whole log: {log}; `labkit report {lab} --html` still works)") from None
    if as_pdf:
        output.write_bytes(body)
    else:
        output.write_text(body, encoding="utf-8")
    return output
