"""Latency, throughput and per-example traces, measured honestly.

Each timed call is bracketed by :func:`synchronize` and ``time.perf_counter`` so GPU work has
finished before the clock stops, and every call is kept as its own sample. We keep this loop
rather than ``torch.utils.benchmark.Timer`` because ``Timer.timeit`` adds hidden warm-up calls
(which would hide the cold first inference), pins torch to one thread unless told otherwise,
and reports block averages instead of per-call samples. Thread settings are left untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

Model = nn.Module | Callable[..., object]
Inputs = torch.Tensor | tuple | Mapping


def synchronize(device: torch.device | str | None = None) -> None:
    """Wait for queued work on ``device`` (CUDA or MPS); no-op on CPU. ``None``: current CUDA device if in use."""
    if device is None:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
        return
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@dataclass(frozen=True)
class LatencyStats:
    """Per-call latency samples in milliseconds, each call processing ``batch_size`` examples."""

    batch_size: int
    samples_ms: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.samples_ms:
            raise ValueError("samples_ms is empty: need at least one latency sample")
        if self.batch_size < 1:
            raise ValueError(f"batch_size={self.batch_size!r}: must be at least 1")
        object.__setattr__(self, "samples_ms", tuple(float(s) for s in self.samples_ms))

    def _pct(self, q: float) -> float:
        return float(np.percentile(self.samples_ms, q))

    @property
    def repeats(self) -> int:
        return len(self.samples_ms)

    @property
    def median_ms(self) -> float:
        return self._pct(50)

    @property
    def p10_ms(self) -> float:
        return self._pct(10)

    @property
    def p90_ms(self) -> float:
        return self._pct(90)

    @property
    def mean_ms(self) -> float:
        return float(np.mean(self.samples_ms))

    @property
    def std_ms(self) -> float:
        """Sample standard deviation (ddof=1) in ms; 0 for a single sample."""
        return float(np.std(self.samples_ms, ddof=1)) if self.repeats > 1 else 0.0

    @property
    def iqr_ms(self) -> float:
        return self._pct(75) - self._pct(25)

    @property
    def per_example_ms(self) -> float:
        """Median latency divided by the batch size, in ms per example."""
        return self.median_ms / self.batch_size

    @property
    def throughput_per_s(self) -> float:
        """Examples per second at the median latency."""
        return self.batch_size / (self.median_ms / 1e3)

    def as_dict(self) -> dict[str, float | int]:
        """Flat results row: batch size, repeats and every statistic above (not the samples)."""
        names = ("median_ms", "p10_ms", "p90_ms", "mean_ms", "std_ms", "iqr_ms",
                 "per_example_ms", "throughput_per_s")
        return {"batch_size": self.batch_size, "repeats": self.repeats,
                **{name: getattr(self, name) for name in names}}

    def __str__(self) -> str:
        return (f"{self.median_ms:.3f} ms per batch of {self.batch_size} (median of {self.repeats}; "
                f"p10 {self.p10_ms:.3f}, p90 {self.p90_ms:.3f} ms), {self.throughput_per_s:,.0f} examples/s")


@contextmanager
def _eval_mode(model: Model) -> Iterator[None]:
    """Put a module in eval mode and restore every submodule's own training flag afterwards."""
    flags = [(m, m.training) for m in model.modules()] if isinstance(model, nn.Module) else []
    if isinstance(model, nn.Module):
        model.eval()
    try:
        yield
    finally:
        for module, training in flags:
            module.training = training


def _move_model(model: Model, device: torch.device | str | None) -> torch.device | None:
    """Move a module to ``device`` when one is given (callables stay as they are); return the device."""
    if device is None:
        return None
    device = torch.device(device)
    if isinstance(model, nn.Module):
        model.to(device)
    return device


def _split(inputs: Inputs) -> tuple[tuple, dict]:
    if isinstance(inputs, Mapping):
        return (), dict(inputs)
    return (inputs if isinstance(inputs, tuple) else (inputs,)), {}


def _move(args: tuple, kwargs: dict, device: torch.device) -> tuple[tuple, dict]:
    def move(x: object) -> object:
        return x.to(device) if isinstance(x, torch.Tensor) else x
    return tuple(move(a) for a in args), {k: move(v) for k, v in kwargs.items()}


def _first_tensor(args: tuple, kwargs: dict) -> torch.Tensor | None:
    return next((x for x in (*args, *kwargs.values()) if isinstance(x, torch.Tensor)), None)


def _check_count(value: int, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r}: must be a whole number >= {minimum}")


def _timed_ms(fn: Callable[[], object], device: torch.device | None) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return (time.perf_counter() - start) * 1e3


def measure_latency(model: Model, example_input: Inputs, *, warmup: int = 10, repeats: int = 100,
                    device: torch.device | str | None = None) -> LatencyStats:
    """Time ``repeats`` calls of ``model(example_input)`` after ``warmup`` untimed ones; ms per call.

    ``example_input``: a tensor, a tuple of positional arguments or a mapping of keyword arguments;
    batch size is the first dimension of the first tensor. Runs in eval mode under
    ``torch.inference_mode``. Only when ``device`` is given are model and inputs moved there.
    """
    _check_count(warmup, "warmup", 0)
    _check_count(repeats, "repeats", 1)
    args, kwargs = _split(example_input)
    device = _move_model(model, device)
    if device is not None:
        args, kwargs = _move(args, kwargs, device)
    first = _first_tensor(args, kwargs)
    sync_device = device if device is not None else (first.device if first is not None else None)
    batch_size = int(first.shape[0]) if first is not None and first.dim() > 0 else 1
    with _eval_mode(model), torch.inference_mode():
        for _ in range(warmup):
            model(*args, **kwargs)
        samples = [_timed_ms(lambda: model(*args, **kwargs), sync_device) for _ in range(repeats)]
    return LatencyStats(batch_size=batch_size, samples_ms=tuple(samples))


def latency_trace(model: Model, inputs: torch.Tensor, *, device: torch.device | str | None = None) -> np.ndarray:
    """Latency in ms of one batch-of-1 forward per row of ``inputs`` (shape N x ...), NO warm-up.

    Element 0 is the cold first inference. Returns a float array of shape (N,).
    """
    device = _move_model(model, device)
    inputs = inputs.to(device) if device is not None else inputs
    sync_device = device if device is not None else inputs.device
    with _eval_mode(model), torch.inference_mode():
        trace = [_timed_ms(lambda: model(inputs[i:i + 1]), sync_device) for i in range(len(inputs))]
    return np.asarray(trace, dtype=float)


def moving_stats(values: object, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing moving mean and moving std (ddof=1) over ``window`` values; same length as ``values``.

    The first ``window - 1`` points use the values available so far; the std of one value is 0.
    """
    _check_count(window, "window", 1)
    rolling = pd.Series(np.asarray(values, dtype=float)).rolling(window, min_periods=1)
    return rolling.mean().to_numpy(), rolling.std().fillna(0.0).to_numpy()


def compare_batched(model: Model, inputs: torch.Tensor, *, device: torch.device | str | None = None,
                    warmup: int = 2, repeats: int = 10) -> dict[str, float | int]:
    """Time the N rows of ``inputs`` as one batch vs as N back-to-back batches of 1 (median ms each).

    ``speedup`` = batches_of_one_ms / one_batch_ms (how much faster batching is).
    """
    device = _move_model(model, device)
    inputs = inputs.to(device) if device is not None else inputs

    def one_at_a_time(x: torch.Tensor) -> None:
        for i in range(len(x)):
            model(x[i:i + 1])

    with _eval_mode(model):
        one_batch = measure_latency(model, inputs, warmup=warmup, repeats=repeats)
        batches_of_one = measure_latency(one_at_a_time, inputs, warmup=warmup, repeats=repeats)
    return {"n_examples": len(inputs), "one_batch_ms": one_batch.median_ms,
            "batches_of_one_ms": batches_of_one.median_ms,
            "speedup": batches_of_one.median_ms / one_batch.median_ms}


def dataset_inference_s(model: Model, inputs: torch.Tensor, *, batch_size: int = 256,
                        device: torch.device | str | None = None) -> float:
    """Seconds to classify every row of ``inputs`` in batches of ``batch_size`` (eval mode, no grad, one pass
    after one untimed warm-up batch); divide by ``len(inputs)`` for the time per example."""
    _check_count(batch_size, "batch_size", 1)
    device = _move_model(model, device)
    inputs = inputs.to(device) if device is not None else inputs
    sync_device = device if device is not None else inputs.device

    def run_all() -> None:
        for start in range(0, len(inputs), batch_size):
            model(inputs[start:start + batch_size])

    with _eval_mode(model), torch.inference_mode():
        model(inputs[:batch_size])
        return _timed_ms(run_all, sync_device) / 1e3


def matmul_gflops(n: int = 2048, *, repeats: int = 10, dtype: torch.dtype = torch.float32,
                  device: torch.device | str | None = None) -> float:
    """Return the achieved GFLOP/s (2 n^3 FLOPs per median call) of an ``n`` x ``n`` matrix product: this
    machine's practical matmul peak, the ceiling a model's GFLOP/s is compared with."""
    _check_count(n, "n", 1)
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    stats = measure_latency(lambda: torch.mm(a, b), (), warmup=2, repeats=repeats, device=None)
    return 2 * n ** 3 / (stats.median_ms / 1e3) / 1e9
