"""The NCHW layers of :mod:`labkit.labs.gemm.rewrite`: convolution as im2col + one matrix product, linear as a matrix
product, ReLU, max pooling and flatten as plain tensor ops; weights laid out once at build time."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LAYOUTS = ("naive", "folded", "nhwc", "kn2row")


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
                             "labkit.labs.gemm.rewrite supports groups=1")
        if not isinstance(conv.padding, (tuple, int)) or conv.padding_mode != "zeros":
            raise ValueError(f"padding={conv.padding!r}, padding_mode={conv.padding_mode!r}: labkit.labs.gemm.rewrite supports "
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
            raise ValueError("MaxPool2d(return_indices=True) is not supported by labkit.labs.gemm.rewrite")
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
