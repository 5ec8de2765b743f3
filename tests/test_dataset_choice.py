"""One dataset for every lab that reads one: `labkit run --dataset` (LABKIT_DATASET), and every lab's data checked
before the first lab starts."""

import json
from pathlib import Path

import nbformat
import pytest

from labkit.course import cli
from labkit.labs.cnn.params import lab2
from labkit.labs.mlp.params import lab1
from labkit.labs.pruning.params import lab4


def test_labs_2_4_and_5_default_to_the_handouts_fashion_mnist_and_lab_2_trains_on_cpu():
    assert lab2().dataset == lab4().dataset == "fashion_mnist"
    assert lab2().device == "cpu", "the handout: Steps 1 and 2 are trained on CPU"
    assert lab1().dataset == "mnist"


def test_labkit_dataset_replaces_a_dataset_left_at_its_default(monkeypatch):
    monkeypatch.setenv("LABKIT_DATASET", "mnist")
    assert lab2().dataset == lab4().dataset == "mnist"
    monkeypatch.setenv("LABKIT_DATASET", "Fashion-MNIST")
    assert lab1().dataset == "fashion_mnist", "the name is read like every dataset name"


def test_smoke_shrinks_the_work_but_keeps_the_dataset(monkeypatch):
    assert lab4(smoke=True).dataset == "fashion_mnist"
    monkeypatch.setenv("LABKIT_DATASET", "mnist")
    assert lab4(smoke=True).dataset == "mnist"


def test_an_unknown_dataset_in_the_variable_is_named(monkeypatch):
    monkeypatch.setenv("LABKIT_DATASET", "cifar10")
    with pytest.raises(ValueError, match="cifar10"):
        lab2()


def _reads(path: Path, default: str) -> Path:
    nb = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell(f'dataset = "{default}"\nsmoke = False')
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [parameters, nbformat.v4.new_code_cell("import json, os, pathlib\n"
                                                      "out = pathlib.Path(os.environ['LABKIT_REPORTS_DIR'])\n"
                                                      "(out / 'seen.json').write_text(json.dumps(os.environ.get("
                                                      "'LABKIT_DATASET')))")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_datasets_read_follow_the_parameter_then_the_variable_then_the_default(tmp_path, monkeypatch):
    a, b = _reads(tmp_path / "01_a.ipynb", "mnist"), _reads(tmp_path / "02_b.ipynb", "fashion_mnist")
    assert cli.datasets_read([a, b], {}) == {"mnist": ["01_a"], "fashion_mnist": ["02_b"]}
    monkeypatch.setenv("LABKIT_DATASET", "mnist")
    assert cli.datasets_read([a, b], {}) == {"mnist": ["01_a", "02_b"]}
    assert cli.datasets_read([a, b], {"dataset": "fashion_mnist"}) == {"fashion_mnist": ["01_a", "02_b"]}


def test_a_missing_dataset_stops_the_run_before_the_first_lab_naming_files_and_flags(tmp_path, data_dir, capsys):
    first, second = _reads(tmp_path / "01_a.ipynb", "mnist"), _reads(tmp_path / "02_b.ipynb", "fashion_mnist")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as stopped:
        cli.main(["run", str(first), str(second), "--data-dir", str(empty), "--reports-dir", str(tmp_path / "r")])
    message = str(stopped.value)
    assert "01_a read mnist, which is not here" in message
    assert all(name in message for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte", str(empty)))
    assert "--dataset fashion_mnist" in message and "--data-dir" in message
    assert not (tmp_path / "r" / "seen.json").exists(), "no lab ran"


def test_run_with_dataset_hands_it_to_every_lab(tmp_path, data_dir):
    notebook = _reads(tmp_path / "02_b.ipynb", "fashion_mnist")
    assert cli.main(["run", str(notebook), "--dataset", "mnist", "--data-dir", str(data_dir),
                     "--reports-dir", str(tmp_path / "r")]) == 0
    assert json.loads((tmp_path / "r" / "seen.json").read_text()) == "mnist"


def test_dataset_given_twice_is_refused(tmp_path):
    notebook = _reads(tmp_path / "02_b.ipynb", "fashion_mnist")
    with pytest.raises(SystemExit, match="give the dataset once"):
        cli.main(["run", str(notebook), "--dataset", "mnist", "-p", "dataset", "mnist"])
