"""Labs 1 and 2's exercise checks pass a correct function and fail wrong ones, naming the failing case."""

import pandas as pd
import pytest

from labkit.labs.cnn import checks as cnn_checks
from labkit.labs.mlp import checks as mlp_checks


def mlp_params(in_features, hidden, out_features):
    sizes = [in_features, *hidden, out_features]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def mlp_macs(in_features, hidden, out_features):
    sizes = [in_features, *hidden, out_features]
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


def test_mlp_params_check_passes_the_formula(capsys):
    assert mlp_checks.mlp_params(mlp_params).passed
    assert capsys.readouterr().out.strip() == "Exercise 1.1: passed (1/1 point)"


@pytest.mark.parametrize("wrong", [
    lambda in_features, hidden, out_features: mlp_macs(in_features, hidden, out_features),  # biases forgotten
    lambda in_features, hidden, out_features: mlp_params(in_features, hidden[:-1], out_features),  # a layer missing
])
def test_mlp_params_check_fails_a_wrong_formula_with_expected_and_got(wrong, capsys):
    result = mlp_checks.mlp_params(wrong)
    assert not result.passed and result.earned == 0
    out = capsys.readouterr().out
    assert out.startswith("Exercise 1.1: failed: in_features=784, hidden=[1024, 1024, 1024], out_features=10: expected 2913290")


@pytest.mark.parametrize("wrong", [mlp_params, lambda in_features, hidden, out_features: in_features * sum(hidden)])
def test_mlp_macs_check_fails_biases_counted_or_a_made_up_formula(wrong):
    assert not mlp_checks.mlp_macs(wrong).passed
    assert mlp_checks.mlp_macs(mlp_macs).passed


def test_an_unfinished_exercise_reports_zero_points_without_raising(capsys):
    def unfinished(in_features, hidden, out_features):
        raise NotImplementedError("Exercise 1.1: the parameters of an MLP")

    result = mlp_checks.mlp_params(unfinished)
    assert (result.earned, result.points) == (0, 1)
    assert "Exercise 1.1: not done" in capsys.readouterr().out


def test_a_function_that_raises_is_a_failed_case_not_a_crash(capsys):
    assert not mlp_checks.mlp_params(lambda in_features, hidden, out_features: 1 / 0).passed
    assert "raised ZeroDivisionError" in capsys.readouterr().out


def conv_output_size(size, kernel, stride=1, padding=0):
    return (size + 2 * padding - kernel) // stride + 1


def test_conv_checks_pass_the_formulas():
    assert cnn_checks.conv_output_size(conv_output_size).passed
    assert cnn_checks.conv_params(lambda in_channels, out_channels, kernel:
                                  out_channels * (in_channels * kernel * kernel + 1)).passed
    assert cnn_checks.conv_macs(lambda in_channels, out_channels, kernel, size, stride=1, padding=0:
                                out_channels * in_channels * kernel ** 2 * conv_output_size(size, kernel, stride, padding) ** 2).passed


@pytest.mark.parametrize("wrong", [
    lambda size, kernel, stride=1, padding=0: (size + 2 * padding - kernel) // stride,  # off by one
    lambda size, kernel, stride=1, padding=0: (size + padding - kernel) // stride + 1,  # padding on one side
    lambda size, kernel, stride=1, padding=0: size - kernel + 1,  # stride and padding ignored
])
def test_conv_output_size_check_fails_an_off_by_one(wrong):
    assert not cnn_checks.conv_output_size(wrong).passed


@pytest.mark.parametrize("wrong", [
    lambda in_channels, out_channels, kernel: out_channels * in_channels * kernel * kernel,  # bias forgotten
    lambda in_channels, out_channels, kernel: out_channels * in_channels * (kernel * kernel + 1),  # a bias per input
])
def test_conv_params_check_fails_a_forgotten_bias(wrong):
    assert not cnn_checks.conv_params(wrong).passed


@pytest.mark.parametrize("wrong", [
    lambda in_channels, out_channels, kernel, size, stride=1, padding=0: out_channels * in_channels * kernel ** 2 * size ** 2,
    lambda in_channels, out_channels, kernel, size, stride=1, padding=0: out_channels * kernel ** 2 * conv_output_size(size, kernel, stride, padding) ** 2,
])
def test_conv_macs_check_fails_the_input_side_or_a_missing_factor(wrong):
    assert not cnn_checks.conv_macs(wrong).passed


def time_to_accuracy(checks, target=0.9):
    reached = checks[checks.train_acc >= target]
    return None if reached.empty else float(reached.train_time_s.iloc[0])


def test_time_to_accuracy_check_passes_the_first_check_at_or_above_the_target():
    assert cnn_checks.time_to_accuracy(time_to_accuracy).passed


@pytest.mark.parametrize("wrong", [
    lambda checks, target=0.9: time_to_accuracy(checks[checks.train_acc > target], target),  # > instead of >=
    lambda checks, target=0.9: float(checks.train_time_s.iloc[-1]),  # the last check
    lambda checks, target=0.9: (lambda hit: None if hit.empty else float(hit.epoch.iloc[0]))(checks[checks.train_acc >= target]),
])
def test_time_to_accuracy_check_fails_strict_comparison_last_check_or_epochs(wrong, capsys):
    assert not cnn_checks.time_to_accuracy(wrong).passed
    assert "Exercise 2.1: failed:" in capsys.readouterr().out


def test_the_checks_table_has_the_training_columns():
    table = cnn_checks.checks_table([(1.0, 0.5), (2.0, 0.95)])
    assert list(table.columns) == ["epoch", "examples_seen", "train_time_s", "train_loss", "train_acc"]
    assert isinstance(table, pd.DataFrame) and time_to_accuracy(table) == 2.0
