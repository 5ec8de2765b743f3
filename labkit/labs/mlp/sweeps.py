"""The Lab 1 trial: train one MLP config on MNIST, count it and time it; and its sweeps."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from labkit import sweep as sweeps
from labkit.counting import count_macs, count_params, macs_to_flops
from labkit.data import load_splits
from labkit.models import MLP
from labkit.sysinfo import fingerprint_id
from labkit.timing import measure_latency
from labkit.train import fit, resolve_device, seed_everything

LAB = "01_mlp_sweeps"
# The Lab 1 baseline as a sweep config: 28x28 input, 3 hidden layers of 1024, batch 64.
MLP_BASELINE = {"input_size": 28, "input_mode": "resize", "depth": 3, "width": 1024, "batch_size": 64}


@dataclass(frozen=True)
class TrialSetup:
    """What stays fixed across Lab 1's trials (part of every run's resume key)."""

    dataset: str = "mnist"
    data_dir: str | None = None
    epochs: int = 2
    lr: float = 1e-3
    device: str = "auto"
    seed: int = 0
    train_limit: int | None = None
    test_limit: int | None = None
    latency_repeats: int = 100

    def key_fields(self) -> dict[str, Any]:
        """Fields recorded with each row: the setup (minus the data path) and the machine fingerprint."""
        fields = {"lab": LAB, **{k: v for k, v in asdict(self).items() if k != "data_dir"}}
        fields["device"] = str(resolve_device(self.device))
        fields["fingerprint_id"] = fingerprint_id()
        return fields


def mlp_trial(config: dict[str, Any], setup: TrialSetup) -> dict[str, Any]:
    """Train the MLP of ``config`` and return its metrics (accuracies as fractions, times in s and ms).

    ``latency_ms`` is the median latency of one example (batch 1); ``batch_latency_ms`` that of
    one batch of ``batch_size``; ``macs``/``flops`` are per example, ``batch_macs`` per batch;
    ``train_steps`` counts optimizer steps.
    """
    device = resolve_device(setup.device)
    data = load_splits(setup.dataset, setup.data_dir, size=config["input_size"], mode=config["input_mode"],
                       seed=setup.seed, train_limit=setup.train_limit, test_limit=setup.test_limit)
    seed_everything(setup.seed)
    model = MLP.uniform(data.in_features, config["depth"], config["width"], data.num_classes)
    history = fit(model, data, epochs=setup.epochs, batch_size=config["batch_size"], lr=setup.lr,
                  device=device, seed=setup.seed, verbose=False)
    last = history.iloc[-1]
    example = data.test.x[:1].to(device)
    batch = data.test.x[: config["batch_size"]].to(device)
    macs = count_macs(model, example)
    one = measure_latency(model, example, repeats=setup.latency_repeats, device=device)
    many = measure_latency(model, batch, repeats=max(10, setup.latency_repeats // 4), device=device)
    return {
        "params": count_params(model),
        "macs": macs,
        "flops": macs_to_flops(macs),
        "batch_macs": count_macs(model, batch),
        "train_examples": len(data.train),
        "train_steps": setup.epochs * data.train.num_batches(config["batch_size"]),
        "train_acc": float(last.train_acc),
        "val_acc": float(last.val_acc),
        "test_acc": float(last.test_acc),
        "test_loss": float(last.test_loss),
        "train_time_s": float(history.epoch_time_s.sum()),
        "epoch_time_s": float(history.epoch_time_s.mean()),
        "latency_ms": one.median_ms,
        "latency_p10_ms": one.p10_ms,
        "latency_p90_ms": one.p90_ms,
        "batch_latency_ms": many.median_ms,
        "batch_latency_p10_ms": many.p10_ms,
        "batch_latency_p90_ms": many.p90_ms,
        "throughput_per_s": many.throughput_per_s,
        "history": history,
    }


def run_mlp_sweep(configs: list[dict[str, Any]], setup: TrialSetup, results_path: str | Path,
                  *, desc: str = "sweep", tracking: bool = False,
                  executor: "str | sweeps.Executor | None" = None) -> pd.DataFrame:
    """Run (or resume) ``mlp_trial`` over ``configs``; return their rows read back from the results file.
    ``executor``: where trials run (:mod:`labkit.executors`; latencies are measured under its concurrency)."""
    return sweeps.run_sweep(configs, lambda config: mlp_trial(config, setup), results_path,
                            key_fields=setup.key_fields(), sweep=desc, tracking=tracking, executor=executor)


# Columns a sweep table shows, in order; units are in the names (accuracy as a fraction).
SUMMARY_COLUMNS = ["input_mode", "input_size", "depth", "width", "batch_size", "params", "macs", "flops",
                   "latency_ms", "latency_p10_ms", "latency_p90_ms", "epoch_time_s", "train_acc", "test_acc"]


def summary(runs: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Return the MLP sweep rows with the columns worth reading (knobs, cost, latency, accuracy)."""
    return sweeps.summary(runs, columns or SUMMARY_COLUMNS)
