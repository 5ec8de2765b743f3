"""The channels-last layers of :mod:`labkit.labs.gemm.rewrite`: convolutions as GEMMs on (N, H, W, C) tensors, so a GEMM's
output is the next layer's input without a transpose; kn2row (one GEMM of the input with every kernel tap,
then shifted additions); and the layout changes at the network's ends."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from labkit.labs.gemm.layers import GemmConv2d, GemmMaxPool2d


class GemmConv2dNHWC(nn.Module):
    """A convolution on channels-last tensors: (N, H, W, C) in, (N, Ho, Wo, O) out, one GEMM per call.

    Patches are read from strided windows of the (zero-padded) input; ``weight_matrix`` is (kh*kw*C, O),
    in the patches' (kh, kw, C) order.
    """

    def __init__(self, conv: nn.Conv2d, *, scale: torch.Tensor | None = None,
                 shift: torch.Tensor | None = None) -> None:
        super().__init__()
        reference = GemmConv2d(conv, layout="naive", scale=scale, shift=shift)  # checks + folded batch norm
        self.out_channels, self.kernel_size, self.stride = conv.out_channels, reference.kernel_size, reference.stride
        self.padding, self.dilation = reference.padding, reference.dilation
        kh, kw = self.kernel_size
        kernel = reference.weight_matrix.reshape(conv.out_channels, conv.in_channels, kh, kw)
        self.register_buffer("weight_matrix", kernel.permute(2, 3, 1, 0).reshape(-1, conv.out_channels).contiguous())
        self.register_buffer("bias", reference.bias)

    def patches(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """Return the patch matrix (N*Ho*Wo, kh*kw*C) of a channels-last input and the output's (N, Ho, Wo)."""
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel_size, self.stride, self.padding, self.dilation
        if ph or pw:
            x = F.pad(x, (0, 0, pw, pw, ph, ph))
        n, h, w, c = x.shape
        ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
        sn, sh_, sw_, sc = x.stride()
        windows = x.as_strided((n, ho, wo, kh, kw, c), (sn, sh_ * sh, sw_ * sw, sh_ * dh, sw_ * dw, sc))
        return windows.reshape(n * ho * wo, kh * kw * c), (n, ho, wo)  # the one copy: the patch matrix

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows, (n, ho, wo) = self.patches(x)
        return torch.addmm(self.bias, rows, self.weight_matrix).reshape(n, ho, wo, self.out_channels)

    layout = "nhwc"

    def extra_repr(self) -> str:
        return (f"layout={self.layout}, weight_matrix={tuple(self.weight_matrix.shape)}, kernel={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}")


class GemmConv2dKn2row(GemmConv2dNHWC):
    """A stride-1, dilation-1 convolution on channels-last tensors as one GEMM of the input with every kernel
    tap at once, (N*H*W, C) x (C, kh*kw*O), then kh*kw shifted additions (other strides: patches, as nhwc)."""

    def __init__(self, conv: nn.Conv2d, **affine) -> None:
        super().__init__(conv, **affine)
        kh, kw = self.kernel_size
        taps = self.weight_matrix.reshape(kh, kw, conv.in_channels, conv.out_channels)
        self.register_buffer("tap_matrix", taps.permute(2, 0, 1, 3).reshape(conv.in_channels, -1).contiguous())
        self.shifted = self.stride == (1, 1) and self.dilation == (1, 1)
        self.layout = "kn2row" if self.shifted else "nhwc (kn2row needs stride 1, dilation 1)"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.shifted:
            return super().forward(x)
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        if ph or pw:
            x = F.pad(x, (0, 0, pw, pw, ph, ph))
        n, h, w, c = x.shape
        ho, wo = h - kh + 1, w - kw + 1
        taps = torch.mm(x.reshape(n * h * w, c), self.tap_matrix).reshape(n, h, w, kh, kw, self.out_channels)
        out = self.bias.expand(n, ho, wo, self.out_channels).clone()
        for i in range(kh):
            for j in range(kw):
                out += taps[:, i:i + ho, j:j + wo, i, j]
        return out


class ToNHWC(nn.Module):
    """NCHW input -> a channels-last (N, H, W, C) view (no copy)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1)


class FromNHWC(nn.Module):
    """A channels-last (N, H, W, C) result -> the NCHW view callers expect (no copy)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2)


class GemmMaxPool2dNHWC(GemmMaxPool2d):
    """Max pooling of a channels-last (N, H, W, C) tensor; returns (N, Ho, Wo, C) without a transpose copy."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def nhwc_rows(linear: nn.Linear, channels: int) -> nn.Linear:
    """Return a copy of ``linear`` whose input features are reordered from (C, H, W) to (H, W, C)."""
    spatial = linear.in_features // channels
    reordered = nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None)
    with torch.no_grad():
        weight = linear.weight.detach().reshape(linear.out_features, channels, spatial)
        reordered.weight.copy_(weight.transpose(1, 2).reshape(linear.out_features, -1))
        if linear.bias is not None:
            reordered.bias.copy_(linear.bias.detach())
    return reordered
