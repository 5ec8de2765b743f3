"""Lab 1's sweep sentences, on crafted rows that take each branch."""

import numpy as np
import pandas as pd

from labkit.labs.mlp import sweep_answers


def _runs(knob, values, epoch_time_s, test_acc, latency_ms, macs):
    return pd.DataFrame({knob: values, "epoch_time_s": epoch_time_s, "test_acc": test_acc, "latency_ms": latency_ms,
                         "macs": macs, "params": [m + 10 for m in macs], "flops": [2 * m for m in macs]})


def test_epoch_times_are_the_same_within_the_tolerance_or_compared_at_a_precision_that_differs():
    a, b = pd.Series({"epoch_time_s": 1.00}), pd.Series({"epoch_time_s": 1.04})
    same = sweep_answers.epoch_time_change(a, b, a_name="1 layer", b_name="2 layers")
    assert "the same time within 10% (1.00 s with 1 layer, 1.04 s with 2 layers)" in same
    slower = sweep_answers.epoch_time_change(a, pd.Series({"epoch_time_s": 3.0}), a_name="1 layer", b_name="8 layers")
    assert "3.00x as long with 8 layers (1.0 s with 1 layer, 3.0 s with 8 layers)" in slower


def test_the_depth_sentence_gives_costs_accuracy_and_training_time():
    runs = _runs("depth", [1, 2, 16], [1.0, 1.5, 8.0], [0.95, 0.97, 0.96], [0.1, 0.15, 1.0], [100, 200, 1600])
    text = sweep_answers.depth_effect(runs)
    assert "most accurate depth is **2** (97.00%)" in text and "MACs by 16.0x" in text and "latency by 10.0x" in text
    assert "+1.00 percentage points" in text and "8.00x as long with 16 hidden layers" in text and "(s)" not in text


def test_the_width_sentence_says_whether_macs_grow_with_width_squared():
    runs = _runs("width", [32, 4096], [1.0, 1.05], [0.9, 0.98], [0.1, 2.0], [30_000, 40_000_000])
    text = sweep_answers.width_effect(runs)
    assert "most accurate width is **4096**" in text and "less than width squared, 16384x," in text
    assert "the same time within 10%" in text
    square = _runs("width", [1000, 4000], [1.0, 4.0], [0.9, 0.98], [0.1, 2.0], [1_000_000, 16_000_000])
    assert "roughly with width squared" in sweep_answers.width_effect(square)


def test_the_best_tradeoff_is_a_cheaper_model_within_tolerance_or_the_top_itself():
    runs = pd.DataFrame({"label": ["big", "small"], "test_acc": [0.98, 0.975], "flops": [1000, 100],
                         "latency_ms": [1.0, 0.2]})
    assert "best trade-off is **small**" in sweep_answers.best_tradeoff(runs)
    runs.loc[1, "test_acc"] = 0.90
    assert "No cheaper model comes within 1 point of it" in sweep_answers.best_tradeoff(runs)


def _grid(acc, latency):
    rows = [{"input_size": s, "depth": d, "width": w} for s in (28, 7) for d in (1, 4) for w in (128, 1024)]
    frame = pd.DataFrame(rows)
    frame["test_acc"] = [acc(r) for r in rows]
    frame["latency_ms"] = [latency(r) for r in rows]
    frame["flops"] = [2 * (r["input_size"] ** 2 * r["width"] + (r["depth"] - 1) * r["width"] ** 2) for r in rows]
    return frame


def test_input_size_or_model_size_is_named_for_accuracy_and_for_latency():
    runs = _grid(lambda r: 0.98 - 0.1 * (r["input_size"] == 7), lambda r: 0.1 * r["depth"])
    text = sweep_answers.factor_impact(runs)
    assert "input size moves test accuracy most" in text and "model size (depth) moves latency most" in text
    assert "input size 10.00" in text and "depth 4.00x" in text
    both = _grid(lambda r: 0.98 - 0.1 * (r["width"] == 128), lambda r: 0.01 * r["width"])
    assert "model size (width) moves both test accuracy and latency most" in sweep_answers.factor_impact(both)
    flat = _grid(lambda r: 0.9, lambda r: 1.0)
    assert "move test accuracy equally" in sweep_answers.factor_impact(flat)


def test_latency_against_flops_is_fitted_with_its_spread():
    linear = _grid(lambda r: 0.9, lambda r: 0.0)
    linear["latency_ms"] = 0.05 + 1e-7 * linear.flops
    text = sweep_answers.latency_vs_flops(linear)
    assert "latency_ms = 0.0500 + 0.10000 x MFLOPs (R² 1.00" in text and "predict latency well" in text
    noisy = linear.copy()
    noisy["latency_ms"] = np.r_[1.0, 0.1].repeat(4)
    assert "FLOPs explain only" in sweep_answers.latency_vs_flops(noisy)
    assert "too few distinct" in sweep_answers.latency_vs_flops(linear.assign(flops=100))
