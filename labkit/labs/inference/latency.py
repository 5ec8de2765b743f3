"""Lab 3's measurements: latency and throughput per model and batch size as resumable result rows, and the
achieved GFLOP/s of a model against this machine's matmul peak, measured interleaved in the same run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from labkit.labs.inference import zoo
from labkit.counting import count_macs, count_params, macs_to_flops
from labkit.sweep import run_sweep
from labkit.sysinfo import fingerprint_id
from labkit.timing import compare_batched, matmul_gflops, measure_latency
from labkit.train import resolve_device

LAB = "03_resnet18_bert_inference"


@dataclass(frozen=True)
class InferenceSetup:
    """What stays fixed across Lab 3's measurements (part of every row's resume key)."""

    warmup: int = 3          # untimed calls before each measurement
    repeats: int = 20        # timed calls per measurement
    device: str = "auto"
    pretrained: bool = False
    resnet_weights: str = zoo.RESNET18_WEIGHTS
    bert_checkpoint: str = zoo.BERT_CHECKPOINT
    seed: int = 0

    def key_fields(self) -> dict[str, Any]:
        """Fields recorded with each row: the setup, the resolved device and the machine fingerprint."""
        fields = {"lab": LAB, **asdict(self), "device": str(resolve_device(self.device)),
                  "fingerprint_id": fingerprint_id()}
        if not self.pretrained:  # checkpoint names do not change a random-weight model
            del fields["resnet_weights"], fields["bert_checkpoint"]
        return fields

    def model(self, name: str) -> nn.Module:
        """Return model ``name`` as this setup builds it, on its device (built once per process)."""
        return cached_model(name, self.pretrained, str(resolve_device(self.device)),
                            self.resnet_weights, self.bert_checkpoint)


@lru_cache(maxsize=2)
def cached_model(name: str, pretrained: bool = False, device: str = "cpu", resnet_weights: str = zoo.RESNET18_WEIGHTS,
                 bert_checkpoint: str = zoo.BERT_CHECKPOINT) -> nn.Module:
    """Return Lab 3's model ``name`` on ``device``, built once per process (building BERT takes seconds)."""
    return zoo.build(name, pretrained, resnet_weights=resnet_weights, bert_checkpoint=bert_checkpoint).to(device)


def config_inputs(config: dict[str, Any], seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Return the inputs of a latency config: ``model``, ``batch_size`` and, for BERT, ``seq_len`` tokens."""
    return zoo.example_inputs(config["model"], config["batch_size"], seq_len=config.get("seq_len") or 128, seed=seed)


def latency_configs(resnet_batch_sizes, bert_batch_sizes, seq_len: int) -> list[dict[str, Any]]:
    """Return one config per (model, batch size): ResNet18 at 224x224 pixels, BERT at ``seq_len`` tokens."""
    zoo.check_seq_len(seq_len)
    return ([{"model": "resnet18", "batch_size": b, "image_size": zoo.IMAGE_SIZE, "seq_len": None}
             for b in resnet_batch_sizes]
            + [{"model": "bert", "batch_size": b, "image_size": None, "seq_len": seq_len} for b in bert_batch_sizes])


def latency_trial(config: dict[str, Any], setup: InferenceSetup) -> dict[str, Any]:
    """Time one (model, batch size) under ``torch.inference_mode``; return latency statistics (ms), throughput
    (examples/s), params, MACs per batch and achieved GFLOP/s (2 x MACs per median latency)."""
    device = resolve_device(setup.device)
    model = setup.model(config["model"])
    inputs = tuple(t.to(device) for t in config_inputs(config, setup.seed))
    stats = measure_latency(model, inputs, warmup=setup.warmup, repeats=setup.repeats, device=device)
    macs = count_macs(model, *inputs)
    row = {k: v for k, v in stats.as_dict().items() if k != "batch_size"}
    return {**row, "params": count_params(model), "macs": macs,
            "gflops_per_s": macs_to_flops(macs) / (stats.median_ms / 1e3) / 1e9}


def run_latency_sweep(configs: list[dict[str, Any]], setup: InferenceSetup, path: str | Path) -> pd.DataFrame:
    """Measure every config not yet in the results file at ``path`` (resumable); return their rows in order."""
    rows = run_sweep(configs, lambda config: latency_trial(config, setup), path, key_fields=setup.key_fields(),
                     sweep="latency")
    return whole_numbers(rows, ["batch_size", "image_size", "seq_len", "params", "macs"])


def whole_numbers(rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Return ``rows`` with ``columns`` as whole numbers (a results file mixing sweeps reads them as floats)."""
    return rows.astype({c: "Int64" for c in columns if c in rows.columns})


def achieved_vs_peak(model: nn.Module, inputs: tuple[torch.Tensor, ...], *, rounds: int = 3, repeats: int = 5,
                     matrix_size: int = 2048, device: torch.device | str | None = None) -> pd.DataFrame:
    """Return, per round, the model's achieved GFLOP/s on ``inputs`` and the fp32 matmul peak measured just
    before it (square ``matrix_size`` matrices): ``round``, ``model_gflops_per_s``, ``peak_gflops_per_s``,
    ``fraction_of_peak``. Interleaving makes both see the same machine load."""
    macs = count_macs(model, *inputs)
    rows = []
    for r in range(rounds):
        peak = matmul_gflops(matrix_size, repeats=repeats, device=device)
        stats = measure_latency(model, inputs, warmup=1, repeats=repeats, device=device)
        achieved = macs_to_flops(macs) / (stats.median_ms / 1e3) / 1e9
        rows.append({"round": r + 1, "model_gflops_per_s": achieved, "peak_gflops_per_s": peak,
                     "fraction_of_peak": achieved / peak})
    return pd.DataFrame(rows)


def batching_trial(config: dict[str, Any], setup: InferenceSetup) -> dict[str, Any]:
    """Time ``config["n_examples"]`` inputs of ``config["model"]`` as one batch vs as back-to-back batches of 1
    (median ms of ``setup.repeats`` rounds each); ``speedup`` = batches-of-1 time / one-batch time."""
    device = resolve_device(setup.device)
    model = setup.model(config["model"])
    (inputs, *_rest) = config_inputs({**config, "batch_size": config["n_examples"]}, setup.seed)
    if _rest:
        raise ValueError("batching_trial compares images: use model 'resnet18'")
    result = compare_batched(model, inputs, device=device, warmup=1, repeats=setup.repeats)
    return {k: v for k, v in result.items() if k != "n_examples"}


def run_batching(model: str, n_examples: int, setup: InferenceSetup, path: str | Path, *,
                 repeats: int = 5) -> pd.Series:
    """Measure (or read back) one batch of ``n_examples`` vs ``n_examples`` batches of 1, ``repeats`` times
    each; return its row."""
    setup = replace(setup, repeats=repeats)
    rows = run_sweep([{"model": model, "n_examples": n_examples, "image_size": zoo.IMAGE_SIZE}],
                     lambda config: batching_trial(config, setup), path, key_fields=setup.key_fields(),
                     sweep="batching", progress=False)
    return rows.iloc[0]
