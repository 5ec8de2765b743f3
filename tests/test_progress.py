"""Progress bars: a widget only in a live Jupyter kernel, readable text in every headless run."""

import subprocess
import sys

import nbformat
import pytest

from labkit import progress


@pytest.mark.parametrize("argv", [
    ["/usr/bin/python3", "/venv/bin/papermill", "in.ipynb", "out.ipynb"],
    ["python", "-m", "papermill", "in.ipynb", "out.ipynb"],
    ["/venv/bin/python", "/venv/bin/jupyter-nbconvert", "--execute", "lab.ipynb"],
    ["python", "-m", "pytest", "--nbval-lax", "notebooks"],
])
def test_notebook_runners_are_headless(argv):
    assert progress.is_headless_command(argv), f"{argv} should count as a headless run"


@pytest.mark.parametrize("argv", [
    ["/venv/bin/python", "/venv/bin/jupyter-lab"],
    ["/usr/bin/python3", "-m", "jupyter", "notebook"],
    ["/home/me/labkit-labs/.venv/bin/python", "-m", "ipykernel_launcher", "-f", "kernel.json"],
])
def test_interactive_jupyter_is_not_headless(argv):
    assert not progress.is_headless_command(argv), f"{argv} is a live Jupyter, where the widget belongs"


def test_outside_jupyter_the_bar_is_text(monkeypatch):
    monkeypatch.setenv("LABKIT_PROGRESS", "auto")
    assert progress.progress_mode() == "text"


def test_the_environment_variable_overrides_the_choice(monkeypatch):
    monkeypatch.setenv("LABKIT_PROGRESS", "widget")
    assert progress.progress_mode() == "widget"
    monkeypatch.setenv("LABKIT_PROGRESS", "sparkles")
    with pytest.raises(ValueError, match="LABKIT_PROGRESS='sparkles'"):
        progress.progress_mode()


def test_text_bar_ends_on_a_readable_final_line(monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_PROGRESS", "text")
    assert list(progress.progress(range(5), total=5, desc="epoch 1/1")) == [0, 1, 2, 3, 4]
    final = capsys.readouterr().out.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith("epoch 1/1: 100%") and "5/5" in final, final


def test_a_kernel_started_by_the_papermill_command_draws_text(tmp_path, monkeypatch):
    monkeypatch.delenv("LABKIT_PROGRESS")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from labkit.progress import progress_mode\nprint('mode:', progress_mode())")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    subprocess.run([sys.executable, "-m", "papermill", "--no-progress-bar", str(tmp_path / "in.ipynb"),
                    str(tmp_path / "out.ipynb")], check=True, capture_output=True)
    printed = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs[0].text
    assert printed.strip() == "mode: text", f"expected text bars under papermill, the kernel said {printed!r}"
