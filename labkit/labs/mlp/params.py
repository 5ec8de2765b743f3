"""Lab 1's notebook parameters (MLP sweeps): validation and the smoke switch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit.data import IMAGE_SIZE
from labkit.labs.mlp.sweeps import TrialSetup
from labkit.param_checks import SweepParams, check_common, notebook_values, positive_ints, validated_params


@dataclass(frozen=True)
class Lab1Params(SweepParams):
    """Every knob of Lab 1 (MLP sweeps), validated on creation."""

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
        set_ = check_common(self)
        self.sweep_executor()  # a bad executor, address or thread count fails here, before any training
        for name in ("epochs", "sweep_epochs", "batch_size", "latency_repeats"):
            positive_ints(getattr(self, name), name)
        for name in ("trace_examples", "train_limit", "test_limit", "batch_sweep_train_limit"):
            if getattr(self, name) is not None:
                positive_ints(getattr(self, name), name)
        if not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ValueError(f"lr={self.lr!r}: the learning rate must be a positive number")
        for name in ("hidden_sizes", "depths", "widths", "combined_depths", "combined_widths", "batch_sizes"):
            set_(name, positive_ints(getattr(self, name), name))
        set_("input_sizes", positive_ints(self.input_sizes, "input_sizes"))
        set_("combined_sizes", positive_ints(self.combined_sizes, "combined_sizes"))
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

    def setup(self) -> TrialSetup:
        """What stays fixed across the sweeps' trials (each sweep may replace its data limit)."""
        return TrialSetup(dataset=self.dataset, data_dir=self.data_dir, epochs=self.sweep_epochs, lr=self.lr,
                          device=self.device, seed=self.seed, latency_repeats=self.latency_repeats, **self.limits())

    @property
    def batch_sweep_limit(self) -> int | None:
        """Training examples (before the split) of the batch-size sweep: its own limit, else ``train_limit``."""
        return self.batch_sweep_train_limit if self.batch_sweep_train_limit is not None else self.train_limit


# What --smoke shrinks: data, epochs, grids and repeats, so the notebook runs in well under 2 minutes.
LAB1_SMOKE = dict(epochs=1, sweep_epochs=1, train_limit=2000, test_limit=500, depths=(1, 2), widths=(32, 256),
                  input_sizes=(14,), combined_sizes=(28, 14), combined_depths=(1,), combined_widths=(64, 256),
                  batch_sizes=(1, 64), batch_sweep_train_limit=500, latency_repeats=10, trace_examples=200)


def lab1(**params: Any) -> Lab1Params:
    """Validate Lab 1's parameters as given (unknown names are an error), then apply ``smoke``."""
    return validated_params(Lab1Params, LAB1_SMOKE, "Lab 1", params)


def from_notebook(namespace: dict[str, Any]) -> Lab1Params:
    """Validate the notebook's parameters (its ``globals()``), then apply ``smoke``."""
    return lab1(**notebook_values(Lab1Params, namespace))
