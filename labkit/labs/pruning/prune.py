"""Structured pruning: channel / neuron importance, emulated pruning with masks, and real structural removal.

Emulated pruning zeroes a channel through ``torch.nn.utils.prune`` masks on the layer's weight *and* bias (and
on a batch norm that follows it), so retraining cannot revive it. Structural removal builds the smaller network
with ``torch-pruning``: its dependency graph also cuts the next layer's inputs (conv -> conv, conv -> flatten ->
linear where one channel is a block of features, linear -> linear, residual couplings).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

HEURISTICS = ("l2", "l1", "random")
# A heuristic of one's own: (weight, bias or None) of a layer -> one score per output channel / neuron.
Heuristic = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def prunable_layers(model: nn.Module) -> list[str]:
    """Return the names of the conv and linear layers whose output channels / neurons may be pruned: every one
    but the last layer (the classifier's outputs are the classes)."""
    names = [name for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    return names[:-1]


def _layer(model: nn.Module, name: str) -> nn.Conv2d | nn.Linear:
    layers = prunable_layers(model)
    if name not in layers:
        raise ValueError(f"layer {name!r} cannot be pruned: choose one of {layers} (the classifier keeps its outputs)")
    return model.get_submodule(name)


def _units(layer: nn.Module) -> int:
    return layer.out_channels if isinstance(layer, nn.Conv2d) else layer.out_features


def channel_importance(model: nn.Module, layer: str, heuristic: str | Heuristic = "l2", *,
                       seed: int = 0) -> torch.Tensor:
    """Return one importance score per output channel (conv) or neuron (linear) of ``layer``: the L2 or L1 norm
    of its weights and bias together, uniform random numbers (seeded) as a baseline, or what a callable
    ``heuristic(weight, bias)`` returns (checked: one finite score per channel). Higher = keep."""
    if callable(heuristic):
        module = _layer(model, layer)
        with torch.no_grad():
            bias = None if module.bias is None else module.bias.detach().clone()
            scores = torch.as_tensor(heuristic(module.weight.detach().clone(), bias)).detach().flatten()
        if scores.numel() != _units(module) or not torch.isfinite(scores.double()).all():
            raise ValueError(f"heuristic {getattr(heuristic, '__name__', heuristic)!r} gave {scores.numel()} score(s) "
                             f"for the {_units(module)} channels of {layer} (one finite score per channel expected)")
        return scores.float()
    if heuristic not in HEURISTICS:
        raise ValueError(f"unknown heuristic {heuristic!r}: choose one of {list(HEURISTICS)}")
    module = _layer(model, layer)
    if heuristic == "random":
        return torch.rand(_units(module), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        rows = module.weight.detach().reshape(_units(module), -1)
        if module.bias is not None:
            rows = torch.cat([rows, module.bias.detach().reshape(-1, 1)], dim=1)
        return rows.norm(p=2 if heuristic == "l2" else 1, dim=1)


def least_important(model: nn.Module, layer: str, heuristic: str | Heuristic = "l2", *, seed: int = 0) -> int:
    """Return the output channel / neuron of ``layer`` to prune next: the lowest score among those no mask holds
    at zero yet. Raise ValueError when one is left."""
    importance = channel_importance(model, layer, heuristic, seed=seed)
    done = set(pruned_channels(model, layer))
    alive = [c for c in range(len(importance)) if c not in done]
    if len(alive) <= 1:
        raise ValueError(f"{layer} has one output channel/neuron left: it cannot be pruned further")
    return min(alive, key=lambda c: float(importance[c]))


def pruned_channels(model: nn.Module, layer: str) -> list[int]:
    """Return the output channels / neurons of ``layer`` that a mask holds at zero (sorted)."""
    module = _layer(model, layer)
    mask = getattr(module, "weight_mask", None)
    if mask is None:
        return []
    alive = mask.reshape(_units(module), -1).any(dim=1)
    return [int(i) for i in torch.nonzero(~alive).flatten()]


def _following_norm(model: nn.Module, layer: str) -> nn.Module | None:
    """Return the batch norm that directly follows conv ``layer`` in a sequential model, if any."""
    names = [name for name, _ in model.named_modules()]
    position = names.index(layer)
    following = model.get_submodule(names[position + 1]) if position + 1 < len(names) else None
    return following if isinstance(following, nn.modules.batchnorm._BatchNorm) else None


def mask_channels(model: nn.Module, layer: str, channels: Iterable[int]) -> nn.Module:
    """Emulate pruning: hold ``channels`` of ``layer`` (and of a batch norm right after it) at zero with
    ``torch.nn.utils.prune`` masks on weight and bias; masks accumulate over calls. Returns ``model``."""
    module = _layer(model, layer)
    channels = sorted({int(c) for c in channels})
    units = _units(module)
    if any(not 0 <= c < units for c in channels):
        raise ValueError(f"channels {channels} out of range: {layer} has {units} output channels/neurons")
    if len(set(channels) | set(pruned_channels(model, layer))) >= units:
        raise ValueError(f"pruning channels {channels} would leave {layer} with no output channel/neuron: "
                         "keep at least one")
    targets = [module] + ([norm] if (norm := _following_norm(model, layer)) is not None else [])
    for target in targets:
        for name in ("weight", "bias"):
            if getattr(target, name, None) is None:
                continue
            mask = torch.ones_like(getattr(target, name))
            mask[channels] = 0
            torch_prune.custom_from_mask(target, name, mask)
    return model


def masked_copy(model: nn.Module) -> nn.Module:
    """Return a deep copy of ``model``, masks included (a masked tensor computed with autograd cannot be
    deep-copied, so it is recomputed without autograd first; the masks' hooks recompute it at every forward)."""
    with torch.no_grad():
        for module in model.modules():
            for name in ("weight", "bias"):
                if hasattr(module, f"{name}_mask"):
                    setattr(module, name, getattr(module, f"{name}_orig") * getattr(module, f"{name}_mask"))
    return copy.deepcopy(model)


def remove_masks(model: nn.Module) -> nn.Module:
    """Make every mask permanent (zeros stay in the tensors, masks and hooks are dropped); return ``model``."""
    for module in model.modules():
        for name in ("weight", "bias"):
            if torch_prune.is_pruned(module) and hasattr(module, f"{name}_mask"):
                torch_prune.remove(module, name)
    return model


def remove_channels(model: nn.Module, example: torch.Tensor, removals: dict[str, Sequence[int]]) -> nn.Module:
    """Return a smaller copy of ``model`` without the output channels / neurons in ``removals`` (layer name ->
    indices), the layers that read them cut to match (torch-pruning's dependency graph, traced on ``example``).

    ``model`` is left as it was. Masks on ``model`` are made permanent in the copy first.
    """
    import torch_pruning as tp

    smaller = remove_masks(masked_copy(model)).eval()
    for layer, channels in removals.items():
        channels = sorted({int(c) for c in channels})
        if not channels:
            continue
        module = _layer(smaller, layer)
        if len(channels) >= _units(module):
            raise ValueError(f"removing {len(channels)} channels would leave {layer} with none: keep at least one")
        graph = tp.DependencyGraph().build_dependency(smaller, example_inputs=example)
        how = tp.prune_conv_out_channels if isinstance(module, nn.Conv2d) else tp.prune_linear_out_channels
        graph.get_pruning_group(module, how, idxs=channels).prune()
    return smaller


def remove_masked_channels(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """Return the structurally smaller copy of a mask-pruned ``model``: every channel a mask holds at zero is
    removed, so the copy computes the masked model's outputs with fewer parameters and MACs."""
    removals = {layer: pruned_channels(model, layer) for layer in prunable_layers(model)}
    return remove_channels(model, example, removals)


def cnn_macs(config: dict) -> int:
    """Return the MACs per example of a :class:`labkit.models.CNN` config from its channel and neuron counts:
    sum over conv layers of C_out x C_in x k^2 x H_out^2, plus sum over linear layers of F_out x F_in."""
    side, previous, macs = config.get("image_size", 28), config.get("in_channels", 1), 0
    for channels, kernel, padding, pooled in zip(config["channels"], config["kernel_sizes"], config["padding"],
                                                 config["pool"]):
        side = side + 2 * padding - kernel + 1
        macs += channels * previous * kernel * kernel * side * side
        side = side // 2 if pooled else side
        previous = channels
    features = previous * side * side
    for width in [*config["hidden"], config.get("num_classes", 10)]:
        macs += width * features
        features = width
    return macs
