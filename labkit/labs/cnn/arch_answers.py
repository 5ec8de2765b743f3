"""Lab 2's generated answers on what a CNN's shape and training knobs buy: the one-knob architecture sweeps and the
search's winners. Times are printed at a precision that shows them; two single-run times closer than
``TOLERANCE`` are called the same."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from labkit import curves, search_plots
from labkit.labs.cnn.answers import SAME_WITHIN, one_time, significant_decimals, two_times
from labkit.prose import sentences

TOLERANCE = SAME_WITHIN


def change(a: float, b: float, *, unit: str = "s", tolerance: float = TOLERANCE) -> str:
    """How a time goes from ``a`` to ``b`` (in ``unit``): with its factor, or the same within ``tolerance``. A changed
    time shows two significant digits, so the printed values agree with the factor (0.15 -> 0.26 ms, not 0.1 -> 0.3)."""
    if abs(b - a) <= tolerance * max(abs(a), abs(b)):
        first, last = two_times(a, b, unit)
        return f"stays the same within {tolerance:.0%} ({first} vs {last}, one run each)"
    first, last = shown([a, b], unit=unit)
    return f"goes from {first} to {last} ({b / a:.2f}x)"


def shown(values: Sequence[float], *, unit: str = "s") -> list[str]:
    """``values`` (in ``unit``) with the fewest decimals (from two significant digits of the smallest on) at which
    neighbours that differ read differently."""
    values = [float(v) for v in values]
    start = significant_decimals(min(values, key=abs))
    differ = lambda d: all(f"{a:.{d}f}" != f"{b:.{d}f}" for a, b in zip(values, values[1:]) if a != b)  # noqa: E731
    decimals = next((d for d in range(start, start + 5) if differ(d)), start)
    return [f"{v:.{decimals}f} {unit}" for v in values]


def chain(values: Sequence[float], *, unit: str = "s") -> str:
    """``values`` (in ``unit``) joined by arrows, as :func:`shown` prints them."""
    return " → ".join(shown(values, unit=unit))


def _label(row: Any) -> str:
    return row.label if "label" in row.index else row.model_name


def channels_effect(runs: pd.DataFrame) -> str:
    """What more conv channels cost and buy: the fewest-MAC run against the most-MAC one (results rows)."""
    runs = runs.sort_values("macs")
    cheap, costly = runs.iloc[0], runs.iloc[-1]
    return (f"More channels ({_label(cheap)} → {_label(costly)}) multiply the MACs by "
            f"{costly.macs / cheap.macs:.1f}x; the training time {change(cheap.train_time_s, costly.train_time_s)} "
            f"and the inference time per image "
            f"{change(cheap.inference_ms_per_image, costly.inference_ms_per_image, unit='ms')}, for "
            f"{(costly.test_acc - cheap.test_acc) * 100:+.2f} points of test accuracy.")


def kernel_effect(runs: pd.DataFrame) -> str:
    """The filter-size sweep read from the smallest to the largest kernel (rows with ``conv1_kernel``)."""
    runs = runs.sort_values("conv1_kernel")
    small, large = runs.iloc[0], runs.iloc[-1]
    kernels = [int(k) for k in runs.conv1_kernel]
    sizes = " → ".join(f"{k}x{k}" for k in kernels)
    return (f"Filter size {sizes} (same padding, so every feature map keeps its size and the linear layer stays "
            f"the same; each conv weight tensor grows with k·k): parameters "
            + " → ".join(f"{int(n):,}" for n in runs.params) + ", MACs "
            + " → ".join(f"{int(n):,}" for n in runs.macs)
            + f" ({large.macs / small.macs:.1f}x), training time {chain(runs.train_time_s)}, inference time per image "
            f"{chain(runs.inference_ms_per_image, unit='ms')}, test accuracy "
            + " → ".join(f"{a:.2%}" for a in runs.test_acc)
            + f" ({(large.test_acc - small.test_acc) * 100:+.2f} points from {kernels[0]}x{kernels[0]} "
            f"to {kernels[-1]}x{kernels[-1]}).")


def blocks_effect(runs: pd.DataFrame) -> str:
    """What the number of conv-pool blocks does to parameters, training and inference time and accuracy (rows
    with ``n_conv``)."""
    runs = runs.sort_values("n_conv")
    one, deep = runs.iloc[0], runs.iloc[-1]
    steps = runs.params.diff().dropna()
    why = ("each block's pooling shrinks what the linear layer sees" if (steps < 0).all() else
           "the added conv weights outweigh what pooling saves in the linear layer" if (steps > 0).all() else
           "they fall where a block's pooling saves more in the linear layer than its conv weights add, and rise "
           "where the conv weights add more")
    return (f"From {int(one.n_conv)} to {int(deep.n_conv)} conv blocks the parameters go "
            + " → ".join(f"{int(n):,}" for n in runs.params) + f" ({why}); the training time "
            f"{change(one.train_time_s, deep.train_time_s)}, the inference time per image "
            f"{change(one.inference_ms_per_image, deep.inference_ms_per_image, unit='ms')}, and test accuracy moves "
            f"{(deep.test_acc - one.test_acc) * 100:+.2f} points.")


def batch_effect(runs: pd.DataFrame, *, train_examples: int) -> str:
    """What the training batch size does to training time and accuracy, same epochs (rows with ``batch_size``);
    a smallest batch whose test loss is near chance is said not to have learned."""
    runs = runs.sort_values("batch_size")
    small, large = runs.iloc[0], runs.iloc[-1]
    b_small, b_large = int(small.batch_size), int(large.batch_size)
    t_small, t_large = two_times(small.train_time_s, large.train_time_s)
    stuck = (f": at batch {b_small} the network ends at chance (test loss {small.test_loss:.2f}; a uniform "
             f"guess scores {curves.CHANCE_LOSS:.2f}), single-example steps at this learning rate and momentum did not "
             "learn" if small.test_loss > 0.9 * curves.CHANCE_LOSS else "")
    return (f"Batch {b_small} trains in {t_small} against {t_large} at batch {b_large} (same epochs, "
            f"{train_examples // b_small:,} vs {train_examples // b_large:,} steps per epoch), "
            f"reaching {small.test_acc:.2%} vs {large.test_acc:.2%}{stuck}. Parameters and MACs per image do not "
            "depend on the batch size.")


def architecture_effects(arch_runs: pd.DataFrame, *, train_examples: int) -> str:
    """The four one-knob sweeps (``varied``: channels, kernel size, conv layers, batch size), one sentence each."""
    part = {name: arch_runs[arch_runs.varied == name] for name in ("channels", "kernel size", "conv layers",
                                                                    "batch size")}
    return sentences(channels_effect(part["channels"]) if len(part["channels"]) > 1 else "",
                     kernel_effect(part["kernel size"]) if len(part["kernel size"]) > 1 else "",
                     blocks_effect(part["conv layers"]) if len(part["conv layers"]) > 1 else "",
                     batch_effect(part["batch size"], train_examples=train_examples)
                     if len(part["batch size"]) > 1 else "")


def best_model(runs: pd.DataFrame, *, test_images: int, first_check_note: str, sweep_epochs: int) -> str:
    """The model grid's most accurate and fastest-to-90% runs (rows with ``model_name``, ``train_test_gap``);
    ``first_check_note`` is sweeps.first_check_note for these runs."""
    best = search_plots.top_runs(runs, "test_acc", n=1).iloc[0]
    fastest = search_plots.top_runs(runs, "time_to_90_s", n=1, ascending=True).iloc[0]
    never = int(runs.time_to_90_s.isna().sum())
    return sentences(
        f"The most accurate model is **{best.model_name}** ({best.test_acc:.2%} test, train-test gap "
        f"{best.train_test_gap:+.2%}, {best.params:,} parameters).",
        search_plots.top_spread_note(runs, "test_acc", examples=test_images),
        f"The fastest to 90% train accuracy is **{fastest.model_name}** ({one_time(fastest.time_to_90_s)}, "
        f"{fastest.test_acc:.2%} test)." if pd.notna(fastest.time_to_90_s) else "",
        first_check_note,
        f"{never} configuration(s) never reached 90% within {sweep_epochs} epoch(s) and have no time." if never else "",
        "The training grid below starts from the most accurate model.")


def best_training(runs: pd.DataFrame, *, test_images: int, first_check_note: str, sweep_epochs: int) -> str:
    """The training grid's most accurate and fastest-to-90% knobs (rows with ``label``, ``batch_size``,
    ``train_test_gap``) and the median time to 90% per batch size."""
    best = search_plots.top_runs(runs, "test_acc", n=1).iloc[0]
    fastest = search_plots.top_runs(runs, "time_to_90_s", n=1, ascending=True).iloc[0]
    by_batch = runs.groupby("batch_size").time_to_90_s.median().dropna()
    head = (f"The best training knobs are **{best.label}** ({best.test_acc:.2%} test, gap {best.train_test_gap:+.2%}).",
            search_plots.top_spread_note(runs, "test_acc", examples=test_images))
    if by_batch.empty:
        return sentences(*head, f"No run reached 90% train accuracy within {sweep_epochs} epoch(s).")
    return sentences(*head, f"The fastest to 90% train accuracy is **{fastest.label}** "
                            f"({one_time(fastest.time_to_90_s)}); median time to 90% by batch size: "
                     + ", ".join(f"{b}: {one_time(s)}" for b, s in by_batch.items()) + ".", first_check_note)
