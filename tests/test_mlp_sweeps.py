"""The Lab 1 trial: one MLP config trained, counted and timed; its sweeps resume."""

import pytest

from labkit import results
from labkit.labs.mlp import sweeps as mlp_sweeps
from labkit.labs.mlp.sweeps import MLP_BASELINE, TrialSetup, mlp_trial, run_mlp_sweep
from labkit.sweep import grid


@pytest.fixture
def setup(data_dir):
    return TrialSetup(data_dir=str(data_dir), epochs=1, device="cpu", latency_repeats=3)


def test_trial_counts_params_and_macs_of_the_configured_mlp(setup):
    config = {**MLP_BASELINE, "input_size": 14, "depth": 2, "width": 16, "batch_size": 8}
    row = mlp_trial(config, setup)
    assert row["params"] == (196 * 16 + 16) + (16 * 16 + 16) + (16 * 10 + 10)
    assert row["macs"] == 196 * 16 + 16 * 16 + 16 * 10 and row["flops"] == 2 * row["macs"]
    assert row["batch_macs"] == 8 * row["macs"]
    assert row["train_steps"] == setup.epochs * -(-row["train_examples"] // 8), "one step per batch of 8 per epoch"
    assert 0 <= row["test_acc"] <= 1 and row["latency_ms"] > 0 and row["train_time_s"] > 0


def test_sweep_records_one_row_per_config_with_knobs_and_fingerprint(setup, tmp_path):
    path = tmp_path / "results.csv"
    configs = grid({**MLP_BASELINE, "batch_size": 16}, width=[8, 16])
    runs = run_mlp_sweep(configs, setup, path)
    on_disk = results.read_results(path)
    assert len(on_disk) == 2 and runs.width.tolist() == [8, 16]
    for column in ("lab", "depth", "width", "input_size", "epochs", "seed", "fingerprint_id", "test_acc", "latency_ms"):
        assert column in on_disk.columns, f"results file lacks {column}"


def test_a_repeated_sweep_reuses_recorded_rows(setup, tmp_path, monkeypatch):
    path = tmp_path / "results.csv"
    configs = grid({**MLP_BASELINE, "batch_size": 16}, width=[8])
    first = run_mlp_sweep(configs, setup, path)
    monkeypatch.setattr(mlp_sweeps, "mlp_trial", lambda *a, **k: pytest.fail("a recorded run was trained again"))
    again = run_mlp_sweep(configs, setup, path)
    assert again.test_acc.tolist() == first.test_acc.tolist()
