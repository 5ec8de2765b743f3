"""Lab 1's generated answers: each a sentence read from the measured rows; a reason is a finding only when the
run measured it, otherwise it is worded as the expected reason. The sweep sentences are in ``sweep_answers``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def crop_vs_resize(resize_acc: float, crop_acc: float, original_acc: float, *, size: int,
                   ink_outside: float) -> str:
    """Resizing against center-cropping to ``size`` pixels (test accuracies as fractions); ``ink_outside`` is the
    measured share of the test images' ink outside the central ``size`` x ``size`` window."""
    head = (f"At {size}x{size} pixels, resizing keeps **{resize_acc:.2%}** test accuracy and cropping "
            f"**{crop_acc:.2%}** (the original 28x28: {original_acc:.2%}). ")
    lost = f"a crop to {size}x{size} throws away {ink_outside:.0%} of the test images' ink (pixel intensity)"
    if resize_acc > crop_acc:
        why = f"Resizing wins: it keeps the whole digit at lower detail, while {lost}."
    elif crop_acc > resize_acc:
        why = f"Cropping wins here although {lost}: the middle of the image carries enough of the digit."
    else:
        why = f"Neither wins at this precision; {lost}."
    return head + why + f" Both cut the first layer's MACs by the same factor ({(28 / size) ** 2:.0f}x fewer input pixels)."


def baseline_fit(history: Any, *, margin: float = 0.005) -> str:
    """Train, validation and test accuracy after the last epoch of ``history`` (rows with ``train_acc``,
    ``val_acc``, ``test_acc`` as fractions) and whether train is above validation by more than ``margin``."""
    last = history.iloc[-1]
    gap = last.train_acc - last.val_acc
    head = (f"After {len(history)} epoch{'' if len(history) == 1 else 's'} the baseline reaches **{last.test_acc:.2%}** test accuracy "
            f"(validation {last.val_acc:.2%}, train {last.train_acc:.2%}). ")
    if gap > margin:
        return head + (f"Train accuracy is above validation by {gap:.2%}: the model starts to fit the training set "
                       "more than new data.")
    return head + ("Train accuracy (averaged while the model was still learning) is not above validation accuracy "
                   f"by more than {margin:.1%}: no sign of overfitting yet.")


def macs_per_parameter(macs: int, params: int) -> str:
    """One inference's MACs (per example) against the parameter count of an MLP."""
    ratio = macs / params
    head = (f"One inference costs **{macs:,} MACs** = {2 * macs / 1e6:.2f} MFLOPs against {params:,} parameters "
            f"({ratio:.4f} MACs per parameter). ")
    if ratio <= 1:
        return head + ("Almost exactly one MAC per weight, because every weight of an MLP is used once per example; "
                       f"the {params - macs:,} parameters without a MAC are the biases, which only add.")
    return head + "More than one MAC per parameter: some weights are used more than once per example."


def training_and_latency(epoch_times_s: Any, trace_ms: Any) -> str:
    """Training seconds per epoch, and the per-example latency trace (ms, first entry the cold call) as a
    median with p10/p90 over the warm calls and the cold call against them."""
    epoch_times_s, trace_ms = np.asarray(epoch_times_s, float), np.asarray(trace_ms, float)
    warm = trace_ms[1:]
    median, p10, p90 = np.median(warm), np.percentile(warm, 10), np.percentile(warm, 90)
    head = (f"Training took **{epoch_times_s.mean():.1f} s per epoch** on average ({epoch_times_s.sum():.1f} s in "
            f"all). One example takes a median **{median:.3f} ms** (p10 {p10:.3f} ms, p90 {p90:.3f} ms) over "
            f"{len(trace_ms):,} examples. The first, cold call took **{trace_ms[0]:.3f} ms**, "
            f"{trace_ms[0] / median:.1f}x the median")
    if trace_ms[0] > p90:
        return head + (": the expected reason is one-off costs (choosing and preparing kernels for a new input "
                       "shape, allocating memory, filling caches) that later calls reuse. This is why every latency "
                       "in this lab is measured after warm-up runs and reported as a median with a spread.")
    return head + (f", within the warm calls' p90: here the first call paid no visible one-off cost. Every latency "
                   "in this lab is still measured after warm-up runs and reported as a median with a spread.")


def latency_trace_reading(trace_ms: Any, *, spike_factor: float = 2.0) -> str:
    """Spikes (warm calls above ``spike_factor`` x the median) and drift (median of the first against the last
    tenth of the warm calls, against the p10-p90 spread) of a per-example latency trace in ms."""
    warm = np.asarray(trace_ms, float)[1:]
    median = float(np.median(warm))
    spread = float(np.percentile(warm, 90) - np.percentile(warm, 10))
    spikes = np.flatnonzero(warm > spike_factor * median)
    if len(spikes):
        worst = int(np.argmax(warm))
        spike = (f"{len(spikes):,} of the {len(warm):,} warm calls ({len(spikes) / len(warm):.1%}) took more than "
                 f"{spike_factor:g}x the median; the largest, {warm[worst]:.3f} ms ({warm[worst] / median:.1f}x), was "
                 f"example {worst + 1:,} of the trace. The expected reason for such outliers is the machine, not the "
                 "model: another "
                 "process or an interrupt taking the core for a moment.")
    else:
        spike = f"No warm call took more than {spike_factor:g}x the median: the trace has no spikes."
    tenth = len(warm) // 10
    if tenth < 5:
        return spike + f" The trace is too short ({len(warm)} warm calls) to read a drift from its tenths."
    first, last = float(np.median(warm[:tenth])), float(np.median(warm[-tenth:]))
    tenths = f"the median of the first tenth of the warm calls is {first:.3f} ms, of the last tenth {last:.3f} ms"
    if abs(last - first) <= spread:
        drift = f"No drift: {tenths}, equal within the p10-p90 spread ({spread:.3f} ms)."
    else:
        direction = "slower" if last > first else "faster"
        drift = (f"The trace drifts {direction}: {tenths}, a difference beyond the p10-p90 spread ({spread:.3f} ms). "
                 "The expected reasons are the clock frequency (turbo or thermal throttling) and other load "
                 "changing during the run.")
    return f"{spike} {drift}"


def batch_size_effect(small: Any, large: Any) -> str:
    """Training time, step time, per-example inference, accuracy, parameters and MACs at the smallest
    (``small``) and largest (``large``) batch size (rows of the batch-size sweep)."""
    ratio = int(large.batch_size // small.batch_size)
    steps = (f"Training on the same {small.train_examples:,.0f} examples took **{small.train_time_s:.1f} s** at batch "
             f"{small.batch_size:.0f} ({small.train_steps:,.0f} steps) and **{large.train_time_s:.1f} s** at batch "
             f"{large.batch_size:.0f} ({large.train_steps:,.0f} steps). A step at batch {small.batch_size:.0f} takes "
             f"{small.train_step_ms:.2f} ms against {large.train_step_ms:.2f} ms at batch {large.batch_size:.0f}, ")
    if large.train_step_ms < ratio * small.train_step_ms:
        steps += (f"less than {ratio}x: the expected reason is that every step reads and updates every weight, "
                  "whatever its batch.")
    else:
        steps += f"not less than {ratio}x: here a step's cost grows with its batch."
    per_example = (f" Per example, inference at batch {large.batch_size:.0f} costs "
                   f"{large.batch_latency_per_example_ms:.4f} "
                   f"ms against {small.batch_latency_per_example_ms:.4f} ms at batch {small.batch_size:.0f}")
    if large.batch_latency_per_example_ms < small.batch_latency_per_example_ms:
        per_example += (": the large batch is cheaper per example, as expected when each weight read serves many "
                        "examples.")
    else:
        per_example += ": the large batch is not cheaper per example on this machine."
    return (steps + per_example + f" Test accuracy: {small.test_acc:.2%} at batch {small.batch_size:.0f} vs "
            f"{large.test_acc:.2%} at batch {large.batch_size:.0f}. Parameters stay at {large.params:,.0f}; "
            "MACs per batch "
            f"grow with the batch ({large.batch_macs:,.0f} at batch {large.batch_size:.0f}).")


def layer_memory(layers: Any, human_bytes: Any) -> str:
    """Weight and one-example activation memory from a layer table (``layer``, ``weight_bytes``,
    ``activation_bytes``, ``output_dtype``); ``human_bytes`` formats a byte count."""
    heaviest = layers.loc[layers.weight_bytes.idxmax()]
    dtype = str(layers.output_dtype.iloc[-1]).replace("torch.", "")
    size = torch.empty(0, dtype=getattr(torch, dtype)).element_size()
    return (f"The weights take **{human_bytes(int(layers.weight_bytes.sum()))}** in all, "
            f"{heaviest.weight_bytes / layers.weight_bytes.sum():.0%} of it in `{heaviest.layer}`; the activations of "
            f"one example only {human_bytes(int(layers.activation_bytes.sum()))}. The outputs are {dtype}: {size} "
            "bytes per number. For a single example an MLP reads every weight for one multiply-add, so reading the "
            "weights is the expected cost; batching reuses each weight read across the batch, and section 11 "
            "measures whether that pays off here.")


def onnx_export(exported: dict[str, Any] | None, error: str = "") -> str:
    """The ONNX file written by ``labkit.export.export_onnx`` (its returned dict), or why there is none."""
    if exported is None:
        return (f"The ONNX export failed on this software stack ({error}); the rest of the lab does not need it. "
                "With a working `onnxscript`, the same call writes a file [Netron](https://netron.app) opens.")
    ops = ", ".join(f"{n} `{op}`" for op, n in exported["ops"].items())
    weights = (f"; its weights in `{exported['data_path'].name}`, {exported['data_bytes']:,} bytes, to keep beside "
               "it" if exported["data_path"] else "")
    return (f"The base MLP is exported to `{exported['path'].name}` (the graph, {exported['graph_bytes']:,} "
            f"bytes{weights}): "
            f"{exported['nodes']} nodes ({ops}). Open it at [netron.app](https://netron.app) (or `pip install "
            "netron; netron FILE`) and click a node to see its weight shapes.")
