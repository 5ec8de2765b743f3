"""Lab 1's generated answers on its sweeps (rows of ``results.csv``: ``params``, ``macs``, ``flops``, ``latency_ms``,
``epoch_time_s``, ``test_acc`` as a fraction): what depth, width and input size cost and buy, and how latency
follows FLOPs. Times are called different only beyond a stated tolerance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from labkit import sweep
from labkit.prose import points


def epoch_time_change(a: Any, b: Any, *, a_name: str, b_name: str, tolerance: float = 0.1) -> str:
    """Training seconds per epoch of row ``a`` (named ``a_name``, e.g. "1 hidden layer") against row ``b``
    (``epoch_time_s``), called the same when they differ by at most ``tolerance`` (a fraction of the smaller)."""
    small, large = sorted([a.epoch_time_s, b.epoch_time_s])
    for decimals in range(1, 5):
        t_a, t_b = f"{a.epoch_time_s:.{decimals}f}", f"{b.epoch_time_s:.{decimals}f}"
        if t_a != t_b:
            break
    times = f"{t_a} s with {a_name}, {t_b} s with {b_name}"
    if large - small <= tolerance * small:
        return f"An epoch of training takes the same time within {tolerance:.0%} ({times})."
    return f"An epoch of training takes {b.epoch_time_s / a.epoch_time_s:.2f}x as long with {b_name} ({times})."


def depth_effect(runs: pd.DataFrame, *, tolerance: float = 0.1) -> str:
    """The depth sweep (one row per ``depth``, shallowest first): the most accurate depth, and what going from
    the shallowest to the deepest does to parameters, MACs, latency, training time and test accuracy."""
    best, shallow, deep = runs.loc[runs.test_acc.idxmax()], runs.iloc[0], runs.iloc[-1]
    return (f"The most accurate depth is **{best.depth:.0f}** ({best.test_acc:.2%}). Going from {shallow.depth:.0f} to "
            f"{deep.depth:.0f} hidden layers multiplies the parameters by {deep.params / shallow.params:.1f}x, "
            "the MACs by "
            f"{deep.macs / shallow.macs:.1f}x and the latency by {deep.latency_ms / shallow.latency_ms:.1f}x, while "
            f"test accuracy moves by {(deep.test_acc - shallow.test_acc) * 100:+.2f} percentage points. "
            + epoch_time_change(shallow, deep, a_name=_layers(shallow.depth), b_name=_layers(deep.depth),
                                tolerance=tolerance))


def _layers(depth: float) -> str:
    return f"{depth:.0f} hidden layer" + ("" if depth == 1 else "s")


def width_effect(runs: pd.DataFrame, *, input_features: int = 784, tolerance: float = 0.1) -> str:
    """The width sweep (one row per ``width``, narrowest first): the most accurate width, and what going from the
    narrowest to the widest does to parameters, MACs, latency, training time and test accuracy."""
    best, narrow, wide = runs.loc[runs.test_acc.idxmax()], runs.iloc[0], runs.iloc[-1]
    growth = wide.macs / narrow.macs
    square = (wide.width / narrow.width) ** 2
    shape = ("roughly with width squared, as the hidden-to-hidden layers dominate" if growth > 0.5 * square else
             f"less than width squared, {square:.0f}x, as the {input_features}-input first layer grows only linearly")
    return (f"The most accurate width is **{best.width:.0f}** units ({best.test_acc:.2%}). From {narrow.width:.0f} to "
            f"{wide.width:.0f} units the parameters grow {wide.params / narrow.params:.0f}x and the MACs {growth:.0f}x "
            f"({shape}), latency {wide.latency_ms / narrow.latency_ms:.1f}x; accuracy moves by "
            f"{(wide.test_acc - narrow.test_acc) * 100:+.2f} points. "
            + epoch_time_change(narrow, wide, a_name=f"{narrow.width:.0f} units", b_name=f"{wide.width:.0f} units",
                                tolerance=tolerance))


def best_tradeoff(runs: pd.DataFrame, *, tolerance: float = 0.01) -> str:
    """The most accurate model of the combined sweep (rows with ``label``) and the fewest-FLOPs model within
    ``tolerance`` (a fraction) of its test accuracy, with its share of FLOPs and latency."""
    pick = sweep.best_tradeoff(runs, cost="flops", accuracy="test_acc", tolerance=tolerance)
    top = runs.loc[runs.test_acc.idxmax()]
    head = f"The most accurate model is **{top.label}** ({top.test_acc:.2%}, {top.flops:,.0f} FLOPs per example). "
    if pick.label == top.label:
        return head + (f"No cheaper model comes within {points(tolerance)} of it, so it is also the best "
                       "trade-off.")
    return head + (f"The best trade-off is **{pick.label}**: {pick.test_acc:.2%} test accuracy, within "
                   f"{points(tolerance)} of the best, for {pick.flops / top.flops:.1%} of its FLOPs and "
                   f"{pick.latency_ms / top.latency_ms:.1%} of its latency ({pick.latency_ms:.3f} ms per example).")


def factor_ranges(runs: pd.DataFrame, factors: tuple[str, ...] = ("input_size", "depth", "width")) -> pd.DataFrame:
    """Per factor: the range (max - min) of its per-value medians of test accuracy (percentage points) and the
    ratio (max / min) of its per-value median latencies."""
    rows = []
    for factor in factors:
        medians = runs.groupby(factor)[["test_acc", "latency_ms"]].median()
        rows.append({"factor": factor, "acc_range_points": 100 * (medians.test_acc.max() - medians.test_acc.min()),
                     "latency_ratio": medians.latency_ms.max() / medians.latency_ms.min()})
    return pd.DataFrame(rows).set_index("factor")


def factor_impact(runs: pd.DataFrame) -> str:
    """Whether input size or model size (depth, width) moves test accuracy and latency more across the
    combined sweep, read from ``factor_ranges``."""
    ranges = factor_ranges(runs)
    acc, lat = ranges.acc_range_points.sort_values(ascending=False), ranges.latency_ratio.sort_values(ascending=False)
    names = {"input_size": "input size", "depth": "depth", "width": "width"}
    acc_text = ", ".join(f"{names[f]} {v:.2f}" for f, v in acc.items())
    lat_text = ", ".join(f"{names[f]} {v:.2f}x" for f, v in lat.items())

    def verdict(order: pd.Series, what: str) -> str:
        if order.iloc[0] == order.iloc[1]:
            return f"{names[order.index[0]]} and {names[order.index[1]]} move {what} equally"
        if order.index[0] == "input_size":
            return f"input size moves {what} most"
        return f"model size ({names[order.index[0]]}) moves {what} most"

    both = acc.index[0] == lat.index[0] and acc.iloc[0] != acc.iloc[1] and lat.iloc[0] != lat.iloc[1]
    head = (verdict(acc, "both test accuracy and latency") if both else
            f"{verdict(acc, 'test accuracy')} and {verdict(lat, 'latency')}")
    return (f"Across the combined sweep, {head}. The medians "
            f"per value of each factor (the other two varying) span, in test accuracy, {acc_text} percentage points; "
            f"in latency, {lat_text} (slowest over fastest).")


def latency_vs_flops(runs: pd.DataFrame) -> str:
    """Least-squares fit latency_ms = a + b * MFLOPs over the sweep's rows, with its R^2 and the residuals'
    p10/p90 (ms): how far FLOPs predict latency."""
    mflops, latency = runs.flops.to_numpy(float) / 1e6, runs.latency_ms.to_numpy(float)
    if len(runs) < 3 or np.ptp(mflops) == 0:
        return "The sweep has too few distinct FLOP counts to fit latency against FLOPs."
    slope, intercept = np.polyfit(mflops, latency, 1)
    residuals = latency - (intercept + slope * mflops)
    total = float(((latency - latency.mean()) ** 2).sum())
    r2 = 1 - float((residuals ** 2).sum()) / total if total > 0 else 0.0
    head = (f"Across the {len(runs)} models, a least-squares fit gives latency_ms = {intercept:.4f} + {slope:.5f} x "
            f"MFLOPs (R² {r2:.2f}; residuals p10 {np.percentile(residuals, 10):+.4f} ms, p90 "
            f"{np.percentile(residuals, 90):+.4f} ms). ")
    if r2 >= 0.9:
        return head + ("FLOPs predict latency well here: FLOPs and latency tell the same story, up to the fixed cost "
                       f"of a call ({intercept:.4f} ms at zero FLOPs).")
    return head + (f"FLOPs explain only {max(r2, 0):.0%} of latency's variance: latency and FLOPs tell different "
                   "stories. The expected reasons are the fixed cost of each layer call (deep, narrow models pay it "
                   "more often) and kernels that run faster at some matrix sizes than others.")
