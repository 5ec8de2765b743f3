"""Lab 2's generated answers on the baseline and its regularisation: times are printed at a precision that shows
them, two times are called different only beyond the clock that measured them (one train-accuracy check interval),
and reasons the data do not show are given as the expected ones."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from labkit.counting import human_bytes
from labkit.prose import sentences


SAME_WITHIN = 0.05  # two single-run times closer than this (relative) are called the same


def check_interval_s(*rows: Any, checks_per_epoch: int) -> float:
    """Training seconds between two train-accuracy checks (the resolution of a time to a target), the largest of
    ``rows`` (each with ``epoch_time_s``)."""
    return max(float(row.epoch_time_s) for row in rows) / checks_per_epoch


def significant_decimals(value: float) -> int:
    """Decimals (1 to 8) that show ``value`` with two significant digits."""
    if not value or not math.isfinite(value):
        return 1
    return max(1, min(8, 1 - math.floor(math.log10(abs(value)))))


def one_time(value: float, unit: str = "s") -> str:
    """``value`` (in ``unit``) with two significant digits and at least one decimal: 12.3 s, 0.21 s, 0.0042 s."""
    return f"{value:.{significant_decimals(value)}f} {unit}"


def two_times(a_s: float, b_s: float, unit: str = "s") -> tuple[str, str]:
    """``a_s`` and ``b_s`` (in ``unit``) with the fewest decimals, from one significant digit of the smaller on, at
    which they read differently (at most four more; equal ones at the first)."""
    start = max(1, max(significant_decimals(a_s), significant_decimals(b_s)) - 1)
    decimals = next((d for d in range(start, start + 5) if f"{a_s:.{d}f}" != f"{b_s:.{d}f}"), start)
    return f"{a_s:.{decimals}f} {unit}", f"{b_s:.{decimals}f} {unit}"


def _reached(row: Any, column: str) -> bool:
    return row[column] is not None and not (isinstance(row[column], float) and math.isnan(row[column]))


def baseline(row: Any, *, test_images: int, device_type: str, curve: str, inference_batch: int = 256) -> str:
    """The baseline's accuracies, training and inference times (a results row) and peak GPU memory when measured;
    ``curve`` is the reading of its learning curves (curves.describe_curve)."""
    memory = ("" if pd.isna(row.peak_gpu_memory_bytes) else
              f"Training peaked at {human_bytes(int(row.peak_gpu_memory_bytes))} of GPU memory.")
    return sentences(
        f"After {row.epochs_run} epochs the baseline reaches **{row.test_acc:.2%}** test accuracy "
        f"(train {row.train_acc:.2%}).",
        f"Training took **{one_time(row.train_time_s)}** ({one_time(row.epoch_time_s)} per epoch); classifying the "
        f"{test_images:,} test images took {one_time(row.inference_time_s)}, "
        f"**{one_time(row.inference_ms_per_image, 'ms')} per image** in batches of {inference_batch} on "
        f"{device_type.upper()}.", memory, curve)


def time_to_90(row: Any, *, at_first_check: bool, checks_per_epoch: int) -> str:
    """When the baseline (a results row with ``time_to_90_s``, ``epochs_to_90``) first reached 90% train accuracy;
    ``at_first_check``: it was there at its first check, so the time is only an upper bound."""
    if not _reached(row, "time_to_90_s"):
        return f"The baseline never reached 90% train accuracy within {row.epochs_run} epochs."
    head = (f"The baseline first reached 90% train accuracy after **{one_time(row.time_to_90_s)}** of training "
            f"({row.epochs_to_90:.2f} epochs)")
    if at_first_check:
        return (head + f", at its first check: it may have got there sooner, the {checks_per_epoch} checks per epoch "
                "set the resolution.")
    return head + "."


def dropout_effect(runs: pd.DataFrame, *, checks_per_epoch: int) -> str:
    """Which dropout rate gives the lowest final test loss, what it does to the train-test gap and to the time to
    90% train accuracy (rows with ``dropout``, ``test_loss``, ``test_acc``, ``train_acc``, times; one at 0)."""
    runs = runs.sort_values("dropout")
    best = runs.loc[runs.test_loss.idxmin()]
    none, most = runs[runs.dropout == 0].iloc[0], runs.iloc[-1]
    gap_none, gap_most = none.train_acc - none.test_acc, most.train_acc - most.test_acc
    if best.dropout > 0:
        loss = (f"The lowest final test loss comes with dropout **{best.dropout:g}** ({best.test_loss:.3f}, test "
                f"accuracy {best.test_acc:.2%}) against {none.test_loss:.3f} ({none.test_acc:.2%}) without dropout.")
    else:
        loss = (f"No dropout rate lowers the final test loss below the {none.test_loss:.3f} of training without "
                f"dropout ({none.test_acc:.2%} test accuracy).")
    gap = (f"The train-test accuracy gap goes from {gap_none:.2%} without dropout to {gap_most:.2%} at dropout "
           f"{most.dropout:g}" + (": dropout makes memorising the training set harder." if gap_most < gap_none
                                  else ": here dropout does not narrow it."))
    return sentences(loss, gap, dropout_slowdown(none, most, checks_per_epoch=checks_per_epoch))


def dropout_slowdown(none: Any, most: Any, *, checks_per_epoch: int, target: str = "90") -> str:
    """Whether dropout ``most.dropout`` delays the first time at ``target``% train accuracy against no dropout
    (rows with ``time_to_<target>_s``, ``epoch_time_s``, ``dropout``); '' when it does not."""
    column = f"time_to_{target}_s"
    if not _reached(none, column):
        return ""
    if not _reached(most, column):
        return (f"It also slows learning: at dropout {most.dropout:g} train accuracy never reached {target}%, "
                f"without dropout it did after {one_time(none[column])} of training.")
    resolution = check_interval_s(none, most, checks_per_epoch=checks_per_epoch)
    late, early = two_times(most[column], none[column])
    if most[column] - none[column] > resolution:
        return (f"It also slows learning: {target}% train accuracy after {late} of training at dropout "
                f"{most.dropout:g}, after {early} without (checks every {resolution:.2g} s).")
    if abs(most[column] - none[column]) <= resolution:
        return (f"It does not measurably slow learning: {target}% train accuracy after {late} at dropout "
                f"{most.dropout:g} and {early} without, within one check interval ({resolution:.2g} s).")
    return ""


def normalisation_effect(on: Any, off: Any, *, checks_per_epoch: int, target: str = "96") -> str:
    """Why input normalisation changed the training time (rows of the normalised and the raw run, with
    ``epochs_to_<target>``, ``time_to_<target>_s``, ``train_time_s``, ``epoch_time_s``, ``epochs_run``)."""
    column = f"time_to_{target}_s"
    per_epoch = two_times(on.epoch_time_s, off.epoch_time_s)
    if abs(on.epoch_time_s - off.epoch_time_s) <= SAME_WITHIN * max(on.epoch_time_s, off.epoch_time_s):
        cost = (f"An epoch costs the same within {SAME_WITHIN:.0%} either way ({per_epoch[0]} vs {per_epoch[1]}): "
                "normalising is done once, when the data are loaded, so any saving is in the number of steps "
                "training needs.")
    else:
        cost = (f"An epoch took {per_epoch[0]} normalised vs {per_epoch[1]} raw, although normalising is done once, "
                "when the data are loaded, and adds no work per step; the expected reason for that difference is the "
                "machine's load while each run trained, so compare the runs by steps (epochs) rather than seconds.")
    expected = ("The expected reason: centred inputs of unit scale keep the first layer's gradients well scaled, so "
                "the same learning rate makes steadier progress.")
    reached_on, reached_off = _reached(on, column), _reached(off, column)
    if not reached_on and not reached_off:
        return (f"Neither run reached {target}% train accuracy within {on.epochs_run} epoch(s), so these runs cannot "
                f"say whether normalisation shortens training; more epochs would. {cost}")
    if reached_on != reached_off:
        who, other = ("normalised inputs", "raw pixels") if reached_on else ("raw pixels", "normalised inputs")
        return (f"Only {who} reached {target}% train accuracy within the epochs given; {other} did not. {cost} "
                + (expected if reached_on else "At this learning rate the first layer copes with the uncentred "
                                               "scale better than with the normalised one."))
    resolution = check_interval_s(on, off, checks_per_epoch=checks_per_epoch)
    t_on, t_off = two_times(on[column], off[column])
    if abs(on[column] - off[column]) <= resolution:
        return (f"Both reached {target}% train accuracy within one check interval of each other ({t_on} vs {t_off}; "
                f"checks every {resolution:.2g} s): here normalisation does not change the training time.")
    if on[column] < off[column]:
        return (f"Normalised inputs reached {target}% sooner, in {on[column] / off[column]:.0%} of the training time "
                f"raw pixels needed ({t_on} vs {t_off}). {cost} {expected}")
    return (f"Raw pixels reached {target}% sooner, in {off[column] / on[column]:.0%} of the training time normalised "
            f"inputs needed ({t_off} vs {t_on}). {cost} At this learning rate the first layer copes with the "
            "uncentred scale.")


def decay_and_lr(decay_runs: pd.DataFrame, lr_runs: pd.DataFrame, plain: Any, *, verdicts: Mapping[str, str]) -> str:
    """What L2 weight decay and the learning rate do to test loss, accuracy and gap (rows with ``weight_decay`` /
    ``lr``, ``run_key``, ``diverged``); ``plain`` is the run without either; ``verdicts`` maps a run key to
    curves.curve_verdict of its history ("diverged", "stuck", ...)."""
    best_w = decay_runs.loc[decay_runs.test_loss.idxmin()]
    best_lr = lr_runs.loc[lr_runs.test_acc.idxmax()]
    gap = lambda row: row.train_acc - row.test_acc  # noqa: E731
    if best_w.weight_decay > 0:
        decay = (f"Weight decay **{best_w.weight_decay:g}** gives the lowest test loss ({best_w.test_loss:.3f}; "
                 f"{plain.test_loss:.3f} without), test accuracy {best_w.test_acc:.2%} ({plain.test_acc:.2%} without) "
                 f"and a train-test gap of {gap(best_w):.2%} ({gap(plain):.2%} without).")
    else:
        decay = f"No weight decay lowers the test loss below the {plain.test_loss:.3f} of training without it."
    failed = {"diverged": " (diverged)", "stuck": " (stuck at chance)"}
    others = lr_runs[lr_runs.lr != best_lr.lr].sort_values("lr")
    each = "; ".join(f"lr {row.lr:g}: {row.test_acc:.2%}" + (" (diverged)" if row.diverged else
                                                             failed.get(verdicts.get(row.run_key, ""), ""))
                     for row in others.itertuples())
    return sentences(decay, f"Among the learning rates, **{best_lr.lr:g}** reaches the best test accuracy "
                            f"({best_lr.test_acc:.2%})" + (f"; the others: {each}." if each else "."))


def normalisation_summary(on: Any, off: Any, *, checks_per_epoch: int, target: str = "96") -> str:
    """When the normalised (``on``) and the raw-pixel (``off``) run reached ``target``% train accuracy, their
    training times and test accuracies, and why normalisation changed the training time."""
    def reach(row: Any) -> str:
        if not _reached(row, f"epochs_to_{target}"):
            return f"did **not reach {target}%** train accuracy within {row.epochs_run} epoch(s)"
        return (f"first reached {target}% train accuracy after **{row[f'epochs_to_{target}']:.2f} epochs "
                f"({one_time(row[f'time_to_{target}_s'])})**")
    total_on, total_off = two_times(on.train_time_s, off.train_time_s)
    return sentences(f"With normalised inputs the network {reach(on)}; with raw [0, 1] pixels it {reach(off)}.",
                     f"Total training time: {total_on} vs {total_off}; test accuracy {on.test_acc:.2%} vs "
                     f"{off.test_acc:.2%}.",
                     normalisation_effect(on, off, checks_per_epoch=checks_per_epoch, target=target))


def final_model(row: Any, config: Mapping[str, Any], *, saved_as: str) -> str:
    """The final model (a results row; ``config``: its training knobs) and the file it was saved to."""
    epochs = int(row.epochs_run)
    return (f"**{row.model_name}** ({config['init']}, batch {config['batch_size']}, lr {config['lr']:g}, momentum "
            f"{config['momentum']:g}) reaches **{row.test_acc:.2%}** test accuracy after {epochs} "
            f"epoch{'' if epochs == 1 else 's'}; saved to `{saved_as}` (config + weights).")
