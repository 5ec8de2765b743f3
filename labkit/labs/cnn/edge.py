"""Lab 2's CNN as a deployed model: its inference time at several batch sizes with spread (002 Part 2 Q3), its ONNX
file for Netron (002 §2.4), and a smaller model for an edge device picked from the sweeps (001 P3 Q2, Q3)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd
import torch
from torch import nn

from labkit.prose import points
from labkit.timing import measure_latency

INFERENCE_BATCH_SIZES = (1, 32, 256)


def batch_latency_table(model: nn.Module, inputs: torch.Tensor, *, batch_sizes: Sequence[int] = INFERENCE_BATCH_SIZES,
                        repeats: int = 30, warmup: int = 3, device: torch.device | str | None = None) -> pd.DataFrame:
    """Time ``model`` on the first ``b`` rows of ``inputs`` per batch size ``b`` (``repeats`` timed calls each; a
    batch larger than ``inputs`` is skipped); one row per batch size: ms per batch (median, p10, p90) and ms per
    image (the same divided by the batch size)."""
    rows = []
    for batch in (b for b in batch_sizes if b <= len(inputs)):
        stats = measure_latency(model, inputs[:batch], warmup=warmup, repeats=repeats, device=device)
        rows.append({"batch_size": batch, "repeats": stats.repeats, "median_ms": stats.median_ms,
                     "p10_ms": stats.p10_ms, "p90_ms": stats.p90_ms, "per_image_ms": stats.median_ms / batch,
                     "per_image_p10_ms": stats.p10_ms / batch, "per_image_p90_ms": stats.p90_ms / batch})
    return pd.DataFrame(rows)


def _per_image(row: pd.Series) -> str:
    return (f"{row.per_image_ms:#.3g} ms per image at batch {int(row.batch_size)} (p10-p90 "
            f"{row.per_image_p10_ms:#.3g}-{row.per_image_p90_ms:#.3g})")


def batch_size_effect(table: pd.DataFrame, *, device: str = "cpu", threads: int | None = None) -> str:
    """Read :func:`batch_latency_table`: how time per image changes from the smallest to the largest batch, called a
    change only when their p10-p90 ranges do not overlap; the expected reason is given as expected."""
    rows = table.sort_values("batch_size")
    small, large = rows.iloc[0], rows.iloc[-1]
    where = f"on {device.upper()}" + (f" with {threads} thread(s)" if threads else "")
    fastest = rows.loc[rows.per_image_ms.idxmin()]
    middle = (f" The lowest median time per image is in between, at batch {int(fastest.batch_size)} "
              f"({fastest.per_image_ms:#.3g} ms)." if fastest.batch_size not in (small.batch_size, large.batch_size)
              else "")
    head = (f"Timed {where}, {int(small.repeats)} calls per batch size: {_per_image(small)} against "
            f"{_per_image(large)}.{middle}")
    if large.per_image_p90_ms < small.per_image_p10_ms:
        return (f"{head} Larger batches cut the time per image {small.per_image_ms / large.per_image_ms:.1f}x, while "
                f"the time per batch grows from {small.median_ms:.3f} ms to {large.median_ms:.3f} ms. The expected "
                "reason: each call pays a fixed cost (Python, operator dispatch, waking the threads) that a batch "
                "shares among its images, and larger matrices keep the vector units busy.")
    if large.per_image_p10_ms > small.per_image_p90_ms:
        return (f"{head} Here larger batches cost more per image ({large.per_image_ms / small.per_image_ms:.1f}x): "
                "the expected reason is a batch whose activations no longer fit in cache.")
    return (f"{head} Their p10-p90 ranges overlap: within this spread the batch size does not change the time per "
            "image.")


def onnx_sentence(exported: dict, *, reports_root: str | Path) -> str:
    """Name the ONNX file :func:`labkit.export.export_onnx` wrote (relative to ``reports_root``), its size and
    operators, and how to open it in Netron."""
    path = Path(exported["path"])
    shown = path.relative_to(reports_root) if path.is_relative_to(reports_root) else path
    size = int(exported["graph_bytes"]) + int(exported["data_bytes"])
    ops = ", ".join(f"{op} x{count}" for op, count in exported["ops"].items())
    return (f"The baseline CNN is exported to `{shown}` ({size / 1024:,.0f} KiB with its weights; {exported['nodes']} "
            f"nodes: {ops}). Netron draws it layer by layer with each tensor's shape: open the file at "
            f"https://netron.app, or run `pip install netron && netron {shown}`.")


def edge_candidate(runs: pd.DataFrame, *, tolerance: float = 0.01) -> pd.Series:
    """The cheapest run for an edge device: the fewest MACs per image (ties: fewer parameters) among the runs whose
    test accuracy is within ``tolerance`` (a fraction: 0.01 = one point) of the best run's."""
    close = runs[runs.test_acc >= runs.test_acc.max() - tolerance]
    return close.sort_values(["macs", "params"], kind="stable").iloc[0]


def edge_sentence(pick: pd.Series, runs: pd.DataFrame, regularized: pd.Series | None = None, *,
                  tolerance: float = 0.01, max_gap: float = 0.02) -> str:
    """Read :func:`edge_candidate`: its cost against the most accurate run's, whether its train-test gap
    (train_acc - test_acc) exceeds ``max_gap`` (overfits) or not, and what ``regularized`` (the same model trained
    with dropout and weight decay, see :func:`labkit.labs.cnn.plan.edge_regularized`) changed."""
    best = runs.loc[runs.test_acc.idxmax()]
    gap = float(pick.train_acc - pick.test_acc)
    head = (f"For an edge device: among the {len(runs)} runs, those within {points(tolerance)} of the best test "
            f"accuracy ({best.test_acc:.2%}, {best.model_name}) were compared on MACs per image; the cheapest is "
            f"**{pick.model_name}** ({pick.test_acc:.2%} test, {int(pick.params):,} parameters, {int(pick.macs):,} MACs"
            + (f": {best.macs / pick.macs:.1f}x fewer MACs and {best.params / pick.params:.1f}x fewer parameters than "
               "the most accurate)." if pick.model_name != best.model_name else ", itself the most accurate).")
            + f" Its train-test gap is {gap:+.2%}")
    overfits = gap > max_gap
    verdict = (f"{head}, above {points(max_gap)}: it overfits, so it is the one to regularise." if overfits else
               f"{head}, at most {points(max_gap)}: it does not overfit at these epochs, so it needs no "
               "regularisation.")
    if regularized is None:
        return verdict
    after = float(regularized.train_acc - regularized.test_acc)
    knobs = (f"dropout {regularized.dropout:g} and L2 weight decay {regularized.weight_decay:g}" if regularized.dropout
             else f"L2 weight decay {regularized.weight_decay:g}")
    why = "" if regularized.dropout else "no dropout: it has no hidden layer; "
    change = (f"Trained once more with {knobs} ({why}same data and epochs): gap {gap:+.2%} -> {after:+.2%}, test "
              f"accuracy {pick.test_acc:.2%} -> {regularized.test_acc:.2%}")
    if overfits:
        return f"{verdict} {change}: regularisation {'narrowed' if after < gap else 'did not narrow'} the gap."
    return f"{verdict} {change}, shown as a check only."
