"""Lab 2's search answers (003 Q12a, Q12b), on small crafted runs tables that take every branch."""

import pandas as pd
import pytest

from labkit.labs.cnn import search


def _runs(rows):
    """Runs with model_name, init, batch_size, lr, momentum, train_acc, test_acc, time_to_90_s."""
    cols = ["model_name", "init", "batch_size", "lr", "momentum", "train_acc", "test_acc", "time_to_90_s"]
    return pd.DataFrame(rows, columns=cols)


@pytest.fixture
def runs():
    return _runs([
        ("CNN_a", "xavier_uniform", 32, 0.01, 0.9, 0.99, 0.90, 1.0),   # most accurate, gap 9 points
        ("CNN_b", "xavier_uniform", 64, 0.01, 0.9, 0.90, 0.89, 1.2),   # gap 1
        ("CNN_c", "default", 32, 0.05, 0.5, 0.88, 0.88, 1.1),          # gap 0
        ("CNN_d", "default", 64, 0.05, 0.5, 0.87, 0.85, None),         # gap 2, never reached 90%
        ("CNN_e", "default", 64, 0.05, 0.5, 0.95, 0.80, 2.0),          # gap 15
    ])


def test_ranking_puts_runs_within_the_median_gap_first_by_test_accuracy(runs):
    ranked = search.rank_accuracy_and_gap(runs)
    assert list(ranked.index) == [1, 2, 3]
    assert list(ranked.test_acc) == [0.89, 0.88, 0.85]
    assert ranked.gap_bound.iloc[0] == pytest.approx(0.02)


def test_sentence_says_how_criteria_combine_and_that_the_most_accurate_run_is_left_out(runs):
    text = search.top_runs_sentence(search.rank_accuracy_and_gap(runs), runs)
    assert "median gap (+2.00%; 3 of 5 runs)" in text
    assert "**CNN_b xavier_uniform b64 lr0.01 m0.9** (89.00% test, gap +1.00%)" in text
    assert "most accurate run overall (90.00% test) is left out: its gap of +9.00%" in text


def test_sentence_says_when_the_most_accurate_run_is_among_the_top(runs):
    tidy = runs.assign(train_acc=runs.test_acc + [0.0, 0.01, 0.02, 0.03, 0.04])
    text = search.top_runs_sentence(search.rank_accuracy_and_gap(tidy), tidy)
    assert "The most accurate run of the search is among them" in text


def test_sentence_names_runs_filled_from_above_the_bound():
    few = _runs([("A", "default", 32, 0.01, 0.9, 0.9, 0.9, 1.0), ("B", "default", 64, 0.01, 0.9, 0.99, 0.8, 1.0)])
    text = search.top_runs_sentence(search.rank_accuracy_and_gap(few), few)
    assert "1 of them is above the bound" in text


def test_sentence_with_no_runs():
    empty = _runs([])
    assert "No search run finished" in search.top_runs_sentence(search.rank_accuracy_and_gap(empty), empty)


def test_knob_effects_gives_median_and_spread_per_value_with_lr_and_momentum_paired(runs):
    table = search.knob_effects(runs).set_index(["knob", "value"])
    assert set(table.index.get_level_values("knob")) == {"init", "batch_size", "lr_momentum"}
    row = table.loc[("lr_momentum", "0.05/0.5")]
    assert row.runs == 3 and row.reached_90 == 2
    assert row.test_acc_median == pytest.approx(0.85)
    assert row.time_to_90_s_median == pytest.approx(1.55)


def test_knob_sentence_calls_a_value_better_only_when_the_spreads_are_apart(runs):
    table = search.knob_effects(runs)
    text = search.knob_sentence(table, "init")
    assert text.startswith("**Initialisation** (2 values, 5 runs): test accuracy clearly best at xavier_uniform")
    assert "time to 90% train accuracy clearly best at xavier_uniform (median 1.10 s" in text
    assert "Never reached 90%: 1 of 3 at default." in text


def test_knob_sentence_says_no_clear_effect_when_spreads_overlap(runs):
    text = search.knob_sentence(search.knob_effects(runs), "batch_size")
    assert "test accuracy: no clear effect, medians run from 32" in text
    assert "ranges (over the other knobs) overlap" in text


def test_knob_sentence_with_one_value_or_no_time():
    one = _runs([("A", "default", 32, 0.01, 0.9, 0.9, 0.9, None), ("B", "default", 64, 0.01, 0.9, 0.9, 0.8, None)])
    effects = search.knob_effects(one)
    assert search.knob_sentence(effects, "init").startswith(
        "**Initialisation** (1 value, 2 runs): test accuracy: only one value was tried; time to 90% train accuracy: "
        "only one value was tried.")
    text = search.knob_sentence(effects, "batch_size")
    assert "time to 90% train accuracy: no run reached 90%, nothing to compare." in text
    assert "Never reached" not in text
    some = one.assign(time_to_90_s=[1.0, None])
    assert "only one value reached 90%, nothing to compare. Never reached 90%: 1 of 1 at 64." in \
        search.knob_sentence(search.knob_effects(some), "batch_size")


def test_grid_size_counts_the_runs_and_names_the_model():
    runs = pd.DataFrame({"test_acc": [0.9, 0.8]})
    assert search.grid_size("model grid", runs) == "The model grid holds **2** configurations."
    assert search.grid_size("training grid", runs.head(1), model_name="cnn") == \
        "The training grid holds **1** configuration of cnn."
