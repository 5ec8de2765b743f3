"""By-hand formulas per layer: the multiply-adds (MACs) of one call and the parameters of a module, computed
from the layer's sizes (features, channels, kernel), never read from its tensors."""

from __future__ import annotations

import math

import torch
from torch import nn

from labkit.layer_calls import LayerCall, is_self_attention


def attention_macs(module: nn.Module, hidden_shape: tuple[int, ...]) -> tuple[int, str]:
    """Return (MACs, formula) of the QK^T and attention x V matmuls of ``module`` on hidden states of shape
    batch x seq_len x d_model: 2 x batch x heads x seq_len^2 x head_dim."""
    batch, seq_len = int(hidden_shape[0]), int(hidden_shape[1])
    heads, head_dim = module.num_attention_heads, module.attention_head_size
    macs = 2 * batch * heads * seq_len * seq_len * head_dim
    return macs, f"2 matmuls x {batch} x {heads} heads x {seq_len} x {seq_len} x {head_dim} head dim"

# Leaf modules with no matmul or convolution: elementwise activations, normalisation and pooling (0 MACs, as
# torch's counter says), reshapes, selection, table lookups.
ZERO_MAC_TYPES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardtanh,
    nn.Hardswish, nn.Hardsigmoid, nn.Mish, nn.Softplus,
    nn.Flatten, nn.Unflatten, nn.Identity, nn.modules.dropout._DropoutNd, nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd, nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.Embedding,
)
CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def analytic_macs(call: LayerCall) -> tuple[int, str] | None:
    """Return (MACs, formula) for one leaf call, or None when labkit has no formula for its module type."""
    module, y = call.module, call.output
    if is_self_attention(module) and call.input is not None:
        return attention_macs(module, tuple(call.input.shape))
    if isinstance(module, ZERO_MAC_TYPES) or _is_library_activation(module):
        return 0, "0 (no matmul or convolution)"
    if y is None:
        return None
    if isinstance(module, nn.Linear):
        rows = y.numel() // module.out_features
        return (y.numel() * module.in_features,
                f"{rows} x {module.out_features} outputs x {module.in_features} inputs")
    if isinstance(module, CONV_TYPES):
        per_group = module.in_channels // module.groups
        return (y.numel() * per_group * math.prod(module.kernel_size),
                f"{times(y.shape)} outputs x {per_group} in-channels x {times(module.kernel_size)} kernel")
    return None


def param_formula(module: nn.Module) -> tuple[str, int] | None:
    """Return (formula, params) of a module's own parameters from its sizes, or None for an unknown type."""
    has_bias = getattr(module, "bias", None) is not None
    if isinstance(module, nn.Linear):
        terms = [(module.in_features, module.out_features)]
        terms += [(module.out_features,)] if has_bias else []
    elif isinstance(module, CONV_TYPES):
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
    return " + ".join(times(t) for t in terms), sum(math.prod(t) for t in terms)


def times(sizes: tuple[int, ...] | torch.Size) -> str:
    """Join sizes as a product, e.g. ``(16, 1, 3, 3)`` -> ``"16 x 1 x 3 x 3"``."""
    return " x ".join(str(int(s)) for s in sizes)


def _is_library_activation(module: nn.Module) -> bool:
    """True for a parameter-free activation module of a model library (e.g. transformers' GELUActivation)."""
    return type(module).__module__.endswith(".activations") and next(module.parameters(), None) is None
