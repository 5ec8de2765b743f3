"""Lab 1's generated answers on the baseline, its latency trace, the batch size, memory and the ONNX file, on
crafted rows and traces that take each branch; and the ink a crop throws away, measured."""

import numpy as np
import pandas as pd
import pytest
import torch

from labkit.counting import human_bytes
from labkit.data import ink_outside_center
from labkit.labs.mlp import answers
from labkit.labs.mlp.answers import crop_vs_resize


def test_ink_outside_the_center_is_measured_from_the_images():
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[:, 12:16, 12:16] = 255  # all ink in the middle 4x4
    assert ink_outside_center(images, 14) == 0.0
    images[:, 0, :] = 255  # a full stroke along the top border
    assert abs(ink_outside_center(images, 14) - 28 / (28 + 16)) < 1e-9


def test_the_winner_is_read_from_the_accuracies_and_the_ink_lost_is_stated():
    text = crop_vs_resize(0.91, 0.62, 0.98, size=7, ink_outside=0.83)
    assert "Resizing wins" in text and "throws away 83% of the test images' ink" in text and "16x fewer" in text
    assert "Cropping wins here although" in crop_vs_resize(0.60, 0.70, 0.98, size=14, ink_outside=0.1)
    assert "Neither wins" in crop_vs_resize(0.7, 0.7, 0.98, size=14, ink_outside=0.1)


def test_the_baseline_overfits_only_when_train_is_above_validation_by_the_margin():
    history = pd.DataFrame({"train_acc": [0.90, 0.99], "val_acc": [0.90, 0.97], "test_acc": [0.9, 0.968]})
    text = answers.baseline_fit(history)
    assert "After 2 epochs" in text and "**96.80%**" in text and "above validation by 2.00%" in text
    history.loc[1, "train_acc"] = 0.972
    assert "no sign of overfitting yet" in answers.baseline_fit(history)


def test_one_mac_per_weight_and_the_biases_are_the_difference():
    text = answers.macs_per_parameter(2_910_208, 2_913_290)
    assert "**2,910,208 MACs**" in text and "5.82 MFLOPs" in text and "the 3,082 parameters" in text
    assert "used more than once" in answers.macs_per_parameter(200, 100)


def test_a_cold_call_is_a_finding_only_when_it_is_above_the_warm_p90():
    trace = [5.0] + [0.1] * 99
    text = answers.training_and_latency([2.0, 3.0], trace)
    assert "**2.5 s per epoch**" in text and "5.0 s in all" in text and "**5.000 ms**, 50.0x" in text
    assert "expected reason is one-off costs" in text
    flat = answers.training_and_latency([2.0], [0.1] * 100)
    assert "paid no visible one-off cost" in flat and "one-off costs (" not in flat


def test_a_flat_trace_has_no_spikes_and_no_drift():
    rng = np.random.default_rng(0)
    trace = np.r_[3.0, 1.0 + 0.01 * rng.standard_normal(1000)]
    text = answers.latency_trace_reading(trace)
    assert "has no spikes" in text and "No drift" in text


def test_spikes_are_counted_and_the_largest_is_located():
    trace = np.ones(1001)
    trace[[11, 501]] = [3.0, 7.0]  # warm calls 11 and 501 (example numbers count the warm calls from 1)
    text = answers.latency_trace_reading(trace)
    assert "2 of the 1,000 warm calls (0.2%)" in text and "7.000 ms (7.0x), was example 501" in text
    assert "No drift" in text


@pytest.mark.parametrize("end, word", [(2.0, "slower"), (0.5, "faster")])
def test_a_drift_beyond_the_spread_is_named_with_its_direction(end, word):
    trace = np.r_[1.0, np.linspace(1.0, end, 1000)]
    text = answers.latency_trace_reading(trace, spike_factor=3.0)
    assert f"drifts {word}" in text and "beyond the p10-p90 spread" in text and "no spikes" in text


def test_a_short_trace_reads_no_drift():
    assert "too short (9 warm calls)" in answers.latency_trace_reading([1.0] * 10)


def _batch_row(batch_size, step_ms, per_example_ms, acc):
    return pd.Series({"batch_size": batch_size, "train_examples": 1000,
                      "train_time_s": step_ms * 1000 / batch_size / 1e3, "train_steps": 1000 // batch_size,
                      "train_step_ms": step_ms,
                      "batch_latency_per_example_ms": per_example_ms, "test_acc": acc, "params": 100,
                      "batch_macs": 90 * batch_size})


def test_the_batch_size_sentence_reads_step_time_and_per_example_cost_from_the_rows():
    text = answers.batch_size_effect(_batch_row(1, 0.5, 0.2, 0.95), _batch_row(128, 4.0, 0.01, 0.97))
    assert "less than 128x" in text and "large batch is cheaper per example" in text and "11,520 at batch 128" in text
    worse = answers.batch_size_effect(_batch_row(1, 0.5, 0.01, 0.95), _batch_row(128, 70.0, 0.2, 0.97))
    assert "not less than 128x" in worse and "not cheaper per example" in worse


def test_the_layer_memory_sentence_reads_the_dtype_size():
    layers = pd.DataFrame({"layer": ["fc1", "fc2"], "weight_bytes": [3000, 1000], "activation_bytes": [40, 8],
                           "output_dtype": ["torch.float32", "torch.float16"]})
    text = answers.layer_memory(layers, human_bytes)
    assert "75% of it in `fc1`" in text and "float16: 2 bytes per number" in text


def test_the_onnx_sentence_names_the_file_its_ops_and_netron_or_the_failure(tmp_path):
    exported = {"path": tmp_path / "mlp.onnx", "data_path": None, "graph_bytes": 1234, "data_bytes": 0, "nodes": 5,
                "ops": {"Gemm": 4, "Relu": 3}}
    text = answers.onnx_export(exported)
    assert "`mlp.onnx` (the graph, 1,234 bytes)" in text and "5 nodes (4 `Gemm`, 3 `Relu`)" in text
    assert "netron.app" in text
    with_data = answers.onnx_export({**exported, "data_path": tmp_path / "mlp.onnx.data", "data_bytes": 4096})
    assert "bytes; its weights in `mlp.onnx.data`, 4,096 bytes, to keep beside it)" in with_data
    assert "failed on this software stack (ModuleNotFoundError" in answers.onnx_export(None, "ModuleNotFoundError: x")
