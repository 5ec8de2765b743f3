"""What a model costs: parameters, MACs, bytes, and per-layer tables.

A MAC is one multiply-add of a matrix product or a convolution, what torch's flop counter counts;
FLOPs = 2 x MACs (see :func:`macs_to_flops`). Elementwise work (bias additions, normalisation,
activations, pooling, residual adds) is not counted. Byte counts are numel x element size.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import math
import warnings
from typing import Iterator, NamedTuple

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from labkit.attention import attention_macs, flop_formulas, is_self_attention

METHODS = ("torch", "thop", "analytic")

# Leaf modules with no matmul or convolution: elementwise activations, normalisation and pooling (0 MACs, as
# torch's counter says), reshapes, selection, table lookups.
_ZERO_MAC_TYPES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardtanh,
    nn.Hardswish, nn.Hardsigmoid, nn.Mish, nn.Softplus,
    nn.Flatten, nn.Unflatten, nn.Identity, nn.modules.dropout._DropoutNd, nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd, nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.Embedding,
)
_CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
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
    """Return the MACs a plain ``FlopCounterMode()`` reports: on CPU it counts 0 for fused attention."""
    return _flop_counter_macs(model, inputs, None)


def counter_comparison(model: nn.Module, *inputs: torch.Tensor) -> pd.DataFrame:
    """Return what each MAC counter reports for one forward pass: ``counter``, ``macs``, ``vs_torch`` (ratio to
    labkit's "torch" count) and ``what_it_sees``."""
    seen = {"torch": "every aten matmul/conv, plus CPU fused attention (labkit's formula)",
            "FlopCounterMode (plain)": "every aten matmul/conv it has a formula for: none for CPU fused attention",
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
    for call in _leaf_calls(model, inputs, attention=True):
        counted = _analytic_macs(call)
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
        counted = _param_formula(module)
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
    for call in _leaf_calls(model, inputs):
        module, x, y = call.module, call.input, call.output
        weight = getattr(module, "weight", None)
        weight = weight if isinstance(weight, torch.Tensor) else None
        counted = _analytic_macs(call)
        rows.append({
            "layer": call.layer, "type": type(module).__name__,
            "input_shape": _shape(x), "output_shape": _shape(y), "weight_shape": _shape(weight),
            "input_dtype": _dtype(x), "weight_dtype": _dtype(weight), "output_dtype": _dtype(y),
            "params": sum(p.numel() for p in module.parameters()),
            "weight_bytes": sum(p.numel() * p.element_size() for p in module.parameters()),
            "activation_bytes": 0 if y is None else y.numel() * y.element_size(),
            "macs": None if counted is None else counted[0],
        })
    table = pd.DataFrame(rows, columns=_LAYER_COLUMNS)
    table["macs"] = table["macs"].astype("Int64")
    return table


# --- private helpers -------------------------------------------------------------------------------


class _Call(NamedTuple):
    """One call of a leaf module; input and output are storage-free meta tensors (shape and dtype only)."""
    layer: str
    module: nn.Module
    input: torch.Tensor | None
    output: torch.Tensor | None


@contextlib.contextmanager
def _inference(model: nn.Module) -> Iterator[None]:
    """Run the block in eval mode under no_grad, then restore every module's own training flag."""
    was_training = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, flag in was_training.items():
            module.training = flag


def _flop_counter_macs(model: nn.Module, inputs: tuple[torch.Tensor, ...], formulas: dict | None) -> int:
    counter = FlopCounterMode(display=False, custom_mapping=formulas)
    with _inference(model), counter:
        model(*inputs)
    return counter.get_total_flops() // 2  # torch counts 2 FLOPs per multiply-add


def _leaf_calls(model: nn.Module, inputs: tuple[torch.Tensor, ...], *, attention: bool = False) -> list[_Call]:
    """Run one forward pass and record every leaf-module call (and, with ``attention``, every self-attention
    module call); the hooks are removed afterwards, even on error."""
    calls: list[_Call] = []

    def record(module: nn.Module, args: tuple, kwargs: dict, output: object, layer: str) -> None:
        first = _first_tensor(args) if _first_tensor(args) is not None else _first_tensor(kwargs)
        calls.append(_Call(layer, module, _meta(first), _meta(_first_tensor(output))))

    handles = []
    try:
        for name, module in model.named_modules():
            if next(module.children(), None) is None or (attention and is_self_attention(module)):
                layer = name or type(module).__name__
                handles.append(module.register_forward_hook(
                    lambda m, args, kwargs, out, layer=layer: record(m, args, kwargs, out, layer), with_kwargs=True))
        with _inference(model):
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _analytic_macs(call: _Call) -> tuple[int, str] | None:
    """Return (MACs, formula) for one leaf call, or None when labkit has no formula for its module type."""
    module, y = call.module, call.output
    if is_self_attention(module) and call.input is not None:
        return attention_macs(module, tuple(call.input.shape))
    if isinstance(module, _ZERO_MAC_TYPES) or _is_library_activation(module):
        return 0, "0 (no matmul or convolution)"
    if y is None:
        return None
    if isinstance(module, nn.Linear):
        rows = y.numel() // module.out_features
        return (y.numel() * module.in_features,
                f"{rows} x {module.out_features} outputs x {module.in_features} inputs")
    if isinstance(module, _CONV_TYPES):
        per_group = module.in_channels // module.groups
        return (y.numel() * per_group * math.prod(module.kernel_size),
                f"{_times(y.shape)} outputs x {per_group} in-channels x {_times(module.kernel_size)} kernel")
    return None


def _is_library_activation(module: nn.Module) -> bool:
    """True for a parameter-free activation module of a model library (e.g. transformers' GELUActivation)."""
    return type(module).__module__.endswith(".activations") and next(module.parameters(), None) is None


def _param_formula(module: nn.Module) -> tuple[str, int] | None:
    """Return (formula, params) of a module's own parameters from its sizes, or None for an unknown type."""
    has_bias = getattr(module, "bias", None) is not None
    if isinstance(module, nn.Linear):
        terms = [(module.in_features, module.out_features)]
        terms += [(module.out_features,)] if has_bias else []
    elif isinstance(module, _CONV_TYPES):
        terms = [(module.out_channels, module.in_channels // module.groups, *module.kernel_size)]
        terms += [(module.out_channels,)] if has_bias else []
    elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
        terms = [(module.num_features,), (module.num_features,)]  # scale and shift
    elif isinstance(module, nn.LayerNorm) and module.elementwise_affine:
        terms = [tuple(module.normalized_shape)]
        terms += [tuple(module.normalized_shape)] if has_bias else []
    elif isinstance(module, nn.Embedding):
        terms = [(module.num_embeddings, module.embedding_dim)]
    else:
        return None
    return " + ".join(_times(t) for t in terms), sum(math.prod(t) for t in terms)


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


def _first_tensor(value: object) -> torch.Tensor | None:
    """Return the first tensor in a tensor, tuple, list or dict of them (None if there is none)."""
    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (tuple, list)) else ()
    return next((t for t in map(_first_tensor, items) if t is not None), None)


def _meta(t: torch.Tensor | None) -> torch.Tensor | None:
    """Return a storage-free stand-in with the shape and dtype of ``t``, so no activation is kept alive."""
    return None if t is None else torch.empty(t.shape, dtype=t.dtype, device="meta")


def _shape(t: torch.Tensor | None) -> tuple[int, ...] | None:
    return None if t is None else tuple(int(d) for d in t.shape)


def _dtype(t: torch.Tensor | None) -> str | None:
    return None if t is None else str(t.dtype)


def _times(sizes: tuple[int, ...] | torch.Size) -> str:
    """Join sizes as a product, e.g. ``(16, 1, 3, 3)`` -> ``"16 x 1 x 3 x 3"``."""
    return " x ".join(str(int(s)) for s in sizes)
