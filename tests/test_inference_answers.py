"""Lab 3's generated answers take each branch on crafted rows, and say what this machine has, not 'both cores'."""

from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from labkit.labs.inference import answers


def row(batch_size, median_ms, gflops=50.0):
    return SimpleNamespace(batch_size=batch_size, median_ms=median_ms, throughput_per_s=1e3 * batch_size / median_ms,
                           per_example_ms=median_ms / batch_size, gflops_per_s=gflops, p10_ms=0.95 * median_ms,
                           p90_ms=1.05 * median_ms)


def test_batching_that_pays_says_so():
    text = answers.batching_throughput(row(1, 10), row(64, 320), device="cpu", threads=2)
    assert "batching pays" in text and "2.00x the throughput" in text


def test_batching_that_does_not_pay_names_the_threads_this_run_used():
    text = answers.batching_throughput(row(1, 10), row(64, 640), device="cpu", threads=16)
    assert "the 16 CPU threads this run used" in text and "both cores" not in text
    assert "the one CPU thread" in answers.batching_throughput(row(1, 10), row(64, 640), device="cpu", threads=1)
    assert "the GPU busy" in answers.batching_throughput(row(1, 10), row(64, 640), device="cuda", threads=16)


def test_slower_batches_give_the_cache_reason_as_the_expected_one():
    text = answers.batching_throughput(row(1, 10), row(64, 1000), device="cpu", threads=2)
    assert "*slower* per image" in text and "the expected reason" in text and "CPU's caches" in text


def test_one_batch_against_batches_of_one_takes_each_branch():
    common = dict(gmacs_per_image=1.82, activation_mib_per_image=8.6, device="cpu", threads=4)
    assert "Batching wins" in answers.one_batch_vs_batches_of_one(128, 100, 200, **common)
    lose = answers.one_batch_vs_batches_of_one(128, 200, 100, **common)
    assert "does not win" in lose and "the 4 CPU threads this run used" in lose and "1.1 GiB" in lose
    assert "barely changes" in answers.one_batch_vs_batches_of_one(128, 100, 101, **common)


def test_the_gap_to_the_peak_is_an_expected_reason_unless_a_round_exceeds_it():
    text = answers.achieved_vs_peak(40, 100, [0.4, 0.38, 0.42], batch_size=128, matrix_size=2048)
    assert "40% of the **100 GFLOP/s**" in text and "the expected reason" in text and "not located here" in text
    even = answers.achieved_vs_peak(5.2, 6.2, [0.75, 0.95], batch_size=8, matrix_size=512)
    assert "**5.20 GFLOP/s**, 85% of the **6.20 GFLOP/s**" in even  # the median of two rounds is their mean
    assert "noise, not a bound" in answers.achieved_vs_peak(40, 100, [0.4, 1.2, 0.42], batch_size=128,
                                                            matrix_size=2048)


def test_resnet_counters_say_how_thop_and_the_formulas_differ():
    same = answers.resnet_counters({"torch": 1_000_000, "analytic": 1_000_000, "thop": 1_010_000})
    assert "agree exactly" in same and "10,000 more (1.00%)" in same and "batch norms" in same
    other = answers.resnet_counters({"torch": 1_000_000, "analytic": 1_001_000, "thop": 990_000})
    assert "1.0010x torch's counter" in other and "10,000 fewer" in other and "agree exactly" not in other
    assert "thop reports the same" in answers.resnet_counters({"torch": 5, "analytic": 5, "thop": 5})


def convs(first, last):
    """Conv rows (weight_bytes, activation_bytes) of the first and the last layer."""
    return pd.DataFrame({"layer": ["conv1", "layer4.1.conv2"], "weight_bytes": [first[0], last[0]],
                         "activation_bytes": [first[1], last[1]]})


def test_conv_memory_reads_which_bytes_dominate_first_and_last():
    usual = answers.conv_memory(convs((37_632, 12_845_056), (9_437_184, 100_352)), batch_size=1)
    assert "Early layers move mostly activation bytes, late ones mostly weight bytes" in usual
    assert "`conv1` has" in usual and "(more activations)" in usual and "(more weights)" in usual
    big_batch = answers.conv_memory(convs((37_632, 12_845_056), (9_437_184, 12_845_056)), batch_size=128)
    assert "every layer moves more activation bytes" in big_batch and "Early layers" not in big_batch
    assert "weights outweigh activations" in answers.conv_memory(convs((9e6, 1e3), (9e6, 1e3)), batch_size=1)
    assert "first layer moves more weights" in answers.conv_memory(convs((9e6, 1e3), (1e3, 9e6)), batch_size=1)


def estimate(weights, live, kept, grads_state=1):
    rows = [("inference", "weights", weights), ("inference", "input batch", 10), ("inference", "activations", live),
            ("training", "weights", weights), ("training", "input batch", 10), ("training", "activations", kept),
            ("training", "gradients", weights), ("training", "optimizer state", grads_state * weights)]
    return pd.DataFrame(rows, columns=["phase", "part", "bytes"])


def peak(total, activation=0, gradient=0, method="torch.profiler memory timeline"):
    return {"peak_total": total, "activation": activation, "gradient": gradient, "method": method}


def test_memory_budget_compares_weights_and_activations_in_each_phase():
    mib = 2 ** 20
    big = answers.memory_budget(estimate(45 * mib, 200 * mib, 2000 * mib), peak(250 * mib),
                                peak(2100 * mib, 1900 * mib, 20 * mib), batch_size=64)
    assert "activations take more than the weights" in big and "The profiler measured" in big
    assert "kept for backward (measured 1.9 GiB) are its largest part, more than the 45.0 MiB of weights" in big
    assert "only 20.0 MiB of the 45.0 MiB" in big
    small = answers.memory_budget(estimate(45 * mib, 3 * mib, 30 * mib), peak(50 * mib, method="torch.cuda.x"),
                                  peak(140 * mib, 30 * mib, 45 * mib), batch_size=1)
    assert "the weights take more than the activations" in small and "CUDA's allocator measured" in small
    assert "are less than the 45.0 MiB of weights. " in small and "all 45.0 MiB of gradients exist" in small


def speed_rows(rows):
    columns = ["model", "batch_size", "variant", "eager_ms", "speedup", "rel_diff", "skipped"]
    return pd.DataFrame(rows, columns=columns)


def test_speedup_summary_takes_every_branch():
    speed = speed_rows([("resnet18", 1, "channels_last", 10.0, 1.5, 1e-6, None),
                        ("resnet18", 1, "bf16_autocast", 10.5, 2.0, 0.05, None),
                        ("bert", 1, "int8_dynamic", 40.0, 1.02, 1e-3, None),
                        ("bert", 8, "int8_dynamic", 300.0, 0.9, 1e-3, None),
                        ("bert", 8, "compile", None, None, None, "no C compiler")])
    best = pd.DataFrame({"model": ["resnet18", "bert", "bert"], "batch_size": [1, 1, 8],
                         "fastest_variant": ["channels_last", "int8_dynamic", "eager"], "speedup": [1.5, 1.02, 1.0],
                         "rel_diff": [1e-6, 1e-3, 0.0]})
    text = answers.speedup_summary(best, speed, tolerance=0.01)
    assert "within 1% of fp32" in text and "**ResNet18, batch 1**: `channels_last`, 1.50x" in text
    assert "the expected reason: NHWC" in text and "1.02x is a gain small enough to be timing noise" in text
    assert "**BERT, batch 8**: no variant is both faster and within tolerance" in text
    assert "outside the tolerance: `bf16_autocast` (resnet18, batch 1: 2.00x, output off by 5.0%)" in text
    assert "Not measured here: `compile` for bert: no C compiler." in text
    clean = answers.speedup_summary(best.iloc[:1], speed.iloc[:1], tolerance=0.01)
    assert "outside" not in clean and "Not measured" not in clean


def onnx_file(name, ops):
    return {"path": Path(f"/r/onnx/{name}.onnx"), "nodes": sum(ops.values()), "data_bytes": 2 ** 20, "ops": ops}


def test_onnx_summary_says_what_the_graphs_hold_or_that_export_was_off():
    assert "Export is off" in answers.onnx_summary({}, n_layers=12)
    folded = {"resnet18": onnx_file("resnet18", {"Conv": 20, "Relu": 17, "ReduceMean": 1, "Gemm": 1}),
              "bert": onnx_file("bert_qa", {"MatMul": 97, "Softmax": 12, "LayerNormalization": 25})}
    text = answers.onnx_summary(folded, n_layers=12)
    assert "no `BatchNormalization` node" in text and "(`ReduceMean`)" in text
    assert "the 12 blocks x 8 GEMMs of section 6 plus the QA head" in text and "(one per block)" in text
    assert "12 `Softmax` (one per block) and `LayerNormalization`." in text and "`Gelu`" not in text
    assert "`resnet18.onnx` (39 nodes" in text
    kept = {"resnet18": onnx_file("resnet18", {"Conv": 20, "BatchNormalization": 20}),
            "bert": onnx_file("bert_qa", {"MatMul": 60, "Softmax": 6})}
    other = answers.onnx_summary(kept, n_layers=12)
    assert "The 20 `BatchNormalization` nodes stay separate" in other and "section 6" not in other
    assert "one per block" not in other and "splitting heads, 6 `Softmax`." in other


def test_the_setting_names_the_weights():
    shape = dict(max_tokens=512, d_model=768, n_heads=12, n_blocks=12, seq_len=128)
    assert "**pretrained checkpoints**" in answers.models_built(True, **shape)
    assert "**random (pretrained = False)**" in answers.models_built(False, **shape)


def test_training_activations_below_the_optimizer_state_are_still_compared_with_the_weights():
    mib = 2 ** 20
    text = answers.memory_budget(estimate(45 * mib, 3 * mib, 60 * mib, grads_state=2), peak(50 * mib),
                                 peak(300 * mib, 60 * mib, 10 * mib), batch_size=1)
    assert "are less than the 90.0 MiB of optimizer state, yet more than the weights." in text
    low = answers.memory_budget(estimate(45 * mib, 3 * mib, 30 * mib, grads_state=2), peak(50 * mib),
                                peak(300 * mib, 30 * mib, 10 * mib), batch_size=1)
    assert "are less than the 90.0 MiB of optimizer state and the 45.0 MiB of weights." in low


def test_a_speedup_within_the_drift_of_eager_itself_is_called_noise():
    speed = speed_rows([("resnet18", 1, "channels_last", 1545.4, 1.57, 1e-7, None),
                        ("resnet18", 1, "bf16_autocast", 796.0, 1.11, 3e-3, None)])
    best = pd.DataFrame({"model": ["resnet18"], "batch_size": [1], "fastest_variant": ["channels_last"],
                         "speedup": [1.57], "rel_diff": [1e-7]})
    text = answers.speedup_summary(best, speed, tolerance=0.01)
    assert "eager fp32 itself took 796.0 to 1,545.4 ms across this run's trials (1.94x)" in text
    assert "within the machine's noise" in text and "expected reason" not in text


def test_batching_within_the_per_image_spread_says_so_and_shows_small_rates_with_decimals():
    one = SimpleNamespace(batch_size=1, median_ms=909.3, p10_ms=739.1, p90_ms=1389.7, throughput_per_s=1.0997,
                          per_example_ms=909.3, gflops_per_s=3.99)
    big = SimpleNamespace(batch_size=4, median_ms=3235.2, p10_ms=3108.8, p90_ms=3527.4, throughput_per_s=1.2364,
                          per_example_ms=808.8, gflops_per_s=4.49)
    text = answers.batching_throughput(one, big, device="cpu", threads=2)
    assert "(1.10 images/s)" in text and "3.99 GFLOP/s at batch 1, 4.49 at batch 4" in text
    assert "overlap, so on this run the difference is within the spread" in text
    assert "batching pays" not in text and "not measurably" in text, "a gain within the spread is no finding"
    assert "within the spread" not in answers.batching_throughput(row(1, 10), row(64, 320), device="cpu", threads=2)
