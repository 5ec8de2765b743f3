"""Lab 4's notebook parameters (structured pruning): validation and the smoke switch."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from labkit.labs.pruning.loop import PruneSetup
from labkit.labs.pruning.prune import Heuristic
from labkit.param_checks import (LabParams, check_bools, check_common, notebook_values, numbers_in_range,
                                 positive_ints, validated_params)


@dataclass(frozen=True)
class Lab4Params(LabParams):
    """Every knob of Lab 4 (structured pruning), validated on creation."""

    dataset: str = "fashion_mnist"
    tracking: bool = True
    start_model: str | None = None
    baseline_epochs: int = 5
    heuristic: str = "l2"
    layers: tuple[str, ...] | None = None
    retrain_epochs: int = 5
    retrain_train_limit: int | None = 15000
    threshold: float = 0.01
    max_steps: int | None = None
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    accuracy_threshold: float | None = None
    check_layer: str = "conv2"
    latency_batch_sizes: tuple[int, ...] = (1, 32)
    latency_repeats: int = 50
    train_limit: int | None = None
    test_limit: int | None = None
    smoke: bool = False

    def __post_init__(self) -> None:
        set_ = check_common(self)
        check_bools(self, "tracking")
        for name in ("baseline_epochs", "retrain_epochs", "batch_size", "latency_repeats"):
            positive_ints(getattr(self, name), name)
        for name in ("retrain_train_limit", "train_limit", "test_limit", "max_steps"):
            if getattr(self, name) is not None:
                positive_ints(getattr(self, name), name)
        self.setup()  # a bad heuristic or threshold fails here, with the loop's own bounds
        if self.accuracy_threshold is not None:
            numbers_in_range(self.accuracy_threshold, "accuracy_threshold", low=1e-9, high=1.0)
        numbers_in_range(self.lr, "lr", low=1e-12, high=100.0, closed_high=True)
        numbers_in_range(self.momentum, "momentum", low=0.0, high=1.0)
        layer_name = re.compile(r"(conv|fc)[1-9][0-9]*")
        for layer in tuple(self.layers or ()) + (self.check_layer,):
            if not isinstance(layer, str) or not layer_name.fullmatch(layer):
                raise ValueError(f"layer {layer!r}: name a conv or hidden fully connected layer of the CNN, "
                                 "e.g. 'conv1', 'conv2', 'fc1'")
        if self.layers is not None:
            set_("layers", tuple(self.layers))
        set_("latency_batch_sizes", positive_ints(self.latency_batch_sizes, "latency_batch_sizes"))

    def setup(self, heuristic: str | Heuristic | None = None) -> PruneSetup:
        """What stays fixed across the pruning loop's steps; ``heuristic`` (a name or one's own function, see
        :func:`labkit.labs.pruning.prune.channel_importance`) replaces the notebook's."""
        return PruneSetup(heuristic=self.heuristic if heuristic is None else heuristic, retrain_epochs=self.retrain_epochs, threshold=self.threshold,
                          batch_size=self.batch_size, lr=self.lr, momentum=self.momentum, device=self.device,
                          seed=self.seed)

    @property
    def target_accuracy(self) -> float:
        """The accuracy the chosen pruned model must keep: 87% on Fashion-MNIST (the assignment's), 97% on MNIST
        (about as far below a good MNIST CNN as 87% is below a good Fashion-MNIST one), unless given."""
        if self.accuracy_threshold is not None:
            return self.accuracy_threshold
        return 0.87 if self.dataset == "fashion_mnist" else 0.97

    @property
    def retrain_limit(self) -> int | None:
        """Training examples (before the split) of each retraining: its own limit, never above ``train_limit``."""
        if self.retrain_train_limit is None or self.train_limit is None:
            return self.retrain_train_limit if self.retrain_train_limit is not None else self.train_limit
        return min(self.retrain_train_limit, self.train_limit)


# What --smoke shrinks: data, epochs, steps and repeats, so the notebook runs in about a minute. The dataset is not
# shrunk: offline, choose MNIST with `labkit run --dataset mnist` (LABKIT_DATASET), as CI does.
LAB4_SMOKE = dict(baseline_epochs=1, retrain_epochs=1, retrain_train_limit=600, layers=("conv1", "fc1"), max_steps=3,
                  latency_repeats=5, train_limit=1500, test_limit=500, accuracy_threshold=0.5)


def lab4(**params: Any) -> Lab4Params:
    """Validate Lab 4's parameters as given (unknown names are an error), then apply ``smoke``."""
    return validated_params(Lab4Params, LAB4_SMOKE, "Lab 4", params)


def from_notebook(namespace: dict[str, Any]) -> Lab4Params:
    """Validate the notebook's parameters (its ``globals()``), then apply ``smoke``."""
    return lab4(**notebook_values(Lab4Params, namespace))
