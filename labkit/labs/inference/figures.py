"""Lab 3's figures, drawn from the recorded rows: latency and throughput per batch size, the variants that make
inference faster, and where the memory goes (per conv layer; estimate vs measured peak)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from labkit.plots import display_text

MIB = 2 ** 20
_TITLES = {"resnet18": "ResNet18 (224x224 images)", "bert": "BERT-base QA"}


def latency_throughput_plots(runs: pd.DataFrame) -> Figure:
    """One row per model: median latency per batch (bars, p10-p90 whiskers), throughput per batch size (bars),
    and latency against throughput (points labelled with the batch size)."""
    models = list(dict.fromkeys(runs.model))
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(13, 3.6 * len(models)), layout="constrained")
        grid = fig.subplots(len(models), 3, squeeze=False)
    for axes, model in zip(grid, models):
        rows = runs[runs.model == model].sort_values("batch_size")
        labels = [display_text(b) for b in rows.batch_size]
        positions = np.arange(len(rows))
        errors = [rows.median_ms - rows.p10_ms, rows.p90_ms - rows.median_ms]
        bars = axes[0].bar(positions, rows.median_ms, yerr=errors, capsize=3, color="#4c72b0")
        axes[0].bar_label(bars, fmt="%.3g", fontsize=8, padding=2)
        bars = axes[1].bar(positions, rows.throughput_per_s, color="#55a868")
        axes[1].bar_label(bars, fmt="%.3g", fontsize=8, padding=2)
        for ax, ylabel in zip(axes[:2], ("latency per batch (ms, median; p10-p90)", "throughput (examples/s)")):
            ax.set_xticks(positions, labels)
            ax.set(xlabel="batch size", ylabel=ylabel, title=_TITLES.get(model, model))
            ax.margins(y=0.15)
        axes[2].plot(rows.throughput_per_s, rows.median_ms, "o-", color="#c44e52")
        for _, row in rows.iterrows():
            axes[2].annotate(f"batch {display_text(row.batch_size)}", (row.throughput_per_s, row.median_ms),
                             textcoords="offset points", xytext=(5, 4), fontsize=8)
        axes[2].set(xlabel="throughput (examples/s)", ylabel="latency per batch (ms)",
                    title="latency vs throughput")
    return fig


def speedup_plot(runs: pd.DataFrame, *, tolerance: float) -> Figure:
    """Bars of each variant's speedup over eager fp32 (eager / variant latency) per model and batch size;
    hatched when its relative output difference exceeds ``tolerance``; skipped variants are left out."""
    measured = runs[runs.skipped.isna()]
    cases = list(dict.fromkeys(zip(measured.model, measured.batch_size)))
    variants = list(dict.fromkeys(measured.variant))
    colors = dict(zip(variants, sns.color_palette("colorblind", len(variants))))
    width = 0.8 / max(len(variants), 1)
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(9, 4.2), layout="constrained")
        ax = fig.subplots()
    for j, variant in enumerate(variants):
        for i, (model, batch) in enumerate(cases):
            row = measured[(measured.model == model) & (measured.batch_size == batch) & (measured.variant == variant)]
            if row.empty:
                continue
            row = row.iloc[0]
            bars = ax.bar(i + (j - (len(variants) - 1) / 2) * width, row.speedup, width=width, color=colors[variant],
                          hatch="//" if row.rel_diff > tolerance else None)
            ax.bar_label(bars, fmt="%.2fx", fontsize=8, padding=2)
    ax.set_xticks(range(len(cases)), [f"{_TITLES.get(m, m).split(' ')[0]} batch {display_text(b)}" for m, b in cases])
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--")
    ax.margins(y=0.15)
    ax.legend(handles=[Patch(color=colors[v], label=v) for v in variants], title="variant", fontsize=8)
    ax.set(xlabel="", ylabel="speedup over eager fp32 (x)",
           title=f"hatched: output differs from fp32 by more than {tolerance:.0%} of its largest value")
    return fig


def conv_memory_plot(convs: pd.DataFrame, *, batch_size: int) -> Figure:
    """Weight and activation (output) MiB of every conv layer, in network order, on a log scale."""
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(11, 4), layout="constrained")
        ax = fig.subplots()
    positions = np.arange(len(convs))
    ax.bar(positions - 0.2, convs.weight_bytes / MIB, width=0.4, label="weights", color="#4c72b0")
    ax.bar(positions + 0.2, convs.activation_bytes / MIB, width=0.4, label=f"activations (batch {batch_size})",
           color="#dd8452")
    ax.set_xticks(positions, convs.layer, rotation=60, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set(ylabel="MiB (log scale)", title="ResNet18 conv layers: weights grow with depth, activations shrink")
    ax.legend()
    return fig


def memory_plot(comparison: pd.DataFrame) -> Figure:
    """Stacked bars of the estimated parts and the measured peak of each phase (inference, training), in MiB.

    ``comparison`` rows: ``phase``, ``source`` (estimate / measured), ``part``, ``bytes``.
    """
    cases = list(dict.fromkeys(zip(comparison.phase, comparison.source)))
    parts = list(dict.fromkeys(comparison.part))
    colors = dict(zip(parts, sns.color_palette("tab10", len(parts))))
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(10, 4.5), layout="constrained")
        ax = fig.subplots()
    for i, (phase, source) in enumerate(cases):
        rows = comparison[(comparison.phase == phase) & (comparison.source == source)]
        bottom = 0.0
        for _, row in rows.iterrows():
            ax.bar(i, row.bytes / MIB, bottom=bottom, color=colors[row.part], width=0.6)
            bottom += row.bytes / MIB
        ax.text(i, bottom, f"{bottom:.0f} MiB", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(range(len(cases)), [f"{phase}\n{source}" for phase, source in cases])
    handles = [ax.bar(0, 0, color=colors[part], label=part) for part in parts]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.margins(y=0.12)
    ax.set(ylabel="MiB", title="one step of ResNet18: estimated parts vs the measured peak")
    return fig
