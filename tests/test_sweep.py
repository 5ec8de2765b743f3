"""The generic resumable sweep runner: one row per config, resumable, setups never mixed."""

import pandas as pd
import pytest

from labkit.results import DamagedResultsError, IncompatibleResultsError, config_key, read_results
from labkit.sweep import best_tradeoff, grid, run_sweep

CONFIGS = [{"depth": depth, "width": 64} for depth in (1, 2, 4, 8, 16)]


def fake_trial(config: dict) -> dict:
    """A stand-in for training: metrics that depend on the config only."""
    return {"test_acc": 0.9 + config["depth"] / 1000, "latency_ms": 0.1 * config["depth"]}


class CountingRun:
    """Calls ``fake_trial``, counts calls, and raises on the configs listed in ``fail_on``."""

    def __init__(self, fail_on: tuple[int, ...] = ()):
        self.calls: list[dict] = []
        self.fail_on = fail_on

    def __call__(self, config: dict) -> dict:
        self.calls.append(config)
        if config["depth"] in self.fail_on:
            raise KeyboardInterrupt(f"interrupted at depth {config['depth']}")
        return fake_trial(config)



def test_grid_varies_every_axis_over_the_base():
    configs = grid({"a": 0, "b": 1}, b=[2, 3], c=["x", "y"])
    assert configs == [{"a": 0, "b": 2, "c": "x"}, {"a": 0, "b": 2, "c": "y"},
                       {"a": 0, "b": 3, "c": "x"}, {"a": 0, "b": 3, "c": "y"}]


def test_run_sweep_runs_every_config_once_and_records_the_key(tmp_path):
    path, run = tmp_path / "sweep.csv", CountingRun()
    rows = run_sweep(CONFIGS, run, path, key_fields={"epochs": 2}, progress=False)
    assert len(run.calls) == 5, f"expected 5 runs, got {len(run.calls)}"
    assert rows["run_key"].tolist() == [config_key({**c, "epochs": 2}) for c in CONFIGS]
    assert (rows["epochs"] == 2).all(), "key_fields must be recorded in every row"


def test_run_sweep_skips_completed_configs(tmp_path):
    path = tmp_path / "sweep.csv"
    run_sweep(CONFIGS[:3], CountingRun(), path, progress=False)
    run = CountingRun()
    run_sweep(CONFIGS, run, path, progress=False)
    assert [c["depth"] for c in run.calls] == [8, 16], f"expected only depths 8, 16; got {run.calls}"


def test_run_sweep_refuses_to_mix_setups_in_one_sweep_and_names_the_field(tmp_path):
    path = tmp_path / "sweep.csv"
    run_sweep(CONFIGS, CountingRun(), path, key_fields={"epochs": 1}, progress=False)
    run = CountingRun()
    with pytest.raises(IncompatibleResultsError, match="epochs: file 1, this run 2"):
        run_sweep(CONFIGS, run, path, key_fields={"epochs": 2}, progress=False)
    assert run.calls == [], "nothing may run before the setup is checked"


def test_run_sweep_under_another_sweep_name_treats_other_key_fields_as_new_runs(tmp_path):
    path = tmp_path / "sweep.csv"
    run_sweep(CONFIGS, CountingRun(), path, key_fields={"epochs": 1}, sweep="short", progress=False)
    run = CountingRun()
    rows = run_sweep(CONFIGS, run, path, key_fields={"epochs": 2}, sweep="long", progress=False)
    assert len(run.calls) == 5, "a different setup (epochs) must not reuse the old rows"
    assert (rows["epochs"] == 2).all() and len(rows) == 5 and (rows["sweep"] == "long").all()


def test_run_sweep_resumes_after_an_interruption(tmp_path):
    path = tmp_path / "sweep.csv"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(CONFIGS, CountingRun(fail_on=(4,)), path, progress=False)
    assert read_results(path)["depth"].tolist() == [1, 2], "the two finished runs must be kept"
    run = CountingRun()
    rows = run_sweep(CONFIGS, run, path, progress=False)
    assert [c["depth"] for c in run.calls] == [4, 8, 16], f"expected configs 3-5 only, got {run.calls}"
    assert rows["depth"].tolist() == [1, 2, 4, 8, 16]


def test_run_sweep_returns_rows_in_config_order_and_only_those_configs(tmp_path):
    path = tmp_path / "sweep.csv"
    run_sweep(CONFIGS, CountingRun(), path, progress=False)
    wanted = [CONFIGS[4], CONFIGS[0], CONFIGS[2]]
    rows = run_sweep(wanted, CountingRun(), path, progress=False)
    assert rows["depth"].tolist() == [16, 1, 4], f"expected depths 16, 1, 4 in that order, got\n{rows}"
    assert rows["test_acc"].tolist() == [fake_trial(c)["test_acc"] for c in wanted]


def test_run_sweep_shows_a_text_progress_bar_named_by_desc(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LABKIT_PROGRESS", "text")
    rows = run_sweep(CONFIGS[:2], CountingRun(), tmp_path / "sweep.csv", sweep="depth sweep")
    printed = capsys.readouterr()
    assert len(rows) == 2
    assert "depth sweep" in printed.out + printed.err, f"expected the bar's desc, got {printed}"


def test_run_sweep_keeps_history_tables_out_of_the_row(tmp_path):
    def trial(config):
        return {**fake_trial(config), "history": pd.DataFrame({"epoch": [1], "test_acc": [0.5]})}

    rows = run_sweep(CONFIGS[:1], trial, tmp_path / "sweep.csv", progress=False)
    assert "history" not in rows.columns and rows.test_acc.tolist() == [fake_trial(CONFIGS[0])["test_acc"]]


def test_best_tradeoff_is_the_cheapest_model_within_tolerance_of_the_best():
    runs = pd.DataFrame({"model": list("abcd"), "flops": [100, 10, 5, 1],
                         "test_acc": [0.98, 0.975, 0.95, 0.90]})
    assert best_tradeoff(runs, tolerance=0.01).model == "b"
    assert best_tradeoff(runs, tolerance=0.05).model == "c"


def test_run_sweep_on_a_damaged_results_file_stops_before_any_trial_and_writes_nothing(tmp_path):
    path = tmp_path / "results.csv"
    damaged = b'run_key,foo\n"abc,1'  # an edit gone wrong: a quote opened and never closed
    path.write_bytes(damaged)
    run = CountingRun()
    with pytest.raises(DamagedResultsError, match=rf"{path} cannot be read: line 2 .*Move it aside"):
        run_sweep(CONFIGS, run, path, sweep="depth")
    assert run.calls == [] and path.read_bytes() == damaged and not (tmp_path / "tables").exists()
