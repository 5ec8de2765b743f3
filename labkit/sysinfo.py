"""The machine fingerprint: hardware, OS and PyTorch build, collected by code, never typed in.

Linux is read from /proc/cpuinfo and /proc/meminfo; elsewhere from ``platform``, ``sysctl``
(macOS) and psutil when installed. Any probe that fails gives ``"unknown"``, never an exception.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
from collections.abc import Callable

import pandas as pd
import torch

UNKNOWN = "unknown"
CPUINFO_PATH = "/proc/cpuinfo"
MEMINFO_PATH = "/proc/meminfo"
# SIMD extensions worth reporting (x86 AVX-512/AVX2/FMA/AMX..., ARM NEON/SVE).
_SIMD = re.compile(r"^(sse4|ssse3|avx|fma|f16c|amx|asimd|neon|sve)", re.IGNORECASE)
# Fields that change while the machine and software stay the same: left out of the id.
VOLATILE_FIELDS = frozenset({"ram_available_bytes", "torch_num_threads", "torch_num_interop_threads",
                             "cpus_usable"})


def _first(*probes: Callable[[], object]) -> object:
    """Return the first probe result that is neither None nor empty and does not raise; else "unknown"."""
    for probe in probes:
        try:
            value = probe()
        except Exception:  # a probe may fail in any way on an odd platform: that is the point
            continue
        if value is not None and value != "":
            return value
    return UNKNOWN


def _read_blocks(path: str) -> list[dict[str, str]]:
    """A /proc file as blank-line-separated blocks of ``key: value`` lines (one per CPU in cpuinfo)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        blocks = f.read().split("\n\n")
    parsed = []
    for block in blocks:
        pairs = (line.partition(":") for line in block.splitlines())
        parsed.append({key.strip(): value.strip() for key, sep, value in pairs if sep})
    return [fields for fields in parsed if fields]


def _read_fields(path: str) -> dict[str, str]:
    """All ``key: value`` lines of a /proc file merged; the first occurrence of each key wins."""
    merged: dict[str, str] = {}
    for block in _read_blocks(path):
        for key, value in block.items():
            merged.setdefault(key, value)
    return merged


def _sysctl(name: str) -> str:
    out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5, check=True)
    return out.stdout.strip()


def _psutil():
    import psutil  # optional: not a labkit dependency
    return psutil


def _meminfo_bytes(key: str) -> int:
    return int(_read_fields(MEMINFO_PATH)[key].split()[0]) * 1024  # /proc/meminfo is in KiB


def _physical_cores_linux() -> int | None:
    cores = {(b.get("physical id"), b["core id"]) for b in _read_blocks(CPUINFO_PATH) if "core id" in b}
    return len(cores) or None


def cpu_flags() -> str:
    info = _read_fields(CPUINFO_PATH)
    flags = info.get("flags") or info.get("Features") or ""
    return " ".join(sorted({f for f in flags.split() if _SIMD.match(f)})) or None


def _config_match(pattern: str) -> str | None:
    match = re.search(pattern, torch.__config__.show())
    return match.group(1) if match else None


def _available(is_available: Callable[[], bool], version_pattern: str) -> str:
    """Library version from the torch build if present, "yes" if available without one, else "no"."""
    return (_config_match(version_pattern) or "yes") if is_available() else "no"


def _cudnn_version() -> str:
    v = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    if v is None:
        return "none"
    major, rest = (v // 10000, v % 10000) if v >= 90000 else (v // 1000, v % 1000)  # cuDNN 9 changed the encoding
    return f"{major}.{rest // 100}.{rest % 100}"


def _gpus() -> list:
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]


def _torchvision_version() -> str:
    import torchvision
    return torchvision.__version__


def cpu_model() -> str:
    """CPU model name, e.g. "Intel(R) Xeon(R) CPU @ 2.20GHz"; "unknown" if no probe works."""
    return str(_first(lambda: _read_fields(CPUINFO_PATH).get("model name"),
                      lambda: _read_fields(CPUINFO_PATH).get("Model"),  # e.g. Raspberry Pi
                      lambda: _sysctl("machdep.cpu.brand_string"),
                      lambda: platform.processor()))


def fingerprint() -> dict[str, object]:
    """Flat dict describing machine and software: str/int values; RAM and GPU memory (summed over GPUs) in bytes."""
    backends = torch.backends
    gpus = _first(_gpus)
    gpus = gpus if isinstance(gpus, list) else []
    return {
        "python_version": platform.python_version(),
        "torch_version": torch.__version__,
        "torchvision_version": _first(_torchvision_version),
        "cuda_version": _first(lambda: torch.version.cuda or "none"),
        "cudnn_version": _first(_cudnn_version),
        "os": _first(platform.system),
        "os_release": _first(platform.release),
        "os_distribution": _first(lambda: platform.freedesktop_os_release()["PRETTY_NAME"],
                                  lambda: platform.mac_ver()[0] and f"macOS {platform.mac_ver()[0]}",
                                  platform.version),
        "machine": _first(platform.machine),
        "cpu_model": cpu_model(),
        "cpu_simd_flags": _first(cpu_flags, lambda: _sysctl("machdep.cpu.features").lower()),
        "cpu_cores_physical": _first(_physical_cores_linux, lambda: int(_sysctl("hw.physicalcpu")),
                                     lambda: _psutil().cpu_count(logical=False)),
        "cpu_cores_logical": _first(os.cpu_count),
        "cpus_usable": _first(lambda: len(os.sched_getaffinity(0)), os.cpu_count),
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "torch_cpu_capability": _first(backends.cpu.get_cpu_capability),
        "torch_blas": _first(lambda: _config_match(r"BLAS_INFO=(\w+)")),
        "torch_mkl": _first(lambda: _available(backends.mkl.is_available, r"Math Kernel Library Version ([\w.]+)")),
        "torch_mkldnn": _first(lambda: _available(backends.mkldnn.is_available, r"MKL-DNN v([\w.]+)")),  # oneDNN
        "torch_openmp": _first(lambda: _available(backends.openmp.is_available, r"a\.k\.a\. OpenMP ([\d.]+)")),
        "ram_total_bytes": _first(lambda: _meminfo_bytes("MemTotal"), lambda: int(_sysctl("hw.memsize")),
                                  lambda: _psutil().virtual_memory().total),
        "ram_available_bytes": _first(lambda: _meminfo_bytes("MemAvailable"),
                                      lambda: _psutil().virtual_memory().available),
        "gpu_count": len(gpus),
        "gpu_names": "; ".join(g.name for g in gpus) or "none",
        "gpu_compute_capability": "; ".join(f"{g.major}.{g.minor}" for g in gpus) or "none",
        "gpu_memory_total_bytes": sum(g.total_memory for g in gpus),
        "mps_available": _first(lambda: "yes" if backends.mps.is_available() else "no"),
    }


def fingerprint_id(fp: dict[str, object] | None = None) -> str:
    """12 hex chars hashing the stable fields (no RAM available, no thread settings) of ``fp``."""
    fp = fingerprint() if fp is None else fp
    stable = {k: str(v) for k, v in fp.items() if k not in VOLATILE_FIELDS}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()[:12]


def fingerprint_table(fp: dict[str, object] | None = None) -> pd.DataFrame:
    """Two string columns ``field``, ``value``: the fingerprint with byte counts shown in GiB, then its id."""
    fp = fingerprint() if fp is None else fp
    rows = []
    for field, value in fp.items():
        if field.endswith("_bytes") and isinstance(value, int):
            field, value = field.removesuffix("_bytes") + "_gib", f"{value / 2**30:.1f}"
        rows.append((field, str(value)))
    rows.append(("fingerprint_id", fingerprint_id(fp)))
    return pd.DataFrame(rows, columns=["field", "value"])


def run_setting(device: torch.device | str, fingerprint_fields: dict | None = None, *,
                scope: str = "Every number below", rows_tagged: bool = True) -> str:
    """Where ``scope`` was measured: the device (:func:`describe_device`), PyTorch and its CPU kernels, and the
    fingerprint id (``fingerprint_fields``: :func:`fingerprint`, taken when None), which every result row carries
    when ``rows_tagged``."""
    fp = fingerprint() if fingerprint_fields is None else fingerprint_fields
    tag = (f"Every result row carries the fingerprint id `{fingerprint_id(fp)}` of this machine and software."
           if rows_tagged else f"The fingerprint id of this machine and software is `{fingerprint_id(fp)}`.")
    return (f"{scope} was measured on **{describe_device(device)}**, with PyTorch {fp['torch_version']} "
            f"({fp['torch_blas']} BLAS, CPU kernels built for {fp['torch_cpu_capability']}, oneDNN "
            f"{fp['torch_mkldnn']}). {tag}")


def describe_device(device: torch.device | str) -> str:
    """One line naming the device, e.g. "CPU: AMD EPYC (2 threads)" or "CUDA: Tesla T4 (15.0 GiB)"."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return f"CUDA: {props.name} ({props.total_memory / 2**30:.1f} GiB)"
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return f"CPU: {cpu_model()} ({threads} thread{'' if threads == 1 else 's'})"
    return f"{device.type.upper()}: {cpu_model() if device.type == 'mps' else device}"
