"""Pricing a Lab 2 run before it starts: the planned trials follow the parameters, steps and evaluated
examples are counted as the trial runs them, and measured rows join their priced trial."""

import math

import pandas as pd
import pytest

from labkit.labs.cnn import params, plan
from labkit.labs.cnn import budget as run_budget
from labkit.labs.cnn.sweeps import BASELINE, MODEL_KNOBS, TRAINING_KNOBS
from labkit.labs.cnn.params import Lab2Params

SMALL = {**BASELINE, "channels": [4, 4], "hidden": [16], "batch_size": 16}


def test_split_sizes_follow_the_80_20_split_and_the_limits():
    assert run_budget.split_sizes("mnist", None, None) == (48_000, 12_000, 10_000)
    assert run_budget.split_sizes("fashion_mnist", 6000, 500) == (4800, 1200, 500)
    assert run_budget.split_sizes("mnist", 10**6, None)[0] == 48_000


def test_each_distinct_step_is_priced_once_per_round_and_trials_count_their_work(monkeypatch):
    calls = []

    def fake_price(config, **_):
        calls.append(config["batch_size"])
        return 0.001 * len(calls), 1e-5  # step time grows with each call: median/min/max are checkable

    monkeypatch.setattr(run_budget, "price_config", fake_price)
    trials = [plan.PlannedTrial("a", SMALL, 2, None),
              plan.PlannedTrial("a", {**SMALL, "init": "default", "lr": 0.5}, 2, None),  # same step as above
              plan.PlannedTrial("b", {**SMALL, "batch_size": 100}, 3, 6000)]
    priced = run_budget.price_trials(trials, checks_per_epoch=10, probe_examples=2000, rounds=3)
    assert sorted(calls) == [16, 16, 16, 100, 100, 100]
    first, third = priced.iloc[0], priced.iloc[2]
    assert first.steps == 2 * math.ceil(48_000 / 16) and third.steps == 3 * math.ceil(4800 / 100)
    assert first.step_ms_min <= first.step_ms <= first.step_ms_max and first.step_ms_min < first.step_ms_max
    assert first.train_s == pytest.approx(first.steps * first.step_ms / 1e3)
    assert first.eval_examples == 2 * (10 * 2000 + 12_000 + 10_000) + 10_000 + run_budget.EVAL_BATCH
    assert third.eval_examples == 3 * (10 * 2000 + 1200 + 10_000) + 10_000 + run_budget.EVAL_BATCH
    assert third.eval_s == pytest.approx(third.eval_examples * 1e-5)
    assert (priced.work_s == priced.train_s + priced.eval_s).all()
    table = run_budget.by_sweep(priced)
    assert list(table.sweep) == ["a", "b", "total"] and table.trials.tolist() == [2, 1, 3]
    assert table.work_s.iloc[-1] == pytest.approx(priced.work_s.sum())


def test_price_config_times_a_real_training_step_and_evaluation():
    step_s, eval_s = run_budget.price_config({**SMALL, "dropout": 0.5, "weight_decay": 1e-3}, min_run_time=0.01)
    assert 0 < step_s < 10 and 0 < eval_s < 1


def test_rounds_below_one_are_refused():
    with pytest.raises(ValueError, match="rounds"):
        run_budget.price_trials([plan.PlannedTrial("a", SMALL, 1, None)], rounds=0)


def test_measured_rows_join_their_priced_trial_by_sweep_and_config(monkeypatch):
    monkeypatch.setattr(run_budget, "price_config", lambda config, **_: (0.01, 1e-5))
    trials = [plan.PlannedTrial("a", SMALL, 1, None), plan.PlannedTrial("b", SMALL, 1, None),
              plan.PlannedTrial("b", {**SMALL, "lr": 0.1}, 1, None)]
    priced = run_budget.price_trials(trials, rounds=1)

    def as_stored(sweep, config, seconds):  # lists are text in a results file
        knobs = {**BASELINE, **config}
        return {**{k: str(v) if isinstance(v, list) else v for k, v in knobs.items()
                   if k in MODEL_KNOBS + TRAINING_KNOBS}, "sweep": sweep, "train_time_s": seconds}

    measured = pd.DataFrame([as_stored("b", {**SMALL, "lr": 0.1}, 60.0), as_stored("c", SMALL, 5.0)])
    both = run_budget.measured_vs_priced(priced, trials, measured)
    assert len(both) == 1 and both.sweep.iloc[0] == "b"
    assert both.measured_train_s.iloc[0] == 60.0
    assert both.measured_vs_priced.iloc[0] == pytest.approx(60.0 / priced.train_s.iloc[2])


def test_cli_budget_prints_every_sweep_and_the_total(monkeypatch, capsys):
    from labkit.course import cli

    monkeypatch.setattr(run_budget, "price_config", lambda config, **_: (0.02, 1e-4))
    assert cli.main(["budget", "--smoke", "--rounds", "1", "-p", "sweep_epochs", "2"]) == 0
    printed = capsys.readouterr().out
    smoke = params.lab2(smoke=True, sweep_epochs=2)
    assert f"{len(plan.trials(smoke))} trials" in printed
    for sweep in ("baseline", "model grid", "training grid", "pathologies", "final", "total"):
        assert sweep in printed


def test_cli_budget_names_an_unknown_parameter(monkeypatch):
    from labkit.course import cli

    monkeypatch.setattr(run_budget, "price_config", lambda config, **_: (0.02, 1e-4))
    with pytest.raises(SystemExit, match="epochz"):
        cli.main(["budget", "-p", "epochz", "3"])


def test_a_config_planned_twice_is_priced_once_like_the_runner_trains_it_once(monkeypatch):
    monkeypatch.setattr(run_budget, "price_config", lambda config, **_: (0.01, 1e-5))
    trials = [plan.PlannedTrial("a", SMALL, 2, None), plan.PlannedTrial("b", dict(SMALL), 2, None),
              plan.PlannedTrial("c", SMALL, 3, None),  # other epochs: another run
              plan.PlannedTrial("d", SMALL, 2, None, save_models=True)]  # keeps its model: another run
    priced = run_budget.price_trials(trials, rounds=1)
    assert priced.repeat.tolist() == [False, True, False, False]
    assert priced.work_s.iloc[1] == 0 and priced.work_s.iloc[2] > priced.work_s.iloc[0] > 0
    assert run_budget.by_sweep(priced).repeats.tolist() == [0, 1, 0, 0, 1]
    default = run_budget.price_trials(plan.trials(Lab2Params()), rounds=1)
    # repeats: the classic net in all four one-knob sweeps (3), and the baseline's config for 2 epochs in the
    # normalisation sweep, the model grid and (its best standing in) the training grid (2); the edge
    # regularization trial (the baseline with dropout and weight decay, before the run) is a run of its own
    assert len(default) - default.repeat.sum() == 147


def test_first_rotates_the_timing_order_but_not_which_trial_is_the_repeat(monkeypatch):
    calls = []
    monkeypatch.setattr(run_budget, "price_config",
                        lambda config, **_: calls.append(config["batch_size"]) or (0.01, 1e-5))
    trials = [plan.PlannedTrial("a", SMALL, 1, None),
              plan.PlannedTrial("b", {**SMALL, "batch_size": 64}, 1, None),
              plan.PlannedTrial("c", SMALL, 1, None)]
    priced = run_budget.price_trials(trials, rounds=1, first=1)
    assert calls == [64, 16]
    assert priced.repeat.tolist() == [False, False, True]
