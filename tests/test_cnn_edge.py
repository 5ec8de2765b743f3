"""Lab 2's deployment answers: batch-size timing (002 Part 2 Q3), the ONNX sentence (002 §2.4), the MLflow table."""

from pathlib import Path

import pandas as pd
import torch
from torch import nn

from labkit.labs.cnn import edge, search
from labkit.tracking import Tracker


def _table(per_image_ms, spread=0.1, batches=(1, 256)):
    """A batch_latency_table for ``batches`` with the given ms per image and relative p10/p90 spread."""
    rows = []
    for batch, ms in zip(batches, per_image_ms):
        rows.append({"batch_size": batch, "repeats": 30, "median_ms": ms * batch, "p10_ms": ms * batch * (1 - spread),
                     "p90_ms": ms * batch * (1 + spread), "per_image_ms": ms, "per_image_p10_ms": ms * (1 - spread),
                     "per_image_p90_ms": ms * (1 + spread)})
    return pd.DataFrame(rows)


def test_batch_latency_table_has_median_and_spread_per_batch_size():
    table = edge.batch_latency_table(nn.Linear(4, 2), torch.randn(8, 4), batch_sizes=(1, 8), repeats=5, warmup=1)
    assert list(table.batch_size) == [1, 8] and list(table.repeats) == [5, 5]
    assert (table.p10_ms <= table.median_ms).all() and (table.median_ms <= table.p90_ms).all()
    assert (table.per_image_ms * table.batch_size).round(9).equals(table.median_ms.round(9))


def test_larger_batches_faster_per_image_is_a_finding_with_the_expected_reason():
    text = edge.batch_size_effect(_table([0.2, 0.01]), device="cuda", threads=None)
    assert "Timed on CUDA, 30 calls" in text
    assert "cut the time per image 20.0x" in text and "The expected reason" in text


def test_larger_batches_slower_per_image_and_thread_count_named():
    text = edge.batch_size_effect(_table([0.01, 0.05]), device="cpu", threads=16)
    assert "with 16 thread(s)" in text and "cost more per image (5.0x)" in text


def test_a_middle_batch_fastest_per_image_is_named():
    text = edge.batch_size_effect(_table([0.3, 0.05, 0.07], batches=(1, 32, 256)))
    assert "lowest median time per image is in between, at batch 32 (0.0500 ms)" in text
    assert "0.300 ms per image at batch 1 (p10-p90 " in text  # trailing zeros kept: 0.0400, not 0.04
    assert "in between" not in edge.batch_size_effect(_table([0.3, 0.1, 0.07], batches=(1, 32, 256)))


def test_overlapping_spreads_are_no_change():
    text = edge.batch_size_effect(_table([0.0100, 0.0105], spread=0.2))
    assert "does not change the time per image" in text


def test_onnx_sentence_names_the_file_relative_to_reports_and_netron(tmp_path: Path):
    exported = {"path": tmp_path / "02_cnn_sweeps" / "onnx" / "baseline_cnn.onnx", "graph_bytes": 2048,
                "data_bytes": 1024 * 1024, "nodes": 7, "ops": {"Conv": 2, "Relu": 3}}
    text = edge.onnx_sentence(exported, reports_root=tmp_path)
    assert "`02_cnn_sweeps/onnx/baseline_cnn.onnx` (1,026 KiB" in text
    assert "7 nodes: Conv x2, Relu x3" in text and "netron" in text.lower()


def test_mlflow_runs_table_reads_the_store_in_the_order_asked(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker("labkit/test", tmp_path / "results.csv", tracking_uri=uri)
    for key, acc in (("k1", 0.8), ("k2", 0.9)):
        run_id = tracker.start(key, {"model_name": "CNN", "lr": 0.01}, sweep="model grid")
        tracker.log(run_id, {"test_acc": acc})
        tracker.finish(run_id)
    table = search.mlflow_runs_table("labkit/test", uri, ["k2", "k1", "missing"])
    assert list(table["metrics.test_acc"]) == [0.9, 0.8]
    assert "params.model_name" in table and "params.init" not in table
    assert list(table.index) == [1, 2]


def _sweep_runs(pick_train_acc):
    return pd.DataFrame({"model_name": ["big", "mid", "small", "tiny"], "test_acc": [0.900, 0.895, 0.893, 0.80],
                         "train_acc": [0.95, 0.90, pick_train_acc, 0.80], "macs": [1000, 300, 100, 10],
                         "params": [500, 200, 50, 5]})


def test_edge_candidate_is_the_fewest_macs_within_one_point_of_the_best():
    assert edge.edge_candidate(_sweep_runs(0.90)).model_name == "small"


def test_edge_sentence_without_overfitting_needs_no_regularisation():
    runs = _sweep_runs(0.90)
    text = edge.edge_sentence(edge.edge_candidate(runs), runs)
    assert "those within 1 point of the best test accuracy" in text
    assert "**small** (89.30% test, 50 parameters, 100 MACs: 10.0x fewer MACs" in text
    assert "gap is +0.70%, at most 2 points: it does not overfit" in text


def test_edge_sentence_with_overfitting_says_regularise():
    runs = _sweep_runs(0.95)
    assert "above 2 points: it overfits" in edge.edge_sentence(edge.edge_candidate(runs), runs)


def test_edge_sentence_when_the_most_accurate_is_cheapest():
    runs = _sweep_runs(0.90).assign(macs=[1, 300, 100, 10])
    assert "itself the most accurate" in edge.edge_sentence(edge.edge_candidate(runs), runs)


def test_edge_sentence_reports_what_regularisation_changed():
    runs = _sweep_runs(0.95)
    regularized = pd.Series({"train_acc": 0.90, "test_acc": 0.89, "dropout": 0.5, "weight_decay": 1e-3})
    text = edge.edge_sentence(edge.edge_candidate(runs), runs, regularized)
    assert "dropout 0.5 and L2 weight decay 0.001" in text and "gap +5.70% -> +1.00%" in text
    assert text.endswith("regularisation narrowed the gap.")
    worse = regularized.copy()
    worse["train_acc"] = 0.99
    assert edge.edge_sentence(edge.edge_candidate(runs), runs, worse).endswith("did not narrow the gap.")
    fine = _sweep_runs(0.90)
    assert edge.edge_sentence(edge.edge_candidate(fine), fine, regularized).endswith("shown as a check only.")


def test_edge_sentence_without_a_hidden_layer_says_no_dropout():
    runs = _sweep_runs(0.95)
    regularized = pd.Series({"train_acc": 0.90, "test_acc": 0.89, "dropout": 0.0, "weight_decay": 1e-3})
    assert "L2 weight decay 0.001 (no dropout: it has no hidden layer; same data and epochs)" in \
        edge.edge_sentence(edge.edge_candidate(runs), runs, regularized)
