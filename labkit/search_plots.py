"""Plots and tables of a hyper-parameter search: the Pareto front, each knob against each metric, the best runs.

``runs`` has one row per trained configuration: knob columns, metrics with their unit in the name
(``test_acc`` as a fraction, ``time_to_90_s`` in seconds of training, NaN when the target was never
reached) and a label such as ``model_name``. Figures are built without pyplot, like :mod:`labkit.plots`.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from labkit.plots import FRONT_COLOR, as_percent, axis_label, new_figure, scale_axis, display_text, pareto_mask

RUN_COLOR, NEVER_COLOR = "#4c72b0", "#7f7f7f"
MAX_CATEGORIES = 8  # a knob with at most this many values is drawn as a strip, one column per value
JITTER = 0.15  # half-width of the strip's random spread, in category widths


def metric_label(column: str) -> str:
    """Axis label with unit: ``time_to_90_s`` -> ``training time to 90% train accuracy (s)``."""
    if match := re.fullmatch(r"time_to_(\d+)_s", column):
        return f"training time to {match[1]}% train accuracy (s)"
    if match := re.fullmatch(r"epochs_to_(\d+)", column):
        return f"epochs to {match[1]}% train accuracy"
    return axis_label(column)


def _metric_name(column: str) -> str:
    """:func:`metric_label` without its unit: ``test_acc`` -> ``test accuracy``."""
    return metric_label(column).split(" (")[0]


def _missing_reason(column: str) -> str:
    """Why a run has no ``column``: ``never reached 90%`` for ``time_to_90_s``, else ``no <column>``."""
    target = re.fullmatch(r"(?:time|epochs)_to_(\d+)(?:_s)?", column)
    return f"never reached {target[1]}%" if target else f"no {column}"


def _missing_text(column: str, missing: int, total: int) -> str:
    """``3 of 48 runs never reached 90%``."""
    return f"{missing} of {total} runs {_missing_reason(column)}"


def _numeric(values: pd.Series) -> pd.Series:
    """``values`` as floats, inf read as missing."""
    values = pd.to_numeric(values, errors="coerce").astype(float)
    return values.where(np.isfinite(values))


def pareto_plot(runs: pd.DataFrame, *, cost: str = "time_to_90_s", accuracy: str = "test_acc",
                label: str | None = "model_name", max_labels: int = 10, title: str | None = None) -> Figure:
    """Accuracy (%) vs cost, one point per run; the Pareto front (lower cost, higher accuracy) as a red step line,
    its points numbered and listed beside the panel. Runs without a cost (target never reached) are grey
    crosses in a band at the right edge, and counted in the title."""
    data = runs.copy()
    data[accuracy] = as_percent(_numeric(data[accuracy]))
    data[cost] = _numeric(data[cost])
    data = data[data[accuracy].notna()]
    shown, never = data[data[cost].notna()], data[data[cost].isna()]
    fig, (ax,) = new_figure(1, 8.5 if label is None else 12.0, 5.2)
    ax.scatter(shown[cost], shown[accuracy], s=28, color=RUN_COLOR, alpha=0.75, label=f"run ({len(shown)})")
    on_front = shown[pareto_mask(shown, cost, accuracy)].sort_values([cost, accuracy])
    ax.step(on_front[cost], on_front[accuracy], where="post", color=FRONT_COLOR, lw=1.5, label="Pareto front")
    ax.scatter(on_front[cost], on_front[accuracy], s=110, facecolors="none", edgecolors=FRONT_COLOR, lw=1.5,
               label=f"on the front ({len(on_front)})")
    if len(shown):
        scale_axis(ax, "x", shown[cost])
    ax.margins(0.08)
    if label is not None and len(on_front):
        _number_front(ax, on_front, cost, accuracy, label, max_labels)
    if len(never):
        _draw_never(ax, never[accuracy], _missing_reason(cost))
    counted = f", {len(never)} {_missing_reason(cost)}: drawn at the right edge" if len(never) else ""
    ax.set(xlabel=metric_label(cost), ylabel=metric_label(accuracy),
           title=title or f"{_metric_name(accuracy).capitalize()} vs "
                          f"{_metric_name(cost)} ({len(data)} runs{counted})")
    ax.title.set_fontsize(10)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    return fig


def _number_front(ax: Axes, on_front: pd.DataFrame, cost: str, accuracy: str, label: str, max_labels: int) -> None:
    """Number the front's points (cheapest first, up-left of each: nothing lies there) and list the numbers
    with each run's label, accuracy and cost in a key right of the panel."""
    unit = " s" if cost.endswith("_s") else ""
    numbered = on_front.head(max_labels)
    width = max(len(display_text(name)) for name in numbered[label])
    lines = []
    for number, (_, run) in enumerate(numbered.iterrows(), start=1):
        ax.annotate(str(number), (run[cost], run[accuracy]), xytext=(-6, 5), textcoords="offset points",
                    ha="right", va="bottom", fontsize=8, fontweight="bold", color=FRONT_COLOR)
        lines.append(f"{number:>2}  {display_text(run[label]):<{width}}  {run[accuracy]:5.1f}%  {run[cost]:#.3g}{unit}")
    if len(on_front) > max_labels:
        lines.append(f"    and {len(on_front) - max_labels} more")
    ax.text(1.02, 1.0, "Pareto front, cheapest first\n" + "\n".join(lines), transform=ax.transAxes, ha="left",
            va="top", fontsize=8, family="monospace", linespacing=1.5)


def _draw_never(ax: Axes, accuracy: pd.Series, why: str) -> None:
    """Grey crosses at ``accuracy`` in a shaded band beyond the right end of the x axis."""
    left, right = ax.get_xlim()
    log = ax.get_xscale() == "log"
    edge = right * 10 ** (0.10 * math.log10(right / left)) if log else right + 0.10 * (right - left)
    middle = math.sqrt(right * edge) if log else (right + edge) / 2
    ax.axvspan(right, edge, color="#eeeeee", zorder=0)
    ax.scatter(np.full(len(accuracy), middle), accuracy, marker="x", s=36, color=NEVER_COLOR,
               label=f"{why} ({len(accuracy)})")
    ax.text(middle, 0.98, why.replace(" ", "\n", 1), transform=ax.get_xaxis_transform(), ha="center", va="top",
            fontsize=7, color=NEVER_COLOR)
    ax.set_xlim(left, edge)


def _levels(values: pd.Series) -> list:
    """The distinct values of a knob, numbers in numeric order, others as text in alphabetical order."""
    levels = list(pd.unique(values.dropna()))
    try:
        return sorted(levels)
    except TypeError:
        return sorted(levels, key=str)


def _tick_text(level: object) -> str:
    """A knob value as a tick label, long snake_case names on two lines (``kaiming\\nnormal``)."""
    text = display_text(level)
    return text.replace("_", "\n", 1) if len(text) > 8 else text


def _knob_panel(ax: Axes, x: pd.Series, y: pd.Series, rng: np.random.Generator) -> pd.Series:
    """Each run a point; the median of ``y`` per knob value as a red bar (a line through them for numbers).

    Returns the x position of every run (spread sideways for a knob with few values), NaN when ``x`` is missing.
    """
    numeric = pd.api.types.is_numeric_dtype(x)
    levels = _levels(x) if not numeric or x.nunique() <= MAX_CATEGORIES else None
    if levels is None:
        position = center = x.astype(float)
    else:
        center = x.map({level: i for i, level in enumerate(levels)}).astype(float)
        position = center + rng.uniform(-JITTER, JITTER, len(x))
    keep = center.notna() & y.notna()
    ax.scatter(position[keep], y[keep], s=16, color=RUN_COLOR, alpha=0.6)
    if levels is not None:
        medians = y[keep].groupby(center[keep]).median()
        ax.scatter(medians.index, medians, marker="_", s=500, lw=2.5, color=FRONT_COLOR, zorder=3)
        if numeric and len(medians) > 1:
            ax.plot(medians.index, medians, color=FRONT_COLOR, lw=1, zorder=3)
        ax.set_xticks(range(len(levels)), [_tick_text(level) for level in levels])
        ax.set_xlim(-0.5, len(levels) - 0.5)
        if sum(len(_tick_text(level).split("\n")[0]) for level in levels) > 30:
            ax.tick_params(axis="x", labelrotation=30)
    elif keep.any():
        bins = pd.qcut(x[keep], q=min(6, x[keep].nunique()), duplicates="drop")
        medians = pd.DataFrame({"x": x[keep], "y": y[keep]}).groupby(bins, observed=True).median()
        ax.plot(medians["x"], medians["y"], marker="_", ms=18, mew=2.5, color=FRONT_COLOR, lw=1, zorder=3)
        scale_axis(ax, "x", x[keep])
    return position


def _draw_missing_band(axes: Sequence[Axes], positions: Sequence[pd.Series], missing: pd.Series,
                       metric: str) -> None:
    """Runs without a value of ``metric`` as grey crosses in a shaded band above the panels' data."""
    bottom, top = axes[0].get_ylim()
    log = axes[0].get_yscale() == "log"
    edge = top * (top / bottom) ** 0.22 if log else top + 0.22 * (top - bottom)
    middle = top * (edge / top) ** 0.35 if log else top + 0.35 * (edge - top)
    for ax, position in zip(axes, positions):
        shown = missing & position.notna()
        ax.axhspan(top, edge, color="#eeeeee", zorder=0)
        ax.scatter(position[shown], np.full(int(shown.sum()), middle), marker="x", s=22, color=NEVER_COLOR)
        ax.text(0.02, 0.985, _missing_text(metric, int(shown.sum()), len(missing)), transform=ax.transAxes,
                ha="left", va="top", fontsize=7, color=NEVER_COLOR)
    axes[0].set_yticks([tick for tick in axes[0].get_yticks() if bottom <= tick <= top])  # none in the band
    axes[0].set_ylim(bottom, edge)


def hyperparameter_scatter(runs: pd.DataFrame, params: Sequence[str], *,
                           metrics: Sequence[str] = ("test_acc", "time_to_90_s"), seed: int = 0,
                           title: str | None = None) -> Figure:
    """Grid of panels, one row per metric (accuracy in %), one column per knob: each run a point (spread
    sideways for knobs with few values), the median per value in red. Runs without a value of a metric
    (``time_to_90_s`` never reached) are grey crosses in a band at the top of the panel, and counted there."""
    rng = np.random.default_rng(seed)
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(max(3.0 * len(params), 6.0), 2.9 * len(metrics) + 0.4), layout="constrained")
        grid = fig.subplots(len(metrics), len(params), squeeze=False, sharey="row")
    for row, metric in zip(grid, metrics):
        y = _numeric(runs[metric])
        y = as_percent(y) if metric.endswith("acc") else y
        positions = [_knob_panel(ax, runs[param], y, rng) for ax, param in zip(row, params)]
        for ax, param in zip(row, params):
            ax.set_xlabel(axis_label(param))
        row[0].set_ylabel(metric_label(metric), fontsize=9)
        if not metric.endswith("acc") and y.notna().any():
            scale_axis(row[0], "y", y)
        if y.isna().any():
            _draw_missing_band(row, positions, y.isna(), metric)
    names = " and ".join(_metric_name(m) for m in metrics)
    fig.suptitle(title or f"Each hyper-parameter against {names} ({len(runs)} runs; red: median per value)",
                 fontsize=11)
    return fig


def top_runs(runs: pd.DataFrame, by: str, *, n: int = 3, ascending: bool = False,
             columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The ``n`` best runs by ``by`` (highest first unless ``ascending``; missing values last), ranked 1..n,
    with ``train_test_gap`` (train_acc - test_acc, fraction) added when both accuracies are there."""
    data = runs.copy()
    if {"train_acc", "test_acc"} <= set(data):
        data["train_test_gap"] = data["train_acc"] - data["test_acc"]
    best = data.sort_values(by, ascending=ascending, na_position="last", kind="stable").head(n)
    if columns is not None:
        extra = [c for c in (by, "train_test_gap") if c in best and c not in columns]
        best = best[[*columns, *extra]]
    return best.reset_index(drop=True).rename_axis("rank").set_axis(range(1, len(best) + 1), axis=0)


def top_spread_note(runs: pd.DataFrame, by: str = "test_acc", *, n: int = 3, examples: int) -> str:
    """A sentence saying how far apart the ``n`` best runs by ``by`` (an accuracy, fraction) are, in points and in
    examples of an evaluation set of ``examples``; "" with fewer than two runs."""
    best = top_runs(runs, by, n=n)[by].dropna()
    if len(best) < 2:
        return ""
    spread = float(best.max() - best.min())
    return (f"The top {len(best)} by {_metric_name(by)} are within {100 * spread:.2f} points of each "
            f"other ({round(spread * examples):,} of {examples:,} examples).")
