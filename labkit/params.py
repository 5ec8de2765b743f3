"""Notebook parameters: validation with errors that name the bad knob, and the smoke switch."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from labkit.data import IMAGE_SIZE, dataset_name
from labkit.train import resolve_device


def smoke_from_env(smoke: bool) -> bool:
    """Return True if ``smoke`` is set or ``LABKIT_SMOKE`` is 1/true (how nbval runs notebooks small)."""
    return bool(smoke) or os.environ.get("LABKIT_SMOKE", "").strip().lower() in ("1", "true", "yes")


def _positive_ints(values, name: str, *, allow_empty: bool = False) -> tuple[int, ...]:
    values = (values,) if isinstance(values, int) else tuple(values)
    if not values and not allow_empty:
        raise ValueError(f"{name} is empty: give at least one value")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} contains {v!r}: every value must be a positive whole number")
    return values


@dataclass(frozen=True)
class Lab1Params:
    """Every knob of Lab 1 (MLP sweeps), validated on creation."""

    dataset: str = "mnist"
    data_dir: str | None = None
    reports_dir: str | None = None
    device: str = "auto"
    seed: int = 0
    epochs: int = 2
    sweep_epochs: int = 2
    batch_size: int = 64
    lr: float = 1e-3
    hidden_sizes: tuple[int, ...] = (1024, 1024, 1024)
    depths: tuple[int, ...] = (1, 2, 4, 8, 16)
    widths: tuple[int, ...] = (32, 128, 512, 1024, 2048, 4096)
    input_sizes: tuple[int, ...] = (20, 14, 7)
    combined_sizes: tuple[int, ...] = (28, 14, 7)
    combined_depths: tuple[int, ...] = (1, 2, 4)
    combined_widths: tuple[int, ...] = (128, 512, 1024)
    batch_sizes: tuple[int, ...] = (1, 64, 128)
    batch_sweep_train_limit: int | None = None
    latency_repeats: int = 100
    trace_examples: int | None = None
    train_limit: int | None = None
    test_limit: int | None = None
    smoke: bool = False

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        set_("dataset", dataset_name(self.dataset))
        resolve_device(self.device)
        for name in ("epochs", "sweep_epochs", "batch_size", "latency_repeats"):
            _positive_ints(getattr(self, name), name)
        for name in ("trace_examples", "train_limit", "test_limit", "batch_sweep_train_limit"):
            if getattr(self, name) is not None:
                _positive_ints(getattr(self, name), name)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r}: must be a non-negative whole number")
        if not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ValueError(f"lr={self.lr!r}: the learning rate must be a positive number")
        for name in ("hidden_sizes", "depths", "widths", "combined_depths", "combined_widths", "batch_sizes"):
            set_(name, _positive_ints(getattr(self, name), name))
        set_("input_sizes", _positive_ints(self.input_sizes, "input_sizes"))
        set_("combined_sizes", _positive_ints(self.combined_sizes, "combined_sizes"))
        for size in self.input_sizes:  # the resolution sweep resizes *and* center-crops to each size
            if size > IMAGE_SIZE:
                raise ValueError(f"input_sizes contains {size}: the resolution sweep also center-crops, and a crop "
                                 f"cannot be larger than the {IMAGE_SIZE}x{IMAGE_SIZE} image; "
                                 f"choose sizes <= {IMAGE_SIZE}")
        for size in self.combined_sizes:
            if size > IMAGE_SIZE:
                raise ValueError(f"combined_sizes contains {size}: sizes above the {IMAGE_SIZE}x{IMAGE_SIZE} "
                                 f"original only upsample (no new information); choose sizes <= {IMAGE_SIZE}")

    @property
    def in_features(self) -> int:
        return IMAGE_SIZE * IMAGE_SIZE

    def limits(self) -> dict[str, int | None]:
        return {"train_limit": self.train_limit, "test_limit": self.test_limit}

    @property
    def batch_sweep_limit(self) -> int | None:
        """Training examples (before the split) of the batch-size sweep: its own limit, else ``train_limit``."""
        return self.batch_sweep_train_limit if self.batch_sweep_train_limit is not None else self.train_limit


# What --smoke shrinks: data, epochs, grids and repeats, so the notebook runs in well under 2 minutes.
LAB1_SMOKE = dict(epochs=1, sweep_epochs=1, train_limit=2000, test_limit=500, depths=(1, 2), widths=(32, 256),
                  input_sizes=(14,), combined_sizes=(28, 14), combined_depths=(1,), combined_widths=(64, 256),
                  batch_sizes=(1, 64), batch_sweep_train_limit=500, latency_repeats=10, trace_examples=200)


def lab1(**params: Any) -> Lab1Params:
    """Validate Lab 1's parameters as given (unknown names are an error), then apply ``smoke``.

    Smoke shrinks only the knobs still at their default, so ``--smoke -p widths [16]`` keeps the 16.
    """
    fields = {f.name: f for f in dataclasses.fields(Lab1Params)}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; Lab 1 knows {sorted(fields)}")
    given = Lab1Params(**params)  # a bad value stops here, smoke or not
    if not smoke_from_env(given.smoke):
        return given
    defaults = Lab1Params()
    shrunk = {name: value for name, value in LAB1_SMOKE.items()
              if getattr(given, name) == getattr(defaults, name)}
    return dataclasses.replace(given, smoke=True, **shrunk)
