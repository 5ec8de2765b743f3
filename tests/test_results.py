"""The tidy results file: stable keys, atomic appends, resumable sweeps."""

from __future__ import annotations

import pytest

from labkit.results import (append_result, completed_keys, config_key, project_root, read_results,
                            reports_dir, run_resumable)

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


def test_config_key_is_stable_and_ignores_key_order():
    key = config_key({"depth": 2, "width": 64, "lr": 1e-3})
    assert key == config_key({"lr": 1e-3, "width": 64, "depth": 2}), "key order must not change the key"
    assert len(key) == 16 and int(key, 16) >= 0, f"expected 16 hex digits, got {key!r}"


def test_config_key_differs_when_a_knob_differs():
    assert config_key({"depth": 2}) != config_key({"depth": 4})


def test_config_key_hashes_numpy_numbers_like_python_numbers():
    np = pytest.importorskip("numpy")
    assert config_key({"width": np.int64(64)}) == config_key({"width": 64})


def test_append_result_creates_the_file_then_appends(tmp_path):
    path = tmp_path / "sub" / "results.csv"
    append_result(path, {"depth": 1, "test_acc": 0.91})
    append_result(path, {"depth": 2, "test_acc": 0.93})
    frame = read_results(path)
    assert frame["depth"].tolist() == [1, 2], f"expected two rows in order, got\n{frame}"
    assert frame["test_acc"].tolist() == [0.91, 0.93]


def test_append_result_with_new_columns_widens_the_file_and_keeps_old_rows(tmp_path):
    path = tmp_path / "results.csv"
    append_result(path, {"depth": 1, "test_acc": 0.91})
    append_result(path, {"depth": 2, "test_acc": 0.93, "latency_ms": 0.25})
    frame = read_results(path)
    assert list(frame.columns) == ["depth", "test_acc", "latency_ms"], f"got columns {list(frame.columns)}"
    assert frame.loc[0, "test_acc"] == 0.91, "the old row must keep its values"
    assert frame["latency_ms"].isna().tolist() == [True, False], "the old row must get an empty new column"


def test_append_result_leaves_no_temp_files(tmp_path):
    path = tmp_path / "results.csv"
    for depth in range(3):
        append_result(path, {"depth": depth})
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_append_result_gives_the_file_the_usual_mode_not_the_temp_files_0600(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    path = tmp_path / "results.csv"
    append_result(path, {"depth": 1})
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_read_results_of_a_missing_file_is_empty(tmp_path):
    frame = read_results(tmp_path / "nothing_yet.csv")
    assert frame.empty, f"expected an empty DataFrame, got\n{frame}"


def test_completed_keys_reads_keys_that_look_like_numbers_as_text(tmp_path):
    path = tmp_path / "results.csv"
    append_result(path, {"run_key": "0123456789012345", "test_acc": 0.9})
    assert completed_keys(path) == {"0123456789012345"}


def test_run_resumable_runs_every_config_once_and_records_the_key(tmp_path):
    path, run = tmp_path / "sweep.csv", CountingRun()
    rows = run_resumable(CONFIGS, run, path, key_fields={"epochs": 2}, progress=False)
    assert len(run.calls) == 5, f"expected 5 runs, got {len(run.calls)}"
    assert rows["run_key"].tolist() == [config_key({**c, "epochs": 2}) for c in CONFIGS]
    assert (rows["epochs"] == 2).all(), "key_fields must be recorded in every row"


def test_run_resumable_skips_completed_configs(tmp_path):
    path = tmp_path / "sweep.csv"
    run_resumable(CONFIGS[:3], CountingRun(), path, progress=False)
    run = CountingRun()
    run_resumable(CONFIGS, run, path, progress=False)
    assert [c["depth"] for c in run.calls] == [8, 16], f"expected only depths 8, 16; got {run.calls}"


def test_run_resumable_treats_other_key_fields_as_new_runs(tmp_path):
    path = tmp_path / "sweep.csv"
    run_resumable(CONFIGS, CountingRun(), path, key_fields={"epochs": 1}, progress=False)
    run = CountingRun()
    rows = run_resumable(CONFIGS, run, path, key_fields={"epochs": 2}, progress=False)
    assert len(run.calls) == 5, "a different setup (epochs) must not reuse the old rows"
    assert (rows["epochs"] == 2).all() and len(rows) == 5


def test_run_resumable_resumes_after_an_interruption(tmp_path):
    path = tmp_path / "sweep.csv"
    with pytest.raises(KeyboardInterrupt):
        run_resumable(CONFIGS, CountingRun(fail_on=(4,)), path, progress=False)
    assert read_results(path)["depth"].tolist() == [1, 2], "the two finished runs must be kept"
    run = CountingRun()
    rows = run_resumable(CONFIGS, run, path, progress=False)
    assert [c["depth"] for c in run.calls] == [4, 8, 16], f"expected configs 3-5 only, got {run.calls}"
    assert rows["depth"].tolist() == [1, 2, 4, 8, 16]


def test_run_resumable_returns_rows_in_config_order_and_only_those_configs(tmp_path):
    path = tmp_path / "sweep.csv"
    run_resumable(CONFIGS, CountingRun(), path, progress=False)
    wanted = [CONFIGS[4], CONFIGS[0], CONFIGS[2]]
    rows = run_resumable(wanted, CountingRun(), path, progress=False)
    assert rows["depth"].tolist() == [16, 1, 4], f"expected depths 16, 1, 4 in that order, got\n{rows}"
    assert rows["test_acc"].tolist() == [fake_trial(c)["test_acc"] for c in wanted]


def test_run_resumable_shows_a_text_progress_bar_named_by_desc(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LABKIT_PROGRESS", "text")
    rows = run_resumable(CONFIGS[:2], CountingRun(), tmp_path / "sweep.csv", desc="depth sweep")
    printed = capsys.readouterr()
    assert len(rows) == 2
    assert "depth sweep" in printed.out + printed.err, f"expected the bar's desc, got {printed}"


def test_reports_dir_honours_the_environment_variable_and_creates_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_REPORTS_DIR", str(tmp_path / "my_reports"))
    folder = reports_dir("01_mlp_sweeps")
    assert folder == tmp_path / "my_reports" / "01_mlp_sweeps"
    assert folder.is_dir(), "reports_dir must create the folder"


def test_reports_dir_prefers_an_explicit_root(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_REPORTS_DIR", str(tmp_path / "from_env"))
    assert reports_dir("lab", root=tmp_path / "explicit") == tmp_path / "explicit" / "lab"


def test_reports_dir_defaults_to_the_project_reports_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("LABKIT_REPORTS_DIR", raising=False)
    for name in ("labkit", "notebooks", "notebooks/deep"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path / "notebooks" / "deep")
    assert reports_dir("lab") == (tmp_path / "reports" / "lab").resolve()


def test_project_root_is_none_outside_a_project(tmp_path):
    assert project_root(tmp_path) is None
