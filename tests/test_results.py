"""The tidy results file: stable keys, atomic appends, resumable sweeps."""

from __future__ import annotations

import pytest

from labkit.paths import project_root, reports_dir
from labkit.results import (DamagedResultsError, IncompatibleResultsError, append_result, check_compatible,
                            completed_keys, config_key, read_results)


def test_config_key_is_stable_and_ignores_key_order():
    key = config_key({"depth": 2, "width": 64, "lr": 1e-3})
    assert key == config_key({"lr": 1e-3, "width": 64, "depth": 2}), "key order must not change the key"
    assert len(key) == 16 and int(key, 16) >= 0, f"expected 16 hex digits, got {key!r}"


def test_config_key_differs_when_a_knob_differs():
    assert config_key({"depth": 2}) != config_key({"depth": 4})


def test_config_key_hashes_numpy_numbers_like_python_numbers():
    import numpy as np
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


def test_check_compatible_names_the_fields_that_differ_within_a_sweep(tmp_path):
    path = tmp_path / "results.csv"
    append_result(path, {"depth": 1, "epochs": 2, "seed": 0, "sweep": "depth", "test_acc": 0.9})
    with pytest.raises(IncompatibleResultsError, match=r"epochs: file 2, this run 3") as caught:
        check_compatible(path, {"epochs": 3, "seed": 0}, sweep="depth")
    assert "seed" not in str(caught.value), "only the fields that differ are named"
    check_compatible(path, {"epochs": 2, "seed": 0}, sweep="depth")  # the same setup is fine
    check_compatible(path, {"epochs": 3, "seed": 0}, sweep="width")  # another sweep may differ


def test_check_compatible_refuses_a_file_of_another_lab(tmp_path):
    path = tmp_path / "results.csv"
    append_result(path, {"lab": "01_mlp_sweeps", "sweep": "depth", "test_acc": 0.9})
    with pytest.raises(IncompatibleResultsError, match="lab '01_mlp_sweeps', not '02_cnn_sweeps'"):
        check_compatible(path, {"lab": "02_cnn_sweeps"}, sweep="model grid")


def test_check_compatible_reads_blank_cells_as_none(tmp_path):
    path = tmp_path / "results.csv"
    append_result(path, {"train_limit": None, "lr": 0.01, "sweep": "s"})
    check_compatible(path, {"train_limit": None, "lr": 0.01}, sweep="s")
    with pytest.raises(IncompatibleResultsError, match="train_limit: file blank, this run 500"):
        check_compatible(path, {"train_limit": 500, "lr": 0.01}, sweep="s")



# Damaged results files, as found in the wild: a half-synced copy, an edit gone wrong, another file's bytes.
DAMAGED = {
    "an unclosed quote": (b'run_key,foo\n"abc,1', 2, "never closes"),
    "a row wider than the header": (b"run_key,depth\n0123456789abcdef,1\nfedcba9876543210,2,3\n", 3, "3 field(s)"),
    "garbage bytes": (bytes(range(128, 256)) * 16, 1, "not UTF-8"),
    "NUL bytes on line 2": (b"run_key,depth\n0123\x00\x00,1\n", 2, "NUL bytes"),
}


@pytest.mark.parametrize("content, line, problem", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_results_file_is_named_with_its_line_and_left_as_it_is(tmp_path, content, line, problem):
    path = tmp_path / "results.csv"
    path.write_bytes(content)
    with pytest.raises(DamagedResultsError) as error:
        read_results(path)
    message = str(error.value)
    assert str(path) in message and f"line {line}" in message and problem in message, message
    assert "Move it aside" in message and str(tmp_path / "tables") in message, message
    with pytest.raises(DamagedResultsError):
        append_result(path, {"run_key": "0123456789abcdef", "depth": 4})
    assert path.read_bytes() == content, "nothing may be written on top of a damaged results file"


def test_a_file_whose_header_is_not_a_results_header_is_not_appended_to(tmp_path):
    path = tmp_path / "results.csv"
    path.write_bytes(b"this is not a results file")
    with pytest.raises(DamagedResultsError, match=r"line 1 is not the header of a results file \(no run_key"):
        append_result(path, {"run_key": "0123456789abcdef", "depth": 4})
    assert path.read_bytes() == b"this is not a results file"
