import pandas as pd
import pytest
import torch

from labkit.labs.pruning import analysis as prune_analysis
from labkit.data import load_splits
from labkit.models import CNN
from labkit.train import evaluate

import torch_pruning  # noqa: F401  (a required dependency: a broken install fails here, never skips)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return CNN([3, 4], 3, hidden=[6]).eval()


def test_single_channel_drops_mask_one_channel_at_a_time(model, data_dir):
    test = load_splits("mnist", data_dir, seed=0).test
    drops = prune_analysis.single_channel_drops(model, "conv2", test)
    assert drops.channel.tolist() == [0, 1, 2, 3] and {"l2", "l1", "random"} <= set(drops.columns)
    _, base = evaluate(model, test)
    masked = CNN(**model.config())
    masked.load_state_dict(model.state_dict())
    with torch.no_grad():
        masked.conv2.weight[2] = 0
        masked.conv2.bias[2] = 0
    assert drops.acc_drop.iloc[2] == pytest.approx(base - evaluate(masked, test)[1])
    assert model.conv2.weight[2].ne(0).any(), "the model itself is never masked"


def test_heuristic_agreement_is_the_spearman_rank_correlation():
    drops = pd.DataFrame({"l2": [1, 2, 3, 4], "l1": [4, 3, 2, 1], "random": [2, 1, 4, 3],
                          "acc_drop": [0.01, 0.02, 0.05, 0.2]})
    agreement = prune_analysis.heuristic_agreement(drops)
    assert agreement["l2"] == pytest.approx(1.0) and agreement["l1"] == pytest.approx(-1.0)
    assert agreement["random"] == pytest.approx(0.6)


def test_latency_rows_time_every_model_at_every_batch_size(model):
    small = CNN([2, 2], 3, hidden=[4]).eval()
    rows = prune_analysis.latency_rows({"original": model, "pruned": small}, torch.zeros(1, 1, 28, 28),
                                       batch_sizes=(1, 4), warmup=0, repeats=4, rounds=2)
    assert list(zip(rows.name, rows.batch_size)) == [("original", 1), ("pruned", 1), ("original", 4), ("pruned", 4)]
    ratios = prune_analysis.with_ratios(rows, "original")
    assert ratios[ratios.name == "original"].macs_ratio.eq(1).all()
    pruned = ratios[ratios.name == "pruned"].iloc[0]
    assert pruned.gain_share == pytest.approx((1 - pruned.latency_ratio) / (1 - pruned.macs_ratio))


def test_cheapest_above_picks_the_fewest_macs_that_is_accurate_enough():
    runs = pd.DataFrame({"macs": [100, 60, 40], "acc_retrained": [0.95, 0.91, 0.80]})
    assert prune_analysis.cheapest_above(runs, 0.9).macs == 60
    assert prune_analysis.cheapest_above(runs, 0.99) is None
    assert prune_analysis.flops_table(runs).flops.tolist() == [200, 120, 80]
