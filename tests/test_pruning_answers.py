"""Lab 4's generated answers, each branch on crafted rows: stop reasons, no chosen model, a share above 1,
informative or uninformative norms, CUDA times, the classifier's inputs."""

import pandas as pd

from labkit.labs.pruning import answers
from labkit.models import CNN


def test_the_start_model_names_its_file_and_a_fallback_is_a_sentence_of_its_own():
    common = dict(model_name="cnn", params=1000, macs=5000, accuracy=0.98, dataset="mnist", test_images=10000,
                  layers=["conv1", "fc1"])
    lab2 = answers.start_model("Lab 2's best model (r/02/best_model.pt)", "r/02/best_model.pt", **common)
    assert lab2.startswith("Starting from **Lab 2's best model (r/02/best_model.pt)**: `"), "the path once"
    assert "fallback" not in lab2 and "98.00%** test accuracy on MNIST" in lab2 and "conv1, fc1" in lab2
    how = "the Lab 2 baseline architecture trained here for 5 epoch(s), because there is no Lab 2 best model at X"
    fallback = answers.start_model(how, "r/04/start_model.pt", **common)
    assert "**the Lab 2 baseline architecture trained here for 5 epoch(s)**" in fallback
    assert "**This is a fallback, not Lab 2's best model**: there is no Lab 2 best model at X." in fallback
    assert "(`labkit run 02 --dataset mnist`)" in fallback


def step(layer, n, *, kept=True, left=5, before=0.98, pruned=0.9, retrained=0.975):
    return {"layer": layer, "step": n, "kept": kept, "channels_left": left, "acc_before": before,
            "acc_pruned": pruned, "acc_retrained": retrained, "zeroing_drop": before - pruned,
            "pruning_drop": before - retrained}


def test_each_layer_says_why_it_stopped_in_the_handouts_words():
    steps = pd.DataFrame([step("conv1", 1, pruned=0.5), step("conv1", 2, kept=False, retrained=0.9),
                          step("conv2", 1, left=1),
                          step("fc1", 1, left=90), step("fc1", 2, left=89),
                          step("fc2", 1, left=50)])
    text = answers.layer_summary(steps, {"conv1": 6, "conv2": 2, "fc1": 91, "fc2": 51}, threshold=0.01, max_steps=2)
    conv1, conv2, fc1, fc2 = text.split("\n")
    assert conv1.startswith("- **conv1**: 1 of 6 channels removed; accuracy after the last kept step 97.50%")
    assert "step 2's pruning drop (8.00%) exceeded the threshold (1.00%), so that step was undone" in conv1
    assert "Largest zeroing drop (before pruning minus right after zeroing) 48.00%, at step 1" in conv1
    assert "that step's pruning drop (before pruning minus after retraining) was 0.50%" in conv1
    assert "one channel was left" in conv2
    assert "2 of 91 neurons removed" in fc1 and "the step cap was reached (max_steps = 2)" in fc1
    assert "the loop ended with channels left and no step over the threshold" in fc2


def test_a_layer_whose_first_step_failed_reports_the_accuracy_before_pruning():
    steps = pd.DataFrame([step("conv1", 1, kept=False, before=0.97, retrained=0.9)])
    text = answers.layer_summary(steps, {"conv1": 4}, threshold=0.01, max_steps=None)
    assert "0 of 4 channels removed; accuracy stays at 97.00% (no step kept)" in text


def test_structural_removal_keeps_every_number():
    sizes = pd.DataFrame({"model": ["start", "pruned"], "params": [1000, 250], "macs": [8000, 2000]})
    text = answers.structural_removal("cnn_small", 3e-6, sizes)
    assert "`cnn_small`" in text and "3.0e-06" in text and "**250** parameters instead of 1,000 (25%)" in text
    assert "**2,000** MACs per image instead of 8,000 (25%)" in text


def test_the_classifier_keeps_its_classes_and_its_matrix_shrinks_with_fc1():
    start = answers.linear_shapes(CNN((4, 4), hidden=(100,), image_size=28, num_classes=10))
    assert list(start) == ["fc1", "out"] and start["out"] == (10, 100)
    pruned = {"fc1": (60, 196), "out": (10, 60)}
    text = answers.classifier_inputs(start, pruned)
    assert text.startswith("The classifier `out` keeps all 10 outputs: they are the 10 classes")
    assert "Its inputs are fc1's 100 neurons: pruning them to 60 already shrank its weight matrix from 10×100 to " \
           "10×60, 1,010 → 610 parameters with the bias (60%)." in text
    same = answers.classifier_inputs(start, start)
    assert "removed none of them, so its weight matrix is unchanged at 10×100 (1,010 parameters" in same
    alone = answers.classifier_inputs({"out": (10, 400)}, {"out": (10, 300)})
    assert "Its inputs are the 400 flattened conv features: pruning them to 300" in alone


def candidate(name, flops, acc):
    return pd.Series({"name": name, "flops": flops, "acc_retrained": acc})


def test_the_chosen_model_or_none_or_the_start_model():
    text = answers.chosen_model(candidate("conv1 step 3", 500.0, 0.975), target_accuracy=0.97, start_flops=1000.0,
                                start_acc=0.98, model_name="cnn_small")
    assert "is **conv1 step 3** (`cnn_small`): 500 FLOPs per image, 50% of the start model's, at 97.50%" in text
    assert "Saved as `pruned_model.pt` for Lab 5." in text
    none = answers.chosen_model(None, target_accuracy=0.97, start_flops=1000.0, start_acc=0.96, best_acc=0.965)
    assert none == "No model keeps 97% test accuracy (the best candidate reaches 96.50%): nothing is saved for Lab 5."
    start = answers.chosen_model(candidate("start", 1000.0, 0.98), target_accuracy=0.97, start_flops=1000.0,
                                 start_acc=0.98)
    assert "is the start model itself: no pruned model keeps that accuracy" in start


def latency(name, batch, macs, median, spread=0.05):
    return {"name": name, "batch_size": batch, "macs": macs, "median_ms": median, "p10_ms": median * (1 - spread),
            "p90_ms": median * (1 + spread)}


def ratios(rows):
    from labkit.labs.pruning.analysis import with_ratios
    return with_ratios(pd.DataFrame(rows), "start")


def test_a_larger_batch_turning_macs_into_time_is_shown_by_the_per_call_cost_on_cuda():
    table = ratios([latency("start", 1, 1000, 1.0), latency("small", 1, 400, 0.9),
                    latency("start", 32, 1000, 4.0), latency("small", 32, 400, 2.0)])
    text = answers.macs_vs_time(table, device="cuda")
    assert "- **batch 1**: the model with the fewest MACs (`small`) has 40% of the start model's MACs and takes " \
           "90%" in text
    assert "Times are medians on CUDA. Batch 32 turns MACs into time better than batch 1." in text
    assert "1 ms per call at batch 1 and 4 ms at batch 32 (0.125 ms per image): most of a batch-1 call" in text
    assert "CPU" not in text


def test_a_small_saving_within_the_spread_is_called_noise_and_a_share_above_one_is_not_a_finding():
    table = ratios([latency("start", 1, 1000, 1.0, spread=0.01), latency("small", 1, 900, 0.85, spread=0.01),
                    latency("start", 32, 1000, 30.0), latency("small", 32, 900, 29.5)])
    text = answers.macs_vs_time(table, device="cpu")
    assert "Times are medians on CPU." in text and "the MAC saving is small (10%)" in text
    assert "Their p10-p90 ranges overlap" in text and "Timing noise is as large as the saving" in text
    assert "A share above 1 (batch 1)" in text and "the expected reason is the machine's load" in text


def test_a_small_saving_outside_the_spread_gives_noise_only_as_the_expected_reason():
    table = ratios([latency("start", 1, 1000, 1.0, spread=0.01), latency("small", 1, 900, 0.97, spread=0.01),
                    latency("start", 32, 1000, 30.0, spread=0.01), latency("small", 32, 900, 29.0, spread=0.01)])
    assert "The expected reason: a saving this small is near the timing noise." in answers.macs_vs_time(
        table, device="cpu")


def test_a_remainder_that_does_not_shrink_is_the_expected_reason_and_names_cuda_launches():
    table = ratios([latency("start", 1, 1000, 1.0), latency("small", 1, 300, 0.8),
                    latency("start", 32, 1000, 30.0), latency("small", 32, 300, 24.0)])
    text = answers.macs_vs_time(table, device="cuda:0")
    assert "At 30% of the MACs the model still takes 80%-80% of the time. The expected reason" in text
    assert "kernel launches" in text and "the time grows about in step with the images" in text


def test_savings_within_the_spread_at_every_batch_are_no_finding_and_no_batch_comparison():
    table = ratios([latency("start", 1, 1000, 0.219, spread=0.2), latency("small", 1, 960, 0.235, spread=0.2),
                    latency("start", 32, 1000, 1.68, spread=0.2), latency("small", 32, 960, 1.51, spread=0.2)])
    text = answers.macs_vs_time(table, device="cpu")
    assert text.count("Their p10-p90 ranges overlap") == 2
    assert "At every batch size the fewest-MAC model's time is within the start model's p10-p90 spread, so this run " \
           "measures no time saving from its 4% fewer MACs and cannot compare the batch sizes." in text
    assert "turns MACs into time better" not in text and "A share above 1" not in text
    one = ratios([latency("start", 1, 1000, 1.0), latency("small", 1, 900, 0.99)])
    assert "At batch 1 the fewest-MAC model's time is within the start model's p10-p90 spread" in answers.macs_vs_time(one, device="cpu")


def test_one_batch_size_or_no_pruned_model():
    one = ratios([latency("start", 1, 1000, 1.0), latency("small", 1, 300, 0.5)])
    assert "With one batch size the batch effect is not measured." in answers.macs_vs_time(one, device="cpu")
    alone = ratios([latency("start", 1, 1000, 1.0)])
    assert answers.macs_vs_time(alone, device="cpu").startswith("No pruned model was kept")


def test_the_heuristic_check_reads_informative_or_not_and_undefined_correlations():
    drops = pd.DataFrame({"channel": [0, 1, 2], "acc_drop": [0.01, 0.05, 0.002]})
    good = answers.heuristic_check(pd.Series({"l2": 0.8, "l1": 0.7, "random": 0.1}), drops, layer="conv2")
    assert good.startswith("On `conv2`, **L2** orders the channels best (Spearman +0.80)")
    assert "The norms are informative" in good and "largest single-channel drop is 5.00%, from channel 1." in good
    poor = answers.heuristic_check(pd.Series({"l2": 0.1, "l1": 0.05, "random": 0.2}), drops, layer="conv2")
    mine = answers.heuristic_check(pd.Series({"l2": 0.5, "l1": 0.4, "random": 0.0, "yours": 0.9}), drops, layer="c")
    assert "**yours** orders the channels best (Spearman +0.90)" in mine and "random +0.00, yours +0.90." in mine
    assert "**random** orders" in poor and "do not clearly beat the random baseline here. The expected reason" in poor
    nan = float("nan")
    flat = answers.heuristic_check(pd.Series({"l2": nan, "l1": nan, "random": nan}), drops.assign(acc_drop=0.0),
                                   layer="conv2")
    assert "undefined" in flat and "no ordering can be judged" in flat


def test_a_small_structural_saving_is_not_printed_as_100_percent():
    text = answers.structural_removal("cnn", 0.0, pd.DataFrame({"params": [74_278, 74_140], "macs": [9_000, 9_000]}))
    assert "instead of 74,278 (99.8%)" in text and "instead of 9,000 (100%)" in text
