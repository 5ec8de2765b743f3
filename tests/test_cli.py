import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labkit import results
from labkit.course import cli


def test_values_are_parsed_like_papermill_yaml():
    assert cli.parse_value("2") == 2 and cli.parse_value("0.001") == 0.001
    assert cli.parse_value("[1, 2]") == [1, 2]
    assert cli.parse_value("mnist") == "mnist" and cli.parse_value("null") is None


def test_every_lab_notebook_is_found_by_name_and_number():
    names = [nb.stem for nb in cli.available_notebooks()]
    assert "01_mlp_sweeps" in names
    assert cli.find_notebook("01").stem == cli.find_notebook("01_mlp_sweeps").stem == "01_mlp_sweeps"


def test_unknown_notebook_lists_the_choices():
    with pytest.raises(SystemExit, match="01_mlp_sweeps"):
        cli.find_notebook("99_nope")


def test_every_notebook_has_a_parameters_cell_and_is_committed_clean():
    for path in cli.available_notebooks():
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters'"
        assert "smoke = False" in tagged[0].source, f"{path.name}: the parameters cell needs a smoke switch"
        dirty = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "code" and c.get("outputs")
                 and "NBVAL_CHECK_OUTPUT" not in c.source]
        assert not dirty, f"{path.name}: cells committed with outputs: {dirty}"


def _tiny_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell("epochs = 2\nsmoke = False")
    parameters.metadata["tags"] = ["parameters"]
    body = nbformat.v4.new_code_cell(
        "import json, os, pathlib\n"
        "out = pathlib.Path(os.environ['LABKIT_REPORTS_DIR']) / 'tiny'\n"
        "(out / 'seen.json').write_text(json.dumps({'epochs': epochs, 'smoke': smoke,"
        " 'progress': os.environ['LABKIT_PROGRESS']}))")
    nb.cells = [parameters, body]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_run_executes_a_notebook_with_parameters_into_reports(tmp_path, monkeypatch):
    notebook = _tiny_notebook(tmp_path / "tiny.ipynb")
    monkeypatch.delenv("LABKIT_PROGRESS")
    assert cli.main(["run", str(notebook), "--smoke", "-p", "epochs", "5",
                     "--reports-dir", str(tmp_path / "reports")]) == 0
    seen = json.loads((tmp_path / "reports" / "tiny" / "seen.json").read_text())
    assert seen == {"epochs": 5, "smoke": True, "progress": "text"}
    executed = nbformat.read(tmp_path / "reports" / "tiny" / "tiny.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)


def test_a_failing_notebook_makes_run_exit_non_zero(tmp_path, capsys):
    notebook = _tiny_notebook(tmp_path / "tiny.ipynb")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise ValueError('widths contains -8')"))
    nbformat.write(nb, notebook)
    assert cli.main(["run", str(notebook), "--reports-dir", str(tmp_path / "reports")]) == 1
    assert "widths contains -8" in capsys.readouterr().err


def test_clean_strips_outputs_but_keeps_the_checked_ones(tmp_path):
    checked = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(2)")
    plain = nbformat.v4.new_code_cell("print(1)")
    executed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(plain.source), nbformat.v4.new_code_cell(checked.source)])
    for cell, text in zip(executed.cells, ["1\n", "2\n"]):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        cell.execution_count = 1
    nbformat.write(executed, tmp_path / "executed.ipynb")
    nbformat.write(executed, tmp_path / "lab.ipynb")
    assert cli.clean_notebook(tmp_path / "lab.ipynb", tmp_path / "executed.ipynb") == 1
    cleaned = nbformat.read(tmp_path / "lab.ipynb", as_version=4)
    assert cleaned.cells[0].outputs == [] and cleaned.cells[0].execution_count is None
    assert cleaned.cells[1].outputs[0].text == "2\n"
    assert cleaned.cells[1].execution_count == 1, "nbval rejects a checked output without an execution count"


def test_ctrl_c_stops_the_run_and_says_how_to_resume(tmp_path, monkeypatch, capsys, data_dir):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_notebook", interrupted)
    assert cli.main(["run", "01", "--data-dir", str(data_dir), "--reports-dir", str(tmp_path / "reports")]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err


def test_an_unknown_parameter_stops_the_run_before_anything_runs(tmp_path):
    notebook = _tiny_notebook(tmp_path / "tiny.ipynb")
    with pytest.raises(SystemExit, match=r"no parameter 'epoch' \(did you mean 'epochs'\?\).*epochs, smoke"):
        cli.main(["run", str(notebook), "-p", "epoch", "3", "--reports-dir", str(tmp_path / "reports")])
    assert not (tmp_path / "reports" / "tiny").exists()


def test_a_headless_run_prints_a_line_per_cell_with_its_section(tmp_path, capsys):
    notebook = _tiny_notebook(tmp_path / "tiny.ipynb")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("## 2. Training\nSome words."))
    nbformat.write(nb, notebook)
    assert cli.main(["run", str(notebook), "-p", "epochs", "1", "--reports-dir", str(tmp_path / "reports")]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if " tiny cell " in line]
    # papermill injects a cell for the -p value: 3 code cells, the last one under the heading
    assert [line.split(" tiny ")[1].split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert lines[-1].endswith("2. Training") and not lines[0].endswith("2. Training")


def test_section_headings_follow_the_last_markdown_heading():
    cells = [nbformat.v4.new_code_cell("a"), nbformat.v4.new_markdown_cell("# Lab\ntext"),
             nbformat.v4.new_markdown_cell("no heading"), nbformat.v4.new_code_cell("b"),
             nbformat.v4.new_markdown_cell("## 3. Sweep"), nbformat.v4.new_code_cell("c")]
    assert cli.section_headings(cells) == ["", "Lab", "Lab", "Lab", "3. Sweep", "3. Sweep"]


def test_run_with_report_keeps_vector_figures_and_writes_html_without_tex(tmp_path, monkeypatch, capsys):
    from labkit.course import report

    notebook = _tiny_notebook(tmp_path / "tiny.ipynb")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"))
    nbformat.write(nb, notebook)
    monkeypatch.setattr(report, "missing_tools", lambda: ["xelatex"])
    assert cli.main(["run", str(notebook), "--report", "--reports-dir", str(tmp_path / "reports")]) == 0
    executed = nbformat.read(tmp_path / "reports" / "tiny" / "tiny.ipynb", as_version=4)
    kinds = {kind for cell in executed.cells for output in cell.get("outputs", []) for kind in output.get("data", {})}
    assert {"image/png", "application/pdf"} <= kinds, "labkit run keeps each figure as PNG and vector PDF"
    assert (tmp_path / "reports" / "tiny" / "tiny.html").stat().st_size > 0
    err = capsys.readouterr().err
    assert "apt-get install" in err and "writing HTML instead" in err


def test_report_without_executed_notebooks_says_what_to_run(tmp_path):
    with pytest.raises(SystemExit, match="run `labkit run"):
        cli.main(["report", "--reports-dir", str(tmp_path / "empty")])
    with pytest.raises(SystemExit, match=r"labkit run 02_cnn_sweeps"):
        cli.main(["report", "02", "--reports-dir", str(tmp_path / "empty")])
    with pytest.raises(SystemExit, match="no lab called '7'"):
        cli.main(["report", "7", "--reports-dir", str(tmp_path / "empty")])


# A notebook whose one sweep writes the lab folder the way every lab does: through labkit's runner.
SWEEP_CELL = ("import os, pathlib, time\n"
              "from labkit import sweep\n"
              "def trial(config):\n"
              "    time.sleep(0.3)\n"
              "    return {'square': config['i'] ** 2, 'pid': os.getpid()}\n"
              "path = pathlib.Path(os.environ['LABKIT_REPORTS_DIR']) / 'tiny' / 'results.csv'\n"
              "sweep.run_sweep([{'i': i} for i in range(8)], trial, path, sweep='two runs', progress=False)")


def _labkit(*args: str) -> subprocess.Popen:
    """Start ``labkit ARGS`` as a new user would, in a process of its own."""
    command = shutil.which("labkit", path=os.path.dirname(sys.executable))
    argv = [command] if command else [sys.executable, "-m", "labkit.course.cli"]
    return subprocess.Popen([*argv, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_run_stops_at_once_on_a_lab_folder_another_run_writes(tmp_path, capsys):
    notebook = _tiny_notebook(tmp_path / "tiny.ipynb")
    folder = tmp_path / "reports" / "tiny"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from labkit import writer_lock; "
                               "writer_lock.hold(sys.argv[1]); print('holding', flush=True); time.sleep(600)",
                               str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert cli.main(["run", str(notebook), "--reports-dir", str(tmp_path / "reports")]) == 1
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert f"{folder} is in use by another run: python -c ... (pid {holder.pid} on" in err, err
    assert not (folder / "seen.json").exists() and not (folder / "tiny.ipynb").exists(), "the notebook must not run"


@pytest.mark.slow
def test_two_labkit_runs_started_together_on_one_folder_record_every_config_once(tmp_path):
    notebook = _tiny_notebook(tmp_path / "tiny.ipynb")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(SWEEP_CELL))
    nbformat.write(nb, notebook)
    runs = [_labkit("run", str(notebook), "--reports-dir", str(tmp_path / "reports")) for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    codes = [run.returncode for run in runs]
    assert sorted(codes) == [0, 1], f"one run must finish and the other stop:\n{outputs}"
    stopped, finished = outputs[codes.index(1)], outputs[codes.index(0)]
    folder = tmp_path / "reports" / "tiny"
    assert f"{folder} is in use by another run: " in stopped and f"run {notebook} --reports-dir" in stopped, stopped
    assert f"pid {runs[codes.index(0)].pid} on" in stopped, "the message names the run that writes"
    rows = results.read_results(folder / "results.csv")
    assert sorted(rows.i) == list(range(8)) and rows.run_key.is_unique, f"every config exactly once:\n{rows}"
    assert "wrote" in finished and ".labkit-writer" not in finished, "the lock files are not listed as written"
