"""Model builders: the Lab 1 MLP and the Lab 2 CNN (later labs add offline ResNet18/BERT).

A :class:`CNN` is described by a config dict (:meth:`CNN.config`) that rebuilds it, and is saved
as config + state dict in one file (:func:`save_model` / :func:`load_model`, ``weights_only=True``).
"""

from __future__ import annotations

import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

INITS = ("default", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")


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


def _per_layer(value: int | Sequence[int], n: int, name: str) -> list[int]:
    """Broadcast one int to ``n`` conv layers, or check a list has one value per layer."""
    values = [value] * n if isinstance(value, int) and not isinstance(value, bool) else list(value)
    if len(values) != n:
        raise ValueError(f"{name}={list(values)} has {len(values)} values for {n} conv layers: give one per layer")
    return values


def _as_list(value: int | Sequence[int]) -> list[int]:
    return [value] if isinstance(value, int) and not isinstance(value, bool) else list(value)


class CNN(nn.Sequential):
    """Conv blocks (conv -> [batch norm] -> ReLU -> [max-pool]) -> flatten -> hidden FC/ReLU/[dropout] -> classifier.

    ``channels``/``hidden`` give out-channels per conv layer and units per hidden FC layer; ``kernel_sizes``,
    ``padding`` and ``pool`` (a 2x2 max-pool after a block) are one value for every conv layer or one each.
    ``init`` names the initialisation of every conv and linear weight and bias (see :data:`INITS`).
    Layers are named ``conv1, bn1, relu1, pool1, ..., flatten, fc1, fc_relu1, dropout1, ..., out``.

    ``CNN([16, 16], 3, hidden=[100], init="xavier_uniform")`` is the Fashion-MNIST baseline;
    ``CNN([32, 64], 3, padding=1, pool=True, hidden=[])`` the classic conv-pool-conv-pool-linear net.
    """

    def __init__(self, channels: Sequence[int] = (16, 16), kernel_sizes: int | Sequence[int] = 3, *,
                 hidden: int | Sequence[int] = (100,), padding: int | Sequence[int] = 0,
                 pool: bool | Sequence[bool] = False, batch_norm: bool = False, dropout: float = 0.0,
                 init: str = "default", in_channels: int = 1, image_size: int = 28, num_classes: int = 10):
        channels, hidden = _as_list(channels), _as_list(hidden)
        if not channels:
            raise ValueError("channels is empty: a CNN needs at least one conv layer")
        n = len(channels)
        kernels = _per_layer(kernel_sizes, n, "kernel_sizes")
        paddings = _per_layer(padding, n, "padding")
        pools = [pool] * n if isinstance(pool, bool) else [bool(p) for p in pool]
        if len(pools) != n:
            raise ValueError(f"pool={list(pool)} has {len(pools)} values for {n} conv layers: give one per layer")
        for i, c in enumerate(channels, start=1):
            _check_positive_int(c, f"channels[{i - 1}] (out-channels of conv{i})")
        for i, width in enumerate(hidden, start=1):
            _check_positive_int(width, f"hidden[{i - 1}] (units of fc{i})")
        for name, value in (("in_channels", in_channels), ("image_size", image_size), ("num_classes", num_classes)):
            _check_positive_int(value, name)
        if not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
            raise ValueError(f"dropout={dropout!r}: a drop probability must be in [0, 1)")
        if init not in INITS:
            raise ValueError(f"init={init!r} is not known; choose one of {list(INITS)}")

        layers: OrderedDict[str, nn.Module] = OrderedDict()
        side, previous = image_size, in_channels
        for i, (c, k, p, pooled) in enumerate(zip(channels, kernels, paddings, pools), start=1):
            _check_positive_int(k, f"kernel_sizes[{i - 1}] (kernel of conv{i})")
            if isinstance(p, bool) or not isinstance(p, int) or p < 0:
                raise ValueError(f"padding[{i - 1}]={p!r}: must be a whole number >= 0")
            if k > side + 2 * p:
                raise ValueError(f"conv{i}: a {k}x{k} kernel is larger than the {side}x{side} feature map it meets "
                                 f"(padding {p}); use a smaller kernel, more padding, or fewer pools before it")
            side = side + 2 * p - k + 1
            layers[f"conv{i}"] = nn.Conv2d(previous, c, k, padding=p)
            if batch_norm:
                layers[f"bn{i}"] = nn.BatchNorm2d(c)
            layers[f"relu{i}"] = nn.ReLU()
            if pooled:
                if side < 2:
                    raise ValueError(f"pool{i}: a 2x2 max-pool would shrink the {side}x{side} map after conv{i} "
                                     "below 1x1; drop that pool or use padding")
                layers[f"pool{i}"] = nn.MaxPool2d(2)
                side //= 2
            previous = c
        layers["flatten"] = nn.Flatten()
        features = previous * side * side
        for i, width in enumerate(hidden, start=1):
            layers[f"fc{i}"] = nn.Linear(features, width)
            layers[f"fc_relu{i}"] = nn.ReLU()
            if dropout > 0:
                layers[f"dropout{i}"] = nn.Dropout(dropout)
            features = width
        layers["out"] = nn.Linear(features, num_classes)
        super().__init__(layers)
        self._config = {"channels": channels, "kernel_sizes": kernels, "hidden": hidden, "padding": paddings,
                        "pool": pools, "batch_norm": bool(batch_norm), "dropout": float(dropout), "init": init,
                        "in_channels": in_channels, "image_size": image_size, "num_classes": num_classes}
        self.feature_map_side = side
        initialize(self, init)

    def config(self) -> dict[str, Any]:
        """Return the keyword arguments that rebuild this network: ``CNN(**model.config())``. Channel and neuron
        counts are read from the layers, so a structurally pruned network describes its own, smaller shape."""
        config = {k: list(v) if isinstance(v, list) else v for k, v in self._config.items()}
        layers = dict(self.named_children())
        config["channels"] = [layers[f"conv{i}"].out_channels for i in range(1, len(config["channels"]) + 1)]
        config["hidden"] = [layers[f"fc{i}"].out_features for i in range(1, len(config["hidden"]) + 1)]
        return config

    @property
    def name(self) -> str:
        """A short name of the architecture, e.g. ``CNN_c16k3_c16k3_fc100`` (``p``: padding, ``mp``: max-pool)."""
        c = self.config()
        parts = ["CNN"]
        for ch, k, p, pooled in zip(c["channels"], c["kernel_sizes"], c["padding"], c["pool"]):
            parts.append(f"c{ch}k{k}" + (f"p{p}" if p else "") + ("mp" if pooled else ""))
        parts += [f"fc{w}" for w in c["hidden"]]
        if c["batch_norm"]:
            parts.append("bn")
        if c["dropout"]:
            parts.append(f"do{c['dropout']:g}")
        return "_".join(parts)

    def extra_repr(self) -> str:
        c = self.config()
        return (f"name={self.name}, channels={c['channels']}, kernel_sizes={c['kernel_sizes']}, "
                f"hidden={c['hidden']}, init={c['init']!r}")


def initialize(model: nn.Module, init: str = "default", *, seed: int | None = None) -> nn.Module:
    """Re-initialise every conv and linear layer's weight and bias by ``init`` (see :data:`INITS`); return model.

    ``default`` keeps PyTorch's own init; the others apply ``nn.init.<init>_`` to weights. Biases are zeroed
    by the named schemes (the usual practice; a weight scheme's fan-in rule does not apply to a bias).
    """
    if init not in INITS:
        raise ValueError(f"init={init!r} is not known; choose one of {list(INITS)}")
    if seed is not None:
        torch.manual_seed(seed)
    if init == "default":
        return model
    scheme = getattr(nn.init, f"{init}_")
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            if init.startswith("kaiming"):
                scheme(module.weight, nonlinearity="relu")
            else:
                scheme(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model


def save_model(model: CNN, path: str | Path) -> Path:
    """Save ``model``'s config and state dict in one file (readable with ``torch.load(weights_only=True)``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"kind": type(model).__name__, "config": model.config(), "state_dict": model.state_dict()}, temp)
    temp.replace(path)  # never a half-written model file
    return path


class DamagedModelError(ValueError):
    """A model file is there but cannot be loaded (cut short, overwritten, or not written by :func:`save_model`)."""


def _unloadable(path: Path, problem: str, fix: str | None) -> DamagedModelError:
    fix = fix or "save it again with the lab that wrote it, or restore a whole copy"
    return DamagedModelError(f"{path} ({path.stat().st_size:,} bytes) cannot be loaded: {problem}. It was left as it "
                             f"is. {fix[0].upper()}{fix[1:]}.")


def load_model(path: str | Path, *, map_location: str | torch.device = "cpu", fix: str | None = None) -> CNN:
    """Rebuild and return the network saved by :func:`save_model` at ``path`` (in eval mode). A file that is there
    but cannot be loaded raises :class:`DamagedModelError` with its path, size, the error and ``fix`` (what to do)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model file there")
    try:
        saved = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # a cut-short zip, a pickle that is not a state dict, random bytes
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        first = lines[0].split(". ")[0].rstrip(".") if lines else ""  # not torch's advice to unpickle anything
        said = f"torch.load says {type(error).__name__}: {first}"[:300]
        with path.open("rb") as file:
            head = file.read(8)
        if not head.startswith(b"PK\x03\x04"):  # how every file torch.save writes begins: a zip archive
            said = f"it is not a file torch.save wrote (it begins with {head!r}, not a zip archive's PK); {said}"
        elif not zipfile.is_zipfile(path):
            said = f"it is cut short (it begins like a file torch.save wrote, but the end is missing); {said}"
        raise _unloadable(path, said, fix) from error
    if not isinstance(saved, dict) or saved.get("kind") != "CNN":
        raise _unloadable(path, "it was not written by labkit.models.save_model (no CNN config in it)", fix)
    try:
        model = CNN(**saved.get("config", {}))
    except (ValueError, TypeError) as error:
        raise _unloadable(path, f"its saved config cannot build a CNN ({error})", fix) from error
    try:
        model.load_state_dict(saved.get("state_dict", {}))
    except RuntimeError as error:  # size mismatch or missing keys: the weights are not those of the config
        raise _unloadable(path, f"the saved weights do not match the saved config {saved['config']}: "
                                f"{str(error).splitlines()[-1].strip()}", fix) from error
    return model.eval()
