"""A trained network rewritten with matrix products only: convolution as im2col + one GEMM, linear as a GEMM.

:func:`to_gemm` takes a model built from ``Conv2d``, ``Linear``, ``BatchNorm2d``, ``ReLU``, ``MaxPool2d``,
``Flatten``, ``Dropout`` and ``Identity`` layers (Lab 2's CNN, Lab 1's MLP, a pruned network, a plain
``nn.Sequential``) and returns an equivalent inference-only module holding no ``nn.Conv2d`` / ``nn.Linear``
and calling no ``F.conv2d`` / ``F.linear``. Every weight is laid out once, at build time: a conv kernel
(O, C, k, k) becomes the (C*k*k, O) matrix its GEMM reads, contiguous; a batch norm that follows a
convolution is folded into that convolution's matrix and bias.

Two layouts of the convolution (``layout``):
  * ``"naive"``: ``F.unfold`` gives (N, C*k*k, L) patch columns; one batched matmul per image with the
    (O, C*k*k) kernel matrix -- the textbook rewrite;
  * ``"folded"``: the batch is folded into the GEMM's rows: patches as one (N*L, C*k*k) matrix times the
    (C*k*k, O) kernel matrix, output kept channels-last (N, Ho, Wo, O) so no transpose is copied until a
    layer needs NCHW.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

LAYOUTS = ("naive", "folded")
_PASS_THROUGH = (nn.Dropout, nn.Identity)  # identity at inference


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


class GemmConv2d(nn.Module):
    """A convolution computed as im2col (``F.unfold``) + one matrix product; weights laid out at build time.

    ``weight_matrix``: (C*kh*kw, O) for the folded layout, (O, C*kh*kw) for the naive one; ``bias``: (O,).
    Input and output are NCHW tensors.
    """

    def __init__(self, conv: nn.Conv2d, *, layout: str = "folded", scale: torch.Tensor | None = None,
                 shift: torch.Tensor | None = None) -> None:
        super().__init__()
        if conv.groups != 1:
            raise ValueError(f"a grouped convolution (groups={conv.groups}) has no single-GEMM rewrite here; "
                             "labkit.gemm supports groups=1")
        if not isinstance(conv.padding, (tuple, int)) or conv.padding_mode != "zeros":
            raise ValueError(f"padding={conv.padding!r}, padding_mode={conv.padding_mode!r}: labkit.gemm supports "
                             "numeric zero padding")
        if layout not in LAYOUTS:
            raise ValueError(f"layout={layout!r}: choose one of {list(LAYOUTS)}")
        self.layout = layout
        self.out_channels = conv.out_channels
        self.kernel_size, self.stride = _pair(conv.kernel_size), _pair(conv.stride)
        self.padding, self.dilation = _pair(conv.padding), _pair(conv.dilation)
        with torch.no_grad():
            weight = conv.weight.detach().reshape(conv.out_channels, -1)  # (O, C*kh*kw), unfold's patch order
            bias = conv.bias.detach() if conv.bias is not None else torch.zeros(conv.out_channels)
            if scale is not None:  # a folded batch norm: y = scale * conv(x) + shift
                weight, bias = weight * scale[:, None], bias * scale + shift
            matrix = weight.t() if layout == "folded" else weight
            self.register_buffer("weight_matrix", matrix.contiguous().clone())
            self.register_buffer("bias", bias.contiguous().clone())

    def _out_size(self, h: int, w: int) -> tuple[int, int]:
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel_size, self.stride, self.padding, self.dilation
        return (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        ho, wo = self._out_size(h, w)
        cols = F.unfold(x, self.kernel_size, dilation=self.dilation, padding=self.padding, stride=self.stride)
        if self.layout == "naive":  # (O, K) @ (N, K, L) -> (N, O, L)
            out = torch.matmul(self.weight_matrix, cols) + self.bias[:, None]
            return out.reshape(n, self.out_channels, ho, wo)
        rows = cols.transpose(1, 2).reshape(n * ho * wo, -1)  # (N*L, K): the batch folded into the GEMM's rows
        out = torch.addmm(self.bias, rows, self.weight_matrix)  # (N*L, O)
        return out.reshape(n, ho, wo, self.out_channels).permute(0, 3, 1, 2)  # NCHW view of channels-last data

    def extra_repr(self) -> str:
        return (f"layout={self.layout}, weight_matrix={tuple(self.weight_matrix.shape)}, kernel={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}")


class GemmLinear(nn.Module):
    """A linear layer as one matrix product: ``x @ weight_matrix + bias``, ``weight_matrix`` (in, out) contiguous."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        with torch.no_grad():
            self.register_buffer("weight_matrix", linear.weight.detach().t().contiguous().clone())
            bias = linear.bias.detach() if linear.bias is not None else torch.zeros(linear.out_features)
            self.register_buffer("bias", bias.contiguous().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return torch.addmm(self.bias, x, self.weight_matrix)
        return torch.matmul(x, self.weight_matrix) + self.bias

    def extra_repr(self) -> str:
        return f"weight_matrix={tuple(self.weight_matrix.shape)}"


class GemmReLU(nn.Module):
    """ReLU as a tensor op (``clamp_min``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp_min(0)


class GemmMaxPool2d(nn.Module):
    """Max pooling as a tensor op on the input's windows."""

    def __init__(self, pool: nn.MaxPool2d) -> None:
        super().__init__()
        if pool.return_indices:
            raise ValueError("MaxPool2d(return_indices=True) is not supported by labkit.gemm")
        self.kernel_size, self.stride = pool.kernel_size, pool.stride or pool.kernel_size
        self.padding, self.dilation, self.ceil_mode = pool.padding, pool.dilation, pool.ceil_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class GemmFlatten(nn.Module):
    """Flatten from dimension ``start_dim`` (NCHW order, as ``nn.Flatten``; copies only if the input is not
    contiguous, e.g. the channels-last output of a folded convolution)."""

    def __init__(self, flatten: nn.Flatten) -> None:
        super().__init__()
        self.start_dim, self.end_dim = flatten.start_dim, flatten.end_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(self.start_dim, self.end_dim)


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's leaf modules in call order; only a chain of leaves (nn.Sequential, nested or not) is known."""
    leaves = []
    for name, module in model.named_modules():
        if next(module.children(), None) is None:
            leaves.append((name or type(module).__name__, module))
        elif not isinstance(module, nn.Sequential):
            raise ValueError(f"{type(module).__name__} ({name or 'the model'}) runs its own forward: labkit.gemm "
                             "rewrites chains of layers (nn.Sequential, labkit's CNN and MLP); rebuild it as one")
    return leaves


def to_gemm(model: nn.Module, *, layout: str = "folded") -> nn.Sequential:
    """Return an inference-only copy of ``model`` computed with matrix products only (see the module docstring).

    Raises ValueError naming the first layer it cannot rewrite. Pruning masks are read through the layers'
    current weights, so a mask-pruned model is rewritten with its zeros.
    """
    layers: list[tuple[str, nn.Module]] = []
    leaves = _leaves(model)
    skip = set()
    for i, (name, module) in enumerate(leaves):
        if i in skip:
            continue
        if isinstance(module, nn.Conv2d):
            following = leaves[i + 1][1] if i + 1 < len(leaves) else None
            if isinstance(following, nn.BatchNorm2d):
                scale, shift = _batch_norm_affine(following)
                layers.append((name, GemmConv2d(module, layout=layout, scale=scale, shift=shift)))
                skip.add(i + 1)
            else:
                layers.append((name, GemmConv2d(module, layout=layout)))
        elif isinstance(module, nn.Linear):
            layers.append((name, GemmLinear(module)))
        elif isinstance(module, nn.ReLU):
            layers.append((name, GemmReLU()))
        elif isinstance(module, nn.MaxPool2d):
            layers.append((name, GemmMaxPool2d(module)))
        elif isinstance(module, nn.Flatten):
            layers.append((name, GemmFlatten(module)))
        elif isinstance(module, _PASS_THROUGH):
            continue
        elif isinstance(module, nn.BatchNorm2d):
            raise ValueError(f"layer {name!r}: a BatchNorm2d is folded into the convolution right before it, "
                             "and this one follows no convolution")
        else:
            raise ValueError(f"layer {name!r} ({type(module).__name__}) has no GEMM rewrite in labkit.gemm; "
                             f"supported: Conv2d, Linear, BatchNorm2d after a Conv2d, ReLU, MaxPool2d, Flatten, "
                             "Dropout, Identity")
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
