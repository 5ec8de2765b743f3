"""Lab 2's exercise checks: a conv layer's output size, parameters and MACs against torch, and the time to
first reach a train accuracy against labkit's reading of a checks table."""

from __future__ import annotations

import random
from collections.abc import Callable

import pandas as pd
import torch
from torch import nn

from labkit.checking import CheckResult, run_cases
from labkit.counting import count_macs, count_params
from labkit.train import CHECK_COLUMNS, FitResult


def _conv_cases(seed: int) -> list[tuple[str, dict]]:
    made = [(1, 16, 3, 28, 1, 0), (16, 16, 3, 26, 1, 0), (3, 8, 5, 9, 2, 1), (2, 4, 3, 10, 3, 2), (4, 6, 7, 7, 1, 3)]
    rng = random.Random(seed)
    for _ in range(6):
        kernel = rng.randint(1, 7)
        made.append((rng.randint(1, 8), rng.randint(1, 8), kernel, rng.randint(kernel, 30), rng.randint(1, 3),
                     rng.randint(0, 3)))
    return [(f"in_channels={c_in}, out_channels={c_out}, kernel={k}, size={size}, stride={s}, padding={pad}",
             {"in_channels": c_in, "out_channels": c_out, "kernel": k, "size": size, "stride": s, "padding": pad})
            for c_in, c_out, k, size, s, pad in made]


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int, padding: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding)


def reference_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Return the side of a square conv output, read from torch's own convolution."""
    out = torch.nn.functional.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel),
                                     stride=stride, padding=padding)
    return int(out.shape[-1])


def reference_params(in_channels: int, out_channels: int, kernel: int) -> int:
    """Return the parameters (weights and biases) of ``nn.Conv2d(in_channels, out_channels, kernel)``."""
    return count_params(nn.Conv2d(in_channels, out_channels, kernel))


def reference_macs(in_channels: int, out_channels: int, kernel: int, size: int, stride: int = 1,
                   padding: int = 0) -> int:
    """Return the MACs of one conv layer on one size x size example, counted by torch."""
    layer = _conv(in_channels, out_channels, kernel, stride, padding)
    return count_macs(layer, torch.zeros(1, in_channels, size, size))


def conv_output_size(student: Callable[..., int]) -> CheckResult:
    """Exercise 2.2: the output side of a conv layer."""
    cases = [(label, {k: v[k] for k in ("size", "kernel", "stride", "padding")}) for label, v in _conv_cases(0)]
    cases = [(", ".join(f"{k}={v}" for k, v in kwargs.items()), kwargs) for _, kwargs in cases]
    return run_cases("2.2", 1, student, reference_output_size, cases)


def conv_params(student: Callable[..., int]) -> CheckResult:
    """Exercise 2.3: the parameters of a conv layer (weights and biases)."""
    cases = [(f"in_channels={v['in_channels']}, out_channels={v['out_channels']}, kernel={v['kernel']}",
              {k: v[k] for k in ("in_channels", "out_channels", "kernel")}) for _, v in _conv_cases(1)]
    return run_cases("2.3", 1, student, reference_params, cases)


def conv_macs(student: Callable[..., int]) -> CheckResult:
    """Exercise 2.4: the MACs of a conv layer on one example."""
    return run_cases("2.4", 1, student, reference_macs, _conv_cases(2))


def checks_table(rows: list[tuple[float, float]]) -> pd.DataFrame:
    """A train-accuracy checks table (:data:`labkit.train.CHECK_COLUMNS`) from (train_time_s, train_acc) rows,
    ten checks per epoch of 1,000 examples."""
    return pd.DataFrame([{"epoch": (i + 1) / 10, "examples_seen": 100 * (i + 1), "train_time_s": t, "train_loss": 1 - a,
                          "train_acc": a} for i, (t, a) in enumerate(rows)], columns=CHECK_COLUMNS)


def reference_time_to_accuracy(checks: pd.DataFrame, target: float = 0.9) -> float | None:
    """Return the training seconds of the first check at or above ``target``, None when none reached it."""
    return FitResult(pd.DataFrame(), checks).first_reach(target)[0]


def _time_cases(seed: int = 0) -> list[tuple[str, dict]]:
    made = {"reached at the third check": [(1.0, 0.5), (2.0, 0.8), (3.5, 0.93), (4.0, 0.95)],
            "reached exactly 90% at a check": [(1.5, 0.7), (2.5, 0.9), (3.5, 0.91)],
            "above 90%, then below, then above again": [(1.0, 0.6), (2.0, 0.92), (3.0, 0.88), (4.0, 0.95)],
            "never reached": [(1.0, 0.3), (2.0, 0.5), (3.0, 0.89)],
            "reached at the first check": [(0.7, 0.97), (1.4, 0.98)]}
    cases = [(f"{name}: checks {rows}", {"checks": checks_table(rows), "target": 0.9}) for name, rows in made.items()]
    rng = random.Random(seed)
    for _ in range(4):
        times = sorted(round(rng.uniform(0.1, 50), 2) for _ in range(8))
        rows = [(t, round(rng.uniform(0.5, 1.0), 3)) for t in times]
        target = rng.choice([0.8, 0.9, 0.95])
        cases.append((f"target {target}: checks {rows}", {"checks": checks_table(rows), "target": target}))
    return cases


def time_to_accuracy(student: Callable[..., float | None]) -> CheckResult:
    """Exercise 2.1: the training time to first reach a train accuracy, from a checks table."""
    return run_cases("2.1", 1, student, reference_time_to_accuracy, _time_cases())
