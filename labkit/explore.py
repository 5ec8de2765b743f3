"""Interactive exploration (ipywidgets), in the spirit of Google Facets: results and predictions.

:class:`ResultsExplorer` plots any two numeric columns of a lab's results (colour and a filter
from dropdowns, the Pareto front drawn); :class:`PredictionExplorer` shows the test images of one
cell of the confusion matrix (true class x predicted class). ``show()`` returns the widgets in live
Jupyter/Colab and a static figure of the current selection elsewhere (papermill, nbval, PDF), so
executed notebooks never hold a frozen widget. Each redraw keeps what it plotted (``plotted``,
``shown``) so tests can drive the dropdowns and check the data.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from labkit.plots import FRONT_COLOR, as_percent, axis_label, new_figure, pareto_mask
from labkit.progress import progress_mode

NONE = "(none)"
ALL = "(all)"
MAX_COLOUR_GROUPS = 12  # a column with more distinct values is coloured as a number, not as groups


def has_widget_frontend() -> bool:
    """True in live Jupyter or Colab (widgets render); False headless or in a terminal."""
    return progress_mode() == "widget"


def _show_in(output: Any, fig: Figure) -> None:
    """Replace what the widget ``output`` shows with ``fig`` (live front ends only: headless runs keep
    no widget state)."""
    if not has_widget_frontend():
        return
    import io

    from IPython.display import Image, display

    png = io.BytesIO()  # as an image: a bare Figure shows only as text where no inline backend is set up
    fig.savefig(png, format="png", dpi=100, bbox_inches="tight")
    output.clear_output(wait=True)
    with output:
        display(Image(png.getvalue()))


def _dropdown(description: str, options: Sequence[Any], value: Any) -> Any:
    import ipywidgets as widgets

    return widgets.Dropdown(description=description, options=list(options), value=value,
                            layout=widgets.Layout(width="260px"))


class _Explorer:
    """What both explorers share: the current figure, shown in the widget output when a front end is live."""

    output: Any
    figure: Figure

    def _shown(self, fig: Figure) -> Figure:
        self.figure = fig
        _show_in(self.output, fig)
        return fig

    def controls(self) -> Any:
        """The explorer's widgets above its figure."""
        raise NotImplementedError

    def show(self) -> Any:
        """The widgets in a live notebook, else the static figure of the current selection."""
        if not has_widget_frontend():
            return self.figure
        import ipywidgets as widgets

        return widgets.VBox([self.controls(), self.output])


class ResultsExplorer(_Explorer):
    """Scatter any two numeric columns of ``runs``; colour by a column, filter on one; Pareto front of
    the shown points (lower x better, higher y better; the checkboxes flip either)."""

    def __init__(self, runs: pd.DataFrame, *, x: str | None = None, y: str | None = None,
                 colour: str | None = None, filter_column: str | None = None) -> None:
        import ipywidgets as widgets

        self.runs = runs.reset_index(drop=True)
        numeric = [c for c in self.runs.columns
                   if pd.api.types.is_numeric_dtype(self.runs[c]) and self.runs[c].notna().any()]
        if len(numeric) < 2:
            raise ValueError(f"ResultsExplorer needs two numeric columns; these runs have {numeric}")
        groups = [c for c in self.runs.columns if 1 < self.runs[c].nunique() <= MAX_COLOUR_GROUPS]
        for name, value, options in (("x", x, numeric), ("y", y, numeric), ("colour", colour, groups),
                                     ("filter_column", filter_column, groups)):
            if value is not None and value not in options:
                raise ValueError(f"{name}={value!r} is not a usable column; choose from {options}")
        self.x = _dropdown("x", numeric, x or numeric[0])
        self.y = _dropdown("y", numeric, y or next(c for c in numeric if c != self.x.value))
        self.colour = _dropdown("colour", [NONE, *groups], colour or NONE)
        self.filter_column = _dropdown("filter on", [NONE, *groups], filter_column or NONE)
        self.filter_value = _dropdown("keep", [ALL], ALL)
        self.x_lower_better = widgets.Checkbox(description="lower x is better", value=True)
        self.y_higher_better = widgets.Checkbox(description="higher y is better", value=True)
        self.output = widgets.Output()
        self.plotted = pd.DataFrame()
        self._update_filter_values()
        self.filter_column.observe(lambda _: self._update_filter_values(), names="value")
        for control in (self.x, self.y, self.colour, self.filter_value, self.x_lower_better, self.y_higher_better):
            control.observe(lambda _: self.redraw(), names="value")
        self.figure = self.redraw()

    def _update_filter_values(self) -> None:
        column = self.filter_column.value
        values = [] if column == NONE else sorted(self.runs[column].dropna().unique().tolist(), key=str)
        self.filter_value.options = [ALL, *values]
        self.filter_value.value = ALL

    def selection(self) -> pd.DataFrame:
        """The rows the filter keeps, with a ``pareto`` column for the shown x and y."""
        rows = self.runs
        if self.filter_column.value != NONE and self.filter_value.value != ALL:
            rows = rows[rows[self.filter_column.value] == self.filter_value.value]
        rows = rows.dropna(subset=[self.x.value, self.y.value]).copy()
        minimize = ([] if self.y_higher_better.value else [self.y.value])
        cost = self.x.value
        if not self.x_lower_better.value:  # higher x better: minimise -x
            rows["_cost"] = -rows[self.x.value]
            cost = "_cost"
        rows["pareto"] = pareto_mask(rows, cost, self.y.value, minimize=minimize) if len(rows) else []
        return rows.drop(columns="_cost", errors="ignore")

    def redraw(self) -> Figure:
        """Plot the current selection; keep it in ``plotted`` and show it in the widget output."""
        x, y, colour = self.x.value, self.y.value, self.colour.value
        rows = self.selection()
        # accuracies (fractions in the results) are drawn in percent, as their axis label says
        shown = rows.assign(**{c: as_percent(rows[c]) for c in {x, y} if c.endswith("acc")})
        fig, (ax,) = new_figure(1, 6.5, 4.5)
        if colour == NONE:
            ax.scatter(shown[x], shown[y], s=30, color="#4c72b0", alpha=0.8, label="run")
        else:
            for group, members in shown.groupby(colour, dropna=False, sort=True):
                ax.scatter(members[x], members[y], s=30, alpha=0.85, label=str(group))
        front = shown[shown["pareto"]].sort_values(x)
        ax.plot(front[x], front[y], color=FRONT_COLOR, lw=1.5, marker="o", mfc="none", ms=10, label="Pareto front")
        ax.set_xlabel(axis_label(x))
        ax.set_ylabel(axis_label(y))
        kept = "" if self.filter_value.value == ALL else f", {self.filter_column.value} = {self.filter_value.value}"
        ax.set_title(f"{len(rows)} runs{kept}; {len(front)} on the front")
        ax.legend(fontsize=8, title=None if colour == NONE else colour)
        self.plotted = rows
        return self._shown(fig)

    def controls(self) -> Any:
        import ipywidgets as widgets

        return widgets.VBox([widgets.HBox([self.x, self.y, self.colour]),
                             widgets.HBox([self.filter_column, self.filter_value]),
                             widgets.HBox([self.x_lower_better, self.y_higher_better])])


class PredictionExplorer(_Explorer):
    """The test images of one confusion-matrix cell: pick the true and the predicted class.

    ``images``: (N, H, W) or (N, 1, H, W) array or tensor; ``true``/``pred``: class indices (N,).
    Starts on the most frequent confusion; ``shown`` holds the indices of the images drawn.
    """

    def __init__(self, images: Any, true: Sequence[int], pred: Sequence[int], names: Sequence[str], *,
                 max_images: int = 16) -> None:
        images = np.asarray(images.cpu() if hasattr(images, "cpu") else images)
        self.images = images.reshape(len(images), *images.shape[-2:])
        self.true, self.pred = np.asarray(true).astype(int), np.asarray(pred).astype(int)
        if not len(self.images) == len(self.true) == len(self.pred):
            raise ValueError(f"images, true and pred must have one entry per example: got "
                             f"{len(self.images)}, {len(self.true)}, {len(self.pred)}")
        self.names, self.max_images = list(names), max_images
        counts = np.zeros((len(names), len(names)), dtype=int)
        np.add.at(counts, (self.true, self.pred), 1)
        np.fill_diagonal(counts, -1)
        worst_true, worst_pred = np.unravel_index(counts.argmax(), counts.shape)
        self.true_class = _dropdown("true", self.names, self.names[worst_true])
        self.pred_class = _dropdown("predicted", self.names, self.names[worst_pred])
        import ipywidgets as widgets

        self.output = widgets.Output()
        self.shown = np.zeros(0, dtype=int)
        for control in (self.true_class, self.pred_class):
            control.observe(lambda _: self.redraw(), names="value")
        self.figure = self.redraw()

    def redraw(self) -> Figure:
        """Draw up to ``max_images`` examples of the chosen (true, predicted) pair."""
        t, p = self.names.index(self.true_class.value), self.names.index(self.pred_class.value)
        matches = np.flatnonzero((self.true == t) & (self.pred == p))
        self.shown = matches[: self.max_images]
        columns = 8
        rows = max(1, -(-len(self.shown) // columns))
        fig = Figure(figsize=(columns * 1.0, rows * 1.15 + 0.5), layout="constrained")
        axes = fig.subplots(rows, columns, squeeze=False).ravel()
        for ax in axes:
            ax.axis("off")
        for ax, index in zip(axes, self.shown):
            ax.imshow(self.images[index], cmap="gray")
            ax.set_title(f"#{index}", fontsize=7)
        verdict = "correct" if t == p else "predicted as"
        fig.suptitle(f"true {self.names[t]}, {verdict} {self.names[p]}: {len(matches)} test images"
                     + (f" (first {len(self.shown)} shown)" if len(matches) > len(self.shown) else ""),
                     fontsize=10)
        return self._shown(fig)

    def controls(self) -> Any:
        import ipywidgets as widgets

        return widgets.HBox([self.true_class, self.pred_class])
