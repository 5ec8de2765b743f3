"""Lab 3's generated answers: each a sentence read from the measured rows, true on any machine (any thread count,
CPU or CUDA). A reason the data do not show is given as the expected one, never as a finding."""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd

from labkit.counting import human_bytes
from labkit.prose import sentences


def models_built(pretrained: bool, *, max_tokens: int, d_model: int, n_heads: int, n_blocks: int, seq_len: int) -> str:
    """Which weights the two models carry, and BERT's shape against the sequence length this run uses."""
    weights = "pretrained checkpoints" if pretrained else "random (pretrained = False)"
    return (f"Weights: **{weights}**. BERT reads up to {max_tokens} tokens with d_model = {d_model}, {n_heads} heads "
            f"and {n_blocks} encoder blocks; this run uses sequences of **{seq_len}** tokens.")


def _workers(device: str, threads: int) -> str:
    """What runs the work: 'the GPU' on CUDA, else the torch threads this run used."""
    if device == "cuda":
        return "the GPU"
    return "the one CPU thread this run used" if threads == 1 else f"the {threads} CPU threads this run used"


def rate(value: float) -> str:
    """A throughput or GFLOP/s with the decimals its size needs (1,234 / 56.7 / 8.90)."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def per_example_spreads_overlap(one: Any, big: Any) -> bool:
    """Whether two latency rows' p10-p90 ranges per example (ms) overlap: their difference is within the spread."""
    low_one, high_one = one.p10_ms / one.batch_size, one.p90_ms / one.batch_size
    low_big, high_big = big.p10_ms / big.batch_size, big.p90_ms / big.batch_size
    return low_big <= high_one and low_one <= high_big


def batching_throughput(one: Any, big: Any, *, device: str, threads: int) -> str:
    """ResNet18 at the smallest and largest batch (rows with batch_size, median_ms, p10_ms, p90_ms,
    throughput_per_s, per_example_ms, gflops_per_s): what batching buys in throughput, and why, on this machine."""
    gain = big.throughput_per_s / one.throughput_per_s
    one_batch, big_batch = int(one.batch_size), int(big.batch_size)
    head = (f"At batch {one_batch} ResNet18 answers in **{one.median_ms:.1f} ms** ({rate(one.throughput_per_s)} "
            f"images/s); a batch of {big_batch} takes **{big.median_ms:,.0f} ms** ({rate(big.throughput_per_s)} "
            f"images/s, {gain:.2f}x the throughput of batch {one_batch}). Per image that is "
            f"{one.per_example_ms:.2f} ms against {big.per_example_ms:.2f} ms: ")
    if not 0.95 <= gain <= 1.05 and per_example_spreads_overlap(one, big):
        why = ("the two per-image p10-p90 ranges overlap, so on this run the difference is within the spread: "
               "batching does not measurably change the time per image.")
    elif gain > 1.05:
        why = "batching pays; the expected reason: each weight is reused across the batch."
    elif gain >= 0.95:
        why = (f"batching does not pay here; the expected reason: a single 224x224 image already gives every "
               f"convolution matrices large enough to keep {_workers(device, threads)} busy.")
    else:
        why = ("larger batches are *slower* per image here. A single 224x224 image already gives every convolution "
               "large matrices; the expected reason is that a large batch's activations no longer fit in the "
               + ("GPU's caches" if device == "cuda" else "CPU's caches") + " (section 4 counts them).")
    return (head + why + f" Achieved compute: {rate(one.gflops_per_s)} GFLOP/s at batch {one_batch}, "
            f"{rate(big.gflops_per_s)} at batch {big_batch} (the matmul peak is measured below).")


def one_batch_vs_batches_of_one(n_examples: int, one_batch_ms: float, batches_of_one_ms: float, *,
                                gmacs_per_image: float, activation_mib_per_image: float, device: str,
                                threads: int) -> str:
    """The same images as one batch and as back-to-back batches of one: which is faster, by how much, and why."""
    speedup = batches_of_one_ms / one_batch_ms
    head = (f"{n_examples:,} images take **{one_batch_ms:,.0f} ms** as one batch and **{batches_of_one_ms:,.0f} ms** "
            f"as {n_examples:,} back-to-back batches of 1, for the same {n_examples:,} x {gmacs_per_image:.2f} GMACs: "
            f"the batches of 1 take **{speedup:.2f}x** the time of one batch. ")
    if speedup > 1.05:
        return head + ("Batching wins; the expected reason: each weight is read once for all the images, and the "
                       "kernels get larger, more efficient matrices. The price is latency: the first answer waits for "
                       "the whole batch.")
    if speedup < 0.95:
        batch_gib = activation_mib_per_image * n_examples / 1024
        return head + (f"Batching does not win here. One image's conv outputs take {activation_mib_per_image:.1f} MiB; "
                       f"{n_examples:,} images' take {batch_gib:.1f} GiB, which stream through main memory. The "
                       f"expected reason: a single image already keeps {_workers(device, threads)} busy, so the batch "
                       "gains nothing to pay for that traffic (and it delays the first answer).")
    return head + (f"Batching barely changes the total; the expected reason: a single 224x224 image already gives "
                   f"the convolutions matrices large enough to keep {_workers(device, threads)} busy; it still delays "
                   "the first answer.")


def achieved_vs_peak(model_gflops: float, peak_gflops: float, fractions: list[float], *, batch_size: int,
                     matrix_size: int) -> str:
    """ResNet18's achieved GFLOP/s against a large fp32 matmul's, from interleaved rounds (``fractions`` per round)."""
    median = statistics.median(fractions)
    head = (f"At batch {batch_size} ResNet18 achieves **{rate(model_gflops)} GFLOP/s**, {median:.0%} of the "
            f"**{rate(peak_gflops)} GFLOP/s** a {matrix_size}x{matrix_size} fp32 matmul reaches here (median of "
            f"{len(fractions)} interleaved rounds; per round {min(fractions):.0%} to {max(fractions):.0%}). ")
    if max(fractions) > 1:
        return head + ("One round exceeds the peak: the machine's load changed between the two measurements, so that "
                       "round's ratio is noise, not a bound.")
    return head + ("This run does not time the layers one by one, so the gap is not located here; the expected "
                   "reason is the work that is not one big GEMM: the first 7x7 convolution, the 3x3 ones with few "
                   "channels, batch norm, ReLU, pooling and residual adds, which move memory more than they compute.")


def resnet_counters(macs: dict[str, int]) -> str:
    """ResNet18's MACs per image and how the counters agree (``macs``: counter -> MACs, "torch", "analytic", "thop")."""
    torch_macs, analytic, extra = macs["torch"], macs["analytic"], macs["thop"] - macs["torch"]
    head = f"One image costs **{torch_macs / 1e9:.3f} GMACs** ({2 * torch_macs / 1e9:.2f} GFLOPs). "
    if analytic == torch_macs:
        agree = ("torch's counter and labkit's formulas agree exactly: both count the convolutions and the final "
                 "linear layer. ")
    else:
        agree = f"labkit's formulas count {analytic / torch_macs:.4f}x torch's counter. "
    if extra > 0:
        thop = (f"thop reports {extra:,} more ({extra / torch_macs:.2%}): it also books the element-wise work of the "
                "batch norms and the pooling, which is not a matrix product.")
    elif extra < 0:
        thop = f"thop reports {-extra:,} fewer ({-extra / torch_macs:.2%}): it misses part of the convolutions' work."
    else:
        thop = "thop reports the same count."
    return head + agree + thop


def _bytes(nbytes: float) -> str:
    return human_bytes(int(nbytes))


def conv_memory(convs: pd.DataFrame, *, batch_size: int) -> str:
    """The conv layers' weight and activation (output) bytes at ``batch_size``: which dominates first and last."""
    first, last = convs.iloc[0], convs.iloc[-1]
    head = (f"The {len(convs)} convolutions hold **{_bytes(convs.weight_bytes.sum())}** of weights and, at batch "
            f"{batch_size}, produce **{_bytes(convs.activation_bytes.sum())}** of outputs.")

    def layer(row: Any) -> str:
        more = "activations" if row.activation_bytes > row.weight_bytes else "weights"
        return (f"`{row.layer}` has {_bytes(row.weight_bytes)} of weights and {_bytes(row.activation_bytes)} of "
                f"activations (more {more})")

    early = first.activation_bytes > first.weight_bytes
    late = last.weight_bytes > last.activation_bytes
    if early and late:
        end = "Early layers move mostly activation bytes, late ones mostly weight bytes."
    elif early:
        end = (f"At batch {batch_size} activations outweigh weights even in the last layer: every layer moves more "
               "activation bytes than weight bytes.")
    elif late:
        end = f"At batch {batch_size} weights outweigh activations in both the first and the last layer."
    else:
        end = "Here the first layer moves more weights and the last more activations."
    return sentences(head, f"The first layer {layer(first)}; the last {layer(last)}.", end)


def memory_budget(estimate: pd.DataFrame, inference_peak: dict, training_peak: dict, *, batch_size: int) -> str:
    """Weights against activations in inference and training (``estimate``: phase, part, bytes; the peaks from
    ``memory.measured_peak``, bytes per profiler category), estimated and measured."""
    part = estimate.set_index(["phase", "part"]).bytes
    total = estimate.groupby("phase").bytes.sum()
    weights, act = part["inference", "weights"], part["inference", "activations"]
    by = ("CUDA's allocator" if "cuda" in str(inference_peak.get("method", "")) else "The profiler")
    infer = (f"At batch {batch_size}, inference needs an estimated **{_bytes(total['inference'])}**: "
             f"{_bytes(weights)} of weights and {_bytes(act)} of activations alive at once, so "
             + ("activations take more than the weights. " if act > weights else "the weights take more than the "
                "activations. ") + f"{by} measured a peak of **{_bytes(inference_peak['peak_total'])}**.")
    train = part["training"]
    kept, largest = train["activations"], train.drop("activations").idxmax()
    train_text = (f"Training needs an estimated **{_bytes(total['training'])}**, "
                  f"{total['training'] / total['inference']:.1f}x more (measured peak "
                  f"**{_bytes(training_peak['peak_total'])}**): ")
    measured = f"(measured {_bytes(training_peak.get('activation', 0))})"
    if kept > train.drop("activations").max():
        train_text += (f"the {_bytes(kept)} of activations kept for backward {measured} are its largest part, "
                       f"more than the {_bytes(train['weights'])} of weights.")
    else:
        train_text += (f"the {_bytes(kept)} of activations kept for backward {measured} are less than the "
                       f"{_bytes(train[largest])} of {largest}"
                       + ("" if largest == "weights" else ", yet more than the weights" if kept > train["weights"]
                          else f" and the {_bytes(train['weights'])} of weights") + ".")
    grads, grads_measured = train["gradients"], training_peak.get("gradient", 0)
    if grads_measured < grads:
        peak_when = (f"At the peak only {_bytes(grads_measured)} of the {_bytes(grads)} of gradients exist: the peak "
                     "falls in the backward pass, while activations are still held and gradients are still being made.")
    else:
        peak_when = (f"At the peak all {_bytes(grads)} of gradients exist ({_bytes(grads_measured)} measured): the "
                     "peak falls at the end of the backward pass or in the optimizer step.")
    return sentences(infer, train_text, peak_when)


_NAMES = {"resnet18": "ResNet18", "bert": "BERT"}
_WHY = {  # the expected reason each variant is faster; the run times it, it does not profile it
    "channels_last": "NHWC lets the convolution kernels read each pixel's channels contiguously",
    "compile": "inductor fuses the element-wise layers into fewer kernels, so less memory traffic",
    "int8_dynamic": ("int8 weights are a quarter of fp32's bytes and int8 products do more multiply-adds per "
                     "instruction"),
    "bf16_autocast": "bfloat16 halves the bytes of every operand and bf16 instructions do more multiply-adds each",
}


def speedup_summary(best: pd.DataFrame, speed: pd.DataFrame, *, tolerance: float) -> str:
    """Markdown: per model and batch the fastest variant within ``tolerance`` (``best`` from
    ``speedups.fastest_within``), then the variants faster but outside it and the ones not measured (``speed``)."""
    lines = []
    for r in best.itertuples():
        head = f"- **{_NAMES.get(r.model, r.model)}, batch {r.batch_size}**: "
        if r.fastest_variant == "eager":
            lines.append(head + "no variant is both faster and within tolerance: eager fp32")
            continue
        eager = speed[(speed.model == r.model) & (speed.batch_size == r.batch_size)].eager_ms.dropna()
        drift = eager.max() / eager.min() if len(eager) else 1.0
        if r.speedup <= max(drift, 1.05):
            close = (f"; eager fp32 itself took {eager.min():,.1f} to {eager.max():,.1f} ms across this run's trials "
                     f"({drift:.2f}x), so this gain is within the machine's noise" if drift > 1.05 else
                     f"; {r.speedup:.2f}x is a gain small enough to be timing noise")
        else:
            close = f"; the expected reason: {_WHY[r.fastest_variant]}" if r.fastest_variant in _WHY else ""
        lines.append(head + f"`{r.fastest_variant}`, {r.speedup:.2f}x faster than eager fp32; its largest output "
                     f"difference is {r.rel_diff:.1e} of the largest fp32 output" + close)
    text = f"Fastest variant whose output stays within {tolerance:.0%} of fp32:\n\n" + "\n".join(lines)
    measured = speed[speed.skipped.isna()]
    outside = measured[(measured.rel_diff > tolerance) & (measured.speedup > 1)]
    if not outside.empty:
        text += "\n\nFaster but outside the tolerance: " + ", ".join(
            f"`{r.variant}` ({r.model}, batch {r.batch_size}: {r.speedup:.2f}x, output off by {r.rel_diff:.1%})"
            for r in outside.itertuples()) + "."
    for r in speed[speed.skipped.notna()].drop_duplicates("variant").itertuples():
        text += f"\n\nNot measured here: `{r.variant}` for {r.model}: {r.skipped}."
    return text


def _ops(ops: dict[str, int]) -> str:
    return ", ".join(f"{n} {op}" for op, n in ops.items())


def onnx_summary(onnx_files: dict[str, dict], *, n_layers: int) -> str:
    """What the exported ONNX graphs hold (``onnx_files``: model -> ``export.export_onnx``'s dict, with path, nodes,
    data_bytes, ops), for BERT with ``n_layers`` encoder blocks; a sentence saying so when export was off."""
    if not onnx_files:
        return "Export is off in this run (export_onnx = False): no ONNX file to open in Netron."
    parts = []
    if "resnet18" in onnx_files:
        ops = onnx_files["resnet18"]["ops"]
        norms = ops.get("BatchNormalization", 0)
        parts.append(f"**ResNet18** ({_ops(ops)}): a chain of `Conv`-`Relu` pairs with the residual `Add` of each "
                     "basic block, one `MaxPool`, the global average"
                     + (" (`ReduceMean`)" if "ReduceMean" in ops else "") + " and a final `Gemm`. " +
                     ("There is no `BatchNormalization` node: the exporter folded each batch norm into the convolution "
                      "before it (inference only)." if not norms else
                      f"The {norms} `BatchNormalization` nodes stay separate: this export did not fold them into "
                      "the convolutions."))
    if "bert" in onnx_files:
        ops = onnx_files["bert"]["ops"]
        matmuls, softmax = ops.get("MatMul", 0), ops.get("Softmax", 0)
        of_section_6 = (f", the {n_layers} blocks x 8 GEMMs of section 6 plus the QA head"
                        if matmuls == n_layers * 8 + 1 else "")  # 6 weight + 2 attention GEMMs per block, + QA head
        per_block = " (one per block)" if softmax == n_layers else ""
        others = [f"{softmax} `Softmax`{per_block}"] + [f"`{op}`" for op in ("LayerNormalization", "Gelu") if op in ops]
        parts.append(f"**BERT** ({_ops(ops)}): {matmuls} `MatMul` nodes{of_section_6}, with `Reshape`/`Transpose` "
                     f"splitting heads, {', '.join(others[:-1]) + ' and ' if len(others) > 1 else ''}{others[-1]}. "
                     "Click a node in Netron to see its weight shapes.")
    files = ", ".join(f"`{f['path'].name}` ({f['nodes']} nodes, weights {_bytes(f['data_bytes'])} in "
                      f"`{f['path'].name}.data`)" for f in onnx_files.values())
    return sentences(*parts, f"Files: {files}.")
