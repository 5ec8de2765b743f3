import json

import pytest
import torch

from labkit.labs.pruning import prune, loop as prune_loop
from labkit.data import load_splits
from labkit.models import CNN, DamagedModelError, save_model
from labkit.results import append_result, read_results

import torch_pruning  # noqa: F401  (a required dependency: a broken install fails here, never skips)


@pytest.fixture
def data(data_dir):
    return load_splits("mnist", data_dir, seed=0)


@pytest.fixture
def start(tmp_path):
    torch.manual_seed(0)
    model = CNN([3, 4], 3, hidden=[6])
    return model, save_model(model, tmp_path / "start.pt")


def test_setup_refuses_a_bad_threshold_or_heuristic():
    with pytest.raises(ValueError, match=r"threshold=1.5.*\(0, 1\)"):
        prune_loop.PruneSetup(threshold=1.5)
    with pytest.raises(ValueError, match=r"heuristic='taylor'"):
        prune_loop.PruneSetup(heuristic="taylor")


def test_model_id_changes_with_the_weights(start):
    model, _ = start
    before = prune_loop.model_id(model)
    with torch.no_grad():
        model.conv1.bias[0] += 1
    assert prune_loop.model_id(model) != before and len(before) == 12


def test_layer_is_pruned_one_channel_at_a_time_until_one_is_left(start, data, tmp_path):
    model, path = start
    setup = prune_loop.PruneSetup(retrain_epochs=1, threshold=0.99, device="cpu", batch_size=16)
    last, masks, rows = prune_loop.prune_layer(path, {}, "conv1", data, setup, tmp_path / "results.csv",
                                               start_id=prune_loop.model_id(model))
    assert rows.step.tolist() == [1, 2] and rows.channels_left.tolist() == [2, 1] and rows.kept.all()
    assert len(masks["conv1"]) == 2 and sorted(masks["conv1"]) == sorted(rows.channel.tolist())
    importance = prune.channel_importance(model, "conv1", "l2")
    assert rows.channel.iloc[0] == int(importance.argmin()), "the first step removes the least important channel"
    assert (rows.pruning_drop == rows.acc_before - rows.acc_retrained).all(), "the handout's pruning drop"
    assert (rows.zeroing_drop == rows.acc_before - rows.acc_pruned).all()
    assert rows.params.iloc[-1] < rows.params.iloc[0] and rows.macs.iloc[-1] < rows.macs.iloc[0]
    pruned = prune_loop.load_masked(last, masks)
    assert pruned.conv1.weight[masks["conv1"]].eq(0).all()
    assert rows.acc_before.iloc[1] == pytest.approx(rows.acc_retrained.iloc[0]), "each step starts where the last ended"


def test_an_interrupted_loop_resumes_without_retraining_finished_steps(start, data, tmp_path, monkeypatch):
    model, path = start
    setup = prune_loop.PruneSetup(retrain_epochs=1, threshold=0.99, device="cpu", batch_size=16)
    results = tmp_path / "results.csv"
    _, _, first = prune_loop.prune_layer(path, {}, "conv1", data, setup, results, start_id="s")

    def no_training(*args, **kwargs):
        raise AssertionError("a finished step was run again")

    monkeypatch.setattr(prune_loop, "prune_step", no_training)
    _, masks, again = prune_loop.prune_layer(path, {}, "conv1", data, setup, results, start_id="s")
    assert again.acc_retrained.tolist() == first.acc_retrained.tolist() and len(read_results(results)) == 2


def test_a_step_over_the_threshold_ends_the_layer_and_is_not_kept(start, data, tmp_path, monkeypatch):
    model, path = start
    setup = prune_loop.PruneSetup(retrain_epochs=1, threshold=0.01, device="cpu", batch_size=16)
    real_step = prune_loop.prune_step

    def worse(*args, **kwargs):  # force a drop above the threshold
        row = real_step(*args, **kwargs)
        return {**row, "acc_retrained": row["acc_before"] - 0.05, "pruning_drop": 0.05, "kept": False}

    monkeypatch.setattr(prune_loop, "prune_step", worse)
    last, masks, rows = prune_loop.prune_layer(path, {"fc1": [0]}, "conv1", data, setup, tmp_path / "r.csv",
                                               start_id="s")
    assert len(rows) == 1 and not rows.kept.iloc[0]
    assert last == path and masks == {"fc1": [0]}, "the rejected step is undone: the loop returns its start"
    assert json.loads(rows.masks.iloc[0])["fc1"] == [0]


def _lab2_reports(root, dataset="mnist", *, results=True):
    """A Lab 2 reports folder as Lab 2 leaves it: its best model saved, its results recorded on ``dataset``."""
    lab2 = root / "02_cnn_sweeps"
    path = save_model(CNN([3, 4], 3, hidden=[6]), lab2 / "best_model.pt")
    if results:
        append_result(lab2 / "results.csv", {"run_key": "0123456789abcdef", "dataset": dataset, "test_acc": 0.9})
    return path


def test_a_damaged_lab2_best_model_stops_lab4_naming_it_instead_of_being_replaced(tmp_path, data):
    best = _lab2_reports(tmp_path / "reports")
    best.write_bytes(best.read_bytes()[:5000])  # a copy cut short
    out = tmp_path / "reports" / "04_pruning"
    with pytest.raises(DamagedModelError) as error:
        prune_loop.start_model(out, data, "mnist", epochs=1, device="cpu")
    message = str(error.value)
    assert message.startswith(f"{best} (5,000 bytes) cannot be loaded: it is cut short"), message
    assert "Run Lab 2 again into the same reports folder" in message and "move it aside" in message, message
    assert len(best.read_bytes()) == 5000 and not (out / "start_model.pt").exists(), "nothing trained or written"


def test_without_a_lab2_best_model_lab4_trains_its_own_and_says_the_file_is_absent(tmp_path, data):
    out = tmp_path / "reports" / "04_pruning"
    model, path, how = prune_loop.start_model(out, data, "mnist", epochs=1, device="cpu")
    absent = tmp_path / "reports" / "02_cnn_sweeps" / "best_model.pt"
    assert path == out / "start_model.pt" and how.endswith(f"because there is no Lab 2 best model at {absent}"), how


def test_a_lab2_best_model_of_another_dataset_is_not_pruned_and_the_sentence_says_why(tmp_path, data):
    best = _lab2_reports(tmp_path / "reports", dataset="fashion_mnist")
    model, path, how = prune_loop.start_model(tmp_path / "reports" / "04_pruning", data, "mnist", epochs=1,
                                              device="cpu")
    assert path.name == "start_model.pt" and f"({best}) was trained on fashion_mnist, not mnist" in how, how


def test_a_lab2_best_model_without_its_results_file_stops_lab4(tmp_path, data):
    best = _lab2_reports(tmp_path / "reports", results=False)
    with pytest.raises(FileNotFoundError, match=rf"{best} is there but Lab 2's results file .* is not"):
        prune_loop.start_model(tmp_path / "reports" / "04_pruning", data, "mnist", epochs=1, device="cpu")
