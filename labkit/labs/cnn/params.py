"""Lab 2's notebook parameters (CNN sweeps): validation and the smoke switch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit.labs.cnn.sweeps import CNNSetup
from labkit.models import INITS
from labkit.param_checks import (SweepParams, check_bools, check_common, int_lists, notebook_values, numbers_in_range,
                                 positive_ints, validated_params)


@dataclass(frozen=True)
class Lab2Params(SweepParams):
    """Every knob of Lab 2 (CNN sweeps), validated on creation."""

    dataset: str = "fashion_mnist"  # the handout's (IITM CS6886); offline: labkit run --dataset mnist
    device: str = "cpu"  # the handout trains Steps 1 and 2 on CPU ("not allowed to use GPUs"); "auto"/"cuda" allowed
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
        set_ = check_common(self)
        check_bools(self, "tracking")
        self.sweep_executor()  # a bad executor, address or thread count fails here, before any training
        for name in ("baseline_epochs", "batch_size", "checks_per_epoch", "probe_examples", "regularization_epochs",
                     "sweep_epochs", "pathology_epochs", "final_epochs"):
            positive_ints(getattr(self, name), name)
        for name in ("regularization_train_limit", "pathology_train_limit", "train_limit", "test_limit"):
            if getattr(self, name) is not None:
                positive_ints(getattr(self, name), name)
        numbers_in_range(self.lr, "lr", low=1e-12, high=100.0, closed_high=True)
        numbers_in_range(self.momentum, "momentum", low=0.0, high=1.0)
        set_("dropouts", numbers_in_range(self.dropouts, "dropouts", low=0.0, high=1.0))
        set_("weight_decays", numbers_in_range(self.weight_decays, "weight_decays", low=0.0, high=1.0, closed_high=True))
        set_("lrs", numbers_in_range(self.lrs, "lrs", low=1e-12, high=100.0, closed_high=True))
        set_("arch_channels", int_lists(self.arch_channels, "arch_channels"))
        for name in ("arch_kernel_sizes", "arch_conv_layers", "arch_batch_sizes", "grid_hidden", "grid_batch_sizes"):
            set_(name, positive_ints(getattr(self, name), name))
        for name in ("grid_kernel_sizes", "grid_channels"):
            lists = int_lists(getattr(self, name), name)
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
            numbers_in_range(pair[0], "grid_lr_momentum learning rate", low=1e-12, high=100.0, closed_high=True)
            numbers_in_range(pair[1], "grid_lr_momentum momentum", low=0.0, high=1.0)
            pairs.append((float(pair[0]), float(pair[1])))
        set_("grid_lr_momentum", tuple(pairs))

    def setup(self) -> CNNSetup:
        """What stays fixed across the trials; each planned sweep sets its own epochs and data
        (:meth:`labkit.labs.cnn.plan.PlannedSweep.setup`)."""
        return CNNSetup(dataset=self.dataset, data_dir=self.data_dir, epochs=self.sweep_epochs, device=self.device,
                        seed=self.seed, checks_per_epoch=self.checks_per_epoch, probe_examples=self.probe_examples,
                        **self.limits())

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
    return validated_params(Lab2Params, LAB2_SMOKE, "Lab 2", params)


def from_notebook(namespace: dict[str, Any]) -> Lab2Params:
    """Validate the notebook's parameters (its ``globals()``), then apply ``smoke``."""
    return lab2(**notebook_values(Lab2Params, namespace))
