"""labkit.sysinfo: the fingerprint is complete, flat, stable, and never raises on a bare machine."""

import platform
import re
import subprocess
import sys

import pytest
import torch

from labkit import sysinfo
from labkit.sysinfo import describe_device, fingerprint, fingerprint_id, fingerprint_table

REQUIRED_KEYS = {
    "python_version", "torch_version", "torchvision_version", "cuda_version", "cudnn_version",
    "os", "os_release", "cpu_model", "cpu_simd_flags", "cpu_cores_physical", "cpu_cores_logical",
    "torch_num_threads", "torch_cpu_capability", "torch_blas", "torch_mkl", "torch_mkldnn", "torch_openmp",
    "ram_total_bytes", "ram_available_bytes", "gpu_count", "gpu_names", "gpu_memory_total_bytes",
}


@pytest.fixture
def bare_machine(monkeypatch, tmp_path):
    """No readable /proc files, no psutil, no sysctl: every probe for CPU details and RAM fails."""
    monkeypatch.setattr(sysinfo, "CPUINFO_PATH", str(tmp_path / "missing_cpuinfo"))
    monkeypatch.setattr(sysinfo, "MEMINFO_PATH", str(tmp_path))  # a directory: open() raises
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil raises ImportError

    def no_sysctl(*args, **kwargs):
        raise FileNotFoundError("sysctl")

    monkeypatch.setattr(subprocess, "run", no_sysctl)


def test_fingerprint_has_the_required_keys():
    missing = REQUIRED_KEYS - fingerprint().keys()
    assert not missing, f"fingerprint lacks {sorted(missing)}"


def test_fingerprint_is_flat_with_str_int_or_float_values():
    odd = {k: type(v).__name__ for k, v in fingerprint().items() if not isinstance(v, (str, int, float))}
    assert not odd, f"expected only str/int/float values, got {odd}"


def test_fingerprint_reports_the_running_python_and_torch():
    fp = fingerprint()
    assert fp["python_version"] == platform.python_version()
    assert fp["torch_version"] == torch.__version__


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RAM read from /proc/meminfo")
def test_fingerprint_ram_is_in_bytes_with_available_at_most_total():
    fp = fingerprint()
    assert isinstance(fp["ram_total_bytes"], int) and fp["ram_total_bytes"] > 2**20, "expected bytes, not KiB"
    assert 0 < fp["ram_available_bytes"] <= fp["ram_total_bytes"]


def test_fingerprint_id_is_12_hex_chars():
    assert re.fullmatch(r"[0-9a-f]{12}", fingerprint_id()), "expected 12 lowercase hex characters"


def test_fingerprint_id_is_stable_across_calls():
    assert fingerprint_id() == fingerprint_id(), "same machine and software should give the same id"


def test_fingerprint_id_ignores_available_ram_and_thread_settings():
    fp = fingerprint()
    changed = {**fp, "ram_available_bytes": 1, "torch_num_threads": 999}
    assert fingerprint_id(changed) == fingerprint_id(fp), "time-varying fields must not change the id"


def test_fingerprint_id_changes_with_the_software():
    fp = fingerprint()
    assert fingerprint_id({**fp, "torch_version": "0.0.0"}) != fingerprint_id(fp)


def test_fingerprint_table_has_rows_for_python_and_torch_versions():
    table = fingerprint_table()
    assert list(table.columns) == ["field", "value"]
    values = dict(zip(table.field, table.value))
    assert values.get("python_version") == platform.python_version(), "expected a python_version row"
    assert values.get("torch_version") == torch.__version__, "expected a torch_version row"


def test_fingerprint_table_shows_ram_in_gib():
    table = fingerprint_table({"ram_total_bytes": 3 * 2**30, "python_version": "3.11.0"})
    values = dict(zip(table.field, table.value))
    assert values.get("ram_total_gib") == "3.0", f"expected 3 GiB shown as '3.0', got rows {values}"
    assert "ram_total_bytes" not in values


def test_fingerprint_never_raises_when_proc_files_are_unreadable(bare_machine):
    fp = fingerprint()
    assert REQUIRED_KEYS <= fp.keys(), "every key should still be present"
    assert fp["python_version"] == platform.python_version()


def test_missing_info_becomes_unknown(bare_machine):
    fp = fingerprint()
    for key in ("ram_total_bytes", "ram_available_bytes", "cpu_simd_flags", "cpu_cores_physical"):
        assert fp[key] == "unknown", f"{key} should be 'unknown' when nothing can be read, got {fp[key]!r}"


def test_fingerprint_never_raises_on_garbage_proc_files(monkeypatch, tmp_path):
    garbage = tmp_path / "garbage"
    garbage.write_text("no colons here\n\x00\x01\nMemTotal: lots\n")
    monkeypatch.setattr(sysinfo, "CPUINFO_PATH", str(garbage))
    monkeypatch.setattr(sysinfo, "MEMINFO_PATH", str(garbage))
    fp = fingerprint()
    assert isinstance(fp["ram_total_bytes"], (int, str)), "bad meminfo should fall back, not raise"


def test_fingerprint_table_works_on_a_bare_machine(bare_machine):
    assert len(fingerprint_table()) > len(REQUIRED_KEYS)


@pytest.mark.parametrize("encoded, version", [(8907, "8.9.7"), (90100, "9.1.0"), (92400, "9.24.0")])
def test_cudnn_version_is_decoded_for_cudnn_8_and_9(monkeypatch, encoded, version):
    monkeypatch.setattr(torch.backends.cudnn, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: encoded)
    assert fingerprint()["cudnn_version"] == version


def test_describe_device_for_cpu_names_the_model_and_threads(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 16)
    line = describe_device("cpu")
    assert line.startswith("CPU: ") and line.endswith("(16 threads)"), line
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert describe_device("cpu").endswith("(1 thread)")


def test_run_setting_names_device_torch_kernels_and_the_fingerprint(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    fields = {**fingerprint(), "torch_version": "2.9.0", "torch_blas": "mkl", "torch_cpu_capability": "AVX2",
              "torch_mkldnn": "3.7"}
    text = sysinfo.run_setting("cpu", fields)
    assert text.startswith("Every number below was measured on **CPU: ") and "(4 threads)**" in text
    assert "PyTorch 2.9.0 (mkl BLAS, CPU kernels built for AVX2, oneDNN 3.7)" in text
    assert f"fingerprint id `{fingerprint_id(fields)}`" in text
    untagged = sysinfo.run_setting("cpu", fields, scope="Every CPU timing below", rows_tagged=False)
    assert untagged.startswith("Every CPU timing below was") and "result row" not in untagged
    assert untagged.endswith(f"The fingerprint id of this machine and software is `{fingerprint_id(fields)}`.")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_describe_device_for_cuda_names_the_gpu_and_memory():
    line = describe_device("cuda")
    assert line.startswith("CUDA: ") and line.endswith("GiB)") and torch.cuda.get_device_name() in line, line
