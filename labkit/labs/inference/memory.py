"""Where the memory goes: per-conv-layer bytes, weights vs activations in inference and training, and the
measured peak that checks the estimate.

Estimates are numel x element size. Measured peaks come from CUDA's allocator statistics on a GPU and, on
CPU, from ``torch.profiler``'s memory timeline (``profile_memory=True``): it sees every tensor torch
allocates during the profiled step and sorts it into parameters, optimizer state, inputs, activations,
gradients and temporaries; it does not see memory outside torch's allocator (Python objects, library
workspaces, allocator caching), which is why RSS grows more than it reports.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from labkit.counting import layer_table
from labkit.layer_calls import leaf_calls
from labkit.layer_formulas import CONV_TYPES
from labkit.profiling import native_stderr_silenced

OPTIMIZERS = {"sgd": 0, "sgd_momentum": 1, "adam": 2}  # optimizer -> state tensors kept per parameter
# The profiler's categories, in the column order of its memory timeline (torch.profiler._memory_profiler).
PROFILER_CATEGORIES = ("parameter", "optimizer_state", "input", "temporary", "activation", "gradient",
                       "autograd_detail", "unknown")
_VIEW_TYPES = (nn.Flatten, nn.Unflatten, nn.Identity)  # outputs that are views of their input: no new storage
_CONV_COLUMNS = ["layer", "input_shape", "output_shape", "weight_shape", "weight_bytes", "activation_bytes", "macs"]


def conv_layer_table(model: nn.Module, example: torch.Tensor) -> pd.DataFrame:
    """Return one row per convolution call on ``example``: shapes, weight bytes, activation (output) bytes, MACs.

    Bytes and MACs are for the whole batch of ``example``.
    """
    table = layer_table(model, example)
    convs = table[table.type.isin([t.__name__ for t in CONV_TYPES])]
    return convs[_CONV_COLUMNS].reset_index(drop=True)


def _check_optimizer(optimizer: str) -> int:
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer {optimizer!r}: choose one of {list(OPTIMIZERS)}")
    return OPTIMIZERS[optimizer]


def memory_estimate(model: nn.Module, example: torch.Tensor, *, optimizer: str = "sgd_momentum") -> pd.DataFrame:
    """Return the estimated bytes of one step on ``example``: ``phase`` (inference / training), ``part``, ``bytes``
    and ``how`` (what was counted).

    Inference keeps the weights, the input and, at worst, one layer's input and output at a time; training
    also keeps every layer's output for backward (in-place layers and reshapes reuse their input's storage), one gradient
    per parameter and the optimizer's state (SGD with momentum: 1 copy of the parameters, Adam: 2).
    """
    copies = _check_optimizer(optimizer)
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    buffer_bytes = sum(b.numel() * b.element_size() for b in model.buffers())
    input_bytes = example.numel() * example.element_size()
    calls = leaf_calls(model, (example,))
    nbytes = [(0 if c.input is None else c.input.numel() * c.input.element_size(),
               0 if c.output is None else c.output.numel() * c.output.element_size(),
               bool(getattr(c.module, "inplace", False)) or isinstance(c.module, _VIEW_TYPES)) for c in calls]
    live = max((i + (0 if inplace else o) for i, o, inplace in nbytes), default=0)
    kept = sum(o for _, o, inplace in nbytes if not inplace)
    weights = ("weights", param_bytes + buffer_bytes, "parameters + buffers (BatchNorm statistics)")
    batch = ("input batch", input_bytes, f"{tuple(example.shape)} x {example.element_size()} bytes")
    rows = [("inference", *weights), ("inference", *batch),
            ("inference", "activations", live, "largest layer input + output alive at once"),
            ("training", *weights), ("training", *batch),
            ("training", "activations", kept, "every layer output, kept for backward (in-place layers share)"),
            ("training", "gradients", param_bytes, "one per parameter"),
            ("training", "optimizer state", copies * param_bytes, f"{optimizer}: {copies} per parameter")]
    return pd.DataFrame(rows, columns=["phase", "part", "bytes", "how"])


# The profiler's categories under the estimate's part names; the rest is "other".
_MEASURED_PARTS = {"parameter": "weights", "input": "input batch", "activation": "activations",
                   "gradient": "gradients", "optimizer_state": "optimizer state"}


def memory_comparison(estimate: pd.DataFrame, inference_peak: dict, training_peak: dict) -> pd.DataFrame:
    """Return estimate and measured peaks side by side: ``phase``, ``source`` (estimate / measured), ``part``,
    ``bytes``; measured categories without an estimated part (temporaries, autograd detail, unknown) are "other"."""
    rows = [(r.phase, "estimate", r.part, r.bytes) for r in estimate.itertuples()]
    for phase, peak in (("inference", inference_peak), ("training", training_peak)):
        parts: dict[str, int] = {}
        for category in PROFILER_CATEGORIES:
            part = _MEASURED_PARTS.get(category, "other")
            parts[part] = parts.get(part, 0) + int(peak.get(category, 0))
        rows += [(phase, "measured", part, nbytes) for part, nbytes in parts.items()]
    return pd.DataFrame(rows, columns=["phase", "source", "part", "bytes"])


def _make_optimizer(model: nn.Module, optimizer: str) -> torch.optim.Optimizer:
    _check_optimizer(optimizer)
    if optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=1e-3)
    return torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9 if optimizer == "sgd_momentum" else 0.0)


def _profiled_peak(step, device: torch.device) -> dict[str, int]:
    """Run ``step`` under the memory profiler; return the bytes of each category at the step's peak."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with native_stderr_silenced(), profile(activities=activities, profile_memory=True, record_shapes=True,
                                            with_stack=True) as prof:
        step()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "timeline.json"
        with warnings.catch_warnings():  # deprecated in favour of CUDA memory snapshots, which see no CPU memory
            warnings.simplefilter("ignore", FutureWarning)
            prof.export_memory_timeline(str(path), device=str(device))
        _, sizes = json.loads(path.read_text())
    peak = max(sizes, key=lambda row: sum(row[1:]))  # column 0 is unused; then one column per category
    return {"peak_total": int(sum(peak[1:])),
            **{name: int(value) for name, value in zip(PROFILER_CATEGORIES, peak[1:])}}


def measured_peak(model: nn.Module, example: torch.Tensor, *, training: bool,
                  optimizer: str = "sgd_momentum") -> dict[str, int]:
    """Return the measured peak bytes of one step on ``example`` (inference, or training with ``optimizer``).

    Keys: ``peak_total``, ``method`` and, from the profiler, bytes per category at the peak (on CUDA the
    allocator's ``max_memory_allocated`` is ``peak_total``). One untimed step runs first, so optimizer state
    exists as it would in the middle of training.
    """
    device = next(model.parameters()).device
    example = example.to(device)
    opt = _make_optimizer(model, optimizer) if training else None

    def step() -> None:
        if training:
            opt.zero_grad(set_to_none=True)
            model(example).float().sum().backward()
            opt.step()
        else:
            with torch.inference_mode():
                model(example)

    was_training = model.training
    model.train(training)
    try:
        step()
        if training:
            opt.zero_grad(set_to_none=True)
        peak = _profiled_peak(step, device)
        peak["method"] = "torch.profiler memory timeline"
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            step()
            torch.cuda.synchronize(device)
            peak.update(peak_total=int(torch.cuda.max_memory_allocated(device)), method="torch.cuda.max_memory_allocated")
    finally:
        model.train(was_training)
        if opt is not None:
            opt.zero_grad(set_to_none=True)
    return peak
