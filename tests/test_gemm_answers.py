"""Lab 5's generated answers on crafted rows: every branch (fallback model, exactness, faster/slower/equal within
the spread on CPU and GPU, Triton vs cuBLAS, no CUDA)."""

import pandas as pd

from labkit.labs.gemm import answers
from labkit.labs.gemm.answers import where_the_time_goes
from labkit.labs.gemm.evaluation import NO_LAB4


def kinds(**rows):
    return pd.DataFrame(rows, index=["gemm", "convolution", "memory", "other"]).T


def test_im2col_layouts_pay_for_the_patch_matrix_and_kn2row_does_not():
    text = where_the_time_goes(kinds(original=[0.1, 0.4, 0.0, 0.1], naive=[0.3, 0.0, 1.5, 0.2],
                                     kn2row=[0.5, 0.0, 0.9, 0.1]))
    naive, kn2row = text.split("`naive`")[1].split("`kn2row`")
    assert "patch matrix is k·k times the input" in naive
    assert "builds no patch matrix" in kn2row and "k·k times the input" not in kn2row
    assert "0.600 ms" in text, "the original's total"


def test_a_compiled_rewrite_is_read_from_its_fused_kernels():
    text = where_the_time_goes(kinds(original=[0.1, 0.4, 0.0, 0.1], **{"nhwc + compile": [0.2, 0.0, 0.1, 0.6]}))
    assert "fused kernels" in text and "patch matrix" not in text


def test_an_uncompiled_rewrite_with_much_other_time_is_not_called_compiled():
    text = where_the_time_goes(kinds(original=[0.1, 0.4, 0.0, 0.1], kn2row=[0.5, 0.0, 0.1, 40.0]))
    assert "fused kernels" not in text and "compiled" not in text and "40.000 ms in other ops" in text


# --- the model, exactness and test-set sentences ---------------------------------------------------------------


def test_lab4s_model_is_named_with_its_file_and_no_fallback_sentence():
    text = answers.model_source("Lab 4's pruned model (r/04_pruning/pruned_model.pt)", "cnn_8_16", 12345, 678901)
    assert "**Lab 4's pruned model (r/04_pruning/pruned_model.pt)**" in text and "12,345 parameters" in text
    assert "678,901 MACs" in text and "fallback" not in text


def test_a_fallback_model_says_it_is_one_and_how_to_rewrite_lab4s():
    text = answers.model_source(f"a small model trained here, {NO_LAB4} r/04_pruning/pruned_model.pt", "cnn", 10, 20)
    assert "fallback" in text and "model_path" in text and "r/04_pruning/pruned_model.pt" in text


def exact_rows(*rows, largest_logit=1.0):
    table = pd.DataFrame(rows, columns=["rewrite", "max_abs_diff", "same_predictions", "examples"])
    return table.assign(max_rel_diff=table.max_abs_diff / largest_logit)


def test_exact_rewrites_differ_in_the_last_bits_as_expected():
    text = answers.exactness(exact_rows(("naive", 2e-6, 100, 100), ("nhwc", 4e-6, 100, 100)), tolerance=1e-5)
    assert "all 100 test images" in text and "**4.0e-06**, 4.0e-06 of the largest logit" in text and "expected" in text


def test_the_tolerance_is_relative_to_the_largest_logit():
    # 2.3e-5 on logits up to 20 (Lab 4's model in the 2026-12-05 chain) is rounding, not a wrong network
    large = answers.exactness(exact_rows(("nhwc", 2.4e-5, 100, 100), largest_logit=20.0), tolerance=1e-5)
    assert "not the same network" not in large and "**2.4e-05**, 1.2e-06 of the largest logit" in large
    small = answers.exactness(exact_rows(("nhwc", 2.3e-5, 100, 100), largest_logit=1.0), tolerance=1e-5)
    assert "`nhwc` is not the same network" in small


def test_bit_identical_logits_are_not_called_rounding():
    text = answers.exactness(exact_rows(("naive", 0.0, 100, 100)), tolerance=1e-5)
    assert "bit-identical" in text and "rounding" not in text


def test_a_wrong_rewrite_is_named_with_its_disagreements():
    text = answers.exactness(exact_rows(("naive", 1e-6, 100, 100), ("kn2row", 0.5, 97, 100)), tolerance=1e-5)
    assert "`kn2row` is not the same network" in text and "97 of 100" in text and "naive" not in text


def timing_rows(*rows):
    return pd.DataFrame(rows, columns=["model", "median_s", "ratio", "ratio_min", "ratio_max"])


def test_a_rewrite_faster_in_every_round_is_called_faster():
    text = answers.test_set_time(timing_rows(("original", 0.50, 1.0, 1.0, 1.0), ("naive", 0.90, 1.8, 1.7, 1.9),
                                             ("nhwc", 0.40, 0.8, 0.75, 0.85)), batch_size=32, rounds=5)
    assert "**0.500 s**" in text and "1.80x that with the textbook rewrite" in text and "**nhwc**" in text
    assert "**0.80x**" in text and "faster than the vendor convolution in every round" in text and "5 rounds" in text
    assert "0.75x–0.85x" in text


def test_a_rewrite_slower_in_every_round_is_called_slower_without_naive():
    text = answers.test_set_time(timing_rows(("original", 0.50, 1.0, 1.0, 1.0), ("nhwc", 0.60, 1.2, 1.1, 1.3)),
                                 batch_size=32, rounds=3)
    assert "still slower" in text and "textbook" not in text and "**1.20x**" in text


def test_ratios_on_both_sides_of_one_are_not_measurably_different_and_close_times_get_more_decimals():
    text = answers.test_set_time(timing_rows(("original", 0.0121, 1.0, 1.0, 1.0), ("nhwc", 0.0118, 0.98, 0.9, 1.05)),
                                 batch_size=32, rounds=3)
    assert "not measurably different" in text and "faster in some rounds" in text and "still slower" not in text
    assert "0.0121 s" in text and "0.0118 s" in text, "0.012 s twice would hide the difference"


def test_latency_per_batch_size_takes_each_verdict_from_the_p10_p90_ranges():
    latency = pd.DataFrame([("original", 1, 1.0, 0.9, 1.1), ("naive", 1, 3.0, 2.9, 3.2), ("nhwc", 1, 1.5, 1.4, 1.6),
                            ("original", 32, 10.0, 9.0, 11.0), ("nhwc", 32, 8.0, 7.0, 8.5),
                            ("original", 256, 50.0, 45.0, 55.0), ("nhwc", 256, 52.0, 48.0, 56.0)],
                           columns=["name", "batch_size", "median_ms", "p10_ms", "p90_ms"])
    text = answers.latency_by_batch(latency)
    one, thirty_two, big = text.split("at batch ")[1:]
    assert one.startswith("1 `nhwc` takes 1.500 ms") and "1.50x its time: slower than the original" in one
    assert "0.80x its time: faster than the original" in thirty_two
    assert "not measurably different from the original (their p10–p90 ranges overlap)" in big


# --- 003 Q21: is it faster on a GPU? ---------------------------------------------------------------------------

def gpu_files(tmp_path, model_rows, triton_rows=((512, 0.09, 0.08, 0.10, 0.06, 0.05, 0.07),)):
    models = pd.DataFrame(model_rows, columns=["model", "batch_size", "median_ms", "p10_ms", "p90_ms"])
    triton = pd.DataFrame(triton_rows, columns=["n", "triton_ms", "triton_p10_ms", "triton_p90_ms", "cublas_ms",
                                                "cublas_p10_ms", "cublas_p90_ms"])
    triton["triton_tflops"] = 2 * triton.n ** 3 / triton.triton_ms / 1e9
    triton["cublas_tflops"] = 2 * triton.n ** 3 / triton.cublas_ms / 1e9
    triton["max_abs_diff"] = 3e-4
    models.to_csv(tmp_path / "gpu_time.csv", index=False)
    triton.to_csv(tmp_path / "triton_vs_cublas.csv", index=False)
    return tmp_path / "gpu_time.csv", tmp_path / "triton_vs_cublas.csv"


def test_without_cuda_the_gpu_answer_says_skipped_and_why(tmp_path):
    text = answers.gpu_faster("no CUDA GPU on this machine (torch.cuda.is_available() is False)",
                              tmp_path / "absent.csv", tmp_path / "absent.csv")
    assert "skipped: no CUDA GPU on this machine" in text and "003 Q21" in text and "ms" not in text


def test_a_rewrite_faster_on_the_gpu_outside_the_spread_is_yes(tmp_path):
    text = answers.gpu_faster(None, *gpu_files(tmp_path, [("original", 32, 0.30, 0.29, 0.32),
                                                          ("naive", 32, 0.50, 0.48, 0.52),
                                                          ("nhwc", 32, 0.20, 0.19, 0.21)]))
    assert text.startswith("**Yes**") and "Per batch of 32, `nhwc` takes 0.200 ms (p10–p90 0.190–0.210)" in text and "0.67x" in text
    assert "`naive` takes 0.500 ms, 1.67x" in text


def test_a_rewrite_slower_on_the_gpu_is_no(tmp_path):
    text = answers.gpu_faster(None, *gpu_files(tmp_path, [("original", 32, 0.10, 0.09, 0.11),
                                                          ("nhwc", 32, 0.30, 0.28, 0.33)]))
    assert text.startswith("**No**") and "3.00x" in text and "naive" not in text


def test_gpu_times_within_each_others_spread_are_not_measurably_different(tmp_path):
    text = answers.gpu_faster(None, *gpu_files(tmp_path, [("original", 32, 0.1002, 0.09, 0.12),
                                                          ("nhwc", 32, 0.1001, 0.095, 0.11)]))
    assert text.startswith("**Not measurably**") and "0.1001 ms" in text and "0.1002 ms" in text


SLOWER = [("original", 32, 0.1, 0.09, 0.11), ("nhwc", 32, 0.3, 0.2, 0.4)]


def test_triton_slower_than_cublas_at_every_size_is_said_once(tmp_path):
    text = answers.gpu_faster(None, *gpu_files(tmp_path, SLOWER,
                                               [(512, 0.092, 0.09, 0.095, 0.059, 0.058, 0.06),
                                                (4096, 3.31, 3.3, 3.32, 2.73, 2.72, 2.74)]))
    assert "slower than cuBLAS at every size" in text and "n=4096: 3.310 vs 2.730 ms (1.21x" in text
    assert "3.0e-04" in text


def test_triton_mixed_verdicts_are_given_per_size(tmp_path):
    text = answers.gpu_faster(None, *gpu_files(tmp_path, SLOWER,
                                               [(512, 0.05, 0.04, 0.06, 0.059, 0.058, 0.06),
                                                (4096, 3.31, 3.3, 3.32, 2.73, 2.72, 2.74)]))
    assert "depending on the size" in text and "(0.85x, " in text and "equal within the spread" in text
    assert "TFLOP/s), slower" in text
