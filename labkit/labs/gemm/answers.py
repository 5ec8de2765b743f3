"""Lab 5's generated answers: each a sentence read from the measured tables, true for every layout compared."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from labkit.labs.gemm.evaluation import NO_LAB4
from labkit.prose import sentences

# Which rewrites build a patch matrix (im2col); kn2row runs one GEMM per kernel offset and sums shifted outputs.
PATCH_LAYOUTS = ("naive", "folded", "nhwc")


def _layout(name: str) -> str:
    """The layout a timed model's name starts with ('nhwc + compile' -> 'nhwc')."""
    return name.split(" ")[0]


def where_the_time_goes(kinds: pd.DataFrame, original: str = "original") -> str:
    """Sentences reading ``kinds`` (ms per forward by kind: gemm, convolution, memory, other; one row per model,
    ``original`` first): where each rewrite spends its time, and why the memory time is there for its layout."""
    base = kinds.loc[original]
    lines = [f"The original spends {base.convolution:.3f} ms per forward in PyTorch's convolution kernel and "
             f"{base.gemm:.3f} ms in GEMMs (its linear layers)."]
    for name in kinds.index:
        if name == original:
            continue
        k = kinds.loc[name]
        if "compile" in name and k.other > k.memory:
            rest = (f"{k.other:.3f} ms in other ops (the compiled rewrite's fused kernels, which now do the data "
                    f"movement) and {k.memory:.3f} ms in separate copies")
        elif k.other > k.memory:
            rest = (f"{k.other:.3f} ms in other ops (additions, reshapes, Python and dispatch between the GEMMs) and "
                    f"{k.memory:.3f} ms moving memory")
        elif _layout(name) in PATCH_LAYOUTS:
            rest = (f"{k.memory:.3f} ms moving memory (im2col, copies, padding, allocation): the patch matrix is k·k "
                    "times the input, so building it costs memory traffic the direct convolution never pays")
        elif _layout(name) == "kn2row":
            rest = (f"{k.memory:.3f} ms moving memory (shifting and adding partial outputs, padding): kn2row builds "
                    "no patch matrix, it runs one GEMM per kernel offset and sums the shifted results")
        else:
            rest = f"{k.memory:.3f} ms moving memory (copies, padding, allocation)"
        lines.append(f"`{name}` spends {k.gemm:.3f} ms in GEMMs and {rest}; {k.sum():.3f} ms in all, against the "
                     f"original's {base.sum():.3f} ms.")
    return " ".join(lines)


def model_source(how: str, model_name: str, params: int, macs: int) -> str:
    """Which model is rewritten and from which file (``how``, from ``evaluation.lab4_model_or_small``), its size; a
    fallback is said to be one, with what would rewrite Lab 4's model instead."""
    said = f"Rewriting **{how}**: `{model_name}`, {params:,} parameters, {macs:,} MACs per image."
    if NO_LAB4 not in how:
        return said
    return sentences(said, "This is the lab's fallback, not the handout's chain (003 Q20 rewrites the model Lab 4 "
                           "chose in Q19): run Lab 4 into the same reports folder first, or set `model_path`, to "
                           "rewrite that one.")


def exactness(exact: pd.DataFrame, *, tolerance: float) -> str:
    """Whether every rewrite computes the original's outputs (``exact``: one row per ``rewrite`` with
    ``max_abs_diff`` of the logits, ``max_rel_diff`` (over the largest |logit|), ``same_predictions``, ``examples``),
    against ``tolerance`` (relative to the largest |logit|)."""
    examples = int(exact.examples.iloc[0])
    wrong = exact[(exact.max_rel_diff > tolerance) | (exact.same_predictions < exact.examples)]
    if len(wrong):
        return " ".join(f"`{r.rewrite}` is not the same network: {r.same_predictions:,} of {r.examples:,} predictions "
                        f"agree and the logits differ by up to **{r.max_abs_diff:.1e}**, {r.max_rel_diff:.1e} of the "
                        f"largest logit (tolerance {tolerance:.0e})." for r in wrong.itertuples())
    worst = exact.loc[exact.max_rel_diff.idxmax()]
    if worst.max_abs_diff == 0:
        return (f"On all {examples:,} test images every rewrite gives the same prediction as the original, and the "
                "logits are **bit-identical**: the rewrites add the same products in the same order here.")
    return (f"On all {examples:,} test images every rewrite gives the same prediction as the original, and the logits "
            f"differ by at most **{worst.max_abs_diff:.1e}**, {worst.max_rel_diff:.1e} of the largest logit "
            f"(tolerance {tolerance:.0e}): the size expected when the same sums are added in a different order, so "
            "fp32 rounding differs in the last bits.")


def _two_readings(a: float, b: float, decimals: int = 3) -> tuple[str, str]:
    """``a`` and ``b`` with ``decimals`` decimals, or more (up to 6) until they read differently."""
    while decimals < 6 and f"{a:.{decimals}f}" == f"{b:.{decimals}f}":
        decimals += 1
    return f"{a:.{decimals}f}", f"{b:.{decimals}f}"


def _verdict(low: float, high: float, base_low: float, base_high: float) -> str:
    """'faster', 'slower' or 'equal' of a time whose spread is [low, high] against one spread [base_low, base_high]."""
    if high < base_low:
        return "faster"
    if low > base_high:
        return "slower"
    return "equal"


def test_set_time(test_set: pd.DataFrame, *, batch_size: int, rounds: int) -> str:
    """The whole test set's time with the original and the fastest rewrite (``test_set``: ``model`` (the original
    first), ``median_s``, ``ratio``, ``ratio_min``, ``ratio_max``), called faster or slower only when every round's
    ratio is on the same side of 1."""
    rows = test_set.set_index("model")
    original = rows.iloc[0]
    best_name = rows.iloc[1:].ratio.idxmin()
    best = rows.loc[best_name]
    base_s, best_s = _two_readings(original.median_s, best.median_s)
    naive = (f"and {rows.ratio['naive']:.2f}x that with the textbook rewrite; " if "naive" in rows.index else "; ")
    verdict = {"faster": "faster than the vendor convolution in every round",
               "slower": "still slower than the vendor convolution in every round",
               "equal": "not measurably different from the vendor convolution: faster in some rounds, slower in "
                        "others"}[_verdict(best.ratio_min, best.ratio_max, 1.0, 1.0)]
    return (f"The whole test set at batch {batch_size} takes **{base_s} s** with the original {naive}the fastest "
            f"rewrite, **{best_name}**, takes {best_s} s: **{best.ratio:.2f}x** the original, {verdict} (per-round "
            f"ratios {best.ratio_min:.2f}x–{best.ratio_max:.2f}x). Times are medians over {rounds} rounds; each ratio "
            "is the median of the per-round ratios (the models take turns in every round), so it need not equal the "
            "ratio of the median times.")


def _fastest_rewrite(rows: pd.DataFrame, original: str = "original") -> tuple[str, str, str]:
    """(the fastest rewrite, 'faster' / 'slower' / 'equal' against ``original`` by their p10–p90 ranges, its times
    against the original's) from ``rows`` indexed by model with ``median_ms``, ``p10_ms``, ``p90_ms``."""
    base, rewrites = rows.loc[original], rows.drop(original)
    name = rewrites.median_ms.idxmin()
    best = rewrites.loc[name]
    best_ms, base_ms = _two_readings(best.median_ms, base.median_ms)
    times = (f"`{name}` takes {best_ms} ms (p10–p90 {best.p10_ms:.3f}–{best.p90_ms:.3f}) against the original's "
             f"{base_ms} ms ({base.p10_ms:.3f}–{base.p90_ms:.3f}), {best.median_ms / base.median_ms:.2f}x its time")
    return name, _verdict(best.p10_ms, best.p90_ms, base.p10_ms, base.p90_ms), times


def latency_by_batch(latency: pd.DataFrame) -> str:
    """Per batch size, the fastest rewrite against the original on CPU (``latency``: ``name`` (with ``original``),
    ``batch_size``, ``median_ms``, ``p10_ms``, ``p90_ms`` per batch), different only outside the p10–p90 ranges."""
    words = {"faster": "faster than the original", "slower": "slower than the original",
             "equal": "not measurably different from the original (their p10–p90 ranges overlap)"}
    parts = []
    for batch, rows in latency.groupby("batch_size"):
        name, verdict, times = _fastest_rewrite(rows.set_index("name"))
        parts.append(f"at batch {batch} {times}: {words[verdict]}")
    return "One batch on CPU, the fastest rewrite per batch size: " + "; ".join(parts) + "."


def _gpu_rewrite(times: pd.DataFrame) -> str:
    """The rewrite against the original on the GPU (``times``: ``model`` (with ``original``), ``batch_size``,
    ``median_ms``, ``p10_ms``, ``p90_ms``)."""
    rows = times.set_index("model")
    name, verdict, said = _fastest_rewrite(rows)
    answer = {"faster": "**Yes**: on the GPU the fastest rewrite is faster than the original, and their p10–p90 "
                        "ranges do not overlap",
              "slower": "**No**: on the GPU even the fastest rewrite is slower than the original, and their p10–p90 "
                        "ranges do not overlap",
              "equal": "**Not measurably**: on the GPU the fastest rewrite and the original are equal within the "
                       "p10–p90 spread"}[verdict]
    original = rows.loc["original"]
    naive = (f" The textbook rewrite `naive` takes {rows.median_ms['naive']:.3f} ms, "
             f"{rows.median_ms['naive'] / original.median_ms:.2f}x the original." if "naive" in rows.index
             and name != "naive" else "")
    return (f"{answer}. Per batch of {int(original.batch_size)}, {said} (CUDA events, {len(rows) - 1} rewrite(s) "
            f"timed).{naive}")


_SHORT = {"faster": "faster", "slower": "slower", "equal": "equal within the spread"}


def _triton(table: pd.DataFrame) -> str:
    """Labkit's Triton matmul against cuBLAS per size (``table``: ``n``, ``triton_ms``, ``cublas_ms`` with their
    ``*_p10_ms``, ``*_p90_ms``, ``triton_tflops``, ``cublas_tflops``, ``max_abs_diff``)."""
    words = {"faster": "faster than", "slower": "slower than", "equal": "as fast as (within the p10–p90 spread)"}
    verdicts = [_verdict(r.triton_p10_ms, r.triton_p90_ms, r.cublas_p10_ms, r.cublas_p90_ms)
                for r in table.itertuples()]
    sizes = "; ".join(f"n={r.n}: {r.triton_ms:.3f} vs {r.cublas_ms:.3f} ms ({r.triton_ms / r.cublas_ms:.2f}x, "
                      f"{r.triton_tflops:.1f} vs {r.cublas_tflops:.1f} TFLOP/s)"
                      + ("" if len(set(verdicts)) == 1 else f", {_SHORT[v]}")
                      for r, v in zip(table.itertuples(), verdicts))
    where = (f"{words[verdicts[0]]} cuBLAS at every size" if len(set(verdicts)) == 1
             else "against cuBLAS, depending on the size")
    return (f"Labkit's Triton matmul (fp32, tiled) is {where} (Triton vs cuBLAS median time, TF32 off; {sizes}); "
            f"its largest difference from cuBLAS's result is {table.max_abs_diff.max():.1e}.")


def gpu_faster(reason: str | None, model_times_csv: Path, triton_csv: Path) -> str:
    """Is the rewrite faster on a GPU? (003 Q21) Read from the files the GPU section wrote; when ``reason`` (from
    ``gpu_matmul.gpu_unavailable``) says there is no usable GPU, that the section was skipped and why."""
    if reason is not None:
        return (f"The GPU section was skipped: {reason}. So this run cannot say whether the rewrite is faster on a "
                "GPU (003 Q21); run the notebook on a CUDA machine (on Colab: a GPU runtime) to answer it.")
    return sentences(_gpu_rewrite(pd.read_csv(model_times_csv)), _triton(pd.read_csv(triton_csv)))
