"""Lab 3's generated answers: each a sentence read from the measured rows, true on any machine (any thread count,
CPU or CUDA). A reason the data do not show is given as the expected one, never as a finding."""

from __future__ import annotations

from typing import Any


def _workers(device: str, threads: int) -> str:
    """What runs the work: 'the GPU' on CUDA, else the torch threads this run used."""
    if device == "cuda":
        return "the GPU"
    return "the one CPU thread this run used" if threads == 1 else f"the {threads} CPU threads this run used"


def batching_throughput(one: Any, big: Any, *, device: str, threads: int) -> str:
    """ResNet18 at the smallest and largest batch (rows with batch_size, median_ms, throughput_per_s,
    per_example_ms, gflops_per_s): what batching buys in throughput, and why, on this machine."""
    gain = big.throughput_per_s / one.throughput_per_s
    head = (f"At batch {one.batch_size} ResNet18 answers in **{one.median_ms:.1f} ms** ({one.throughput_per_s:,.0f} "
            f"images/s); a batch of {big.batch_size} takes **{big.median_ms:,.0f} ms** ({big.throughput_per_s:,.0f} "
            f"images/s, {gain:.2f}x the throughput of batch {one.batch_size}). Per image that is "
            f"{one.per_example_ms:.2f} ms against {big.per_example_ms:.2f} ms: ")
    if gain > 1.05:
        why = "batching pays, as each weight is reused across the batch."
    elif gain >= 0.95:
        why = (f"batching does not pay here: a single 224x224 image already gives every convolution matrices large "
               f"enough to keep {_workers(device, threads)} busy.")
    else:
        why = ("larger batches are *slower* per image here. A single 224x224 image already gives every convolution "
               "large matrices; the expected reason is that a large batch's activations no longer fit in the "
               + ("GPU's caches" if device == "cuda" else "CPU's caches") + " (section 4 counts them).")
    return (head + why + f" Achieved compute: {one.gflops_per_s:.0f} GFLOP/s at batch {one.batch_size}, "
            f"{big.gflops_per_s:.0f} at batch {big.batch_size} (the matmul peak is measured below).")


def one_batch_vs_batches_of_one(n_examples: int, one_batch_ms: float, batches_of_one_ms: float, *,
                                gmacs_per_image: float, activation_mib_per_image: float, device: str,
                                threads: int) -> str:
    """The same images as one batch and as back-to-back batches of one: which is faster, by how much, and why."""
    speedup = batches_of_one_ms / one_batch_ms
    head = (f"{n_examples:,} images take **{one_batch_ms:,.0f} ms** as one batch and **{batches_of_one_ms:,.0f} ms** "
            f"as {n_examples:,} back-to-back batches of 1, for the same {n_examples:,} x {gmacs_per_image:.2f} GMACs: "
            f"the batches of 1 take **{speedup:.2f}x** the time of one batch. ")
    if speedup > 1.05:
        return head + ("Batching wins: each weight is read once for all the images, and the kernels get larger, more "
                       "efficient matrices. The price is latency: the first answer waits for the whole batch.")
    if speedup < 0.95:
        batch_gib = activation_mib_per_image * n_examples / 1024
        return head + (f"Batching does not win here. One image's conv outputs take {activation_mib_per_image:.1f} MiB; "
                       f"{n_examples:,} images' take {batch_gib:.1f} GiB, which stream through main memory. The "
                       f"expected reason: a single image already keeps {_workers(device, threads)} busy, so the batch "
                       "gains nothing to pay for that traffic (and it delays the first answer).")
    return head + (f"Batching barely changes the total: a single 224x224 image already gives the convolutions "
                   f"matrices large enough to keep {_workers(device, threads)} busy; it still delays the first answer.")


def achieved_vs_peak(model_gflops: float, peak_gflops: float, fractions: list[float], *, batch_size: int,
                     matrix_size: int) -> str:
    """ResNet18's achieved GFLOP/s against a large fp32 matmul's, from interleaved rounds (``fractions`` per round)."""
    median = sorted(fractions)[len(fractions) // 2]
    head = (f"At batch {batch_size} ResNet18 achieves **{model_gflops:.0f} GFLOP/s**, {median:.0%} of the "
            f"**{peak_gflops:.0f} GFLOP/s** a {matrix_size}x{matrix_size} fp32 matmul reaches here (median of "
            f"{len(fractions)} interleaved rounds; per round {min(fractions):.0%} to {max(fractions):.0%}). ")
    if max(fractions) > 1:
        return head + ("One round exceeds the peak: the machine's load changed between the two measurements, so that "
                       "round's ratio is noise, not a bound.")
    return head + ("This run does not time the layers one by one, so the gap is not located here; the expected "
                   "reason is the work that is not one big GEMM: the first 7x7 convolution, the 3x3 ones with few "
                   "channels, batch norm, ReLU, pooling and residual adds, which move memory more than they compute.")


def bert_counters(macs: dict[str, int], *, n_layers: int, d_model: int, seq_len: int, n_norms: int) -> str:
    """How the MAC counters agree on BERT (``macs``: counter -> MACs, with "torch", "FlopCounterMode (plain)",
    "analytic", "thop"), on any torch: a plain FlopCounterMode misses the fused CPU attention kernel only where this
    torch has no formula for it."""
    attention = n_layers * 2 * seq_len ** 2 * d_model  # QK^T and attention x V, per block
    missed = macs["torch"] - macs["FlopCounterMode (plain)"]
    head = f"At batch 1 and {seq_len} tokens BERT costs **{macs['torch'] / 1e9:.3f} GMACs**. "
    if missed:
        plain = (f"A plain `FlopCounterMode` reports {macs['FlopCounterMode (plain)'] / 1e9:.3f}: on CPU, "
                 "`scaled_dot_product_attention` runs one fused kernel (`_scaled_dot_product_flash_attention_for_cpu`) "
                 f"for which this torch has no formula, so it drops the {missed / 1e6:,.1f} M MACs of QK^T and "
                 f"attention x V ({n_layers} blocks x 2 x {seq_len}² x {d_model}; {missed / macs['torch']:.1%} of the "
                 "total at this length, growing with the square of the sequence). labkit's `torch` count adds torch's "
                 "own SDPA formula for that kernel. ")
    else:
        plain = (f"A plain `FlopCounterMode` reports the same: this torch counts the attention kernel itself, QK^T "
                 f"and attention x V included ({attention / 1e6:,.1f} M MACs: {n_layers} blocks x 2 x {seq_len}² x "
                 f"{d_model}; {attention / macs['torch']:.1%} of the total at this length, growing with the square "
                 "of the sequence). ")
    analytic = ("exactly" if macs["analytic"] == macs["torch"] else f"{macs['analytic'] / macs['torch']:.4f}x")
    return (head + plain + f"The analytic count agrees with labkit's `torch` count ({analytic}). thop intercepts "
            "`scaled_dot_product_attention` as a function, so it sees the attention too, and it also books the "
            f"element-wise work of the {n_norms} LayerNorms: {macs['thop'] - macs['torch']:,} MACs more than torch "
            f"({macs['thop'] / macs['torch'] - 1:.2%}).")
