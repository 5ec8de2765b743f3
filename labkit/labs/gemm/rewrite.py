"""A trained network rewritten with matrix products only: convolution as im2col + one GEMM, linear as a GEMM.

:func:`to_gemm` takes a model built from ``Conv2d``, ``Linear``, ``BatchNorm2d``, ``ReLU``, ``MaxPool2d``,
``Flatten``, ``Dropout`` and ``Identity`` layers (Lab 2's CNN, Lab 1's MLP, a pruned network, a plain
``nn.Sequential``) and returns an equivalent inference-only module holding no ``nn.Conv2d`` / ``nn.Linear``
and calling no ``F.conv2d`` / ``F.linear``. Every weight is laid out once, at build time: a conv kernel
(O, C, k, k) becomes the (C*k*k, O) matrix its GEMM reads, contiguous; a batch norm that follows a
convolution is folded into that convolution's matrix and bias.

Four layouts of the convolution (``layout``):
  * ``"naive"``: ``F.unfold`` gives (N, C*k*k, L) patch columns; one batched matmul per image with the
    (O, C*k*k) kernel matrix -- the textbook rewrite;
  * ``"folded"``: the batch is folded into the GEMM's rows: patches as one (N*L, C*k*k) matrix times the
    (C*k*k, O) kernel matrix, output kept channels-last (N, Ho, Wo, O) so no transpose is copied until a
    layer needs NCHW;
  * ``"nhwc"``: the whole network runs on channels-last (N, H, W, C) tensors: a GEMM's output *is* the next
    layer's input, patches are gathered from strided views of it, and the first linear layer after the flatten
    has its weight rows reordered at build time to the (H, W, C) order, so no activation is ever transposed;
  * ``"kn2row"``: as ``"nhwc"``, but a stride-1 convolution is one GEMM of the *unexpanded* input,
    (N*H*W, C) x (C, kh*kw*O), followed by kh*kw shifted additions of its output slices: no patch matrix
    (kh*kw times the input) is ever built.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from labkit.labs.gemm.layers import (LAYOUTS, GemmConv2d, GemmFlatten, GemmLinear, GemmMaxPool2d,  # noqa: F401
                                GemmReLU)
from labkit.labs.gemm.nhwc import FromNHWC, GemmConv2dKn2row, GemmConv2dNHWC, GemmMaxPool2dNHWC, ToNHWC, nhwc_rows

_PASS_THROUGH = (nn.Dropout, nn.Identity)  # identity at inference


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's leaf modules in call order; only a chain of leaves (nn.Sequential, nested or not) is known."""
    leaves = []
    for name, module in model.named_modules():
        if next(module.children(), None) is None:
            leaves.append((name or type(module).__name__, module))
        elif not isinstance(module, nn.Sequential):
            raise ValueError(f"{type(module).__name__} ({name or 'the model'}) runs its own forward: labkit.labs.gemm.rewrite "
                             "rewrites chains of layers (nn.Sequential, labkit's CNN and MLP); rebuild it as one")
    return leaves


def to_gemm(model: nn.Module, *, layout: str = "folded") -> nn.Sequential:
    """Return an inference-only copy of ``model`` computed with matrix products only (see the module docstring).

    Raises ValueError naming the first layer it cannot rewrite. Pruning masks are read through the layers'
    current weights, so a mask-pruned model is rewritten with its zeros.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r}: choose one of {list(LAYOUTS)}")
    nhwc = layout in ("nhwc", "kn2row")
    layers: list[tuple[str, nn.Module]] = []
    leaves = _leaves(model)
    skip = set()
    channels, flattened = None, False  # nhwc: channels of the last conv; a flatten of NHWC data seen
    if nhwc and leaves and isinstance(leaves[0][1], nn.Conv2d):
        layers.append(("to_nhwc", ToNHWC()))
    for i, (name, module) in enumerate(leaves):
        if i in skip:
            continue
        if isinstance(module, nn.Conv2d):
            following = leaves[i + 1][1] if i + 1 < len(leaves) else None
            affine = {}
            if isinstance(following, nn.BatchNorm2d):
                affine = dict(zip(("scale", "shift"), _batch_norm_affine(following)))
                skip.add(i + 1)
            if nhwc:
                conv = GemmConv2dKn2row(module, **affine) if layout == "kn2row" else GemmConv2dNHWC(module, **affine)
            else:
                conv = GemmConv2d(module, layout=layout, **affine)
            layers.append((name, conv))
            channels = module.out_channels
        elif isinstance(module, nn.Linear):
            if nhwc and flattened and channels is not None:
                module, flattened = nhwc_rows(module, channels), False
            layers.append((name, GemmLinear(module)))
        elif isinstance(module, nn.ReLU):
            layers.append((name, GemmReLU()))
        elif isinstance(module, nn.MaxPool2d):
            layers.append((name, GemmMaxPool2dNHWC(module) if nhwc and channels is not None else GemmMaxPool2d(module)))
        elif isinstance(module, nn.Flatten):
            layers.append((name, GemmFlatten(module)))
            flattened = channels is not None
        elif isinstance(module, _PASS_THROUGH):
            continue
        elif isinstance(module, nn.BatchNorm2d):
            raise ValueError(f"layer {name!r}: a BatchNorm2d is folded into the convolution right before it, "
                             "and this one follows no convolution")
        else:
            raise ValueError(f"layer {name!r} ({type(module).__name__}) has no GEMM rewrite in labkit.labs.gemm.rewrite; "
                             f"supported: Conv2d, Linear, BatchNorm2d after a Conv2d, ReLU, MaxPool2d, Flatten, "
                             "Dropout, Identity")
    if nhwc and channels is not None and not any(isinstance(layer, GemmFlatten) for _, layer in layers):
        layers.append(("to_nchw", FromNHWC()))  # the network ends on a feature map: hand it back as NCHW
    rewritten = nn.Sequential()
    for name, layer in layers:
        rewritten.add_module(name.replace(".", "_"), layer)
    return rewritten.eval()


def _batch_norm_affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (scale, shift) such that eval-mode ``bn(y) = scale * y + shift`` per channel."""
    with torch.no_grad():
        scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps) if bn.affine else \
            1 / torch.sqrt(bn.running_var + bn.eps)
        shift = (bn.bias.detach() if bn.affine else 0) - bn.running_mean * scale
    return scale, shift


def functions_called(module: nn.Module, example: torch.Tensor) -> set[str]:
    """Return the names of the torch functions a forward of ``module`` on ``example`` calls (``conv2d``,
    ``linear``, ``matmul``, ...), recorded with a ``torch.overrides.TorchFunctionMode``."""
    names: set[str] = set()

    class _Record(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            names.add(getattr(func, "__name__", str(func)))
            return func(*args, **(kwargs or {}))

    with torch.no_grad(), _Record():
        module(example)
    return names


def uses_no_conv_or_linear(module: nn.Module, example: torch.Tensor) -> bool:
    """True when ``module`` holds no ``nn.Conv2d``/``nn.Linear`` and a forward on ``example`` calls no
    convolution or linear function."""
    if any(isinstance(m, (nn.Conv2d, nn.Linear)) for m in module.modules()):
        return False
    return not functions_called(module, example) & {"conv2d", "conv1d", "conv3d", "convolution", "linear"}
