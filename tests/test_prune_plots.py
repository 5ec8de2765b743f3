import pandas as pd

from labkit.labs.pruning import figures as prune_plots


def test_pruning_steps_plot_has_a_panel_per_layer_and_circles_rejected_steps():
    rows = pd.DataFrame({"layer": ["conv1", "conv1", "fc1"], "step": [1, 2, 1], "acc_before": [0.9, 0.9, 0.9],
                         "acc_pruned": [0.89, 0.8, 0.9], "acc_retrained": [0.9, 0.85, 0.9],
                         "kept": [True, False, True]})
    fig = prune_plots.pruning_steps_plot(rows, threshold=0.01)
    assert [ax.get_title() for ax in fig.axes] == ["conv1", "fc1"]
    circled = fig.axes[0].collections[0].get_offsets()
    assert circled.tolist() == [[2.0, 85.0]], "only the rejected step is circled"


def test_heuristic_check_plot_titles_carry_the_spearman_correlation():
    drops = pd.DataFrame({"channel": [0, 1], "l2": [1.0, 2.0], "l1": [2.0, 1.0], "random": [0.5, 0.4],
                          "acc_drop": [0.01, 0.02]})
    agreement = pd.Series({"l2": 1.0, "l1": -1.0, "random": -1.0})
    fig = prune_plots.heuristic_check_plot(drops, agreement, layer="conv2")
    assert [ax.get_title() for ax in fig.axes] == ["conv2, l2: Spearman +1.00", "conv2, l1: Spearman -1.00",
                                                   "conv2, random: Spearman -1.00"]


def test_latency_vs_macs_plot_has_a_panel_per_batch_size():
    ratios = pd.DataFrame({"name": ["a", "a"], "batch_size": [1, 32], "macs_ratio": [0.5, 0.5],
                           "latency_ratio": [0.9, 0.6]})
    fig = prune_plots.latency_vs_macs_plot(ratios)
    assert [ax.get_title() for ax in fig.axes] == ["batch 1", "batch 32"]
