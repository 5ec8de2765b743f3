"""Model builders: the Lab 1 MLP (later labs add CNNs and offline ResNet18/BERT)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

from torch import nn


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r}: must be a positive whole number")
    return value


class MLP(nn.Sequential):
    """Fully connected ReLU network: flatten -> Linear/ReLU per hidden size -> Linear to the classes.

    ``MLP(784, [1024, 1024, 1024], 10)`` is the Lab 1 baseline (2,913,290 parameters).
    Layers are named ``flatten, fc1, relu1, ..., out``.
    """

    def __init__(self, in_features: int, hidden_sizes: Sequence[int], num_classes: int = 10):
        _check_positive_int(in_features, "in_features")
        _check_positive_int(num_classes, "num_classes")
        hidden_sizes = list(hidden_sizes)
        if not hidden_sizes:
            raise ValueError("hidden_sizes is empty: an MLP needs at least one hidden layer (depth >= 1)")
        for i, width in enumerate(hidden_sizes):
            _check_positive_int(width, f"hidden_sizes[{i}] (a layer width)")
        layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
        previous = in_features
        for i, width in enumerate(hidden_sizes, start=1):
            layers[f"fc{i}"] = nn.Linear(previous, width)
            layers[f"relu{i}"] = nn.ReLU()
            previous = width
        layers["out"] = nn.Linear(previous, num_classes)
        super().__init__(layers)
        self.in_features, self.hidden_sizes, self.num_classes = in_features, hidden_sizes, num_classes

    @classmethod
    def uniform(cls, in_features: int, depth: int, width: int, num_classes: int = 10) -> "MLP":
        """Return an MLP with ``depth`` hidden layers of ``width`` units each."""
        _check_positive_int(depth, "depth (number of hidden layers)")
        _check_positive_int(width, "width (units per hidden layer)")
        return cls(in_features, [width] * depth, num_classes)

    @property
    def depth(self) -> int:
        """Number of hidden layers."""
        return len(self.hidden_sizes)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, hidden_sizes={self.hidden_sizes}, num_classes={self.num_classes}"
