"""Where a classifier fails: predictions, the confusion matrix, per-class tables and their plots.

Counts are numbers of examples; shares, recalls and ``confused_share`` are fractions of the true
class (0-1); plots show them in %. Figures are built without pyplot, like :mod:`labkit.plots`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn

from labkit.plots import SPLIT_COLORS, new_figure

ArrayLike = Sequence[int] | np.ndarray | torch.Tensor
ERROR_CMAP, CORRECT_CMAP = "Reds", "Blues"  # errors and correct predictions in the heatmap
PREDICTED_COLOR = "#9467bd"


@torch.inference_mode()
def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int = 256) -> np.ndarray:
    """Return the predicted class (argmax of the logits) per example of ``x``, shape (N,), int64.

    Runs in eval mode on the model's device, ``batch_size`` examples at a time; the train flag is restored.
    """
    was_training = model.training
    device = next((p.device for p in model.parameters()), x.device)
    model.eval()
    try:
        preds = [model(x[i:i + batch_size].to(device)).argmax(dim=1).cpu() for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(preds).numpy().astype(np.int64) if preds else np.zeros(0, dtype=np.int64)


def class_names(dataset: str) -> list[str]:
    """Class names by label: ``"mnist"`` -> ``"0"``..``"9"``, ``"fashion_mnist"`` -> torchvision's names."""
    key = dataset.strip().lower().replace("-", "_")
    if key == "mnist":
        return [str(digit) for digit in range(10)]
    if key in ("fashion_mnist", "fashionmnist"):
        from torchvision.datasets import FashionMNIST  # a class attribute: nothing is downloaded
        return list(FashionMNIST.classes)
    raise ValueError(f"dataset {dataset!r} is unknown: expected 'mnist' or 'fashion_mnist'")


def _labels(values: ArrayLike) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values).astype(np.int64).ravel()


def confusion_matrix(true: ArrayLike, pred: ArrayLike, names: Sequence[str]) -> pd.DataFrame:
    """Counts of examples: rows are the true class (index ``"true"``), columns the predicted one."""
    true, pred, k = _labels(true), _labels(pred), len(names)
    if true.shape != pred.shape:
        raise ValueError(f"true has {true.size} labels but pred has {pred.size}: expected one prediction each")
    for what, labels in (("true", true), ("pred", pred)):
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(f"{what} holds labels outside 0..{k - 1} for {k} class names")
    counts = np.bincount(true * k + pred, minlength=k * k).reshape(k, k)
    return pd.DataFrame(counts, index=pd.Index(list(names), name="true"),
                        columns=pd.Index(list(names), name="predicted"))


def _errors(cm: pd.DataFrame) -> pd.DataFrame:
    """The matrix with its diagonal set to zero: misclassified examples only."""
    off = cm.to_numpy().copy()
    np.fill_diagonal(off, 0)
    return pd.DataFrame(off, index=cm.index, columns=cm.columns)


def per_class_table(cm: pd.DataFrame) -> pd.DataFrame:
    """One row per true class: ``examples``, ``correct``, ``recall`` (fraction), ``most_confused_with``
    (None when no error), ``confused_share`` (fraction of the class predicted as it), ``predicted_count``."""
    examples = cm.sum(axis=1)
    errors = _errors(cm)
    worst = [name if most > 0 else None for name, most in zip(errors.idxmax(axis=1), errors.max(axis=1))]
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            "examples": examples,
            "correct": np.diag(cm.to_numpy()),
            "recall": np.diag(cm.to_numpy()) / examples.to_numpy(),
            "most_confused_with": pd.Series(worst, index=cm.index, dtype=object),
            "confused_share": errors.max(axis=1).to_numpy() / examples.to_numpy(),
            "predicted_count": cm.sum(axis=0).to_numpy(),
        }, index=cm.index)
    return table


def worst_confusions(cm: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """The ``top`` off-diagonal pairs with at least one example, by share of the true class (fraction)."""
    pairs = _errors(cm).stack().rename("count").reset_index()
    pairs.columns = ["true", "predicted", "count"]
    pairs["share"] = pairs["count"] / pairs["true"].map(cm.sum(axis=1))
    pairs = pairs[pairs["count"] > 0].sort_values(["share", "count"], ascending=False, kind="stable")
    return pairs.head(top).reset_index(drop=True)


def _class_phrase(name: object) -> str:
    """``"4"`` -> ``"4s"``; ``"Shirt"`` -> ``"Shirt images"``."""
    text = str(name)
    return f"{text}s" if text.isdigit() else f"{text} images"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def describe_confusions(cm: pd.DataFrame, top: int = 3) -> str:
    """A sentence naming the ``top`` worst confusions, e.g. "4.1% of 4s (41 of 1,000) predicted as 9"."""
    total = int(cm.to_numpy().sum())
    worst = worst_confusions(cm, top=top)
    if worst.empty:
        return f"No confusion at all: all {total:,} examples are predicted as their true class."
    parts = [f"{row.share:.1%} of {_class_phrase(row.true)} ({row.count:,} of {int(cm.loc[row.true].sum()):,}) "
             f"predicted as {row.predicted}" for row in worst.itertuples()]
    errors = total - int(np.trace(cm.to_numpy()))
    head = "The worst confusion" if len(parts) == 1 else "The worst confusions"
    return f"{head}: {_join(parts)}; {errors:,} of {total:,} examples ({errors / total:.1%}) are misclassified."


def _rotate_if_long(ax: Axes, names: Sequence[str]) -> None:
    """Slant the x tick labels when class names are words (Fashion-MNIST), not digits."""
    if max(len(str(n)) for n in names) > 2:
        for tick in ax.get_xticklabels():
            tick.set_rotation(40)
            tick.set_ha("right")
            tick.set_rotation_mode("anchor")


def confusion_plot(cm: pd.DataFrame, *, normalize: bool = True, title: str | None = None) -> Figure:
    """Heatmap of ``cm``: % of each true class (rows) when ``normalize``, else counts; every cell annotated.

    Correct predictions (the diagonal) are blue, errors red on their own scale, so small errors stay visible.
    """
    counts = cm.to_numpy().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = 100 * counts / counts.sum(axis=1, keepdims=True) if normalize else counts
    values = np.nan_to_num(values)
    text = np.where(counts > 0, [[f"{v:.1f}" if normalize else f"{v:.0f}" for v in row] for row in values], "")
    k, diagonal = len(cm), np.eye(len(cm), dtype=bool)
    frame = pd.DataFrame(values, index=cm.index, columns=cm.columns)
    error_max = values[~diagonal].max(initial=0.0) or 1.0  # the red scale: the largest error
    fig, (ax,) = new_figure(1, 1.6 + 0.62 * k, 1.0 + 0.55 * k)
    unit = "% of each true class" if normalize else "examples"
    annot = {"fontsize": 8 if k <= 10 else 6}
    sns.heatmap(frame, mask=diagonal, annot=text, fmt="", cmap=ERROR_CMAP, vmin=0, vmax=error_max, ax=ax,
                linewidths=0.5, linecolor="white", annot_kws=annot, cbar_kws={"label": f"errors ({unit})"})
    sns.heatmap(frame, mask=~diagonal, annot=text, fmt="", cmap=CORRECT_CMAP, vmin=0,
                vmax=max(values[diagonal].max(), 1.0), ax=ax, cbar=False, linewidths=0.5,
                linecolor="white", annot_kws=annot)
    ax.set(xlabel="predicted class", ylabel="true class",
           title=title or f"Confusion matrix, {unit} (blue: correct; red: errors, on their own scale)")
    ax.tick_params(axis="y", rotation=0)
    _rotate_if_long(ax, cm.columns)
    return fig


def prediction_distribution_plot(true: ArrayLike, pred: ArrayLike, names: Sequence[str], *,
                                 title: str | None = None) -> Figure:
    """Bars per class: examples whose true class it is vs examples predicted as it; the difference on top."""
    cm = confusion_matrix(true, pred, names)
    true_counts, pred_counts = cm.sum(axis=1).to_numpy(), cm.sum(axis=0).to_numpy()
    positions, width = np.arange(len(names)), 0.4
    fig, (ax,) = new_figure(1, max(7.0, 0.75 * len(names) + 2), 4.2)
    ax.bar(positions - width / 2, true_counts, width, color=SPLIT_COLORS["test"], label="true class")
    ax.bar(positions + width / 2, pred_counts, width, color=PREDICTED_COLOR, label="predicted as")
    for x, t, p in zip(positions, true_counts, pred_counts):
        ax.annotate(f"{p - t:+d}" if p != t else "0", (x, max(t, p)), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8, color="#333333")
    ax.set_xticks(positions, [str(n) for n in names])
    _rotate_if_long(ax, names)
    ax.margins(y=0.12)
    ax.set(xlabel="class", ylabel="test examples",
           title=title or "Examples per true class vs per predicted class (difference on top)")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, frameon=False)
    return fig

