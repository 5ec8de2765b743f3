"""The Lab 2 trial: what a row records, configs read back, models and tables kept."""

import dataclasses

import pytest

from labkit import results, sweep
from labkit.data import load_splits
from labkit.labs.cnn import sweeps as cnn_sweeps
from labkit.labs.cnn.sweeps import (BASELINE, CNNSetup, cnn_trial, config_from_row, model_path, run_cnn_sweep,
                                    target_columns, train_baseline)
from labkit.models import load_model

SMALL = {**BASELINE, "channels": [4, 4], "hidden": [16], "batch_size": 16, "lr": 0.05}


@pytest.fixture
def setup(data_dir):
    return CNNSetup(data_dir=str(data_dir), epochs=2, device="cpu", checks_per_epoch=4, probe_examples=50)


def test_trial_row_counts_the_configured_cnn(setup):
    row = cnn_trial(SMALL, setup)
    by_hand = (4 * 9 + 4) + (4 * 4 * 9 + 4) + (4 * 24 * 24 * 16 + 16) + (16 * 10 + 10)
    assert row["params"] == by_hand and row["model_name"] == "CNN_c4k3_c4k3_fc16"
    assert row["macs"] == 26 * 26 * 4 * 9 + 24 * 24 * 4 * 4 * 9 + 4 * 24 * 24 * 16 + 16 * 10
    assert row["flops"] == 2 * row["macs"]
    assert (row["conv1_channels"], row["conv2_kernel"], row["fc1_units"], row["n_conv"]) == (4, 3, 16, 2)
    assert row["inference_ms_per_image"] > 0 and row["peak_gpu_memory_bytes"] is None
    assert len(row["history"]) == 2 and len(row["checks"]) == 8


def test_trial_records_when_each_target_was_first_reached(setup):
    row = cnn_trial(SMALL, setup)
    checks = row["checks"]
    reached = checks[checks.train_acc >= 0.9]
    assert not reached.empty, "the block-position fixture is learnable to 90% in two epochs"
    assert row["time_to_90_s"] == reached.train_time_s.iloc[0] and row["epochs_to_90"] == reached.epoch.iloc[0]


def test_a_target_never_reached_within_the_epoch_cap_is_blank(setup):
    row = cnn_trial({**SMALL, "lr": 1e-6, "momentum": 0.0}, setup)
    assert row["time_to_96_s"] is None and row["epochs_to_96"] is None


def test_same_seed_same_config_gives_the_same_metrics(setup):
    a, b = cnn_trial(SMALL, setup), cnn_trial(SMALL, setup)
    for name in ("train_acc", "test_acc", "test_loss", "epochs_to_90", "params", "macs"):
        assert a[name] == b[name], f"{name} differs between two runs of the same seed"
    assert a["checks"].train_loss.tolist() == b["checks"].train_loss.tolist()


def test_unknown_config_knob_is_named(setup):
    with pytest.raises(ValueError, match=r"unknown CNN config knob\(s\) \['kernel'\]"):
        cnn_trial({**SMALL, "kernel": 3}, setup)


def test_target_columns_name_the_percentage():
    assert target_columns(0.9) == ("time_to_90_s", "epochs_to_90")
    assert target_columns(0.965) == ("time_to_96_5_s", "epochs_to_96_5")


def test_sweep_keeps_tables_and_models_and_rows_give_back_their_config(setup, tmp_path):
    path = tmp_path / "results.csv"
    configs = [SMALL, {**SMALL, "kernel_sizes": [5, 3], "pool": [True, False], "dropout": 0.5}]
    setup = dataclasses.replace(setup, save_models=True)
    runs = run_cnn_sweep(configs, setup, path, sweep="test", tracking=False)
    assert len(results.read_results(path)) == 2
    for config, row in zip(configs, runs.itertuples()):
        assert config_from_row(runs.loc[row.Index]) == config, "a row's knobs rebuild its config"
        history = sweep.read_table(path, row.run_key, "history")
        assert history.test_acc.iloc[-1] == pytest.approx(row.test_acc)
        assert load_model(model_path(path, config, setup)).name == row.model_name


def test_a_run_that_keeps_its_model_is_not_taken_for_the_same_run_without_one(setup, tmp_path):
    path = tmp_path / "results.csv"
    run_cnn_sweep([SMALL], setup, path, sweep="grid", tracking=False)
    keeping = dataclasses.replace(setup, save_models=True)
    run_cnn_sweep([SMALL], keeping, path, sweep="final", tracking=False)
    assert model_path(path, SMALL, keeping).exists(), "the grid's row must not stand in for a run that saves a model"


def test_reached_at_first_check_and_its_note_compare_each_run_s_first_check_with_the_target(setup, tmp_path):
    path = tmp_path / "results.csv"
    runs = run_cnn_sweep([SMALL, {**SMALL, "lr": 1e-6, "momentum": 0.0}], setup, path, sweep="test", tracking=False)
    first = [sweep.read_table(path, key, "checks").train_acc.iloc[0] for key in runs.run_key]
    low, high = sorted(first)
    at = cnn_sweeps.reached_at_first_check(path, runs.run_key, target=low)
    assert at.tolist() == [True, True] and list(at.index) == list(runs.run_key)
    assert cnn_sweeps.reached_at_first_check(path, runs.run_key, target=high).tolist() == [a >= high for a in first]
    assert not cnn_sweeps.reached_at_first_check(path, runs.run_key, target=high + 1e-9).any()
    one = cnn_sweeps.first_check_note(path, runs.run_key, 4, target=high)
    assert one.startswith("1 of 2 configurations was already at") and "about 1/4 of an epoch in" in one
    assert "mostly ranks" not in one, "one of two is not most"
    assert "2 of 2 configurations were" in cnn_sweeps.first_check_note(path, runs.run_key, 4, target=low)
    assert cnn_sweeps.first_check_note(path, runs.run_key, 4, target=high + 1e-9) == ""


def test_train_baseline_trains_lab_2s_baseline_architecture(data_dir):
    data = load_splits("mnist", data_dir, train_limit=200, test_limit=50)
    model = train_baseline(data, epochs=1, device="cpu")
    assert model.config() == cnn_sweeps.build_model(BASELINE, image_size=data.size).config()
    assert not model.training, "returned in eval mode, ready to prune or rewrite"
