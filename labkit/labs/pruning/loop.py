"""Lab 4's iterative pruning loop: one channel or neuron at a time, layer by layer, each step a resumable row.

A step masks the least important remaining output channel of a layer (the heuristic of the setup), measures
test accuracy before, right after pruning and after retraining ``retrain_epochs`` with the mask held, and
keeps the step unless its accuracy drop (before -> after retraining) exceeds ``threshold``; the first step
over the threshold ends the layer and is undone. Each step is a row of the results file (and an MLflow run
when tracking is on) and saves its model, so an interrupted loop resumes at the step it was in.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import itertools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from labkit.counting import count_macs, count_params
from labkit.data import DataSplits
from labkit.labs.cnn.sweeps import LAB as LAB2, train_baseline
from labkit.labs.pruning import prune
from labkit.models import CNN, load_model, save_model
from labkit.results import config_key, read_results
from labkit.sweep import run_one
from labkit.sysinfo import fingerprint_id
from labkit.train import evaluate, fit_with_checks, resolve_device, seed_everything
from labkit.writer_lock import hold

LAB = "04_pruning"
STEP_COLUMNS = ["layer", "step", "channel", "channels_left", "acc_before", "acc_pruned", "acc_retrained",
                "pruning_drop", "zeroing_drop", "kept", "params", "macs"]
# The handout's words: the *pruning drop* of a step is before pruning - after retraining (the first and last of the
# triplet); the drop right after zeroing, before any retraining, is the *zeroing drop*.


@dataclass(frozen=True)
class PruneSetup:
    """What stays fixed across the loop's steps (part of every row's resume key). ``threshold`` is the largest
    accepted drop of test accuracy per step (a fraction); retraining uses SGD with momentum, as in Lab 2."""

    heuristic: str | prune.Heuristic = "l2"
    retrain_epochs: int = 5
    threshold: float = 0.01
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    device: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        if not callable(self.heuristic) and self.heuristic not in prune.HEURISTICS:
            raise ValueError(f"heuristic={self.heuristic!r}: choose one of {list(prune.HEURISTICS)}")
        if not (isinstance(self.threshold, (int, float)) and 0 < self.threshold < 1):
            raise ValueError(f"threshold={self.threshold!r}: the accepted accuracy drop per step is a fraction in "
                             "(0, 1), e.g. 0.01 for one percentage point")

    def key_fields(self, start: str) -> dict[str, Any]:
        """Fields recorded with each row: the lab, the setup, the start model's id and the machine fingerprint."""
        return {"lab": LAB, **asdict(self), "heuristic": heuristic_name(self.heuristic),
                "device": str(resolve_device(self.device)), "start_model": start, "fingerprint_id": fingerprint_id()}


def heuristic_name(heuristic: str | prune.Heuristic) -> str:
    """Return a heuristic's name for a resume key: the name itself, or a callable's name and a digest of its source
    (so an edited heuristic starts a new loop instead of resuming the old one's steps)."""
    if not callable(heuristic):
        return heuristic
    try:
        source = inspect.getsource(heuristic).encode()
    except (OSError, TypeError):
        code = getattr(heuristic, "__code__", None)
        source = code.co_code if code is not None else repr(heuristic).encode()
    return f"{getattr(heuristic, '__name__', 'heuristic')} {hashlib.sha256(source).hexdigest()[:8]}"


def model_id(model: CNN) -> str:
    """Return a short id of a model's architecture and weights (12 hex digits), the start point of a loop."""
    digest = hashlib.sha256(json.dumps(model.config(), sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def _checkpoint(results_path: Path, key: str) -> Path:
    return results_path.parent / "models" / "steps" / f"{key}.pt"


def load_masked(path: str | Path, masks: dict[str, list[int]]) -> CNN:
    """Return the model saved at ``path`` with ``masks`` (layer -> channels) applied again."""
    model = load_model(path)
    for layer, channels in masks.items():
        if channels:
            prune.mask_channels(model, layer, channels)
    return model


def prune_step(model: CNN, masks: dict[str, list[int]], layer: str, data: DataSplits, setup: PruneSetup,
               save_to: Path) -> dict[str, Any]:
    """Mask the least important remaining channel of ``layer`` in ``model`` (already holding ``masks``), retrain,
    save the result to ``save_to``; return the step's row (accuracies as fractions, params / MACs per example of
    the structurally smaller model) and ``masks`` after the step."""
    device = resolve_device(setup.device)
    model.to(device)
    _, acc_before = evaluate(model, data.test)
    importance = prune.channel_importance(model, layer, setup.heuristic, seed=setup.seed + len(masks.get(layer, [])))
    done = set(masks.get(layer, []))
    alive = [c for c in range(len(importance)) if c not in done]
    if len(alive) <= 1:
        raise ValueError(f"{layer} has one output channel/neuron left: it cannot be pruned further")
    channel = min(alive, key=lambda c: float(importance[c]))
    prune.mask_channels(model, layer, [channel])
    _, acc_pruned = evaluate(model, data.test)
    seed_everything(setup.seed)
    fit_with_checks(model, data, epochs=setup.retrain_epochs, batch_size=setup.batch_size, lr=setup.lr,
                    optimizer="sgd", momentum=setup.momentum, device=device, seed=setup.seed, verbose=False,
                    checks_per_epoch=0)
    _, acc_retrained = evaluate(model, data.test)
    new_masks = {**masks, layer: sorted(done | {channel})}
    example = data.test.x[:1].to(device)
    smaller = prune.remove_masked_channels(model, example)
    save_model(prune.remove_masks(prune.masked_copy(model)), save_to)
    return {"channel": channel, "channels_left": len(alive) - 1, "acc_before": acc_before, "acc_pruned": acc_pruned,
            "acc_retrained": acc_retrained, "pruning_drop": acc_before - acc_retrained,
            "zeroing_drop": acc_before - acc_pruned, "kept": acc_before - acc_retrained <= setup.threshold,
            "params": count_params(smaller), "macs": count_macs(smaller, example),
            "macs_formula": prune.cnn_macs(smaller.config()), "masks": json.dumps(new_masks)}


def _step_trial(config: dict[str, Any], *, source: Path, masks: dict[str, list[int]], layer: str, data: DataSplits,
                setup: PruneSetup, results_path: Path, key_fields: dict[str, Any]) -> dict[str, Any]:
    """One pruning step as a sweep trial: the model saved at ``source`` with ``masks``, pruned once more in ``layer``."""
    target = _checkpoint(results_path, config_key({**config, **key_fields}))
    return prune_step(load_masked(source, masks), masks, layer, data, setup, target)


def prune_layer(start: Path, masks: dict[str, list[int]], layer: str, data: DataSplits, setup: PruneSetup,
                results_path: str | Path, *, start_id: str, tracking: bool = False,
                max_steps: int | None = None) -> tuple[Path, dict, pd.DataFrame]:
    """Prune ``layer`` one channel at a time from the model saved at ``start`` (holding ``masks``) until a step's
    drop exceeds the threshold, one channel is left, or ``max_steps`` steps ran (None: no cap). Return (the last
    kept model's path, its masks, the rows). Each step is recorded once (:func:`labkit.sweep.run_one`): a rerun
    reads the steps already done and goes on from there."""
    results_path = Path(results_path)
    key_fields = setup.key_fields(start_id)
    rows, current, current_masks = [], start, masks
    for step in itertools.count(1):
        trial = functools.partial(_step_trial, source=current, masks=current_masks, layer=layer, data=data,
                                  setup=setup, results_path=results_path, key_fields=key_fields)
        row = run_one({"layer": layer, "step": step, "from_model": current.stem}, trial, results_path,
                      key_fields=key_fields, sweep=f"prune_{layer}", tracking=tracking)
        rows.append(row)
        if not bool(row["kept"]):
            break
        current, current_masks = _checkpoint(results_path, row["run_key"]), json.loads(row["masks"])
        if int(row["channels_left"]) <= 1 or (max_steps is not None and step >= max_steps):
            break
    return current, current_masks, pd.DataFrame(rows).reset_index(drop=True)


def prune_layers(start: Path, layers: list[str], data: DataSplits, setup: PruneSetup, results_path: str | Path, *,
                 start_id: str, tracking: bool = False, max_steps: int | None = None) -> tuple[Path, dict, pd.DataFrame]:
    """Run :func:`prune_layer` on each of ``layers`` in turn, each starting where the previous one stopped.
    Return (the final model's path, its masks, every step's row in order)."""
    current, masks, tables = start, {}, []
    for layer in layers:
        current, masks, rows = prune_layer(current, masks, layer, data, setup, results_path, start_id=start_id,
                                           tracking=tracking, max_steps=max_steps)
        tables.append(rows)
    return current, masks, pd.concat(tables, ignore_index=True)


def step_model(results_path: str | Path, row: pd.Series, example: torch.Tensor) -> CNN:
    """Return the structurally smaller model a step row saved (its masked channels removed), in eval mode."""
    masked = load_masked(_checkpoint(Path(results_path), row["run_key"]), json.loads(row["masks"]))
    return prune.remove_masked_channels(masked, example).eval()


def lab2_best_model(reports_root: Path, dataset: str) -> tuple[Path | None, str]:
    """Return (Lab 2's saved best model, "") if Lab 2 recorded runs on ``dataset``, else (None, why not: the file
    is absent, or Lab 2 trained on another dataset). A model whose Lab 2 results file is missing stops the lab."""
    lab2 = reports_root / LAB2
    path, results = lab2 / "best_model.pt", lab2 / "results.csv"
    if not path.is_file():
        return None, f"there is no Lab 2 best model at {path}"
    if not results.is_file():
        raise FileNotFoundError(
            f"{path} is there but Lab 2's results file {results} is not, so the dataset that model was trained on "
            f"is unknown. Run Lab 2 again into {reports_root} to record it, pass start_model=\"{path}\" to prune "
            "that model anyway, or move it aside to prune a baseline trained here.")
    recorded = read_results(results)
    trained_on = sorted(set(recorded.dataset.dropna())) if "dataset" in recorded else []
    if dataset in trained_on:
        return path, ""
    return None, (f"Lab 2's best model ({path}) was trained on {', '.join(trained_on) or 'no recorded dataset'}, "
                  f"not {dataset}")


def start_model(out: Path, data: DataSplits, dataset: str, *, explicit: str | None = None, epochs: int = 5,
                seed: int = 0, device: str = "auto") -> tuple[CNN, Path, str]:
    """Return (the model to prune, its file, how it was obtained): ``explicit`` when given, else Lab 2's best model
    when it was trained on ``dataset``, else the Lab 2 Fashion-MNIST baseline architecture trained here for
    ``epochs`` (saved to ``out/start_model.pt`` and reused by a rerun). A model file that is there but cannot be
    loaded stops the lab (:class:`labkit.models.DamagedModelError`); only an absent one is replaced."""
    hold(out)  # this lab writes into out from here on
    if explicit is not None:
        return (load_model(explicit, fix="pass another file as start_model, or start_model = None to use Lab 2's"),
                Path(explicit), f"the model given as start_model ({explicit})")
    found, why_not = lab2_best_model(out.parent, dataset)
    if found is not None:
        model = load_model(found, fix="run Lab 2 again into the same reports folder to save it again (its finished "
                                      "runs are kept), pass start_model=\"FILE\" to prune another model, or move "
                                      "it aside to prune a baseline trained here")
        return model, found, f"Lab 2's best model ({found})"
    path = out / "start_model.pt"
    if path.is_file():
        model = load_model(path, fix="delete it: this lab then trains its start model again")
        return model, path, (f"the Lab 2 baseline architecture trained by an earlier run of this lab ({path}), "
                             f"because {why_not}")
    model = train_baseline(data, epochs=epochs, seed=seed, device=device)
    save_model(model, path)
    return model.eval(), path, f"the Lab 2 baseline architecture trained here for {epochs} epoch(s), because {why_not}"
