"""Lab 5's checks of the GEMM rewrites: the model they start from, exactness on a whole test set, and test-set
inference time against the original, measured interleaved."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from labkit.data import DataSplits, Split
from labkit.labs.cnn.sweeps import train_baseline
from labkit.labs.pruning import prune
from labkit.labs.pruning.loop import LAB as LAB4
from labkit.models import CNN, load_model, save_model
from labkit.writer_lock import hold

# Ends the "how" of a model trained here, so a sentence can tell the fallback from the handout's chain.
NO_LAB4 = "because there is no Lab 4 pruned model at"


def lab4_model_or_small(out: Path, data: DataSplits, *, explicit: str | None = None, epochs: int = 2,
                        prune_fraction: float = 0.25, seed: int = 0, device: str = "auto") -> tuple[CNN, str]:
    """Return (the model to rewrite, how it was obtained): ``explicit``, else Lab 4's ``pruned_model.pt`` beside
    this lab's folder, else Lab 2's baseline architecture trained here for ``epochs`` with ``prune_fraction``
    of every layer's channels removed by L2 norm (saved to ``out/small_pruned_model.pt`` and reused). A model file
    that is there but cannot be loaded stops the lab (:class:`labkit.models.DamagedModelError`)."""
    hold(out)  # this lab writes into out from here on
    if explicit is not None:
        return (load_model(explicit, fix="pass another file as model_path, or model_path = None to use Lab 4's"),
                f"the model given as model_path ({explicit})")
    lab4 = out.parent / LAB4 / "pruned_model.pt"
    if lab4.is_file():
        return (load_model(lab4, fix="run Lab 4 again into the same reports folder to save it again (its finished "
                                     "steps are kept), pass model_path=\"FILE\" to rewrite another model, or move "
                                     "it aside to rewrite a small model trained here"),
                f"Lab 4's pruned model ({lab4})")
    path = out / "small_pruned_model.pt"
    if path.is_file():
        return (load_model(path, fix="delete it: this lab then trains its small model again"),
                f"a small pruned model an earlier run of this lab trained ({path}), {NO_LAB4} {lab4}")
    model = train_baseline(data, epochs=epochs, seed=seed, device=device).cpu()
    removals = {}
    for layer in prune.prunable_layers(model):
        scores = prune.channel_importance(model, layer, "l2")
        removals[layer] = scores.argsort()[: int(prune_fraction * len(scores))].tolist()
    smaller = prune.remove_channels(model, data.test.x[:1], removals)
    save_model(smaller, path)
    return smaller.eval(), (f"Lab 2's baseline architecture trained here for {epochs} epoch(s), {prune_fraction:.0%} "
                            f"of each layer's channels removed by L2 norm, {NO_LAB4} {lab4}")


def _outputs(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def exactness(original: nn.Module, rewrites: dict[str, nn.Module], test: Split) -> pd.DataFrame:
    """Return, per rewrite, on every test example: ``max_abs_diff`` of the outputs (logits), ``max_rel_diff`` (that
    difference over the original's largest |logit|: fp32 rounding grows with the logits' size), ``same_predictions``
    (how many argmax predictions agree) and ``examples``."""
    reference = _outputs(original.eval(), test.x)
    scale = float(reference.abs().max()) or 1.0
    rows = []
    for name, model in rewrites.items():
        got = _outputs(model, test.x)
        diff = float((got - reference).abs().max())
        rows.append({"rewrite": name, "max_abs_diff": diff, "max_rel_diff": diff / scale,
                     "same_predictions": int((got.argmax(1) == reference.argmax(1)).sum()), "examples": len(test)})
    return pd.DataFrame(rows)


def inference_seconds(models: dict[str, nn.Module], x: torch.Tensor, *, batch_size: int = 32,
                     rounds: int = 3) -> pd.DataFrame:
    """Return each model's time in s to classify every row of ``x`` in batches of ``batch_size`` (no grad), one
    pass per round with the models in turn (rotated), after one warm-up pass: ``model``, ``median_s``, ``min_s``,
    ``max_s``, ``ratio`` (median over rounds of the per-round time over the first model's), ``ratio_min``,
    ``ratio_max`` (the range of those per-round ratios)."""
    names = list(models)
    times: dict[str, list[float]] = {name: [] for name in names}

    def one_pass(model: nn.Module) -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            for i in range(0, len(x), batch_size):
                model(x[i:i + batch_size])
        return time.perf_counter() - start

    for model in models.values():
        one_pass(model)  # warm-up (and torch.compile's compilation)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(one_pass(models[name]))
    base = times[names[0]]
    ratios = {name: [v / b for v, b in zip(t, base)] for name, t in times.items()}
    return pd.DataFrame([{"model": name, "median_s": statistics.median(t), "min_s": min(t), "max_s": max(t),
                          "ratio": statistics.median(ratios[name]), "ratio_min": min(ratios[name]),
                          "ratio_max": max(ratios[name])} for name, t in times.items()])
