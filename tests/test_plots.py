"""Plots return figures drawn from the data; the Pareto front is the non-dominated set."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from labkit.plots import (bar_chart, latency_trace_plot, pareto_mask, save_figure,  # noqa: E402
                          training_curves, tradeoff_plots)


@pytest.fixture
def sweep() -> pd.DataFrame:
    """A depth sweep: FLOPs per example, accuracy as a fraction, latency in ms per example."""
    return pd.DataFrame({
        "depth": [1, 2, 4, 8, 16],
        "flops": [2e5, 4e5, 8e5, 1.6e6, 3.2e6],
        "test_acc": [0.90, 0.95, 0.94, 0.97, 0.96],
        "latency_ms": [0.05, 0.08, 0.20, 0.30, 0.90],
    })


@pytest.fixture
def history() -> pd.DataFrame:
    """Two epochs of a training history (losses, accuracies as fractions)."""
    return pd.DataFrame({"epoch": [1, 2], "train_loss": [0.40, 0.20], "val_loss": [0.30, 0.25],
                         "test_loss": [0.31, 0.26], "train_acc": [0.88, 0.94], "val_acc": [0.91, 0.93],
                         "test_acc": [0.90, 0.93]})


@pytest.fixture
def trace_ms() -> np.ndarray:
    """A latency trace in ms: a slow cold first inference, then ~0.1 ms with noise."""
    rng = np.random.default_rng(0)
    return np.concatenate([[12.5], 0.1 + 0.01 * rng.standard_normal(499)])


def saves_a_png(fig: Figure, path) -> bool:
    saved = save_figure(fig, path)
    return saved.exists() and saved.stat().st_size > 0


def test_pareto_mask_keeps_cheaper_or_more_accurate_rows(sweep):
    mask = pareto_mask(sweep, "flops", "test_acc")
    # depth 4 is beaten by depth 2 (cheaper and more accurate); depth 16 by depth 8.
    assert mask.tolist() == [True, True, False, True, False], f"got {mask.tolist()}"
    assert mask.index.equals(sweep.index)


def test_pareto_mask_with_two_costs_minimises_both():
    frame = pd.DataFrame({"flops": [1, 2, 3, 4], "latency_ms": [4.0, 1.0, 2.0, 0.5]})
    mask = pareto_mask(frame, "flops", "latency_ms", minimize=("latency_ms",))
    assert mask.tolist() == [True, True, False, True], f"row 3 is beaten by row 2; got {mask.tolist()}"


def test_pareto_mask_keeps_ties_and_drops_missing_values():
    frame = pd.DataFrame({"flops": [1.0, 1.0, np.nan], "acc": [0.9, 0.9, 0.99]})
    assert pareto_mask(frame, "flops", "acc").tolist() == [True, True, False]


def test_tradeoff_plots_draws_three_panels_and_saves(sweep, tmp_path):
    fig = tradeoff_plots(sweep, label="depth", title="Depth sweep")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3, f"expected 3 panels, got {len(fig.axes)}"
    assert saves_a_png(fig, tmp_path / "plots" / "tradeoff.png")


def test_tradeoff_plots_shows_accuracy_in_percent_with_units_in_labels(sweep):
    fig = tradeoff_plots(sweep)
    flops_acc, flops_latency, _ = fig.axes
    assert flops_acc.get_ylim()[1] > 90, "accuracy given as a fraction must be drawn in percent"
    assert "%" in flops_acc.get_ylabel() and "FLOPs per example" in flops_acc.get_xlabel()
    assert "ms" in flops_latency.get_ylabel()


def test_tradeoff_plots_uses_log_axes_when_values_span_more_than_a_decade(sweep):
    _, flops_latency, latency_acc = tradeoff_plots(sweep).axes
    assert flops_latency.get_xscale() == "log", "FLOPs span 16x: expected a log x-axis"
    assert flops_latency.get_yscale() == "log", "latency spans 18x: expected a log y-axis"
    assert latency_acc.get_yscale() == "linear", "accuracy stays linear"


def test_tradeoff_plots_annotates_each_point_with_its_label(sweep):
    first_panel = tradeoff_plots(sweep, label="depth").axes[0]
    texts = sorted(t.get_text() for t in first_panel.texts)
    assert texts == ["1", "16", "2", "4", "8"], f"expected one label per depth, got {texts}"


def test_tradeoff_plots_accepts_a_hue_column(sweep):
    sweep["mode"] = ["resize", "crop"] * 2 + ["resize"]
    fig = tradeoff_plots(sweep, hue="mode")
    assert len(fig.axes) == 3 and len(fig.legends) == 1


def test_training_curves_draws_loss_and_accuracy_panels(history, tmp_path):
    fig = training_curves(history)
    assert len(fig.axes) == 2, f"expected loss and accuracy panels, got {len(fig.axes)}"
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 3 and len(acc_ax.lines) == 3, "expected one line per split"
    assert all(line.get_marker() == "o" for line in loss_ax.lines), "two epochs need markers to be seen"
    assert saves_a_png(fig, tmp_path / "curves.png")


def test_latency_trace_plot_annotates_the_cold_inference_with_its_value(trace_ms, tmp_path):
    fig = latency_trace_plot(trace_ms, window=50)
    (ax,) = fig.axes
    texts = [t.get_text() for t in ax.texts]
    assert any(f"{trace_ms[0]:.2f}" in text for text in texts), f"expected 12.50 ms in {texts}"
    assert saves_a_png(fig, tmp_path / "trace.png")


def test_latency_trace_plot_uses_a_log_axis_when_the_cold_start_dwarfs_the_median(trace_ms):
    assert latency_trace_plot(trace_ms).axes[0].get_yscale() == "log"
    assert latency_trace_plot(np.full(100, 0.1)).axes[0].get_yscale() == "linear"


def test_bar_chart_draws_one_bar_per_batch_size(tmp_path):
    frame = pd.DataFrame({"batch_size": [1, 64, 128], "epoch_time_s": [40.0, 3.1, 2.4]})
    fig = bar_chart(frame, "batch_size", "epoch_time_s", title="Training time per epoch")
    (ax,) = fig.axes
    assert len(ax.patches) == 3, f"expected 3 bars, got {len(ax.patches)}"
    assert ax.get_ylabel() == "epoch time (s)"
    assert saves_a_png(fig, tmp_path / "bars.png")


def test_bar_chart_groups_bars_by_hue():
    frame = pd.DataFrame({"batch_size": [1, 64, 1, 64], "device": ["cpu", "cpu", "cuda", "cuda"],
                          "latency_ms": [1.0, 20.0, 0.5, 2.0]})
    (ax,) = bar_chart(frame, "batch_size", "latency_ms", hue="device").axes
    assert len(ax.containers) == 2, "expected one group of bars per device"


def test_save_figure_adds_png_suffix_and_creates_folders(history, tmp_path):
    path = save_figure(training_curves(history), tmp_path / "a" / "b" / "curves")
    assert path == tmp_path / "a" / "b" / "curves.png" and path.stat().st_size > 0


def test_latency_trace_plot_draws_the_moving_mean_of_the_warm_inferences(trace_ms):
    (ax,) = latency_trace_plot(trace_ms, window=50).axes
    (mean_line,) = [line for line in ax.lines if line.get_label().startswith("moving mean")]
    expected = pd.Series(trace_ms[1:]).rolling(50, min_periods=1).mean().to_numpy()
    np.testing.assert_allclose(mean_line.get_ydata(), expected,
                               err_msg="expected the moving mean of the warm runs (cold one left out)")
