"""What makes inference faster, measured: each variant of a model timed against eager fp32 in the same trial
(interleaved rounds), with the largest output difference it causes.

Variants: ``channels_last`` (convolutions read NHWC; ResNet18 only), ``compile`` (``torch.compile``,
inductor), ``int8_dynamic`` (``quantize_dynamic`` of the ``nn.Linear`` layers: int8 weights, activations
quantised on the fly; BERT only), ``bf16_autocast`` (matmuls and convolutions in bfloat16, where the
hardware has bf16 instructions). A variant that cannot run here is a row with ``skipped`` saying why.
"""

from __future__ import annotations

import copy
import statistics
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import pandas as pd

import torch
from torch import nn

from labkit.compiling import compile_model
from labkit.labs.inference.latency import InferenceSetup, config_inputs, latency_configs, whole_numbers
from labkit.sweep import run_sweep
from labkit.timing import measure_latency
from labkit.train import resolve_device

VARIANTS = ("channels_last", "compile", "int8_dynamic", "bf16_autocast")
ONLY_FOR = {"channels_last": "resnet18", "int8_dynamic": "bert"}  # a variant that only makes sense for one model


def bf16_support(device: torch.device) -> str | None:
    """Return None if bf16 matmuls run natively on ``device``, else the reason they do not."""
    if device.type == "cuda":
        return None if torch.cuda.is_bf16_supported() else "this GPU has no bf16 support"
    if device.type != "cpu":
        return f"bf16 autocast is not measured on {device.type}"
    from labkit.sysinfo import cpu_flags

    flags = cpu_flags()
    if any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16")):
        return None
    return "this CPU has no avx512_bf16/amx_bf16 instructions: bf16 would be emulated (slower than fp32)"


def skip_reason(variant: str, model_name: str, device: torch.device) -> str | None:
    """Return why ``variant`` is not measured for ``model_name`` on ``device``, or None when it is."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: choose from {list(VARIANTS)}")
    if ONLY_FOR.get(variant, model_name) != model_name:
        return {"channels_last": "channels-last is a convolution memory layout; BERT has no convolutions",
                "int8_dynamic": "dynamic int8 quantisation targets nn.Linear layers; ResNet18's work is in its "
                                "convolutions"}[variant]
    if variant == "int8_dynamic" and device.type != "cpu":
        return "dynamic int8 quantisation runs on CPU only"
    if variant == "bf16_autocast":
        return bf16_support(device)
    return None


def _build_variant(variant: str, model: nn.Module, inputs: tuple[torch.Tensor, ...],
                   device: torch.device) -> tuple[Callable[[], Any], float]:
    """Return (a call running the variant on its inputs, seconds spent building it incl. the first call)."""
    start = time.perf_counter()
    if variant == "channels_last":
        fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
        fast_inputs = tuple(x.contiguous(memory_format=torch.channels_last) for x in inputs)
        call = lambda: fast(*fast_inputs)  # noqa: E731
    elif variant == "compile":
        compiled = compile_model(model)
        call = lambda: compiled(*inputs)  # noqa: E731
    elif variant == "int8_dynamic":
        with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao
            warnings.simplefilter("ignore")
            quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)
        call = lambda: quantized(*inputs)  # noqa: E731
    else:
        def call():
            with torch.autocast(device.type, dtype=torch.bfloat16):
                return model(*inputs)
    with torch.inference_mode():
        call()  # the first call compiles / quantises caches: counted as build time, not latency
    return call, time.perf_counter() - start


def _outputs(value: Any) -> list[torch.Tensor]:
    return [value] if isinstance(value, torch.Tensor) else [t for t in value if isinstance(t, torch.Tensor)]


def max_abs_diff(reference: Any, other: Any) -> float:
    """Return the largest absolute difference between two outputs (a tensor or a tuple of tensors), in fp32."""
    return max(float((a.float() - b.float()).abs().max()) for a, b in zip(_outputs(reference), _outputs(other)))


def speedup_trial(config: dict[str, Any], setup: InferenceSetup, *, rounds: int = 3) -> dict[str, Any]:
    """Time ``config["variant"]`` and eager fp32 in ``rounds`` interleaved rounds of ``setup.repeats // rounds``
    calls each; return both medians (ms), ``speedup`` (eager / variant), ``max_abs_diff``, ``rel_diff`` (over
    the largest eager output), ``build_s``, or ``skipped`` with the reason."""
    device = resolve_device(setup.device)
    reason = skip_reason(config["variant"], config["model"], device)
    if reason is not None:
        return {"skipped": reason}
    model = setup.model(config["model"])
    inputs = tuple(t.to(device) for t in config_inputs(config, setup.seed))
    variant, build_s = _build_variant(config["variant"], model, inputs, device)
    with torch.inference_mode():
        reference, output = model(*inputs), variant()
    per_round = max(1, setup.repeats // rounds)
    eager_ms, variant_ms = [], []
    for _ in range(rounds):
        eager_ms += measure_latency(model, inputs, warmup=1, repeats=per_round, device=device).samples_ms
        variant_ms += measure_latency(lambda: variant(), (), warmup=1, repeats=per_round).samples_ms
    eager, fast = statistics.median(eager_ms), statistics.median(variant_ms)
    diff = max_abs_diff(reference, output)
    scale = max(float(t.abs().max()) for t in _outputs(reference))
    return {"skipped": None, "eager_ms": eager, "variant_ms": fast, "speedup": eager / fast,
            "max_abs_diff": diff, "rel_diff": diff / scale if scale else diff, "build_s": build_s}


def speedup_configs(resnet_batch_sizes, bert_batch_sizes, seq_len: int,
                    variants=VARIANTS) -> list[dict[str, Any]]:
    """Return one config per (model, batch size, variant), variants checked against :data:`VARIANTS`."""
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}: choose from {list(VARIANTS)}")
    return [{**config, "variant": variant} for config in latency_configs(resnet_batch_sizes, bert_batch_sizes, seq_len)
            for variant in variants]


def run_speedup_sweep(configs: list[dict[str, Any]], setup: InferenceSetup, path: str | Path) -> pd.DataFrame:
    """Measure every variant config not yet in the results file at ``path`` (resumable); return their rows."""
    rows = run_sweep(configs, lambda config: speedup_trial(config, setup), path, key_fields=setup.key_fields(),
                     sweep="speedups")
    return whole_numbers(rows, ["batch_size", "image_size", "seq_len"])


def fastest_within(runs: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Return, per (model, batch size), the fastest measured variant whose ``rel_diff`` <= ``tolerance``, or
    eager (speedup 1) when none is both faster and close enough."""
    rows = []
    for (model, batch), group in runs.groupby(["model", "batch_size"], sort=False):
        ok = group[group.skipped.isna() & (group.rel_diff <= tolerance) & (group.speedup > 1)]
        best = ok.loc[ok.speedup.idxmax()] if len(ok) else None
        rows.append({"model": model, "batch_size": batch,
                     "fastest_variant": "eager" if best is None else best.variant,
                     "speedup": 1.0 if best is None else best.speedup,
                     "rel_diff": 0.0 if best is None else best.rel_diff})
    return pd.DataFrame(rows)
