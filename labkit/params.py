"""Notebook parameters: validation with errors that name the bad knob, and the smoke switch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit.data import IMAGE_SIZE
from labkit.param_checks import (_check_bools, _check_common, _fraction_list, _int_lists, _positive_ints,
                                 _SweepParams, _validated, smoke_from_env)


@dataclass(frozen=True)
class Lab1Params(_SweepParams):
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
        set_ = _check_common(self)
        self.sweep_executor()  # a bad executor, address or thread count fails here, before any training
        for name in ("epochs", "sweep_epochs", "batch_size", "latency_repeats"):
            _positive_ints(getattr(self, name), name)
        for name in ("trace_examples", "train_limit", "test_limit", "batch_sweep_train_limit"):
            if getattr(self, name) is not None:
                _positive_ints(getattr(self, name), name)
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
    return _validated(Lab1Params, LAB1_SMOKE, "Lab 1", params)


@dataclass(frozen=True)
class Lab2Params(_SweepParams):
    """Every knob of Lab 2 (CNN sweeps), validated on creation."""

    tracking: bool = True
    baseline_epochs: int = 10
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    checks_per_epoch: int = 10
    probe_examples: int = 2000
    regularization_train_limit: int | None = 6000
    regularization_epochs: int = 20
    dropouts: tuple[float, ...] = (0.0, 0.2, 0.5, 0.8)
    weight_decays: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    lrs: tuple[float, ...] = (0.001, 0.1)
    sweep_epochs: int = 2
    arch_channels: tuple[tuple[int, ...], ...] = ((8, 16), (8, 32), (16, 32), (32, 64))
    arch_kernel_sizes: tuple[int, ...] = (3, 5, 7)
    arch_conv_layers: tuple[int, ...] = (1, 2, 3)
    arch_batch_sizes: tuple[int, ...] = (1, 32, 64)
    grid_kernel_sizes: tuple[tuple[int, ...], ...] = ((3, 5), (3, 5))
    grid_channels: tuple[tuple[int, ...], ...] = ((4, 8, 16), (8, 16, 32))
    grid_hidden: tuple[int, ...] = (50, 100)
    grid_inits: tuple[str, ...] = ("xavier_uniform", "kaiming_normal", "default")
    grid_batch_sizes: tuple[int, ...] = (16, 32, 64, 128)
    grid_lr_momentum: tuple[tuple[float, float], ...] = ((0.005, 0.9), (0.01, 0.9), (0.05, 0.5), (0.1, 0.0))
    pathology_train_limit: int | None = 6000
    pathology_epochs: int = 10
    final_epochs: int = 5
    train_limit: int | None = None
    test_limit: int | None = None
    smoke: bool = False

    def __post_init__(self) -> None:
        from labkit.models import INITS

        set_ = _check_common(self)
        _check_bools(self, "tracking")
        self.sweep_executor()  # a bad executor, address or thread count fails here, before any training
        for name in ("baseline_epochs", "batch_size", "checks_per_epoch", "probe_examples", "regularization_epochs",
                     "sweep_epochs", "pathology_epochs", "final_epochs"):
            _positive_ints(getattr(self, name), name)
        for name in ("regularization_train_limit", "pathology_train_limit", "train_limit", "test_limit"):
            if getattr(self, name) is not None:
                _positive_ints(getattr(self, name), name)
        _fraction_list(self.lr, "lr", low=1e-12, high=100.0, closed_high=True)
        _fraction_list(self.momentum, "momentum", low=0.0, high=1.0)
        set_("dropouts", _fraction_list(self.dropouts, "dropouts", low=0.0, high=1.0))
        set_("weight_decays", _fraction_list(self.weight_decays, "weight_decays", low=0.0, high=1.0, closed_high=True))
        set_("lrs", _fraction_list(self.lrs, "lrs", low=1e-12, high=100.0, closed_high=True))
        set_("arch_channels", _int_lists(self.arch_channels, "arch_channels"))
        for name in ("arch_kernel_sizes", "arch_conv_layers", "arch_batch_sizes", "grid_hidden", "grid_batch_sizes"):
            set_(name, _positive_ints(getattr(self, name), name))
        for name in ("grid_kernel_sizes", "grid_channels"):
            lists = _int_lists(getattr(self, name), name)
            if len(lists) != 2:
                raise ValueError(f"{name} has {len(lists)} lists: the model grid has two conv layers, give "
                                 "[values for conv1, values for conv2]")
            set_(name, lists)
        inits = tuple(self.grid_inits) if not isinstance(self.grid_inits, str) else (self.grid_inits,)
        for init in inits:
            if init not in INITS:
                raise ValueError(f"grid_inits contains {init!r}: choose from {list(INITS)}")
        set_("grid_inits", inits)
        pairs = []
        for pair in self.grid_lr_momentum:
            pair = tuple(pair)
            if len(pair) != 2:
                raise ValueError(f"grid_lr_momentum contains {list(pair)}: each entry is [learning rate, momentum]")
            _fraction_list(pair[0], "grid_lr_momentum learning rate", low=1e-12, high=100.0, closed_high=True)
            _fraction_list(pair[1], "grid_lr_momentum momentum", low=0.0, high=1.0)
            pairs.append((float(pair[0]), float(pair[1])))
        set_("grid_lr_momentum", tuple(pairs))

    def _subset(self, limit: int | None) -> int | None:
        """A sweep's own subset, never larger than ``train_limit`` (smoke)."""
        if limit is None or self.train_limit is None:
            return limit if limit is not None else self.train_limit
        return min(limit, self.train_limit)

    @property
    def regularization_limit(self) -> int | None:
        return self._subset(self.regularization_train_limit)

    @property
    def pathology_limit(self) -> int | None:
        return self._subset(self.pathology_train_limit)


# What --smoke shrinks: data, epochs and grids, so the notebook runs in well under 2 minutes.
LAB2_SMOKE = dict(baseline_epochs=2, checks_per_epoch=4, probe_examples=200, regularization_train_limit=1000,
                  regularization_epochs=2, dropouts=(0.0, 0.5), weight_decays=(1e-3,), lrs=(0.1,), sweep_epochs=1,
                  arch_channels=((8, 16), (16, 32)), arch_kernel_sizes=(3, 5), arch_conv_layers=(1, 2),
                  arch_batch_sizes=(16, 64), grid_kernel_sizes=((3,), (3, 5)), grid_channels=((4,), (4, 8)),
                  grid_hidden=(32,), grid_inits=("xavier_uniform", "default"), grid_batch_sizes=(64,),
                  grid_lr_momentum=((0.01, 0.9), (0.05, 0.5)), pathology_train_limit=600, pathology_epochs=2,
                  final_epochs=1, train_limit=1500, test_limit=500)


def lab2(**params: Any) -> Lab2Params:
    """Validate Lab 2's parameters as given (unknown names are an error), then apply ``smoke``."""
    return _validated(Lab2Params, LAB2_SMOKE, "Lab 2", params)


# Labs 3 to 5 keep their knobs in their own modules; notebooks call params.lab3(), params.lab4(), params.lab5().
from labkit.params_inference import LAB3_SMOKE, Lab3Params, lab3  # noqa: E402,F401
from labkit.params_pruning import LAB4_SMOKE, Lab4Params, lab4  # noqa: E402,F401
from labkit.params_gemm import LAB5_SMOKE, Lab5Params, lab5  # noqa: E402,F401
