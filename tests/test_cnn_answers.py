"""Lab 2's generated answers, on crafted rows that take each branch: times compared only beyond the check interval
and printed at a precision that shows them (also a fast GPU's tiny times), each sweep's sentence, torchsummary's
estimate recomputed and checked against its printed text."""

import pandas as pd

from labkit.labs.cnn import answers, arch_answers, size_answers
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
    assert faster.startswith("Normalised inputs reached 96% sooner, in 56% of the training time raw pixels needed "
                             "(1.0 s vs 1.8 s)") and "The expected reason" in faster
    slower = normalisation_effect(run(time_to_96_s=1.8), run(time_to_96_s=1.0), checks_per_epoch=10)
    assert slower.startswith("Raw pixels reached 96% sooner, in 56% of the training time normalised inputs needed")
    same = normalisation_effect(run(time_to_96_s=1.02), run(time_to_96_s=1.05), checks_per_epoch=10)
    assert "within one check interval" in same and "does not change the training time" in same


def test_normalisation_runs_that_never_reached_the_target_say_what_they_cannot_show():
    never = float("nan")
    assert "cannot say" in normalisation_effect(run(time_to_96_s=never), run(time_to_96_s=never), checks_per_epoch=4)
    only = normalisation_effect(run(), run(time_to_96_s=never), checks_per_epoch=4)
    assert only.startswith("Only normalised inputs reached 96%") and "The expected reason" in only


# --- printed at a precision that shows them -------------------------------------------------------------------

def test_tiny_times_are_printed_with_their_significant_digits_not_as_zero():
    assert answers.one_time(0.0042) == "0.0042 s" and answers.one_time(12.3) == "12.3 s"
    assert answers.one_time(0.00031, "ms") == "0.00031 ms"
    assert two_times(0.00042, 0.00051) == ("0.0004 s", "0.0005 s")
    assert two_times(0.00042, 0.00044) == ("0.00042 s", "0.00044 s")


def test_a_chain_of_times_gets_the_decimals_that_tell_neighbours_apart():
    assert arch_answers.chain([0.0012, 0.0015, 0.0021]) == "0.0012 s → 0.0015 s → 0.0021 s"
    assert arch_answers.chain([1.2, 1.5, 2.1]) == "1.2 s → 1.5 s → 2.1 s"


def test_one_run_times_within_the_tolerance_are_the_same():
    assert arch_answers.change(1.00, 1.02).startswith("stays the same within 5%")
    assert arch_answers.change(0.001, 0.002) == "goes from 0.0010 s to 0.0020 s (2.00x)"
    # one significant digit printed 0.1 -> 0.3 ms beside 1.74x in a default run
    assert arch_answers.change(0.1478, 0.2572, unit="ms") == "goes from 0.15 ms to 0.26 ms (1.74x)"


# --- the baseline and its regularisation ----------------------------------------------------------------------

def baseline_row(**values):
    base = {"epochs_run": 10, "test_acc": 0.98, "train_acc": 0.99, "train_time_s": 0.004, "epoch_time_s": 0.0004,
            "inference_time_s": 0.0021, "inference_ms_per_image": 0.00021, "peak_gpu_memory_bytes": float("nan"),
            "time_to_90_s": 0.0003, "epochs_to_90": 0.3}
    return pd.Series({**base, **values})


def test_the_baseline_on_a_fast_gpu_prints_nonzero_times_and_its_memory():
    text = answers.baseline(baseline_row(peak_gpu_memory_bytes=2 ** 21), test_images=10_000, device_type="cuda",
                            curve="The baseline overfits.")
    assert "Training took **0.0040 s** (0.00040 s per epoch)" in text and "0.00021 ms per image" in text
    assert "on CUDA" in text and "of GPU memory" in text and text.endswith("The baseline overfits.")
    assert "GPU memory" not in answers.baseline(baseline_row(), test_images=10, device_type="cpu", curve="")


def test_time_to_90_says_never_at_first_check_or_when():
    assert "never reached 90%" in answers.time_to_90(baseline_row(time_to_90_s=float("nan")), at_first_check=False,
                                                     checks_per_epoch=10)
    first = answers.time_to_90(baseline_row(), at_first_check=True, checks_per_epoch=10)
    assert "after **0.00030 s**" in first and "at its first check" in first
    assert answers.time_to_90(baseline_row(time_to_90_s=2.5), at_first_check=False, checks_per_epoch=10).endswith(
        "(0.30 epochs).")


def dropout_rows(losses, gaps):
    return pd.DataFrame([run(dropout=d, test_loss=loss, test_acc=0.9, train_acc=0.9 + gap, time_to_90_s=0.5)
                         for d, loss, gap in zip([0.0, 0.5, 0.8], losses, gaps)])


def test_dropout_that_lowers_the_test_loss_and_narrows_the_gap_says_both():
    text = answers.dropout_effect(dropout_rows([0.3, 0.2, 0.25], [0.1, 0.05, 0.02]), checks_per_epoch=10)
    assert text.startswith("The lowest final test loss comes with dropout **0.5**")
    assert "dropout makes memorising the training set harder" in text and "does not measurably slow" in text


def test_dropout_that_helps_nothing_says_so():
    text = answers.dropout_effect(dropout_rows([0.2, 0.3, 0.4], [0.01, 0.02, 0.03]), checks_per_epoch=10)
    assert text.startswith("No dropout rate lowers") and "here dropout does not narrow it" in text


def test_weight_decay_and_learning_rates_name_the_best_and_the_failed_ones():
    plain = run(weight_decay=0.0, lr=0.01, test_loss=0.3, test_acc=0.9, train_acc=0.99, run_key="p", diverged=False)
    decay = pd.DataFrame([plain, run(weight_decay=1e-3, test_loss=0.2, test_acc=0.92, train_acc=0.95)])
    lrs = pd.DataFrame([plain, run(lr=0.1, test_acc=0.1, run_key="hi", diverged=True),
                        run(lr=0.001, test_acc=0.5, run_key="lo", diverged=False)])
    text = answers.decay_and_lr(decay, lrs, plain, verdicts={"lo": "stuck"})
    assert text.startswith("Weight decay **0.001** gives the lowest test loss") and "**0.01** reaches" in text
    assert "(90.00%); the others: lr 0.001: 50.00% (stuck at chance); lr 0.1: 10.00% (diverged)." in text
    alone = answers.decay_and_lr(decay, lrs[lrs.lr == 0.01], plain, verdicts={})
    assert alone.endswith("**0.01** reaches the best test accuracy (90.00%).")
    worse = pd.DataFrame([plain, run(weight_decay=1e-2, test_loss=0.4)])
    assert answers.decay_and_lr(worse, lrs, plain, verdicts={}).startswith("No weight decay lowers")


def test_the_normalisation_summary_says_which_run_reached_the_target_and_when():
    text = answers.normalisation_summary(run(time_to_96_s=0.0012, epochs_to_96=0.4, train_time_s=0.004, test_acc=0.9),
                                         run(time_to_96_s=float("nan"), epochs_to_96=float("nan"), train_time_s=0.0042,
                                             test_acc=0.8), checks_per_epoch=10)
    assert "first reached 96% train accuracy after **0.40 epochs (0.0012 s)**" in text
    assert "did **not reach 96%**" in text and "0.0040 s vs 0.0042 s" in text and "Only normalised inputs" in text


# --- the architecture sweeps and the search's winners ---------------------------------------------------------

def arch(varied, **values):
    base = {"varied": varied, "label": "x", "model_name": "CNN_x", "params": 1000, "macs": 10_000,
            "train_time_s": 1.0, "inference_ms_per_image": 0.01, "test_acc": 0.9, "test_loss": 0.3, "n_conv": 2,
            "conv1_kernel": 3, "batch_size": 32}
    return {**base, **values}


def test_the_filter_size_sweep_is_read_from_the_smallest_to_the_largest_kernel():
    runs = pd.DataFrame([arch("kernel size", conv1_kernel=k, params=p, macs=m, train_time_s=t,
                              inference_ms_per_image=i, test_acc=a)
                         for k, p, m, t, i, a in [(7, 3000, 49_000, 0.0031, 0.0009, 0.91),
                                                  (3, 1000, 9_000, 0.0012, 0.0002, 0.90),
                                                  (5, 2000, 25_000, 0.0019, 0.0005, 0.92)]])
    text = arch_answers.kernel_effect(runs)
    assert text.startswith("Filter size 3x3 → 5x5 → 7x7")
    assert "parameters 1,000 → 2,000 → 3,000, MACs 9,000 → 25,000 → 49,000 (5.4x)" in text
    assert "training time 0.0012 s → 0.0019 s → 0.0031 s" in text
    assert "0.00020 ms → 0.00050 ms → 0.00090 ms" in text
    assert "90.00% → 92.00% → 91.00% (+1.00 points from 3x3 to 7x7)" in text


def test_conv_blocks_say_what_they_do_to_training_and_inference_time():
    fewer = pd.DataFrame([arch("conv layers", n_conv=n, params=p, train_time_s=t, inference_ms_per_image=i)
                          for n, p, t, i in [(1, 5000, 0.0010, 0.0004), (2, 3000, 0.0020, 0.00041),
                                             (3, 2000, 0.0030, 0.0008)]])
    text = arch_answers.blocks_effect(fewer)
    assert "5,000 → 3,000 → 2,000 (each block's pooling shrinks" in text
    assert "training time goes from 0.0010 s to 0.0030 s (3.00x)" in text
    assert "inference time per image goes from 0.00040 ms to 0.00080 ms (2.00x)" in text
    more = fewer.assign(params=[1000, 2000, 3000], inference_ms_per_image=[0.0004, 0.0004, 0.00041])
    text = arch_answers.blocks_effect(more)
    assert "the added conv weights outweigh" in text and "inference time per image stays the same within 5%" in text
    mixed = fewer.assign(params=[3000, 2000, 4000])
    assert "they fall where a block's pooling" in arch_answers.blocks_effect(mixed)


def test_the_architecture_answer_joins_the_four_sweeps_and_flags_a_batch_that_did_not_learn():
    runs = pd.DataFrame([arch("channels", label="c8_16", macs=1000, inference_ms_per_image=0.001),
                         arch("channels", label="c32_64", macs=8000, inference_ms_per_image=0.004, test_acc=0.92),
                         arch("batch size", batch_size=1, train_time_s=0.0031, test_loss=2.3, test_acc=0.1),
                         arch("batch size", batch_size=64, train_time_s=0.0004)])
    text = arch_answers.architecture_effects(runs, train_examples=48_000)
    assert text.startswith("More channels (c8_16 → c32_64) multiply the MACs by 8.0x")
    assert "training time stays the same within 5%" in text and "+2.00 points" in text
    assert "Batch 1 trains in 0.0031 s against 0.0004 s at batch 64" in text and "48,000 vs 750 steps" in text
    assert "ends at chance" in text and "Filter size" not in text
    learned = arch_answers.batch_effect(runs[runs.varied == "batch size"].assign(test_loss=0.3), train_examples=64)
    assert "ends at chance" not in learned and learned.endswith("do not depend on the batch size.")


def grid_row(name, acc, time_s, **values):
    return {"model_name": name, "label": name, "test_acc": acc, "time_to_90_s": time_s, "train_test_gap": 0.01,
            "params": 1234, "batch_size": 32, **values}


def test_the_model_grid_names_its_most_accurate_and_fastest_model_and_those_without_a_time():
    runs = pd.DataFrame([grid_row("A", 0.95, 0.0031), grid_row("B", 0.93, 0.0012), grid_row("C", 0.5, float("nan"))])
    text = arch_answers.best_model(runs, test_images=10_000, first_check_note="", sweep_epochs=2)
    assert "most accurate model is **A**" in text and "fastest to 90% train accuracy is **B** (0.0012 s" in text
    assert "1 configuration(s) never reached 90% within 2 epoch(s)" in text


def test_the_training_grid_reads_the_median_time_per_batch_size_or_says_none_reached_90():
    runs = pd.DataFrame([grid_row("a", 0.95, 0.0031, batch_size=16), grid_row("b", 0.93, 0.0012, batch_size=64),
                         grid_row("c", 0.94, 0.0014, batch_size=64)])
    text = arch_answers.best_training(runs, test_images=10_000, first_check_note="Note.", sweep_epochs=2)
    assert "best training knobs are **a**" in text and "16: 0.0031 s, 64: 0.0013 s." in text and text.endswith("Note.")
    none = arch_answers.best_training(runs.assign(time_to_90_s=float("nan")), test_images=10, first_check_note="",
                                      sweep_epochs=2)
    assert none.endswith("No run reached 90% train accuracy within 2 epoch(s).")


# --- what the baseline costs ----------------------------------------------------------------------------------

def small_cnn():
    import torch
    from torch import nn
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))


def test_the_counters_answer_says_whether_they_agree_and_where_the_macs_are():
    import torch
    from labkit import counting
    model = small_cnn()
    layers = counting.layer_table(model, torch.zeros(1, 1, 28, 28))
    total = counting.count_macs(model, torch.zeros(1, 1, 28, 28), method="analytic")
    params = counting.count_params(model)
    text = size_answers.counters_and_bias(layers, {"analytic": total, "torch": total}, params=params)
    assert text.startswith(f"All 2 counters agree on **{total:,} MACs**") and f"{4 * 26 * 26:,} more" in text
    assert "a conv weight is reused at every position" in text
    assert size_answers.counters_and_bias(layers, {"analytic": total, "torch": total + 1}, params=params).startswith(
        "The counters disagree")


def test_torchsummary_estimated_total_size_is_input_plus_twice_the_outputs_plus_params(tmp_path):
    import contextlib
    import io
    import re
    import torch
    import torchsummary
    from labkit import counting, models, sizes
    for model in (small_cnn(), models.CNN()):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            torchsummary.summary(model, (1, 28, 28), device="cpu")
        printed_mb = re.findall(r"^(.+) \(MB\): ([\d.]+)$", printed.getvalue(), re.M)
        theirs = {name: float(value) for name, value in printed_mb}
        layers = counting.layer_table(model, torch.zeros(1, 1, 28, 28))
        ours = size_answers.torchsummary_sizes(layers, params=counting.count_params(model), input_shape=(1, 28, 28))
        assert [round(v, 2) for v in ours.values()] == [theirs["Input size"], theirs["Forward/backward pass size"],
                                                        theirs["Params size"], theirs["Estimated Total Size"]]
    table = sizes.memory_vs_file(model, models.save_model(model, tmp_path / "m.pt"))
    text = size_answers.torchsummary_reconciled(layers, table, params=counting.count_params(model),
                                                input_shape=(1, 28, 28))
    assert f"Estimated Total Size, {theirs['Estimated Total Size']:.2f} MB" in text and "x2 for their gradients" in text
    assert size_answers.memory_vs_file(table).startswith("The weights take **")


def test_an_epoch_time_that_differs_between_the_normalisation_runs_is_not_called_the_same():
    same = normalisation_effect(run(time_to_96_s=1.0), run(epoch_time_s=1.02, time_to_96_s=1.8), checks_per_epoch=10)
    assert "An epoch costs the same within 5% either way (1.00 s vs 1.02 s)" in same
    never = float("nan")
    loaded = normalisation_effect(run(epoch_time_s=7.4, time_to_96_s=never), run(epoch_time_s=19.4, time_to_96_s=never),
                                  checks_per_epoch=10)
    assert "An epoch took 7.4 s normalised vs 19.4 s raw" in loaded and "the expected reason" in loaded


def test_torchsummary_params_term_is_set_apart_from_a_size_table_that_also_counts_buffers():
    import torch
    from labkit import counting
    layers = counting.layer_table(small_cnn(), torch.zeros(1, 1, 28, 28))
    params = counting.count_params(small_cnn())
    table = pd.DataFrame({"bytes": [4 * params + 64, 4 * params + 2000]})
    text = size_answers.torchsummary_reconciled(layers, table, params=params, input_shape=(1, 28, 28))
    assert "also counts buffers" in text and "(0.00 MB: 3,136 bytes)" in text


def test_the_final_model_names_its_knobs_accuracy_and_file():
    row = pd.Series({"model_name": "CNN_c8", "test_acc": 0.9876, "epochs_run": 5})
    knobs = {"init": "xavier_uniform", "batch_size": 32, "lr": 0.01, "momentum": 0.9}
    assert answers.final_model(row, knobs, saved_as="02/best_model.pt") == (
        "**CNN_c8** (xavier_uniform, batch 32, lr 0.01, momentum 0.9) reaches **98.76%** test accuracy after 5 epochs; "
        "saved to `02/best_model.pt` (config + weights).")
    assert "after 1 epoch;" in answers.final_model(row.copy().replace(5, 1), knobs, saved_as="x")
