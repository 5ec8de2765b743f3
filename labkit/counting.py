"""What a model costs: parameters, MACs, bytes, and per-layer tables.

A MAC is one multiply-add of a matrix product or a convolution, what torch's flop counter counts;
FLOPs = 2 x MACs (see :func:`macs_to_flops`). Elementwise work (bias additions, normalisation,
activations, pooling, residual adds) is not counted. Byte counts are numel x element size.
The by-hand formulas are in :mod:`labkit.layer_formulas`, the recorded layer calls in :mod:`labkit.layer_calls`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from labkit.layer_calls import dtype, inference, leaf_calls, shape
from labkit.layer_formulas import analytic_macs, param_formula


# On CPU, scaled_dot_product_attention runs aten._scaled_dot_product_flash_attention_for_cpu, for which torch up to
# 2.14 has no FlopCounterMode formula: it counts 0 for QK^T and attention x V (torch 2.15 counts it). labkit hands
# the counter torch's own SDPA formula for that kernel (custom_mapping; torch's global registry is left alone, so a
# plain counter shows the gap where there is one).
def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of one CPU flash-attention call: QK^T plus attention x V, 2 per multiply-add (mask ignored)."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def flop_formulas() -> dict:
    """Return the formulas labkit adds to ``FlopCounterMode(custom_mapping=...)``: aten op -> FLOPs formula."""
    formulas = {}
    cpu_attention = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if cpu_attention is not None:
        formulas[cpu_attention] = _cpu_sdpa_flops
    return formulas

METHODS = ("torch", "thop", "analytic")

_LAYER_COLUMNS = ["layer", "type", "input_shape", "output_shape", "weight_shape", "input_dtype",
                  "weight_dtype", "output_dtype", "params", "weight_bytes", "activation_bytes", "macs"]


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Return the number of parameters (elements, not bytes); a shared tensor counts once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def macs_to_flops(macs: int) -> int:
    """Return FLOPs for ``macs`` multiply-adds: one multiply and one add each, so 2 x MACs."""
    return 2 * macs


def model_size_bytes(model: nn.Module) -> int:
    """Return the bytes that parameters and buffers (e.g. BatchNorm running stats) occupy in memory."""
    return sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])


def human_bytes(n: int) -> str:
    """Format a byte count in binary units, 1 KiB = 1024 B and 1 MiB = 1024 KiB (e.g. ``"3.1 MiB"``)."""
    units, value = ("B", "KiB", "MiB", "GiB", "TiB"), float(n)
    k = 0
    while abs(value) >= 1024 and k < len(units) - 1:
        value, k = value / 1024, k + 1
    return f"{n} B" if k == 0 else f"{value:.1f} {units[k]}"


def count_macs(model: nn.Module, *inputs: torch.Tensor, method: str = "torch") -> int:
    """Return the multiply-adds (MACs) of one forward pass on ``inputs``; they scale with the batch size.

    ``method``: "torch" (torch's flop counter, plus the CPU attention kernel it has no formula for),
    "thop" (thop.profile on a copy: module hooks plus the matmul/attention functions it intercepts; it also
    books element-wise work of normalisation layers),
    "analytic" (labkit's formulas per leaf module and per self-attention module).
    """
    if method not in METHODS:
        raise ValueError(f"unknown MAC counting method {method!r}; choose one of {METHODS}")
    if method == "thop":
        return _thop_macs(model, inputs)
    if method == "analytic":
        return int(analytic_macs_table(model, *inputs)["macs"].sum())
    return _flop_counter_macs(model, inputs, flop_formulas())


def plain_flop_counter_macs(model: nn.Module, *inputs: torch.Tensor) -> int:
    """Return the MACs a plain ``FlopCounterMode()`` reports: on CPU, torch up to 2.14 counts 0 for fused attention."""
    return _flop_counter_macs(model, inputs, None)


def counter_comparison(model: nn.Module, *inputs: torch.Tensor) -> pd.DataFrame:
    """Return what each MAC counter reports for one forward pass: ``counter``, ``macs``, ``vs_torch`` (ratio to
    labkit's "torch" count) and ``what_it_sees``."""
    seen = {"torch": "every aten matmul/conv, plus CPU fused attention (labkit's formula)",
            "FlopCounterMode (plain)": "every aten matmul/conv it has a formula for (CPU fused attention only from torch 2.15)",
            "thop": "module hooks (Linear, Conv, norms, pooling) + torch functions (matmul, SDPA); counts norms too",
            "analytic": "labkit's formula per Linear/Conv leaf and per self-attention module"}
    counts = {"torch": count_macs(model, *inputs, method="torch"),
              "FlopCounterMode (plain)": plain_flop_counter_macs(model, *inputs),
              "thop": count_macs(model, *inputs, method="thop")}
    try:
        counts["analytic"] = count_macs(model, *inputs, method="analytic")
    except NotImplementedError as error:  # a module type labkit has no formula for
        seen["analytic"] = str(error)
        counts["analytic"] = None
    table = pd.DataFrame({"counter": list(counts), "macs": pd.array(list(counts.values()), dtype="Int64"),
                          "what_it_sees": [seen[name] for name in counts]})
    table.insert(2, "vs_torch", table.macs.astype("Float64") / counts["torch"])
    return table


def analytic_macs_table(model: nn.Module, *inputs: torch.Tensor) -> pd.DataFrame:
    """Return one row per leaf-module call: ``layer``, ``type``, ``formula`` and ``macs`` (multiply-adds).

    Only leaf modules are counted, so work done functionally in a ``forward`` (``x + y``, ``torch.matmul``) is not.
    """
    rows = []
    for call in leaf_calls(model, inputs, attention=True):
        counted = analytic_macs(call)
        if counted is None:
            raise NotImplementedError(
                f"labkit has no analytic MAC formula for {type(call.module).__name__} (layer {call.layer!r}); "
                f"use count_macs(..., method=\"torch\") for this model")
        rows.append({"layer": call.layer, "type": type(call.module).__name__,
                     "formula": counted[1], "macs": counted[0]})
    return pd.DataFrame(rows, columns=["layer", "type", "formula", "macs"])


def param_formula_table(model: nn.Module) -> pd.DataFrame:
    """Return the by-hand parameter count, one row per module owning parameters: layer, type, formula, params.

    ``params`` is computed from the layer's sizes (features, channels, kernel), not read from the tensors.
    """
    rows = []
    for name, module in model.named_modules():
        if next(module.parameters(recurse=False), None) is None:
            continue
        counted = param_formula(module)
        if counted is None:
            raise NotImplementedError(
                f"labkit has no parameter formula for {type(module).__name__} (layer {name!r}); "
                f"use count_params(model) for the total")
        rows.append({"layer": name or type(module).__name__, "type": type(module).__name__,
                     "formula": counted[0], "params": counted[1]})
    return pd.DataFrame(rows, columns=["layer", "type", "formula", "params"])


def layer_table(model: nn.Module, *inputs: torch.Tensor) -> pd.DataFrame:
    """Return one row per leaf-module call: shapes, dtypes, params, bytes (numel x element size), analytic MACs.

    ``weight_bytes`` covers all the layer's parameters, ``activation_bytes`` its output; ``macs`` is <NA> where
    labkit has no formula. A module called twice gives two rows.
    """
    rows = []
    for call in leaf_calls(model, inputs):
        module, x, y = call.module, call.input, call.output
        weight = getattr(module, "weight", None)
        weight = weight if isinstance(weight, torch.Tensor) else None
        counted = analytic_macs(call)
        rows.append({
            "layer": call.layer, "type": type(module).__name__,
            "input_shape": shape(x), "output_shape": shape(y), "weight_shape": shape(weight),
            "input_dtype": dtype(x), "weight_dtype": dtype(weight), "output_dtype": dtype(y),
            "params": sum(p.numel() for p in module.parameters()),
            "weight_bytes": sum(p.numel() * p.element_size() for p in module.parameters()),
            "activation_bytes": 0 if y is None else y.numel() * y.element_size(),
            "macs": None if counted is None else counted[0],
        })
    table = pd.DataFrame(rows, columns=_LAYER_COLUMNS)
    table["macs"] = table["macs"].astype("Int64")
    return table


# --- private helpers -------------------------------------------------------------------------------


def _flop_counter_macs(model: nn.Module, inputs: tuple[torch.Tensor, ...], formulas: dict | None) -> int:
    # A torch.compile'd module does the same multiply-adds as the module it wraps; count that one, so the counter's
    # global module hooks do not meet a compiled module (torch warns that they would fire twice).
    model = getattr(model, "_orig_mod", model)
    counter = FlopCounterMode(display=False, custom_mapping=formulas)
    with inference(model), counter:
        model(*inputs)
    return counter.get_total_flops() // 2  # torch counts 2 FLOPs per multiply-add


def _thop_macs(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> int:
    """Return thop's MAC count, profiling a deep copy so no hook or counter buffer is left on ``model``."""
    import thop

    probe = copy.deepcopy(model)
    thop_logger = logging.getLogger("thop")
    level = thop_logger.level
    quiet = io.StringIO()
    try:
        thop_logger.setLevel(logging.CRITICAL + 1)
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            warnings.simplefilter("ignore")
            macs, _ = thop.profile(probe, inputs=tuple(inputs), verbose=False)
    finally:
        thop_logger.setLevel(level)
    return int(macs)
