"""Reading loss curves: the facts, the sentence that states them, and the plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from labkit.curves import (compare_curves_plot, curve_verdict, curves_plot, describe_curve, read_curve,  # noqa: E402
                           setback)


def history(train_loss, test_loss, train_acc=None, test_acc=None) -> pd.DataFrame:
    """A per-epoch history; accuracies as fractions (90% throughout unless given)."""
    epochs = len(train_loss)
    return pd.DataFrame({
        "epoch": np.arange(1, epochs + 1), "train_loss": train_loss, "test_loss": test_loss,
        "train_acc": train_acc if train_acc is not None else np.full(epochs, 0.9),
        "test_acc": test_acc if test_acc is not None else np.full(epochs, 0.9),
    })


def checks(epochs, losses) -> pd.DataFrame:
    """Train loss measured between epochs on a fixed sample."""
    return pd.DataFrame({"epoch": epochs, "train_time_s": np.arange(1, len(losses) + 1) * 0.5,
                         "train_loss": losses, "train_acc": np.full(len(losses), 0.5)})


@pytest.fixture
def healthy() -> pd.DataFrame:
    return history([0.6, 0.2, 0.15], [0.2, 0.15, 0.12], [0.90, 0.95, 0.97], [0.92, 0.94, 0.95])


@pytest.fixture
def overfit() -> pd.DataFrame:
    """Test loss lowest at epoch 4 (0.31), then up to 0.43 by epoch 20; train loss keeps falling."""
    test = [0.5, 0.4, 0.35, 0.31, *np.linspace(0.32, 0.43, 16)]
    return history(list(np.geomspace(0.4, 0.01, 20)), test)


@pytest.fixture
def diverged() -> pd.DataFrame:
    return history([2.0, np.nan, np.nan], [1.5, np.inf, np.nan])


@pytest.fixture
def bumpy_checks() -> pd.DataFrame:
    """The train loss falls 2.0 -> 1.0, climbs back to 1.6 after 1.5 epochs, then falls to 0.4."""
    return checks([0.5, 1.0, 1.5, 2.0, 2.5, 3.0], [2.0, 1.0, 1.6, 0.6, 0.5, 0.4])


def test_read_curve_finds_the_best_test_epoch_and_the_rise_after_it(overfit):
    facts = read_curve(overfit)
    assert facts["best_test_epoch"] == 4
    assert facts["test_loss_rise"] == pytest.approx(0.12)
    assert facts["final_test_loss"] == pytest.approx(0.43) and facts["final_train_loss"] == pytest.approx(0.01)


def test_read_curve_gap_is_train_minus_test_accuracy_at_the_last_epoch(healthy):
    assert read_curve(healthy)["gap"] == pytest.approx(0.02)


def test_read_curve_train_loss_drop_is_the_fraction_lost_from_first_to_last_epoch(healthy):
    assert read_curve(healthy)["train_loss_drop"] == pytest.approx(0.75)


def test_read_curve_calls_a_non_finite_loss_diverged(diverged, healthy):
    assert read_curve(diverged)["diverged"] and read_curve(diverged)["nonfinite_epoch"] == 2
    assert not read_curve(healthy)["diverged"]


def test_read_curve_calls_a_train_loss_ending_above_its_start_diverged():
    assert read_curve(history([0.5, 0.9, 2.3], [0.5, 0.9, 2.3]))["diverged"]


def test_read_curve_has_no_roughness_without_checks(healthy):
    assert read_curve(healthy)["roughness"] is None


def test_setback_is_zero_for_a_loss_that_only_falls():
    assert setback(checks([0.5, 1.0, 1.5], [2.0, 1.0, 0.5]))["share"] == 0


def test_setback_is_the_largest_climb_as_a_share_of_what_was_gained(bumpy_checks):
    climb = setback(bumpy_checks)
    assert (climb["low"], climb["low_epoch"], climb["high"], climb["high_epoch"]) == (1.0, 1.0, 1.6, 1.5)
    assert climb["share"] == pytest.approx(0.6), "climbed 0.6 after gaining 1.0"


def test_describe_curve_says_when_the_loss_stops_being_finite(diverged):
    assert describe_curve(diverged, label="lr 1.0") == ("lr 1.0: the loss is not finite from epoch 2 on: "
                                                         "the updates overshoot and training diverged.")


def test_describe_curve_calls_a_loss_that_ends_above_its_start_diverged():
    text = describe_curve(history([0.5, 0.9, 1.2], [0.5, 0.9, 1.2]), label="lr 0.5")
    assert text == ("lr 0.5: the train loss ends higher than it started (0.500 -> 1.20 in 3 epochs): "
                    "the updates overshoot and training diverged.")


def test_describe_curve_says_a_loss_that_blew_up_then_sat_at_chance_learned_nothing():
    blew_up = history([48.5, 2.37, 2.39], [2.39, 2.47, 2.40], [0.10, 0.099, 0.098], [0.1, 0.1, 0.1])
    assert describe_curve(blew_up, label="lr 1.0") == (
        "lr 1.0: the train loss peaks at 48.5 at epoch 1, then stays near the 2.30 of a uniform guess over 10 "
        "classes, ending at 2.39 (train accuracy 9.8%): the updates overshoot and the model learned nothing.")


def test_describe_curve_calls_a_flat_loss_at_chance_stuck_not_slow():
    flat = history([2.31, 2.32, 2.31], [2.33, 2.34, 2.33], [0.1, 0.1, 0.1], [0.1, 0.1, 0.1])
    assert describe_curve(flat, label="batch 1") == (
        "batch 1: the train loss stays near the 2.30 of a uniform guess over 10 classes, ending at 2.31 "
        "(train accuracy 10.0%): the model learned nothing.")


def test_curve_verdict_names_a_flat_loss_at_chance_stuck_and_a_falling_one_healthy(healthy, diverged):
    flat = history([2.31, 2.32, 2.31], [2.33, 2.34, 2.33], [0.1, 0.1, 0.1], [0.1, 0.1, 0.1])
    assert (curve_verdict(flat), curve_verdict(healthy), curve_verdict(diverged)) == ("stuck", "healthy", "diverged")


def test_describe_curve_does_not_read_a_trend_from_one_epoch_without_checks():
    text = describe_curve(history([0.5], [0.4]), label="smoke")
    assert text == "smoke: one epoch and no checks (train loss 0.500, test loss 0.400): too short to read a trend."


def test_describe_curve_calls_a_barely_moving_loss_too_slow():
    text = describe_curve(history([2.30, 2.28, 2.26], [2.29, 2.27, 2.25]), label="lr 0.0001")
    assert text == ("lr 0.0001: the train loss barely moved in 3 epochs (2.30 -> 2.26, 2% lower), still near the "
                    "2.30 of a uniform guess over 10 classes: training is too slow.")


def test_describe_curve_reads_oscillation_from_the_checks(bumpy_checks):
    text = describe_curve(history([0.9, 0.4, 0.3], [0.5, 0.4, 0.3]), bumpy_checks, label="momentum 0.99")
    assert text == ("momentum 0.99: the train loss climbs back from 1.00 at epoch 1 to 1.60 after 1.5 epochs, "
                    "giving back 60% of what it had gained (train loss 0.300 at epoch 3): training oscillates.")


def test_describe_curve_names_the_epoch_where_overfitting_starts(overfit):
    text = describe_curve(overfit, label="wide model")
    assert text.endswith("Test loss is lowest at epoch 4 (0.310) and rises 0.12 by epoch 20 while train loss "
                         "keeps falling: the model overfits."), text


def test_describe_curve_calls_a_falling_train_and_test_loss_healthy(healthy):
    assert describe_curve(healthy, label="lr 0.01") == (
        "lr 0.01: the train loss falls 75% (0.600 -> 0.150) in 3 epochs. Test loss is lowest (0.120) at the last "
        "epoch; the epoch-average train accuracy (measured while training, dropout on) ends 2.0 points above test accuracy: training is healthy.")


def test_curves_plot_draws_one_panel_per_run_titled_with_its_verdict(healthy, overfit, diverged):
    fig = curves_plot({"lr 0.01": healthy, "wide": overfit, "lr 1.0": diverged})
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["lr 0.01 (healthy)", "wide (overfitting)", "lr 1.0 (diverged)"]


def test_curves_plot_marks_a_diverged_run_instead_of_failing(diverged):
    ax = curves_plot({"lr 1.0": diverged}).axes[0]
    assert any("diverged" in t.get_text() for t in ax.texts)
    assert np.isfinite(ax.get_ylim()).all()


def test_curves_plot_adds_the_checks_as_a_third_line(healthy, bumpy_checks):
    ax = curves_plot({"run": healthy}, checks={"run": bumpy_checks}).axes[0]
    assert [line.get_label() for line in ax.lines] == ["train (checks)", "train", "test"]
    assert list(ax.lines[0].get_xdata()) == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def test_curves_plot_gives_each_panel_its_own_y_scale_log_when_losses_span_decades(healthy):
    spans_decades = history([2.0, 0.1, 0.01], [1.9, 0.2, 0.05])
    linear, log = curves_plot({"a": healthy, "b": spans_decades}).axes[:2]
    assert (linear.get_yscale(), log.get_yscale()) == ("linear", "log")
    assert linear.get_ylim()[1] < 1 < log.get_ylim()[1], "panels must not share their y range"


def test_compare_curves_plot_draws_one_line_per_run_in_each_column_panel(healthy, overfit):
    fig = compare_curves_plot({"dropout 0.0": overfit, "dropout 0.5": healthy}, legend_title="dropout")
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["dropout 0.0", "dropout 0.5"]
    assert loss_ax.get_ylabel() == "test loss (cross-entropy)" and acc_ax.get_ylabel() == "test accuracy (%)"
    assert list(acc_ax.lines[1].get_ydata()) == pytest.approx([92, 94, 95]), "accuracy must be drawn in %"
    assert fig.legends[0].get_title().get_text() == "dropout"


def test_describe_curve_never_rounds_a_partial_fall_to_100_percent():
    # the 2026-12-01 baseline: 0.152 -> 0.000393 is a 99.7% fall, not "100%"
    sentence = describe_curve(history([0.152, 0.01, 0.000393], [0.06, 0.05, 0.045]), label="the baseline")
    assert "falls 99.7% (0.152 -> 0.000393)" in sentence
    assert "falls 50% (" in describe_curve(history([0.6, 0.4, 0.3], [0.5, 0.4, 0.35]), label="x")


def test_describe_curve_says_which_accuracy_is_higher():
    ahead = history([0.6, 0.2, 0.15], [0.2, 0.15, 0.12], [0.90, 0.93, 0.94], [0.92, 0.94, 0.955])
    assert "train accuracy (measured while training, dropout on) ends 1.5 points below test accuracy" in describe_curve(ahead, label="x")
