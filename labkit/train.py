"""Fit and evaluate a classifier on in-memory splits, with a per-epoch history.

"Train accuracy" has two meanings here, named apart: the history's ``train_acc`` is averaged over
an epoch's batches while the model learns (free to compute); a *check* measures accuracy on a
fixed, seeded sample of training examples in eval mode with the training clock stopped, several
times per epoch (:func:`fit_with_checks`). Times to reach a target come from the checks.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from labkit.data import DataSplits, Split
from labkit.progress import progress
from labkit.timing import synchronize

HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc",
                   "epoch_time_s", "eval_time_s"]
CHECK_COLUMNS = ["epoch", "examples_seen", "train_time_s", "train_loss", "train_acc"]
OPTIMIZERS = ("adam", "sgd")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Return the torch device for ``device``: ``"auto"`` picks CUDA when available, else CPU."""
    if isinstance(device, torch.device):
        device = str(device)
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"device={device!r} is not known; use 'auto', 'cpu' or 'cuda'") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here; use 'auto' or 'cpu'")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} but MPS is not available here; use 'auto' or 'cpu'")
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device={device!r} is not supported; use 'auto', 'cpu' or 'cuda'")
    return resolved


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so a run repeats on the same machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_optimizer(model: nn.Module, lr: float = 1e-3, *, name: str = "adam", momentum: float = 0.0,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Return Adam (fused kernel where this build has it) or SGD with ``momentum``; ``weight_decay`` is L2."""
    key = str(name).strip().lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"optimizer={name!r} is not known; choose one of {list(OPTIMIZERS)}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr={lr!r}: the learning rate must be a positive number")
    if not (isinstance(momentum, (int, float)) and 0 <= momentum < 1):
        raise ValueError(f"momentum={momentum!r}: must be in [0, 1)")
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ValueError(f"weight_decay={weight_decay!r}: must be >= 0")
    params = list(model.parameters())
    if key == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, foreach=True)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


@torch.inference_mode()
def evaluate(model: nn.Module, split: Split, *, batch_size: int = 256) -> tuple[float, float]:
    """Return (mean cross-entropy loss, accuracy as a fraction) of ``model`` on ``split``.

    Batches of 256: on CPU the Lab 2 CNN evaluates ~3x faster than at 1000 (benchmarks/sweep_speed.py).
    """
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    for x, y in split.batches(batch_size):
        logits = model(x)
        loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(dim=1) == y).sum().item()
    model.train(was_training)
    return loss_sum / len(split), correct / len(split)


def train_epoch(model: nn.Module, split: Split, optimizer: torch.optim.Optimizer, *, batch_size: int,
                generator: torch.Generator, desc: str = "train", show_progress: bool = True,
                check_after: dict[int, Callable[[], bool]] | None = None) -> tuple[float, float]:
    """Run one epoch of minibatch training; return (mean loss, accuracy) over the batches it trained on.

    ``check_after`` maps a step index (0-based) to a callable run after that step (e.g. a check); the
    epoch ends early when it returns True.
    """
    model.train()
    loss_sum = torch.zeros((), device=split.y.device)
    correct = torch.zeros((), dtype=torch.long, device=split.y.device)
    batches = split.batches(batch_size, shuffle=True, generator=generator)
    if show_progress:
        batches = progress(batches, total=split.num_batches(batch_size), desc=desc, leave=False)
    seen = 0
    for step, (x, y) in enumerate(batches):
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(y)
        correct += (logits.detach().argmax(dim=1) == y).sum()
        seen += len(y)
        if check_after and step in check_after:
            stop = check_after[step]()
            model.train()
            if stop:
                break
    return loss_sum.item() / seen, correct.item() / seen


@dataclass
class FitResult:
    """What :func:`fit_with_checks` measured: the per-epoch ``history``, the train-accuracy ``checks``
    (epoch as a fraction, cumulative training seconds without evaluation), and CUDA peak memory."""

    history: pd.DataFrame
    checks: pd.DataFrame
    peak_gpu_memory_bytes: int | None = None
    diverged: bool = False
    stopped_early: bool = field(default=False)

    def first_reach(self, accuracy: float) -> tuple[float | None, float | None]:
        """Return (training seconds, epoch as a fraction) of the first check at or above ``accuracy``;
        (None, None) when no check reached it within the epochs run."""
        hit = self.checks[self.checks.train_acc >= accuracy]
        if hit.empty:
            return None, None
        first = hit.iloc[0]
        return float(first.train_time_s), float(first.epoch)


def _check_steps(num_batches: int, checks_per_epoch: int) -> list[int]:
    """Step indices (0-based) after which an epoch's checks run, evenly spaced, the last one at the end."""
    count = min(checks_per_epoch, num_batches)
    return sorted({max(0, round(k * num_batches / count) - 1) for k in range(1, count + 1)})


def _check_knobs(epochs: int, batch_size: int) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r}: must be a positive whole number")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: must be a positive whole number")


def fit_with_checks(model: nn.Module, data: DataSplits, *, epochs: int = 2, batch_size: int = 64,
                    lr: float = 1e-3, optimizer: str = "adam", momentum: float = 0.0, weight_decay: float = 0.0,
                    device: str | torch.device = "auto", seed: int = 0, verbose: bool = True,
                    checks_per_epoch: int = 10, probe_examples: int = 2000,
                    stop_at: float | None = None) -> FitResult:
    """Train with cross-entropy and ``optimizer`` for at most ``epochs``; return a :class:`FitResult`.

    Every epoch: ``checks_per_epoch`` train-accuracy checks on a seeded sample of ``probe_examples``
    training examples (clock stopped; 0 turns checks off), then validation and test. Training stops
    early when the loss is no longer finite (diverged) or a check reaches ``stop_at`` (a fraction).
    """
    _check_knobs(epochs, batch_size)
    if isinstance(checks_per_epoch, bool) or not isinstance(checks_per_epoch, int) or checks_per_epoch < 0:
        raise ValueError(f"checks_per_epoch={checks_per_epoch!r}: must be a whole number >= 0")
    device = resolve_device(device)
    model.to(device)
    data = data.to(device)
    opt = make_optimizer(model, lr, name=optimizer, momentum=momentum, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    probe_idx = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed + 1))[:probe_examples]
    probe = Split(data.train.x[probe_idx.to(data.train.x.device)], data.train.y[probe_idx.to(data.train.y.device)])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    n_batches = data.train.num_batches(batch_size)
    rows, checks = [], []
    clock = {"train_s": 0.0, "start": 0.0}
    state = {"stop": False, "diverged": False}

    def check(epoch: int, step: int) -> bool:
        synchronize(device)
        clock["train_s"] += time.perf_counter() - clock["start"]
        loss, acc = evaluate(model, probe)
        seen = min((epoch - 1) * len(data.train) + (step + 1) * batch_size, epoch * len(data.train))
        checks.append(dict(zip(CHECK_COLUMNS, [seen / len(data.train), seen, clock["train_s"], loss, acc])))
        state["diverged"] = not math.isfinite(loss)
        state["stop"] = state["diverged"] or (stop_at is not None and acc >= stop_at)
        clock["start"] = time.perf_counter()
        return state["stop"]

    for epoch in range(1, epochs + 1):
        hooks = {s: (lambda s=s, e=epoch: check(e, s)) for s in _check_steps(n_batches, checks_per_epoch)}
        synchronize(device)
        clock["start"] = epoch_start = time.perf_counter()
        train_before = clock["train_s"]
        train_loss, train_acc = train_epoch(model, data.train, opt, batch_size=batch_size, generator=generator,
                                            desc=f"epoch {epoch}/{epochs}", show_progress=verbose,
                                            check_after=hooks)
        synchronize(device)
        if not hooks:
            clock["train_s"] += time.perf_counter() - clock["start"]
        epoch_time_s = clock["train_s"] - train_before
        eval_start = time.perf_counter()
        val_loss, val_acc = evaluate(model, data.val)
        test_loss, test_acc = evaluate(model, data.test)
        eval_time_s = time.perf_counter() - eval_start + (eval_start - epoch_start - epoch_time_s)
        rows.append(dict(zip(HISTORY_COLUMNS, [epoch, train_loss, train_acc, val_loss, val_acc,
                                               test_loss, test_acc, epoch_time_s, eval_time_s])))
        if verbose:
            print(f"epoch {epoch}/{epochs}: train loss {train_loss:.4f} acc {train_acc:.2%} | "
                  f"val {val_acc:.2%} | test {test_acc:.2%} | {epoch_time_s:.1f} s")
        state["diverged"] = state["diverged"] or not math.isfinite(train_loss)
        if state["diverged"] or state["stop"]:
            break
    peak = int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None
    return FitResult(pd.DataFrame(rows, columns=HISTORY_COLUMNS), pd.DataFrame(checks, columns=CHECK_COLUMNS),
                     peak, state["diverged"], stopped_early=len(rows) < epochs)


def fit(model: nn.Module, data: DataSplits, *, epochs: int = 2, batch_size: int = 64, lr: float = 1e-3,
        optimizer: str = "adam", momentum: float = 0.0, weight_decay: float = 0.0,
        device: str | torch.device = "auto", seed: int = 0, verbose: bool = True) -> pd.DataFrame:
    """Train with ``optimizer`` (Adam by default) and cross-entropy; return one history row per epoch.

    Columns: train loss/accuracy (averaged over the epoch's batches, as the model learns),
    validation and test loss/accuracy (after the epoch), ``epoch_time_s`` (training only,
    seconds) and ``eval_time_s``. Accuracies are fractions in [0, 1].
    """
    _check_knobs(epochs, batch_size)
    return fit_with_checks(model, data, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                           momentum=momentum, weight_decay=weight_decay, device=device, seed=seed,
                           verbose=verbose, checks_per_epoch=0).history
