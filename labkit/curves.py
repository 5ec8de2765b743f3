"""Reading loss curves: the facts of a training history, a sentence that states them, and the plots.

A history has one row per epoch (``epoch`` 1..E, ``train_loss``, ``test_loss``, accuracies as
fractions); the optional checks have one row per measurement of the train loss on a fixed sample
(``epoch`` fractional). Losses are cross-entropy (nats) and may be NaN or inf when training diverged.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from labkit.plots import FRONT_COLOR, SPLIT_COLORS, as_percent, axis_label, new_figure, scale_axis

CHANCE_LOSS = math.log(10)  # cross-entropy of a uniform guess over 10 classes (nats)
STUCK_FRACTION = 0.9  # final train loss above 90% of CHANCE_LOSS: near chance (stuck unless falling steadily)
SLOW_DROP = 0.25  # train loss fell by less than 25% from the first to the last epoch: barely moved
ROUGH = 0.10  # checks' train loss climbs back by more than 10% of what it had gained: oscillates
OVERFIT_RISE = 0.10  # test loss ends more than 10% above its minimum, train loss still falling: overfits
LOSS_COLUMNS = ("train_loss", "val_loss", "test_loss")


def _finite(values: pd.Series) -> pd.Series:
    """The finite values of ``values`` (NaN and inf dropped)."""
    return values[np.isfinite(values.to_numpy(float))]


def _plottable(values: pd.Series) -> pd.Series:
    """``values`` as floats with NaN where they are not finite: matplotlib leaves a gap there."""
    values = values.astype(float)
    return values.where(np.isfinite(values))


def _check_losses(checks: pd.DataFrame | None) -> pd.Series:
    """The checks' finite train losses indexed by (fractional) epoch, in epoch order; empty without checks."""
    if checks is None:
        return pd.Series(dtype=float)
    return _finite(checks.set_index("epoch")["train_loss"].astype(float)).sort_index()


def _first_nonfinite_epoch(frame: pd.DataFrame | None) -> float | None:
    """The first epoch (fractional for checks) with a NaN or inf loss, None when all are finite."""
    if frame is None:
        return None
    columns = [c for c in LOSS_COLUMNS if c in frame]
    bad = ~np.isfinite(frame[columns].to_numpy(float)).all(axis=1)
    return float(frame["epoch"][bad].min()) if bad.any() else None


def setback(checks: pd.DataFrame | None) -> dict | None:
    """The largest climb of the checks' train loss above its lowest value so far: ``low`` and ``high`` losses,
    their ``low_epoch`` and ``high_epoch``, and ``share``: the climb as a fraction of what the loss had gained
    from the first check down to ``low`` (0 for a loss that only falls). None without at least 3 finite checks."""
    finite = _check_losses(checks)
    if len(finite) < 3:
        return None
    loss, epoch = finite.to_numpy(float), finite.index.to_numpy(float)
    lowest = np.minimum.accumulate(loss)
    high = int(np.argmax(loss - lowest))
    low = int(np.argmin(loss[:high + 1]))
    gained = loss[0] - loss[low]
    return {"share": float((loss[high] - loss[low]) / (gained if gained > 0 else loss[0])), "low": float(loss[low]),
            "high": float(loss[high]), "low_epoch": float(epoch[low]), "high_epoch": float(epoch[high])}


def read_curve(history: pd.DataFrame, checks: pd.DataFrame | None = None) -> dict:
    """Facts of a training run, losses in nats, shares as fractions: ``diverged``, ``final_train_loss``,
    ``final_test_loss``, ``best_test_epoch``, ``test_loss_rise``, ``gap`` (train - test accuracy, last epoch),
    ``train_loss_drop`` (first -> last epoch; first -> last check when there is one epoch), ``roughness``
    (:func:`setback`'s share; None without checks) and a few more."""
    history = history.sort_values("epoch").reset_index(drop=True)
    train, test = history["train_loss"].astype(float), history["test_loss"].astype(float)
    nonfinite = [e for e in (_first_nonfinite_epoch(history), _first_nonfinite_epoch(checks)) if e is not None]
    first, last = train.iloc[0], train.iloc[-1]
    checked = _check_losses(checks)
    if len(history) == 1 and len(checked) >= 2:  # one epoch: the checks show how far the loss fell within it
        first, last = checked.iloc[0], checked.iloc[-1]
    finite_test = _finite(test)
    best = finite_test.idxmin() if len(finite_test) else None
    low = finite_test.min() if best is not None else float("nan")
    gap = (history["train_acc"].iloc[-1] - history["test_acc"].iloc[-1]
           if {"train_acc", "test_acc"} <= set(history) else float("nan"))
    with np.errstate(invalid="ignore", divide="ignore"):
        drop = float((first - last) / first) if np.isfinite([first, last]).all() and first > 0 else float("nan")
    climb = setback(checks)
    peak = pd.concat([_finite(history.set_index("epoch")["train_loss"].astype(float)), checked])
    peak = peak if len(peak) else pd.Series([np.nan], index=[np.nan])
    return {
        "diverged": bool(nonfinite) or bool(last > first), "nonfinite_epoch": min(nonfinite) if nonfinite else None,
        "single_epoch": len(history) == 1 and len(checked) < 2, "epochs": int(history["epoch"].iloc[-1]),
        "first_train_loss": float(first), "final_train_loss": float(last), "final_test_loss": float(test.iloc[-1]),
        "best_test_epoch": int(history["epoch"][best]) if best is not None else None,
        "min_test_loss": float(low), "test_loss_rise": float(test.iloc[-1] - low),
        "train_loss_at_best_test": float(train[best]) if best is not None else float("nan"),
        "gap": float(gap), "train_loss_drop": drop, "falls_every_epoch": bool((np.diff(train) < 0).all()),
        "peak_train_loss": float(peak.max()), "peak_epoch": float(peak.fillna(-np.inf).idxmax()),
        "final_train_acc": float(history["train_acc"].iloc[-1]) if "train_acc" in history else float("nan"),
        "roughness": climb["share"] if climb else None, "setback": climb,
    }


def _overfits(facts: dict) -> bool:
    """Test loss ends over OVERFIT_RISE above its minimum, reached before the last epoch; train loss lower since."""
    return (facts["best_test_epoch"] is not None and facts["best_test_epoch"] < facts["epochs"]
            and facts["test_loss_rise"] > OVERFIT_RISE * facts["min_test_loss"]
            and facts["final_train_loss"] < facts["train_loss_at_best_test"])


def verdict(facts: dict) -> str:
    """One word for a curve read by :func:`read_curve`, the first that fits: diverged (loss not finite), stuck
    (near chance, not falling steadily), diverged (ends above its start), too short (one epoch, no checks),
    too slow, oscillating, overfitting, healthy."""
    if facts["nonfinite_epoch"] is not None:
        return "diverged"
    steady = facts["falls_every_epoch"] and (facts["roughness"] or 0) <= ROUGH
    if facts["final_train_loss"] > STUCK_FRACTION * CHANCE_LOSS and not steady:
        return "stuck"
    if facts["diverged"]:
        return "diverged"
    if facts["single_epoch"]:
        return "too short"
    if not facts["train_loss_drop"] >= SLOW_DROP:
        return "too slow"
    if facts["roughness"] is not None and facts["roughness"] > ROUGH:
        return "oscillating"
    return "overfitting" if _overfits(facts) else "healthy"


def curve_verdict(history: pd.DataFrame, checks: pd.DataFrame | None = None) -> str:
    """:func:`verdict` of the curve in ``history`` (and ``checks``): "stuck", "healthy", ..."""
    return verdict(read_curve(history, checks))


def _when(epoch: float, *, since: bool = False) -> str:
    """``at epoch 2`` (``from epoch 2 on`` when ``since``) for a whole epoch, ``after 1.5 epochs`` between epochs."""
    if not float(epoch).is_integer():
        return f"after {round(epoch, 2):g} epochs"
    return f"from epoch {epoch:g} on" if since else f"at epoch {epoch:g}"


def _share(fraction: float) -> str:
    """A fraction as a percentage with as many decimals as it takes not to round a part to 0% or 100%."""
    for digits in (0, 1, 2):
        text = f"{fraction:.{digits}%}"
        if fraction in (0, 1) or float(text.rstrip("%")) not in (0.0, 100.0):
            return text
    return text


def _epochs(n: int) -> str:
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def describe_curve(history: pd.DataFrame, checks: pd.DataFrame | None = None, *, label: str) -> str:
    """One or two sentences reading the curve, every number taken from ``history`` (and ``checks``)."""
    facts = read_curve(history, checks)
    word, climb = verdict(facts), facts["setback"]
    first, last, epochs = facts["first_train_loss"], facts["final_train_loss"], facts["epochs"]
    if word == "diverged":
        if facts["nonfinite_epoch"] is not None:
            return (f"{label}: the loss is not finite {_when(facts['nonfinite_epoch'], since=True)}: "
                    f"the updates overshoot and training diverged.")
        return (f"{label}: the train loss ends higher than it started ({first:#.3g} -> {last:#.3g} in "
                f"{_epochs(epochs)}): the updates overshoot and training diverged.")
    if word == "stuck":
        blew = facts["peak_train_loss"] > 2 * CHANCE_LOSS
        peak = f"peaks at {facts['peak_train_loss']:#.3g} {_when(facts['peak_epoch'])}, then " if blew else ""
        acc = (f" (train accuracy {facts['final_train_acc']:.1%})" if np.isfinite(facts["final_train_acc"]) else "")
        cause = "the updates overshoot and " if blew else ""
        return (f"{label}: the train loss {peak}stays near the {CHANCE_LOSS:.2f} of a uniform guess over 10 classes, "
                f"ending at {last:#.3g}{acc}: {cause}the model learned nothing.")
    if word == "too short":
        return (f"{label}: one epoch and no checks (train loss {last:#.3g}, test loss "
                f"{facts['final_test_loss']:#.3g}): too short to read a trend.")
    if word == "too slow":
        near = (f", still near the {CHANCE_LOSS:.2f} of a uniform guess over 10 classes"
                if last > STUCK_FRACTION * CHANCE_LOSS else "")
        sentence = (f"{label}: the train loss barely moved in {_epochs(epochs)} ({first:#.3g} -> {last:#.3g}, "
                    f"{_share(facts['train_loss_drop'])} lower){near}: training is too slow.")
    elif word == "oscillating":
        back = (f"giving back {_share(climb['share'])} of what it had gained" if climb["share"] < 1
                else "above where it started")
        sentence = (f"{label}: the train loss climbs back from {climb['low']:#.3g} {_when(climb['low_epoch'])} "
                    f"to {climb['high']:#.3g} {_when(climb['high_epoch'])}, {back} (train loss {last:#.3g} at epoch "
                    f"{epochs}): training oscillates.")
    else:
        sentence = (f"{label}: the train loss falls {_share(facts['train_loss_drop'])} ({first:#.3g} -> {last:#.3g}) "
                    f"in {_epochs(epochs)}.")
    if _overfits(facts):
        return sentence + (f" Test loss is lowest at epoch {facts['best_test_epoch']} "
                           f"({facts['min_test_loss']:#.3g}) and rises {facts['test_loss_rise']:#.2g} by epoch "
                           f"{epochs} while train loss keeps falling: the model overfits.")
    if word == "healthy" and facts["best_test_epoch"] is not None:
        points = 100 * facts["gap"]  # train minus test accuracy
        gap = (f"; the epoch-average train accuracy (measured while training, dropout on) ends {abs(points):.1f} "
               f"points {'above' if points >= 0 else 'below'} test accuracy" if np.isfinite(points) else "")
        where = ("at the last epoch" if facts["best_test_epoch"] == epochs
                 else f"at epoch {facts['best_test_epoch']} and ends only {facts['test_loss_rise']:#.2g} above it")
        return sentence + f" Test loss is lowest ({facts['min_test_loss']:#.3g}) {where}{gap}: training is healthy."
    return sentence


def _new_grid(n: int, *, ncols: int, panel_in: tuple[float, float]) -> tuple[Figure, list[Axes]]:
    """A grid of ``n`` panels, ``ncols`` per row, each ``panel_in`` inches; spare cells hidden."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(panel_in[0] * ncols, panel_in[1] * nrows), layout="constrained")
        axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _loss_panel(ax: Axes, history: pd.DataFrame, checks: pd.DataFrame | None, label: str) -> None:
    """Train and test loss per epoch, the checks' train loss thin; epochs with a non-finite loss marked red."""
    history = history.sort_values("epoch")
    drawn = []
    if checks is not None:
        check_loss = _plottable(checks["train_loss"])
        ax.plot(checks["epoch"], check_loss, lw=0.8, alpha=0.6, color=SPLIT_COLORS["train"], label="train (checks)")
        drawn.append(check_loss)
    for split in ("train", "test"):
        drawn.append(_plottable(history[f"{split}_loss"]))
        ax.plot(history["epoch"], drawn[-1], marker="o", ms=4, color=SPLIT_COLORS[split], label=split)
    scale_axis(ax, "y", pd.concat(drawn).dropna())  # log, with 1-2-5 ticks, when the losses span decades
    facts = read_curve(history, checks)
    bad = history["epoch"][~np.isfinite(history[["train_loss", "test_loss"]].to_numpy(float)).all(axis=1)]
    if facts["nonfinite_epoch"] is not None:
        ax.scatter(bad, np.full(len(bad), 0.96), transform=ax.get_xaxis_transform(), marker="x", s=40,
                   color=FRONT_COLOR, clip_on=False, label="loss not finite")
        ax.axvline(facts["nonfinite_epoch"], color=FRONT_COLOR, ls="--", lw=1)
        ax.text(0.97, 0.88, f"diverged: loss not finite\n{_when(facts['nonfinite_epoch'], since=True)}",
                transform=ax.transAxes, ha="right", va="top", fontsize=8, color=FRONT_COLOR,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    ax.set_xlim(0, history["epoch"].max() + 0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    word = verdict(facts)
    ax.set(xlabel="epoch", ylabel="cross-entropy loss",
           title=label if word in label.lower() else f"{label} ({word})")


def curves_plot(histories: dict[str, pd.DataFrame], *, checks: dict[str, pd.DataFrame] | None = None,
                title: str | None = None, ncols: int = 3) -> Figure:
    """One panel per run (label -> history): train and test loss per epoch, the checks' train loss as a thin
    line against fractional epochs; each panel its own y scale (log when the losses span decades)."""
    if not histories:
        raise ValueError("histories is empty: expected label -> per-epoch history")
    fig, axes = _new_grid(len(histories), ncols=ncols, panel_in=(4.6, 3.6))
    legend = {}
    for ax, (label, history) in zip(axes, histories.items()):
        _loss_panel(ax, history, (checks or {}).get(label), label)
        for handle, text in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(text, handle)
    fig.legend(legend.values(), legend.keys(), loc="outside lower center", ncol=len(legend), frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def _curve_label(column: str) -> str:
    """``test_loss`` -> ``test loss (cross-entropy)``; other columns as :func:`labkit.plots._axis_label`."""
    return f"{column[:-5].replace('_', ' ')} loss (cross-entropy)" if column.endswith("_loss") else axis_label(column)


def compare_curves_plot(histories: dict[str, pd.DataFrame], columns: tuple[str, ...] = ("test_loss", "test_acc"),
                        *, legend_title: str | None = None, title: str | None = None) -> Figure:
    """One panel per column of the histories (accuracy in %), one line per run, epoch on x."""
    fig, axes = new_figure(len(columns), 5.0 * len(columns), 4.0)
    colors = sns.color_palette("colorblind" if len(histories) <= 10 else "husl", len(histories))
    for ax, column in zip(axes, columns):
        for color, (label, history) in zip(colors, histories.items()):
            history = history.sort_values("epoch")
            y = _plottable(history[column])
            y = as_percent(y) if column.endswith("acc") else y
            ax.plot(history["epoch"], y, marker="o", ms=4, color=color, label=str(label))
        every_run = pd.concat([_plottable(h[column]) for h in histories.values()])
        if not column.endswith("acc"):
            scale_axis(ax, "y", every_run)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel="epoch", ylabel=_curve_label(column))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", title=legend_title, frameon=False)
    if title:
        fig.suptitle(title)
    return fig
