"""Plots and tables of a hyper-parameter search: Pareto front, knobs against metrics, the best runs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from labkit.search_plots import (hyperparameter_scatter, metric_label, pareto_plot, top_runs,  # noqa: E402
                                 top_spread_note)


@pytest.fixture
def runs() -> pd.DataFrame:
    """Five runs: b is beaten by a (slower, less accurate); e never reached 90% train accuracy."""
    return pd.DataFrame({
        "model_name": ["a", "b", "c", "d", "e"],
        "lr": [0.01, 0.01, 0.1, 0.1, 0.001],
        "init": ["xavier", "kaiming", "xavier", "kaiming", "xavier"],
        "test_acc": [0.90, 0.88, 0.93, 0.95, 0.80],
        "train_acc": [0.92, 0.95, 0.94, 0.99, 0.81],
        "time_to_90_s": [10.0, 20.0, 30.0, 40.0, np.nan],
    })


def front_line(ax):
    return next(line for line in ax.lines if line.get_label() == "Pareto front")


def test_metric_label_spells_out_the_time_to_a_target_accuracy():
    assert metric_label("time_to_90_s") == "training time to 90% train accuracy (s)"
    assert metric_label("epochs_to_96") == "epochs to 96% train accuracy"
    assert metric_label("test_acc") == "test accuracy (%)"


def test_pareto_plot_steps_through_the_non_dominated_runs_only(runs):
    line = front_line(pareto_plot(runs).axes[0])
    assert sorted(set(line.get_xdata())) == [10.0, 30.0, 40.0], "b (20 s, 88%) is beaten by a (10 s, 90%)"
    assert max(line.get_ydata()) == pytest.approx(95.0), "accuracy must be drawn in %"


def test_pareto_plot_numbers_the_front_and_lists_its_runs(runs):
    ax = pareto_plot(runs).axes[0]
    assert [t.get_text() for t in ax.texts if t.get_text().isdigit()] == ["1", "2", "3"]
    key = next(t.get_text() for t in ax.texts if t.get_text().startswith("Pareto front"))
    assert key.splitlines()[1:] == [" 1  a   90.0%  10.0 s", " 2  c   93.0%  30.0 s", " 3  d   95.0%  40.0 s"]


def test_pareto_plot_draws_runs_without_a_cost_at_the_right_edge_and_counts_them(runs):
    ax = pareto_plot(runs).axes[0]
    never = next(c for c in ax.collections if c.get_label().startswith("never reached 90%"))
    (x, y), = never.get_offsets()
    assert y == pytest.approx(80.0) and x > 40.0, "run e must sit right of every run that reached 90%"
    assert ax.get_xlim()[1] > x
    assert "5 runs, 1 never reached 90%" in ax.get_title()


def test_pareto_plot_labels_axes_with_units(runs):
    ax = pareto_plot(runs).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("training time to 90% train accuracy (s)", "test accuracy (%)")


def test_hyperparameter_scatter_has_a_row_per_metric_and_a_column_per_knob(runs):
    fig = hyperparameter_scatter(runs, ["lr", "init"])
    assert len(fig.axes) == 4
    assert [ax.get_xlabel() for ax in fig.axes] == ["lr", "init", "lr", "init"]
    assert [fig.axes[0].get_ylabel(), fig.axes[2].get_ylabel()] == ["test accuracy (%)",
                                                                    "training time to 90% train accuracy (s)"]


def test_hyperparameter_scatter_puts_each_knob_value_on_its_own_tick(runs):
    lr_ax, init_ax = hyperparameter_scatter(runs, ["lr", "init"], metrics=("test_acc",)).axes
    assert [t.get_text() for t in lr_ax.get_xticklabels()] == ["0.001", "0.01", "0.1"]
    assert [t.get_text() for t in init_ax.get_xticklabels()] == ["kaiming", "xavier"]


def test_hyperparameter_scatter_marks_the_median_accuracy_per_value_in_percent(runs):
    lr_ax = hyperparameter_scatter(runs, ["lr"], metrics=("test_acc",)).axes[0]
    points, medians = lr_ax.collections[:2]
    assert len(points.get_offsets()) == 5
    assert np.asarray(medians.get_offsets()).ravel().tolist() == pytest.approx([0, 80.0, 1, 89.0, 2, 94.0])


def test_hyperparameter_scatter_shows_and_counts_runs_without_the_metric(runs):
    time_ax = hyperparameter_scatter(runs, ["lr"], metrics=("time_to_90_s",)).axes[0]
    assert "1 of 5 runs never reached 90%" in [t.get_text() for t in time_ax.texts]
    crosses = time_ax.collections[-1].get_offsets()
    assert len(crosses) == 1 and abs(crosses[0][0] - 0) <= 0.15, "run e (lr 0.001) is drawn in the top band"
    assert crosses[0][1] > 40.0


def test_top_runs_ranks_the_best_first_with_the_train_test_gap(runs):
    best = top_runs(runs, "test_acc", n=2, columns=["model_name"])
    assert best["model_name"].tolist() == ["d", "c"]
    assert best["train_test_gap"].tolist() == pytest.approx([0.04, 0.01])
    assert list(best.columns) == ["model_name", "test_acc", "train_test_gap"] and list(best.index) == [1, 2]


def test_top_runs_ascending_puts_missing_values_last(runs):
    fastest = top_runs(runs, "time_to_90_s", n=5, ascending=True)
    assert fastest["model_name"].tolist() == ["a", "b", "c", "d", "e"]


def test_top_runs_by_least_overfitting(runs):
    assert top_runs(runs, "train_test_gap", ascending=True)["model_name"].tolist() == ["c", "e", "a"]


def test_top_spread_note_gives_the_top_runs_spread_in_points_and_examples(runs):
    # top 3 by test accuracy: d 0.95, c 0.93, a 0.90 -> 5 points, 500 of 10,000 examples
    assert top_spread_note(runs, "test_acc", examples=10_000) == (
        "The top 3 by test accuracy are within 5.00 points of each other (500 of 10,000 examples).")
    assert top_spread_note(runs, "test_acc", n=2, examples=200).startswith("The top 2 by test accuracy are within 2.00")
    assert top_spread_note(runs.head(1), "test_acc", examples=100) == ""
