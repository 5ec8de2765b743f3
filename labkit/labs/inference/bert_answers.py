"""Lab 3's generated answers about BERT (sections 5 and 6): batching against ResNet18, the MAC counters, the
encoder block's GEMMs. Each sentence is read from the measured rows; a reason they do not show is the expected one."""

from __future__ import annotations

from typing import Any

import pandas as pd

from labkit.labs.inference.answers import per_example_spreads_overlap, rate
from labkit.prose import sentences


def _ms(ms: float) -> str:
    """A latency in ms with the decimals its size needs (1,234 / 56.7 / 8.90)."""
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def bert_batching(bert_runs: pd.DataFrame, resnet_runs: pd.DataFrame, *, seq_len: int) -> str:
    """How much batching multiplies BERT's throughput against ResNet18's (rows in batch order, with batch_size,
    median_ms, p10_ms, p90_ms, throughput_per_s, gflops_per_s), from the smallest to the largest batch of each."""
    one, big = bert_runs.iloc[0], bert_runs.iloc[-1]
    one_batch, big_batch = int(one.batch_size), int(big.batch_size)
    bert_gain = big.throughput_per_s / one.throughput_per_s
    resnet_gain = resnet_runs.throughput_per_s.iloc[-1] / resnet_runs.throughput_per_s.iloc[0]
    head = (f"One sequence of {seq_len} tokens takes **{_ms(one.median_ms)} ms** ({one.throughput_per_s:.1f} "
            f"sequences/s); a batch of {big_batch} takes **{_ms(big.median_ms)} ms** "
            f"({big.throughput_per_s:.1f} sequences/s): batching multiplies BERT's throughput by **{bert_gain:.2f}x**, "
            f"against {resnet_gain:.2f}x for ResNet18 from batch {resnet_runs.batch_size.iloc[0]} to "
            f"{resnet_runs.batch_size.iloc[-1]}.")
    compute = (f"its achieved compute goes from {rate(one.gflops_per_s)} GFLOP/s at batch {one_batch} to "
               f"{rate(big.gflops_per_s)} at batch {big_batch}")
    noise = ("BERT's per-sequence p10-p90 ranges at the two batches overlap, so its gain is within this run's spread."
             if per_example_spreads_overlap(one, big) else "")
    if bert_gain < 0.95:
        spread = (f"p10-p90 {_ms(one.p10_ms)}-{_ms(one.p90_ms)} ms at batch {one_batch}, "
                  f"{_ms(big.p10_ms)}-{_ms(big.p90_ms)} ms at batch {big_batch}")
        return sentences(head, f"BERT's throughput *falls* with the batch here: {compute} ({spread}). A single "
                         f"sequence is already {seq_len} token rows, so batch 1 already runs matrix-matrix products; "
                         "the expected reasons for a drop are a larger batch's activations leaving the caches and "
                         "other load on the machine during the run (a wide p10-p90 spread shows it).")
    if abs(bert_gain / resnet_gain - 1) <= 0.05:
        return sentences(head, f"Both gain about as much (within 5%); {compute}.", noise)
    if bert_gain > resnet_gain:
        return sentences(head, f"BERT gains more here: {compute}.", noise)
    return sentences(head, f"BERT gains less: {compute}. The expected reason: a single sequence is already {seq_len} "
                     "token rows, so its linear layers are matrix-matrix products at batch 1, with less left for a "
                     "batch to add.", noise)


def encoder_block(block: pd.DataFrame, *, d_model: int, n_heads: int, seq_len: int, n_blocks: int,
                  model_macs: int, qa_head_macs: int) -> str:
    """One encoder block's GEMMs (``block``: gemm, macs): how many, which group dominates, and whether
    ``n_blocks`` blocks plus the QA head give the whole model's ``model_macs``."""
    total = block.macs.sum()
    whole = total * n_blocks + qa_head_macs
    check = ("gives exactly the model's count" if whole == model_macs else
             f"gives {whole / 1e9:.3f} G MACs, {whole / model_macs:.4f}x the model's count")
    groups = {"feed-forward pair": block[block.gemm.str.startswith(("intermediate", "output"))].macs.sum(),
              "four projections": block[block.gemm.str.contains("projection|attention output")].macs.sum(),
              "two attention matmuls": block[block.gemm.isin(["QK^T (scores)", "attention x V"])].macs.sum()}
    order = sorted(groups, key=groups.get, reverse=True)
    shares = ", ".join(f"the {name} {groups[name] / total:.1%}" for name in order[1:])
    return (f"d_model = **{d_model}**, **{n_heads}** heads of {d_model // n_heads}, sequence **{seq_len}**. One block "
            f"is {len(block)} GEMMs and {total / 1e6:,.1f} M MACs; x {n_blocks} blocks plus the QA head {check}. "
            f"The largest share is the **{order[0]}**, {groups[order[0]] / total:.1%} of the block; then {shares} at "
            f"{seq_len} tokens (the attention matmuls grow as the square of the sequence, the rest linearly).")


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
