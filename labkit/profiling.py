"""Where the time goes: ``torch.profiler``'s per-operator table of a model's forward, as a DataFrame.

Self time is the time spent in an operator itself, not in the operators it calls, so the self times of
all rows add up to the profiled time. Names are aten operators (``aten::addmm`` is a GEMM with a bias,
``aten::mkldnn_convolution`` oneDNN's direct convolution, ``aten::copy_`` / ``aten::clone`` memory copies).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

import pandas as pd
import torch
from torch import nn


@contextlib.contextmanager
def native_stderr_silenced():
    """Keep the profiler's C++ side (kineto), which logs start/stop lines straight to file descriptor 2, out of
    the notebook; Python exceptions still propagate."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def op_table(model: nn.Module | object, inputs: torch.Tensor, *, repeats: int = 20, warmup: int = 3,
             top: int | None = 12) -> pd.DataFrame:
    """Profile ``repeats`` forwards of ``model`` on ``inputs`` (after ``warmup``, under ``torch.inference_mode``);
    return one row per operator, most self time first: ``op``, ``calls`` (per forward), ``self_ms`` (per
    forward) and ``share`` (of the total self time). ``top`` keeps that many rows and sums the rest as "other"."""
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode():
        for _ in range(warmup):
            model(inputs)
        with native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(repeats):
                model(inputs)
    rows = [{"op": e.key, "calls": e.count / repeats, "self_ms": e.self_cpu_time_total / 1e3 / repeats}
            for e in prof.key_averages() if e.self_cpu_time_total > 0]
    table = pd.DataFrame(rows, columns=["op", "calls", "self_ms"]).sort_values("self_ms", ascending=False)
    table["share"] = table.self_ms / table.self_ms.sum()
    if top is not None and len(table) > top:
        rest = table.iloc[top:]
        other = pd.DataFrame([{"op": f"other ({len(rest)} ops)", "calls": rest.calls.sum(),
                               "self_ms": rest.self_ms.sum(), "share": rest.share.sum()}])
        table = pd.concat([table.iloc[:top], other])
    return table.reset_index(drop=True)


COPY_OPS = ("aten::copy_", "aten::clone", "aten::contiguous", "aten::_unsafe_view", "aten::reshape",
            "aten::as_strided", "aten::im2col", "aten::constant_pad_nd", "aten::empty", "aten::empty_strided")
GEMM_OPS = ("aten::addmm", "aten::mm", "aten::bmm", "aten::matmul")
CONV_OPS = ("aten::mkldnn_convolution", "aten::_convolution", "aten::convolution", "aten::conv2d",
            "aten::_slow_conv2d_forward", "aten::thnn_conv2d")


def time_by_kind(table: pd.DataFrame) -> dict[str, float]:
    """Return the self ms per forward of an :func:`op_table` (made with ``top=None``, so nothing is lumped into
    "other") grouped as GEMM, convolution, memory (copies, im2col, padding, allocation) and other."""
    kinds = {"gemm": GEMM_OPS, "convolution": CONV_OPS, "memory": COPY_OPS}
    totals = dict.fromkeys([*kinds, "other"], 0.0)
    for row in table.itertuples():
        kind = next((k for k, ops in kinds.items() if row.op in ops), "other")
        totals[kind] += row.self_ms
    return totals
