"""Fit and evaluate a classifier on in-memory splits, with a per-epoch history."""

from __future__ import annotations

import random
import time

import numpy as np
import pandas as pd
import torch
from torch import nn

from labkit.data import DataSplits, Split
from labkit.progress import progress
from labkit.timing import synchronize

HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc",
                   "epoch_time_s", "eval_time_s"]


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


def make_optimizer(model: nn.Module, lr: float = 1e-3) -> torch.optim.Optimizer:
    """Return Adam with the fused kernel where this torch build has it (same maths, fewer passes)."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=lr)


@torch.inference_mode()
def evaluate(model: nn.Module, split: Split, *, batch_size: int = 1000) -> tuple[float, float]:
    """Return (mean cross-entropy loss, accuracy as a fraction) of ``model`` on ``split``."""
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
                generator: torch.Generator, desc: str = "train", show_progress: bool = True) -> tuple[float, float]:
    """Run one epoch of minibatch training; return (mean loss, accuracy) over the epoch's batches."""
    model.train()
    loss_sum = torch.zeros((), device=split.y.device)
    correct = torch.zeros((), dtype=torch.long, device=split.y.device)
    batches = split.batches(batch_size, shuffle=True, generator=generator)
    if show_progress:
        batches = progress(batches, total=split.num_batches(batch_size), desc=desc, leave=False)
    for x, y in batches:
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(y)
        correct += (logits.detach().argmax(dim=1) == y).sum()
    return loss_sum.item() / len(split), correct.item() / len(split)


def fit(model: nn.Module, data: DataSplits, *, epochs: int = 2, batch_size: int = 64, lr: float = 1e-3,
        device: str | torch.device = "auto", seed: int = 0, verbose: bool = True) -> pd.DataFrame:
    """Train with Adam and cross-entropy; return one history row per epoch.

    Columns: train loss/accuracy (averaged over the epoch's batches, as the model learns),
    validation and test loss/accuracy (after the epoch), ``epoch_time_s`` (training only,
    seconds) and ``eval_time_s``. Accuracies are fractions in [0, 1].
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r}: must be a positive whole number")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: must be a positive whole number")
    if not lr > 0:
        raise ValueError(f"lr={lr!r}: the learning rate must be positive")
    device = resolve_device(device)
    model.to(device)
    data = data.to(device)
    optimizer = make_optimizer(model, lr)
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for epoch in range(1, epochs + 1):
        synchronize(device)
        start = time.perf_counter()
        train_loss, train_acc = train_epoch(model, data.train, optimizer, batch_size=batch_size,
                                            generator=generator, desc=f"epoch {epoch}/{epochs}",
                                            show_progress=verbose)
        synchronize(device)
        epoch_time_s = time.perf_counter() - start
        val_loss, val_acc = evaluate(model, data.val)
        test_loss, test_acc = evaluate(model, data.test)
        eval_time_s = time.perf_counter() - start - epoch_time_s
        rows.append(dict(zip(HISTORY_COLUMNS, [epoch, train_loss, train_acc, val_loss, val_acc,
                                               test_loss, test_acc, epoch_time_s, eval_time_s])))
        if verbose:
            print(f"epoch {epoch}/{epochs}: train loss {train_loss:.4f} acc {train_acc:.2%} | "
                  f"val {val_acc:.2%} | test {test_acc:.2%} | {epoch_time_s:.1f} s")
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)
