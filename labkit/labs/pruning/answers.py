"""Lab 4's generated answers: each a sentence read from the run's rows. In the handout's words the *pruning drop*
is accuracy before pruning minus after retraining; the *zeroing drop* is before pruning minus right after zeroing.
A reason is a finding only when the rows show it; otherwise it is given as the expected one."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
from torch import nn

from labkit.data import dataset_name, display_name

FALLBACK = ", because "  # how labkit.labs.pruning.loop.start_model words a start model that is not Lab 2's


def start_model(how: str, path: str | Path, *, model_name: str, params: int, macs: int, accuracy: float,
                dataset: str, test_images: int, layers: list[str]) -> str:
    """Which model is pruned and from which file (``how`` as :func:`loop.start_model` returns it), its size
    (``macs`` per image) and test accuracy (a fraction); a fallback is said in a sentence of its own."""
    what, _, why = how.partition(FALLBACK)
    file = "" if str(path) in what else f", file `{path}`"
    text = (f"Starting from **{what}**{file}: `{model_name}`, {params:,} parameters, {macs:,} MACs per "
            f"image, **{accuracy:.2%}** test accuracy on {display_name(dataset)} ({test_images:,} test images). "
            f"Layers to prune, in order: {', '.join(layers)}.")
    if why:
        text += (f"\n\n**This is a fallback, not Lab 2's best model**: {why}. Run Lab 2 on {display_name(dataset)} "
                 f"(`labkit run 02 --dataset {dataset_name(dataset)}`) into the same reports folder first to prune the "
                 "model the handout's Step 3 names.")
    return text


def _stop_reason(rows: pd.DataFrame, *, threshold: float, max_steps: int | None) -> str:
    last = rows.iloc[-1]
    if not bool(last.kept):
        return (f"step {int(last.step)}'s pruning drop ({last.pruning_drop:.2%}) exceeded the threshold "
                f"({threshold:.2%}), so that step was undone")
    if int(last.channels_left) <= 1:
        return "one channel was left"
    if max_steps is not None and len(rows) >= max_steps:
        return f"the step cap was reached (max_steps = {max_steps})"
    return "the loop ended with channels left and no step over the threshold"


def layer_summary(steps: pd.DataFrame, units: dict[str, int], *, threshold: float, max_steps: int | None) -> str:
    """One bullet per pruned layer of ``steps`` (the loop's rows): channels removed of ``units[layer]``, accuracy
    after the last kept step, why the layer stopped, and the largest zeroing drop with that step's pruning drop."""
    lines = []
    for layer, rows in steps.groupby("layer", sort=False):
        kept = rows[rows.kept.astype(bool)]
        kind = "neurons" if layer.startswith("fc") else "channels"
        accuracy = (f"accuracy after the last kept step {kept.acc_retrained.iloc[-1]:.2%}" if len(kept) else
                    f"accuracy stays at {rows.acc_before.iloc[0]:.2%} (no step kept)")
        worst, why = rows.loc[rows.zeroing_drop.idxmax()], _stop_reason(rows, threshold=threshold, max_steps=max_steps)
        lines.append(f"- **{layer}**: {len(kept)} of {units[layer]} {kind} removed; {accuracy}; "
                     f"stopped because {why}. "
                     f"Largest zeroing drop (before pruning minus right after zeroing) {worst.zeroing_drop:.2%}, at "
                     f"step {int(worst.step)}; that step's pruning drop (before pruning minus after retraining) "
                     f"was {worst.pruning_drop:.2%}.")
    return "\n".join(lines)


def _share(part: float, whole: float) -> str:
    """``part / whole`` as a percentage with the fewest decimals (0 to 3) that keep it off 100% when they differ."""
    for decimals in range(4):
        text = f"{part / whole:.{decimals}%}"
        if part == whole or float(text.rstrip("%")) != 100:
            return text
    return text


def structural_removal(pruned_name: str, difference: float, sizes: pd.DataFrame) -> str:
    """The structurally pruned network against the start model (``sizes``: rows start, pruned with ``params`` and
    ``macs`` per image); ``difference`` is the largest output difference from the masked network."""
    start, pruned = sizes.iloc[0], sizes.iloc[1]
    return (f"The structurally pruned network `{pruned_name}` computes the masked network's outputs (largest "
            f"difference {difference:.1e} over 256 test images) with **{pruned.params:,}** parameters instead of "
            f"{start.params:,} ({_share(pruned.params, start.params)}) and **{pruned.macs:,}** MACs per image instead of "
            f"{start.macs:,} ({_share(pruned.macs, start.macs)}).")


def linear_shapes(model: nn.Module) -> dict[str, tuple[int, int]]:
    """The (outputs, inputs) of every linear layer of ``model``, in order, by name."""
    return {name: tuple(m.weight.shape) for name, m in model.named_modules() if isinstance(m, nn.Linear)}


def classifier_inputs(start: dict[str, tuple[int, int]], pruned: dict[str, tuple[int, int]]) -> str:
    """What pruning the classifier (the last linear layer) would mean, and how pruning the layer before it already
    shrank its weight matrix; ``start`` and ``pruned`` as :func:`linear_shapes` returns them."""
    names = list(start)
    name, feeder = names[-1], (names[-2] if len(names) > 1 else None)
    (classes, before), (_, after) = start[name], pruned[name]
    source = f"{feeder}'s {before} neurons" if feeder else f"the {before} flattened conv features"
    head = (f"The classifier `{name}` keeps all {classes} outputs: they are the {classes} classes, so pruning one "
            "would remove a class the network can then never predict, and the task fixes how many there are. "
            f"Its inputs are {source}")
    if after == before:
        return head + (f", and this run removed none of them, so its weight matrix is unchanged at "
                       f"{classes}×{before} ({classes * before + classes:,} parameters with the bias).")
    old, new = classes * before + classes, classes * after + classes
    return head + (f": pruning them to {after} already shrank its weight matrix from {classes}×{before} to "
                   f"{classes}×{after}, {old:,} → {new:,} parameters with the bias ({new / old:.0%}).")


def chosen_model(chosen: pd.Series | None, *, target_accuracy: float, start_flops: float, start_acc: float,
                 model_name: str = "", best_acc: float | None = None, file_name: str = "pruned_model.pt") -> str:
    """The lowest-FLOP model at or above ``target_accuracy`` (``chosen``: a candidate row with ``name``, ``flops``,
    ``acc_retrained``; None when none is accurate enough, ``best_acc`` then the best candidate's accuracy)."""
    if chosen is None:
        best = f" (the best candidate reaches {best_acc:.2%})" if best_acc is not None else ""
        return (f"No model keeps {target_accuracy:.0%} test accuracy{best}: nothing is saved for Lab 5.")
    what = ("the start model itself: no pruned model keeps that accuracy" if chosen["name"] == "start" else
            f"**{chosen['name']}** (`{model_name}`)")
    return (f"The lowest-FLOP model with at least **{target_accuracy:.0%}** test accuracy is {what}: "
            f"{chosen.flops:,.0f} FLOPs per image, {chosen.flops / start_flops:.0%} of the start model's, at "
            f"{chosen.acc_retrained:.2%} test accuracy (start: {start_acc:.2%}). Saved as `{file_name}` for Lab 5.")


def _within_spread(a: Any, b: Any) -> bool:
    return a.p10_ms <= b.p90_ms and b.p10_ms <= a.p90_ms


def _per_call_cost(start: pd.DataFrame, small: int, large: int) -> str:
    """A sentence on the start model's time per image at the smallest and largest batch."""
    t_small, t_large = (float(start.loc[b, "median_ms"]) for b in (small, large))
    per_image = t_large / large
    head = (f"The start model takes {t_small:.3g} ms per call at batch {small} and {t_large:.3g} ms at batch {large} "
            f"({per_image:.3g} ms per image)")
    if per_image * small < 0.5 * t_small:
        return head + (f": most of a batch-{small} call is a per-call cost that does not grow with the images, "
                       "so it does not shrink with the MACs either.")
    return head + ": the time grows about in step with the images, so a per-call cost is not what dominates here."


def macs_vs_time(ratios: pd.DataFrame, *, device: str) -> str:
    """Whether fewer MACs gave less time, per batch size (``ratios``: :func:`analysis.with_ratios` rows with
    ``name``, ``batch_size``, ``macs_ratio``, ``latency_ratio``, ``gain_share``, ``median_ms``, ``p10_ms``,
    ``p90_ms``; the reference named ``start``), for times taken on ``device`` ("cpu", "cuda", ...)."""
    start = ratios[ratios.name == "start"].set_index("batch_size")
    pruned = ratios[ratios.name != "start"]
    if pruned.empty:
        return "No pruned model was kept, so there is no MAC saving to compare with time."
    share = {batch: rows.sort_values("macs").iloc[0] for batch, rows in pruned.groupby("batch_size")}
    lines, flat = [], []
    for batch, r in share.items():
        line = (f"- **batch {batch}**: the model with the fewest MACs (`{r['name']}`) has {r.macs_ratio:.0%} of the "
                f"start model's MACs and takes {r.latency_ratio:.0%} of its time (median {r.median_ms:.3g} ms against "
                f"{start.loc[batch, 'median_ms']:.3g} ms): {r.gain_share:.2f} of the MAC saving shows up as time "
                "saved.")
        if _within_spread(r, start.loc[batch]):
            flat.append(batch)
            line += " Their p10-p90 ranges overlap: within the spread, no time saving is measured at this batch."
        lines.append(line)
    on = "CUDA" if device.startswith("cuda") else device.upper()
    overhead = ("kernel launches, Python and dispatch" if device.startswith("cuda") else
                "Python, dispatch, allocation")
    small, large = min(share), max(share)
    parts = [f"Times are medians on {on}."]
    if len(flat) == len(share):
        where = "every batch size" if small != large else f"batch {small}"
        parts.append(f"At {where} the fewest-MAC model's time is within the start model's p10-p90 spread, so this "
                     f"run measures no time saving from its {1 - share[large].macs_ratio:.0%} fewer MACs"
                     + (" and cannot compare the batch sizes." if small != large else "."))
        if small != large:
            parts.append(_per_call_cost(start, small, large))
    elif small == large:
        parts.append("With one batch size the batch effect is not measured.")
    elif share[large].gain_share > share[small].gain_share + 0.1:
        parts.append(f"Batch {large} turns MACs into time better than batch {small}.")
        parts.append(_per_call_cost(start, small, large))
    elif share[large].macs_ratio > 0.8:
        parts.append(f"Here batch {large} does not turn MACs into time better than batch {small}, and the MAC "
                     f"saving is small ({1 - share[large].macs_ratio:.0%}).")
        parts.append("Timing noise is as large as the saving: the times overlap within their spread."
                     if large in flat else "The expected reason: a saving this small is near the timing noise.")
    else:
        parts.append(f"Here batch {large} does not turn MACs into time better than batch {small}. At "
                     f"{share[large].macs_ratio:.0%} of the MACs the model still takes "
                     f"{share[small].latency_ratio:.0%}-{share[large].latency_ratio:.0%} of the time. The expected "
                     f"reason: that remainder does not shrink with the channel count -- the fixed cost of calling "
                     f"every layer ({overhead}), memory traffic, and kernels that run less efficiently on a handful of "
                     "channels.")
        parts.append(_per_call_cost(start, small, large))
    above = [batch for batch, r in share.items() if r.gain_share > 1 and batch not in flat]
    if above:
        parts.append(f"A share above 1 (batch {', '.join(map(str, above))}) means more time saved than MACs removed, "
                     "which the arithmetic alone does not explain: the expected reason is the machine's load changing "
                     "during the measurement, or a faster kernel chosen for the smaller shapes.")
    return "\n".join(lines) + "\n\n" + " ".join(parts)


def heuristic_check(agreement: pd.Series, drops: pd.DataFrame, *, layer: str) -> str:
    """How well each heuristic (``agreement``: Spearman correlation by name, ``l2``, ``l1``, ``random``, maybe ``yours``)
    orders ``layer``'s channels by their measured single-channel accuracy drop (``drops``: ``channel``,
    ``acc_drop`` as fractions)."""
    worst = drops.loc[drops.acc_drop.idxmax()]
    largest = f"The largest single-channel drop is {worst.acc_drop:.2%}, from channel {int(worst.channel)}."
    listed = ", ".join(f"{h} {v:+.2f}" for h, v in agreement.items())
    if agreement.isna().all():
        return (f"On `{layer}` the rank correlations are undefined ({listed}): removing any one channel changes "
                f"test accuracy by the same amount, so no ordering can be judged. {largest}")
    best = agreement.idxmax()
    norms, random = max(agreement["l2"], agreement["l1"]), agreement["random"]
    yours = f", yours {agreement['yours']:+.2f}" if "yours" in agreement else ""
    shown = {"l2": "L2", "l1": "L1"}.get(best, best)
    head = (f"On `{layer}`, **{shown}** orders the channels best (Spearman {agreement[best]:+.2f}); L2 "
            f"{agreement['l2']:+.2f}, L1 {agreement['l1']:+.2f}, random {agreement['random']:+.2f}{yours}.")
    if not math.isnan(norms) and norms > max(0.0 if math.isnan(random) else random, 0.0) + 0.1:
        why = "The norms are informative: removing a low-norm channel tends to hurt less."
    else:
        why = ("The norms do not clearly beat the random baseline here. The expected reason: a channel's weight norm "
               "says little about how much the rest of the network relies on it (its output is rescaled by the next "
               "layer's weights).")
    return f"{head} {why} {largest}"
