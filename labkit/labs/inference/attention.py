"""The GEMMs of one BERT encoder block: every matrix product, its operand shapes and its MACs (Lab 3).

The attention matmuls' MAC formula itself is in :mod:`labkit.layer_formulas`, which every MAC count uses.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn


def _config_sizes(model: nn.Module) -> tuple[int, int, int]:
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "num_attention_heads"):
        raise ValueError(f"{type(model).__name__} has no transformers config: encoder_block_gemms needs a BERT model")
    return config.hidden_size, config.num_attention_heads, config.intermediate_size


def encoder_block_gemms(model: nn.Module, input_ids: torch.Tensor, *inputs: torch.Tensor,
                        block: int = 0) -> pd.DataFrame:
    """Return every GEMM of encoder block ``block`` of a BERT ``model`` run on ``(input_ids, *inputs)``.

    One row per matmul: ``gemm``, ``input_shape``, ``weight_shape`` (the second operand), ``output_shape`` and
    ``macs``. Linear shapes are recorded from the forward pass; heads and head size are read from the
    attention module, d_model from the config.
    """
    hidden, heads, _ = _config_sizes(model)
    bert = getattr(getattr(model, "model", model), "bert", None)
    if bert is None:
        raise ValueError(f"{type(model).__name__} has no .bert encoder: encoder_block_gemms needs a BERT model")
    layer = bert.encoder.layer[block]
    attention = layer.attention.self
    linears = [("Q projection", attention.query), ("K projection", attention.key), ("V projection", attention.value),
               ("attention output", layer.attention.output.dense), ("intermediate (FFN up)", layer.intermediate.dense),
               ("output (FFN down)", layer.output.dense)]
    shapes: dict[nn.Module, tuple] = {}

    def record(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        shapes.setdefault(module, (tuple(args[0].shape), tuple(output.shape)))

    handles = [m.register_forward_hook(record) for _, m in linears]
    try:
        with torch.no_grad():
            model(input_ids, *inputs)
    finally:
        for handle in handles:
            handle.remove()

    def linear_row(name: str, linear: nn.Linear) -> dict:
        x_shape, y_shape = shapes[linear]
        rows = int(torch.Size(x_shape[:-1]).numel())
        return {"gemm": name, "input_shape": x_shape, "weight_shape": (linear.in_features, linear.out_features),
                "output_shape": y_shape, "macs": rows * linear.in_features * linear.out_features}

    batch, seq_len = shapes[attention.query][0][:2]
    head_dim = attention.attention_head_size
    if heads != attention.num_attention_heads or heads * head_dim != hidden:
        raise ValueError(f"config says {heads} heads of d_model {hidden}, the attention module "
                         f"{attention.num_attention_heads} heads of {head_dim}: they disagree")
    per_head = (batch, heads, seq_len, head_dim)
    scores = (batch, heads, seq_len, seq_len)
    rows = [linear_row(name, m) for name, m in linears[:3]]
    rows += [{"gemm": "QK^T (scores)", "input_shape": per_head, "weight_shape": (batch, heads, head_dim, seq_len),
              "output_shape": scores, "macs": batch * heads * seq_len * seq_len * head_dim},
             {"gemm": "attention x V", "input_shape": scores, "weight_shape": per_head,
              "output_shape": per_head, "macs": batch * heads * seq_len * seq_len * head_dim}]
    rows += [linear_row(name, m) for name, m in linears[3:]]
    return pd.DataFrame(rows, columns=["gemm", "input_shape", "weight_shape", "output_shape", "macs"])
