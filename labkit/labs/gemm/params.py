"""Lab 5's notebook parameters (the GEMM rewrite): validation and the smoke switch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit.labs.gemm.rewrite import LAYOUTS
from labkit.param_checks import (LabParams, check_bools, check_common, notebook_values, numbers_in_range, positive_ints,
                                 validated_params)


@dataclass(frozen=True)
class Lab5Params(LabParams):
    """Every knob of Lab 5 (GEMM rewrite), validated on creation."""

    dataset: str = "fashion_mnist"
    device: str = "cpu"
    model_path: str | None = None
    fallback_epochs: int = 2
    fallback_prune_fraction: float = 0.25
    batch_size: int = 32
    latency_batch_sizes: tuple[int, ...] = (1, 32)
    latency_repeats: int = 50
    rounds: int = 5
    layouts: tuple[str, ...] = ("naive", "folded", "nhwc", "kn2row")
    compile: bool = True
    tolerance: float = 1e-5
    profile_repeats: int = 20
    gpu_sizes: tuple[int, ...] = (512, 1024, 2048, 4096)
    train_limit: int | None = None
    test_limit: int | None = None
    smoke: bool = False

    def __post_init__(self) -> None:
        set_ = check_common(self)
        check_bools(self, "compile")
        for name in ("fallback_epochs", "batch_size", "latency_repeats", "rounds", "profile_repeats"):
            positive_ints(getattr(self, name), name)
        for name in ("train_limit", "test_limit"):
            if getattr(self, name) is not None:
                positive_ints(getattr(self, name), name)
        numbers_in_range(self.fallback_prune_fraction, "fallback_prune_fraction", low=0.0, high=1.0)
        numbers_in_range(self.tolerance, "tolerance", low=1e-12, high=1.0)
        layouts = (self.layouts,) if isinstance(self.layouts, str) else tuple(self.layouts)
        for layout in layouts:
            if layout not in LAYOUTS:
                raise ValueError(f"layouts contains {layout!r}: choose from {list(LAYOUTS)}")
        if not layouts:
            raise ValueError("layouts is empty: give at least one of " + str(list(LAYOUTS)))
        set_("layouts", layouts)
        for name in ("latency_batch_sizes", "gpu_sizes"):
            set_(name, positive_ints(getattr(self, name), name))


# What --smoke shrinks: data, repeats and rounds; torch.compile stays out (tens of seconds of compiling). Offline,
# choose MNIST with `labkit run --dataset mnist` (LABKIT_DATASET), as CI does.
LAB5_SMOKE = dict(fallback_epochs=1, latency_repeats=6, rounds=2, compile=False, profile_repeats=3,
                  gpu_sizes=(256, 512), train_limit=1500, test_limit=500)


def lab5(**params: Any) -> Lab5Params:
    """Validate Lab 5's parameters as given (unknown names are an error), then apply ``smoke``."""
    return validated_params(Lab5Params, LAB5_SMOKE, "Lab 5", params)


def from_notebook(namespace: dict[str, Any]) -> Lab5Params:
    """Validate the notebook's parameters (its ``globals()``), then apply ``smoke``."""
    return lab5(**notebook_values(Lab5Params, namespace))
