import json

import pytest
import torch

from labkit.labs.pruning import prune, loop as prune_loop
from labkit.data import load_splits
from labkit.models import CNN, save_model
from labkit.results import read_results

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
    assert (rows.pruning_drop == rows.acc_before - rows.acc_pruned).all()
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
        return {**row, "acc_retrained": row["acc_before"] - 0.05, "step_drop": 0.05, "kept": False}

    monkeypatch.setattr(prune_loop, "prune_step", worse)
    last, masks, rows = prune_loop.prune_layer(path, {"fc1": [0]}, "conv1", data, setup, tmp_path / "r.csv",
                                               start_id="s")
    assert len(rows) == 1 and not rows.kept.iloc[0]
    assert last == path and masks == {"fc1": [0]}, "the rejected step is undone: the loop returns its start"
    assert json.loads(rows.masks.iloc[0])["fc1"] == [0]
