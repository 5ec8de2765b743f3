"""Lab 5's GPU path: CUDA-event timing, and a hand-written Triton matmul to set against cuBLAS.

Everything here needs CUDA; :func:`gpu_unavailable` says why it cannot run on this machine (the notebook
cells and the tests skip with that reason). Triton ships with the CUDA build of torch.
"""

from __future__ import annotations

import copy
import functools
from typing import Callable

import pandas as pd
import torch
from torch import nn

from labkit.timing import LatencyStats


def gpu_unavailable() -> str | None:
    """Return None when a CUDA GPU and Triton are usable here, else the reason they are not."""
    if not torch.cuda.is_available():
        return "no CUDA GPU on this machine (torch.cuda.is_available() is False)"
    try:
        import triton  # noqa: F401
    except ImportError:
        return "Triton is not installed (it ships with the CUDA build of torch)"
    return None


def cuda_event_ms(fn: Callable[[], object], *, repeats: int = 50, warmup: int = 5) -> list[float]:
    """Return ``repeats`` GPU times in ms of ``fn()``, each bracketed by CUDA events (after ``warmup`` calls and a
    synchronize), so the time is the GPU's, not the Python launch's."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return times


@functools.lru_cache(maxsize=1)
def triton_kernel():
    """Return (triton, the tiled matmul kernel), defined once per process: a kernel defined anew on every call
    is compiled anew too (4.6 ms a call on an H200, whatever the size)."""
    import triton
    import triton.language as tl

    @triton.jit
    def matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K, stride_am, stride_ak, stride_bk, stride_bn, stride_cm,
                      stride_cn, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
        # One program computes one BLOCK_M x BLOCK_N tile of C, walking K in BLOCK_K steps.
        pid_m, pid_n = tl.program_id(0), tl.program_id(1)
        offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
        offs_k = tl.arange(0, BLOCK_K)
        a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak
        b_ptrs = b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn
        acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for k in range(0, tl.cdiv(K, BLOCK_K)):
            left = K - k * BLOCK_K
            a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & (offs_k[None, :] < left), other=0.0)
            b = tl.load(b_ptrs, mask=(offs_k[:, None] < left) & (offs_n[None, :] < N), other=0.0)
            acc += tl.dot(a, b, input_precision="ieee")  # true fp32, not TF32: exact within fp32 rounding
            a_ptrs += BLOCK_K * stride_ak
            b_ptrs += BLOCK_K * stride_bk
        c_ptrs = c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn
        tl.store(c_ptrs, acc, mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))

    return triton, matmul_kernel


def triton_matmul(a: torch.Tensor, b: torch.Tensor, *, block_m: int = 64, block_n: int = 64,
                  block_k: int = 32) -> torch.Tensor:
    """Return ``a @ b`` (fp32 CUDA matrices, (M, K) x (K, N)) computed by labkit's tiled Triton kernel."""
    reason = gpu_unavailable()
    if reason is not None:
        raise RuntimeError(f"triton_matmul needs a CUDA GPU with Triton: {reason}")
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"shapes {tuple(a.shape)} and {tuple(b.shape)} do not multiply")
    triton, kernel = triton_kernel()
    m, k = a.shape
    n = b.shape[1]
    c = torch.empty(m, n, device=a.device, dtype=torch.float32)
    grid = (triton.cdiv(m, block_m), triton.cdiv(n, block_n))
    kernel[grid](a, b, c, m, n, k, a.stride(0), a.stride(1), b.stride(0), b.stride(1), c.stride(0), c.stride(1),
                 BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k)
    return c


def _spread(times_ms: list[float], prefix: str = "") -> dict[str, float]:
    """The median, p10 and p90 of ``times_ms`` as ``{prefix}ms`` (``median_ms`` without a prefix), ..."""
    stats = LatencyStats(batch_size=1, samples_ms=tuple(times_ms))
    return {f"{prefix or 'median_'}ms": stats.median_ms, f"{prefix}p10_ms": stats.p10_ms,
            f"{prefix}p90_ms": stats.p90_ms}


def model_times(models: dict[str, nn.Module], x: torch.Tensor, *, repeats: int = 50) -> pd.DataFrame:
    """Time a copy of each model on CUDA on the batch ``x`` with CUDA events; one row per model: ``model``,
    ``batch_size``, ``median_ms``, ``p10_ms``, ``p90_ms`` (ms per batch over ``repeats`` calls). The models stay put."""
    xg = x.to("cuda")
    rows = []
    with torch.inference_mode():
        for name, model in models.items():
            on_gpu = copy.deepcopy(model).to("cuda").eval()
            times_ms = cuda_event_ms(lambda m=on_gpu: m(xg), repeats=repeats)
            rows.append({"model": name, "batch_size": len(x), **_spread(times_ms)})
    return pd.DataFrame(rows)


def triton_vs_cublas(sizes=(512, 1024, 2048, 4096), *, repeats: int = 20) -> pd.DataFrame:
    """Time square fp32 matmuls with labkit's Triton kernel and with cuBLAS (``torch.mm``, TF32 off); one row per
    size: ``n``, ``triton_ms`` and ``cublas_ms`` (medians, with ``*_p10_ms``, ``*_p90_ms``), ``triton_tflops``,
    ``cublas_tflops``, ``max_abs_diff``."""
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # compare fp32 with fp32
    try:
        rows = []
        for n in sizes:
            a, b = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
            diff = float((triton_matmul(a, b) - torch.mm(a, b)).abs().max())
            row = {"n": n, **_spread(cuda_event_ms(lambda: triton_matmul(a, b), repeats=repeats), "triton_"),
                   **_spread(cuda_event_ms(lambda: torch.mm(a, b), repeats=repeats), "cublas_")}
            rows.append({**row, "triton_tflops": 2 * n ** 3 / row["triton_ms"] / 1e9,
                         "cublas_tflops": 2 * n ** 3 / row["cublas_ms"] / 1e9, "max_abs_diff": diff})
        return pd.DataFrame(rows)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
