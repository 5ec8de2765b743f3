"""Lab 2's time comparisons: different only beyond the check interval, printed at a precision that shows it."""

import pandas as pd

from labkit.labs.cnn.answers import dropout_slowdown, normalisation_effect, two_times


def run(**values):
    base = {"dropout": 0.0, "epoch_time_s": 1.0, "epochs_run": 2, "time_to_90_s": 0.5, "time_to_96_s": 1.5,
            "epochs_to_96": 1.5, "train_time_s": 2.0}
    return pd.Series({**base, **values})


def test_two_times_get_the_decimals_that_tell_them_apart():
    assert two_times(0.21, 0.24) == ("0.21 s", "0.24 s")
    assert two_times(12.3, 15.0) == ("12.3 s", "15.0 s")


def test_dropout_that_slows_learning_beyond_the_check_interval_says_so():
    text = dropout_slowdown(run(), run(dropout=0.5, time_to_90_s=0.9), checks_per_epoch=10)
    assert text.startswith("It also slows learning: 90% train accuracy after 0.9 s") and "after 0.5 s without" in text


def test_times_within_one_check_interval_are_no_difference():
    text = dropout_slowdown(run(time_to_90_s=0.21), run(dropout=0.5, time_to_90_s=0.24), checks_per_epoch=10)
    assert "does not measurably slow learning" in text and "0.24 s" in text and "0.21 s" in text


def test_a_dropout_run_that_never_reached_the_target_is_said_to_slow_learning():
    assert "never reached 90%" in dropout_slowdown(run(), run(dropout=0.8, time_to_90_s=float("nan")),
                                                   checks_per_epoch=10)
    assert dropout_slowdown(run(time_to_90_s=None), run(dropout=0.8), checks_per_epoch=10) == ""


def test_normalisation_is_explained_from_the_training_times_not_test_accuracy():
    faster = normalisation_effect(run(time_to_96_s=1.0, epochs_to_96=1.0), run(time_to_96_s=1.8, epochs_to_96=1.8),
                                  checks_per_epoch=10)
    assert faster.startswith("Normalised inputs reached 96% sooner (1.0 s vs 1.8 s") and "The expected reason" in faster
    slower = normalisation_effect(run(time_to_96_s=1.8), run(time_to_96_s=1.0), checks_per_epoch=10)
    assert slower.startswith("Raw pixels reached 96% sooner")
    same = normalisation_effect(run(time_to_96_s=1.02), run(time_to_96_s=1.05), checks_per_epoch=10)
    assert "within one check interval" in same and "does not change the training time" in same


def test_normalisation_runs_that_never_reached_the_target_say_what_they_cannot_show():
    never = float("nan")
    assert "cannot say" in normalisation_effect(run(time_to_96_s=never), run(time_to_96_s=never), checks_per_epoch=4)
    only = normalisation_effect(run(), run(time_to_96_s=never), checks_per_epoch=4)
    assert only.startswith("Only normalised inputs reached 96%") and "The expected reason" in only
