"""Lab 4's exercise checks: the student's channel-importance heuristic (open: checked for what the task needs),
zeroing one channel so that retraining keeps it zero, and the MACs of a pruned CNN by formula."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable

import torch
from torch import nn

from labkit.checking import CheckResult, call_and_compare, describe_error, report, run_cases
from labkit.labs.pruning import prune
from labkit.models import CNN


def _layers(seed: int = 0) -> list[tuple[str, nn.Module]]:
    torch.manual_seed(seed)
    return [("conv (8, 4, 3, 3)", nn.Conv2d(4, 8, 3)), ("conv (5, 1, 5, 5)", nn.Conv2d(1, 5, 5)),
            ("linear (12, 30)", nn.Linear(30, 12)), ("linear (3, 7)", nn.Linear(7, 3))]


def channel_scores(student: Callable[..., torch.Tensor]) -> CheckResult:
    """Exercise 4.1 (open): one finite score per output channel, the same on a second call, the layer's weights
    untouched, and the pruning loop's choice of channel runs with it down to one channel."""
    exercise, points = "4.1", 2
    for label, layer in _layers():
        weight, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
        units = weight.shape[0]

        def one_score_each(_: object, got: object, units: int = units) -> str | None:
            scores = torch.as_tensor(got).detach() if not isinstance(got, torch.Tensor) else got.detach()
            if scores.numel() != units:
                return f"expected one score per output channel ({units}), got shape {tuple(scores.shape)}"
            if not torch.isfinite(scores.double()).all():
                return f"expected finite scores, got {scores.flatten().tolist()}"
            return None

        failed = call_and_compare(exercise, points, lambda: student(weight.clone(), bias.clone()), None, one_score_each,
                                  label)
        if failed is not None:
            return failed
        first, second = (torch.as_tensor(student(weight.clone(), bias.clone())).detach().flatten() for _ in range(2))
        if not torch.equal(first, second):
            return report(exercise, points, f"{label}: two calls on the same weights gave different scores "
                          "(a heuristic must be deterministic)")
        kept_weight, kept_bias = weight.clone(), bias.clone()
        student(weight, bias)
        if not (torch.equal(weight, kept_weight) and torch.equal(bias, kept_bias)):
            return report(exercise, points, f"{label}: the heuristic changed the weights it scored")
    model = CNN(channels=[6, 4], kernel_sizes=[3, 3], hidden=[5], image_size=12)
    for layer in prune.prunable_layers(model):
        try:
            while len(prune.pruned_channels(model, layer)) < prune.channel_importance(model, layer).numel() - 1:
                prune.mask_channels(model, layer, [prune.least_important(model, layer, student)])
        except Exception as error:
            return report(exercise, points, f"pruning {layer} of a small CNN one channel at a time: "
                          f"{describe_error(error)}")
    return report(exercise, points, None)


def _trained_channel(layer: nn.Module, channel: int, steps: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Train ``layer`` a few SGD-with-momentum steps on random data; return (its output's ``channel``, the rest)."""
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    shape = (4, layer.in_channels, 9, 9) if isinstance(layer, nn.Conv2d) else (4, layer.in_features)
    for _ in range(steps):
        x = torch.randn(shape, generator=generator)
        optimizer.zero_grad()
        (layer(x) - 1).pow(2).mean().backward()
        optimizer.step()
    with torch.no_grad():
        out = layer(torch.randn(shape, generator=generator))
    return out[:, channel], torch.cat([out[:, :channel], out[:, channel + 1:]], dim=1)


def zero_channel(student: Callable[[nn.Module, int], None]) -> CheckResult:
    """Exercise 4.2: after ``student(layer, channel)`` the channel's output is zero, the others unchanged, and it
    stays zero after retraining (SGD with momentum)."""
    exercise, points = "4.2", 2
    for (label, layer), channel in zip(_layers(1), (3, 0, 11, 2)):
        before = copy.deepcopy(layer)
        case = f"{label}, channel {channel}"
        failed = call_and_compare(exercise, points, lambda: student(layer, channel), None, lambda *_: None, case)
        if failed is not None:
            return failed
        x = torch.randn((2, layer.in_channels, 9, 9) if isinstance(layer, nn.Conv2d) else (2, layer.in_features),
                        generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            got, expected = layer(x), before(x)
        if got[:, channel].abs().max() != 0:
            return report(exercise, points, f"{case}: its output is not zero after zeroing (max |output| "
                          f"{got[:, channel].abs().max():.2g}; the bias counts too)")
        others = [c for c in range(got.shape[1]) if c != channel]
        if not torch.allclose(got[:, others], expected[:, others]):
            return report(exercise, points, f"{case}: the other channels changed")
        try:
            revived, _ = _trained_channel(layer, channel)
        except Exception as error:
            return report(exercise, points, f"{case}: retraining the layer raised {describe_error(error)}")
        if revived.abs().max() != 0:
            return report(exercise, points, f"{case}: retraining revived the channel (max |output| "
                          f"{revived.abs().max():.2g} after 3 SGD steps; expected 0: a mask must hold it at zero)")
    return report(exercise, points, None)


def _cnn_configs(seed: int = 0) -> list[dict]:
    base = CNN().config()
    made = [base, {**base, "channels": [3, 2], "hidden": [97]}, {**base, "channels": [1, 16], "hidden": [100]},
            {**base, "kernel_sizes": [5, 3], "padding": [2, 1], "pool": [True, True]},
            {**base, "channels": [8, 8, 4], "kernel_sizes": [3, 3, 3], "padding": [1, 0, 0], "pool": [True, False, False],
             "hidden": [64, 32]}]
    rng = random.Random(seed)
    for _ in range(5):
        n = rng.randint(1, 3)
        made.append({**base, "channels": [rng.randint(1, 32) for _ in range(n)],
                     "kernel_sizes": [rng.choice([1, 3, 5]) for _ in range(n)],
                     "padding": [rng.randint(0, 1) for _ in range(n)], "pool": [rng.random() < 0.5 for _ in range(n)],
                     "hidden": [rng.randint(1, 120) for _ in range(rng.randint(0, 2))]})
    return made


def cnn_macs(student: Callable[[dict], int]) -> CheckResult:
    """Exercise 4.3: the MACs of one forward pass of a (pruned) CNN, from its config."""
    keys = ("channels", "kernel_sizes", "padding", "pool", "hidden")
    cases = [(", ".join(f"{k}={c[k]}" for k in keys), {"config": c}) for c in _cnn_configs()]
    return run_cases("4.3", 1, lambda config: student(copy.deepcopy(config)), prune.cnn_macs, cases)
