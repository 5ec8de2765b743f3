"""Lab 5's exercise checks: a convolution as im2col + one GEMM and a linear layer as a GEMM, against torch's
own layers on hand-made and random cases; and a trained model run with the student's layers."""

from __future__ import annotations

import random
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from labkit.checking import CheckResult, close_tensors, report, run_cases

TOLERANCE = 1e-4


def _conv_cases(seed: int = 0) -> list[tuple[str, dict]]:
    made = [(1, 1, 1, 5, 3, 1, 0), (2, 3, 4, 9, 3, 2, 1), (2, 3, 5, 8, (2, 3), 1, 0), (1, 16, 16, 26, 3, 1, 0),
            (3, 2, 7, 11, 5, 3, 2)]
    rng = random.Random(seed)
    made += [(rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 8), rng.randint(5, 14), rng.choice([1, 3, 5]),
              rng.randint(1, 2), rng.randint(0, 2)) for _ in range(4)]
    cases = []
    generator = torch.Generator().manual_seed(seed)
    for n, c, o, size, k, stride, padding in made:
        kh, kw = k if isinstance(k, tuple) else (k, k)
        x = torch.randn(n, c, size, size, generator=generator)
        weight, bias = torch.randn(o, c, kh, kw, generator=generator), torch.randn(o, generator=generator)
        cases.append((f"padding={padding}, stride={stride}, input {tuple(x.shape)}, weight {tuple(weight.shape)}",
                      {"x": x, "weight": weight, "bias": bias, "stride": stride, "padding": padding}))
    return cases


class _Calls(TorchFunctionMode):
    """Records the torch functions called inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.add(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def conv2d_gemm(student: Callable[..., torch.Tensor]) -> CheckResult:
    """Exercise 5.1: ``student(x, weight, bias, stride, padding)`` equals ``F.conv2d`` without calling it."""
    calls = _Calls()
    label, kwargs = _conv_cases()[1]
    try:
        with torch.no_grad(), calls:
            student(**kwargs)
    except Exception:  # noqa: BLE001 - the cases below report it
        pass
    used = calls.names & {"conv2d", "convolution", "conv1d", "conv_transpose2d"}
    if used:
        return report("5.1", 2, f"{label}: the rewrite called {sorted(used)}; use unfold + one matrix product")
    return run_cases("5.1", 2, student, F.conv2d, _conv_cases(), close_tensors(TOLERANCE))


def _linear_cases(seed: int = 0) -> list[tuple[str, dict]]:
    generator = torch.Generator().manual_seed(seed)
    shapes = [(1, 3, 2), (32, 100, 10), (5, 9216, 7), (4, 8, 8), (7, 13, 29)]
    return [(f"input {(n, i)}, weight {(o, i)}", {"x": torch.randn(n, i, generator=generator),
             "weight": torch.randn(o, i, generator=generator), "bias": torch.randn(o, generator=generator)})
            for n, i, o in shapes]


def linear_gemm(student: Callable[..., torch.Tensor]) -> CheckResult:
    """Exercise 5.2: ``student(x, weight, bias)`` equals ``F.linear`` (x W^T + b)."""
    return run_cases("5.2", 1, student, F.linear, _linear_cases(), close_tensors(TOLERANCE))


def run_with_layers(model: nn.Module, x: torch.Tensor, conv: Callable[..., torch.Tensor],
                    linear: Callable[..., torch.Tensor]) -> torch.Tensor:
    """Return ``model(x)`` with every 2-D convolution computed by ``conv(x, weight, bias, stride, padding)`` and
    every linear layer by ``linear(x, weight, bias)``: the trained weights through the student's functions."""

    class _Yours(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is F.conv2d or getattr(func, "__name__", "") == "conv2d":
                x, weight, bias, stride, padding = (list(args) + [None, (1, 1), (0, 0)])[:5]
                stride, padding = kwargs.get("stride", stride), kwargs.get("padding", padding)
                stride = stride[0] if isinstance(stride, (tuple, list)) else stride
                padding = padding[0] if isinstance(padding, (tuple, list)) else padding
                return conv(x, weight, bias, stride=stride, padding=padding)
            if func is F.linear or getattr(func, "__name__", "") == "linear":
                x, weight, bias = (list(args) + [None])[:3]
                return linear(x, weight, kwargs.get("bias", bias))
            return func(*args, **kwargs)

    with torch.no_grad(), _Yours():
        return model(x)
