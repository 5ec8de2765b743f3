"""Lab 4's figures, drawn from the recorded rows: the pruning steps, the heuristic against the measured drops,
and latency against MACs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from labkit.labs.pruning.prune import HEURISTICS

_ACCURACIES = (("acc_before", "before the step", "#4c72b0"), ("acc_pruned", "right after pruning", "#c44e52"),
               ("acc_retrained", "after retraining", "#55a868"))


def _figure(ncols: int, width: float, height: float = 3.8):
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def pruning_steps_plot(rows: pd.DataFrame, *, threshold: float) -> Figure:
    """One panel per layer: test accuracy (%) before, right after pruning and after retraining at each step
    (x: output channels / neurons removed so far); a rejected step (drop above ``threshold``) is circled."""
    layers = list(dict.fromkeys(rows.layer))
    fig, axes = _figure(len(layers), 5.0 * len(layers))
    for ax, layer in zip(axes, layers):
        steps = rows[rows.layer == layer]
        for column, label, color in _ACCURACIES:
            ax.plot(steps.step, steps[column] * 100, "o-", label=label, color=color, markersize=4)
        rejected = steps[~steps.kept.astype(bool)]
        ax.scatter(rejected.step, rejected.acc_retrained * 100, s=160, facecolors="none", edgecolors="black",
                   label=f"drop > {threshold:.0%}: undone")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel="channels / neurons removed", ylabel="test accuracy (%)", title=layer)
    axes[0].legend(fontsize=8)
    return fig


def heuristic_check_plot(drops: pd.DataFrame, agreement: pd.Series, *, layer: str) -> Figure:
    """One panel per heuristic: each channel's importance (x) against the accuracy drop (y, percentage points)
    when that channel alone is removed, titled with the Spearman rank correlation."""
    fig, axes = _figure(len(HEURISTICS), 13.0)
    for ax, heuristic in zip(axes, HEURISTICS):
        ax.scatter(drops[heuristic], drops.acc_drop * 100, color="#4c72b0")
        for row in drops.itertuples():
            ax.annotate(str(row.channel), (getattr(row, heuristic), row.acc_drop * 100), fontsize=7,
                        textcoords="offset points", xytext=(3, 2))
        ax.set(xlabel=f"{heuristic} importance", ylabel="accuracy drop when removed (points)",
               title=f"{layer}, {heuristic}: Spearman {agreement[heuristic]:+.2f}")
    return fig


def latency_vs_macs_plot(ratios: pd.DataFrame) -> Figure:
    """One panel per batch size: each model's latency ratio against its MACs ratio (both over the original),
    with the diagonal where time falls exactly as MACs do."""
    batches = list(dict.fromkeys(ratios.batch_size))
    fig, axes = _figure(len(batches), 5.5 * len(batches), 4.2)
    for ax, batch in zip(axes, batches):
        rows = ratios[ratios.batch_size == batch]
        ax.plot([0, 1], [0, 1], "--", color="grey", label="time falls as MACs do")
        ax.scatter(rows.macs_ratio, rows.latency_ratio, color="#c44e52", zorder=3, label="pruned models")
        for row in rows.itertuples():
            ax.annotate(row.name, (row.macs_ratio, row.latency_ratio), fontsize=7, textcoords="offset points",
                        xytext=(3, 3))
        top = max(1.05, float(np.nanmax(rows.latency_ratio)) * 1.05)
        ax.set(xlim=(0, 1.05), ylim=(0, top), xlabel="MACs / original MACs",
               ylabel="latency / original latency", title=f"batch {batch}")
    axes[0].legend(fontsize=8)
    return fig
