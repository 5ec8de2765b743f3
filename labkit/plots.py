"""Trade-off plots, Pareto fronts, training curves, latency traces and bar charts.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot, so nothing is
shown twice in Jupyter and nothing needs a display: the notebook shows the returned figure,
:func:`save_figure` writes it to ``reports/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from labkit.timing import moving_stats

FRONT_COLOR = "#d62728"  # red: the Pareto front and the cold inference
SPLIT_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}
_UNITS = (("_per_s", "per s"), ("_ms", "ms"), ("_s", "s"), ("_bytes", "bytes"))


def new_figure(ncols: int, width_in: float, height_in: float = 4.0) -> tuple[Figure, list[Axes]]:
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(width_in, height_in), layout="constrained")
        axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def axis_label(column: str) -> str:
    """``latency_ms`` -> ``latency (ms)``, ``test_acc`` -> ``test accuracy (%)``."""
    if column.endswith("acc"):
        return column[:-3].replace("_", " ") + "accuracy (%)"
    for suffix, unit in _UNITS:
        if column.endswith(suffix):
            return f"{column[: -len(suffix)].replace('_', ' ')} ({unit})"
    return column.replace("_", " ")


def as_percent(values: pd.Series) -> pd.Series:
    """Accuracy in percent: fractions (all values within 0-1) are scaled by 100."""
    return values * 100 if values.dropna().between(0, 1).all() else values


def _spans_decades(values: pd.Series) -> bool:
    """True when positive ``values`` span more than one decade (max > 10 x min)."""
    values = values.dropna()
    return len(values) > 0 and values.min() > 0 and values.max() > 10 * values.min()


def display_text(value: object) -> str:
    """A label for ``value``: whole floats without their ``.0`` (CSV columns with blanks read as float)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def pareto_mask(df: pd.DataFrame, cost: str, benefit: str | None = None, *,
                minimize: Sequence[str] | None = None) -> pd.Series:
    """Return True for rows no other row dominates: lower ``cost`` and higher ``benefit`` are better.

    Columns listed in ``minimize`` are lower-is-better too (``benefit`` included, e.g. FLOPs vs latency).
    Rows with a missing value are never on the front.
    """
    lower = [cost, *(c for c in (minimize or ()) if c != cost)]
    higher = [benefit] if benefit is not None and benefit not in lower else []
    scores = np.column_stack([df[c].to_numpy(float) for c in lower]
                             + [-df[c].to_numpy(float) for c in higher])
    valid = ~np.isnan(scores).any(axis=1)
    mask = np.zeros(len(df), dtype=bool)
    points = scores[valid]
    # Row i is dominated if some row is <= on every objective and < on at least one.
    no_worse = (points[None, :, :] <= points[:, None, :]).all(axis=2)
    better = (points[None, :, :] < points[:, None, :]).any(axis=2)
    mask[valid] = ~(no_worse & better).any(axis=1)
    return pd.Series(mask, index=df.index, name="pareto")


def _tradeoff_panel(ax: Axes, data: pd.DataFrame, x: str, y: str, *, y_lower_better: bool,
                    label: str | None, hue: str | None, groups: list, colors: list,
                    max_labels: int) -> None:
    data = data.dropna(subset=[x, y])
    front = pareto_mask(data, x, y, minimize=(y,) if y_lower_better else None)
    if hue is None:
        ax.scatter(data[x], data[y], s=30, color="#4c72b0", alpha=0.8, label="run")
    for group, color in zip(groups, colors):
        members = data[data[hue] == group]
        ax.scatter(members[x], members[y], s=30, color=color, alpha=0.85, label=display_text(group))
    on_front = data[front].sort_values([x, y])
    ax.step(on_front[x], on_front[y], where="post", color=FRONT_COLOR, lw=1.5, label="Pareto front")
    ax.scatter(on_front[x], on_front[y], s=110, facecolors="none", edgecolors=FRONT_COLOR, lw=1.5,
               label="on the front")
    for which, column in (("x", x), ("y", y)):
        if not column.endswith("acc"):
            scale_axis(ax, which, data[column])
    if label is not None:
        ax.margins(0.08)  # room for the labels of the outermost points
        _annotate(ax, data, on_front, x, y, label, max_labels, y_lower_better)


def _unit_positions(ax: Axes, data: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Point positions scaled to 0-1 per axis (log10 first on log axes), to judge label crowding."""
    scaled = {}
    for which, column in (("x", x), ("y", y)):
        values = data[column].astype(float)
        values = np.log10(values) if getattr(ax, f"get_{which}scale")() == "log" else values
        span = values.max() - values.min()
        scaled[which] = (values - values.min()) / (span if span > 0 else 1.0)
    return pd.DataFrame(scaled, index=data.index)


def _annotate(ax: Axes, data: pd.DataFrame, on_front: pd.DataFrame, x: str, y: str, label: str,
              max_labels: int, y_lower_better: bool) -> None:
    """Label the front's points (and all points when at most ``max_labels``), skipping crowded ones.

    Nothing lies up-left of a cost/benefit front (down-left of a cost/cost front): labels go there.
    """
    others = [i for i in data.index if i not in on_front.index] if len(data) <= max_labels else []
    positions, placed = _unit_positions(ax, data, x, y), []
    for index in [*on_front.index[::-1], *others]:  # the most accurate front point first
        px, py, text = positions.at[index, "x"], positions.at[index, "y"], display_text(data.at[index, label])
        # About 0.016 of a panel's width per character of 8-pt text, 0.08 of its height per line.
        crowded = (abs(px - qx) < 0.02 + 0.016 * max(len(text), n) and abs(py - qy) < 0.08
                   for qx, qy, n in placed)
        if any(crowded):
            continue
        placed.append((px, py, len(text)))
        on_front_point = index in on_front.index
        dx = 5 if px < 0.25 or not on_front_point else -5
        dy = -5 if on_front_point and y_lower_better else 5
        ax.annotate(text, (data.at[index, x], data.at[index, y]),
                    xytext=(dx, dy), textcoords="offset points", ha="left" if dx > 0 else "right",
                    va="top" if dy < 0 else "bottom", fontsize=8, color="#333333")


def scale_axis(ax: Axes, which: str, values: pd.Series) -> None:
    """Log scale with 1-2-5 ticks when ``values`` span more than a decade; engineering tick labels."""
    axis, values = getattr(ax, f"{which}axis"), values.dropna()
    formatter = EngFormatter(sep="") if values.abs().max() >= 1e4 else FuncFormatter(lambda v, _: f"{v:g}")
    if _spans_decades(values):
        getattr(ax, f"set_{which}scale")("log")
        decades = np.log10(values.max() / values.min())
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades <= 2.5 else (1.0,)))
        axis.set_minor_formatter(NullFormatter())
    elif values.abs().max() < 1e4:
        return
    axis.set_major_formatter(formatter)


def tradeoff_plots(df: pd.DataFrame, *, flops: str = "flops", accuracy: str = "test_acc",
                   latency: str = "latency_ms", label: str | None = None, hue: str | None = None,
                   title: str | None = None, max_labels: int = 12) -> Figure:
    """Three panels: FLOPs vs accuracy, FLOPs vs latency, latency vs accuracy, Pareto fronts in red.

    FLOPs are per example, latency in ms per example, accuracy in % (fractions are scaled).
    Points are annotated with ``df[label]``: all of them when at most ``max_labels``, else the front's;
    a label that would overlap one already drawn is left out.
    """
    data = df.copy()
    data[accuracy] = as_percent(data[accuracy].astype(float))
    groups = list(pd.unique(data[hue].dropna())) if hue is not None else []
    try:
        groups = sorted(groups)
    except TypeError:
        pass
    colors = sns.color_palette("colorblind" if len(groups) <= 10 else "husl", len(groups))
    fig, axes = new_figure(3, 15.0, 4.4)
    names = {flops: "FLOPs per example", latency: "latency (ms per example)", accuracy: axis_label(accuracy)}
    panels = ((flops, accuracy, False, "Accuracy vs compute"), (flops, latency, True, "Latency vs compute"),
              (latency, accuracy, False, "Accuracy vs latency"))
    for ax, (x, y, y_lower_better, panel_title) in zip(axes, panels):
        _tradeoff_panel(ax, data, x, y, y_lower_better=y_lower_better, label=label, hue=hue,
                        groups=groups, colors=colors, max_labels=max_labels)
        ax.set(xlabel=names[x], ylabel=names[y], title=panel_title)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 8), frameon=False,
               title=hue)
    if title:
        fig.suptitle(title)
    return fig


def training_curves(history: pd.DataFrame) -> Figure:
    """Loss and accuracy (%) per epoch, one line per split (train, val, test) that ``history`` holds."""
    fig, (loss_ax, acc_ax) = new_figure(2, 11.0, 4.0)
    for split, color in SPLIT_COLORS.items():
        style = {"color": color, "marker": "o", "label": split}
        if f"{split}_loss" in history:
            loss_ax.plot(history["epoch"], history[f"{split}_loss"], **style)
        if f"{split}_acc" in history:
            acc_ax.plot(history["epoch"], as_percent(history[f"{split}_acc"].astype(float)), **style)
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss per epoch")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy per epoch")
    for ax in (loss_ax, acc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    acc_ax.legend(title="split")
    return fig


def _format_ms(value_ms: float) -> str:
    return f"{value_ms:.2f} ms" if value_ms >= 1 else f"{value_ms:.3g} ms"


def latency_trace_plot(trace_ms: Sequence[float] | np.ndarray | pd.Series, *, window: int = 50,
                       title: str | None = None) -> Figure:
    """Per-example latency (ms) in inference order, its moving mean +- std over ``window`` examples
    (warm inferences only), and the first (cold) inference marked with its value."""
    trace = np.asarray(trace_ms, dtype=float).ravel()
    if trace.size == 0:
        raise ValueError("trace_ms is empty: expected one latency in ms per inference")
    index = np.arange(trace.size)
    cold_ms, median_ms = trace[0], float(np.median(trace[1:] if trace.size > 1 else trace))
    log_scale = cold_ms > 10 * median_ms  # else the cold point would flatten the warm ones
    fig, (ax,) = new_figure(1, 9.0, 4.0)
    ax.plot(index, trace, lw=0.6, color="#7f7f7f", alpha=0.7, label="each inference")
    if trace.size > 1:
        mean, std = moving_stats(trace[1:], window)
        lower = np.maximum(mean - std, trace[1:].min()) if log_scale else mean - std  # log: > 0 only
        ax.fill_between(index[1:], lower, mean + std, color="#1f77b4", alpha=0.25, lw=0,
                        label=f"moving mean ± std ({window} runs)")
        ax.plot(index[1:], mean, lw=2, color="#1f77b4", label=f"moving mean ({window} runs)")
    ax.scatter([0], [cold_ms], s=80, color=FRONT_COLOR, zorder=3, label="first (cold) inference")
    ratio = f"\n({cold_ms / median_ms:.1f}x the warm median)" if median_ms > 0 else ""
    ax.annotate(f"cold start: {_format_ms(cold_ms)}{ratio}",
                (0, cold_ms), xytext=(18, -4), textcoords="offset points", va="top", fontsize=9,
                color=FRONT_COLOR, arrowprops={"arrowstyle": "->", "color": FRONT_COLOR})
    if log_scale:
        ax.set_yscale("log")
    ax.set(xlabel="inference number (one example each)", ylabel="latency (ms per example)",
           title=title or f"Per-example latency, warm median {_format_ms(median_ms)}")
    ax.set_xlim(-0.01 * trace.size - 1, trace.size)
    ax.legend(loc="upper right", fontsize=9)
    return fig


def bar_chart(df: pd.DataFrame, x: str, y: str, *, ylabel: str | None = None, title: str | None = None,
              hue: str | None = None) -> Figure:
    """Bars of ``y`` for each value of ``x`` (e.g. batch size), grouped by ``hue``; values written on top."""
    data = df.copy()
    if y.endswith("acc"):
        data[y] = as_percent(data[y].astype(float))
    if hue is not None:
        data[hue] = data[hue].map(display_text)
    fig, (ax,) = new_figure(1, 7.0, 4.0)
    sns.barplot(data=data, x=x, y=y, hue=hue, errorbar=None, ax=ax,
                palette="colorblind" if hue is not None else None)
    for bars in ax.containers:
        ax.bar_label(bars, fmt="%.3g", fontsize=8, padding=2)
    ax.margins(y=0.12)
    ax.set(xlabel=axis_label(x), ylabel=ylabel or axis_label(y), title=title)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` at 150 dpi (tight box) as PNG (``.png`` added when ``path`` has no suffix),
    creating parent folders; return the path written."""
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    return path


def batch_size_plots(runs: pd.DataFrame) -> Figure:
    """Four bar panels against the batch size: training time (s), inference ms per batch and per example,
    and test accuracy (%), one bar per row of ``runs`` (a batch-size sweep)."""
    panels = [("train_time_s", "training time (s)"), ("batch_latency_ms", "inference latency (ms per batch)"),
              ("batch_latency_per_example_ms", "inference latency (ms per example)"),
              ("test_acc", "test accuracy (%)")]
    data = runs.assign(batch_latency_per_example_ms=runs.batch_latency_ms / runs.batch_size,
                       test_acc=as_percent(runs.test_acc.astype(float)),
                       batch=runs.batch_size.astype(str))
    fig, axes = new_figure(len(panels), 16.0, 3.8)
    for ax, (column, label) in zip(axes, panels):
        sns.barplot(data=data, x="batch", y=column, errorbar=None, ax=ax, color="#1f77b4")
        for bars in ax.containers:
            ax.bar_label(bars, fmt="%.3g", fontsize=8, padding=2)
        ax.margins(y=0.15)
        ax.set(xlabel="batch size (examples)", ylabel=label)
        if column == "test_acc":
            ax.set_ylim(max(0.0, data[column].min() - 10), 100)
    fig.suptitle("Batch size: training time, inference latency and accuracy")
    return fig
