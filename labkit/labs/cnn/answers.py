"""Lab 2's generated answers that compare times: two times are called different only when they differ by more
than the clock that measured them (one train-accuracy check interval), and are printed at a precision that shows
the difference. Reasons the data do not show are given as the expected ones."""

from __future__ import annotations

import math
from typing import Any


def check_interval_s(*rows: Any, checks_per_epoch: int) -> float:
    """Training seconds between two train-accuracy checks (the resolution of a time to a target), the largest of
    ``rows`` (each with ``epoch_time_s``)."""
    return max(float(row.epoch_time_s) for row in rows) / checks_per_epoch


def two_times(a_s: float, b_s: float) -> tuple[str, str]:
    """``a_s`` and ``b_s`` in seconds, with the fewest decimals (1 to 4) at which they read differently."""
    for decimals in range(1, 5):
        a, b = f"{a_s:.{decimals}f}", f"{b_s:.{decimals}f}"
        if a != b:
            break
    return f"{a} s", f"{b} s"


def _reached(row: Any, column: str) -> bool:
    return row[column] is not None and not (isinstance(row[column], float) and math.isnan(row[column]))


def dropout_slowdown(none: Any, most: Any, *, checks_per_epoch: int, target: str = "90") -> str:
    """Whether dropout ``most.dropout`` delays the first time at ``target``% train accuracy against no dropout
    (rows with ``time_to_<target>_s``, ``epoch_time_s``, ``dropout``); '' when it does not."""
    column = f"time_to_{target}_s"
    if not _reached(none, column):
        return ""
    if not _reached(most, column):
        return (f"It also slows learning: at dropout {most.dropout:g} train accuracy never reached {target}%, "
                f"without dropout it did after {none[column]:.1f} s of training.")
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
    cost = (f"An epoch costs about the same either way ({per_epoch[0]} vs {per_epoch[1]}): normalising is done once, "
            "when the data are loaded, so any saving is in the number of steps training needs.")
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
        return (f"Normalised inputs reached {target}% sooner ({t_on} vs {t_off} of training, "
                f"{on[f'epochs_to_{target}']:.2f} vs {off[f'epochs_to_{target}']:.2f} epochs). {cost} {expected}")
    return (f"Raw pixels reached {target}% sooner ({t_off} vs {t_on} of training). {cost} At this learning rate the "
            "first layer copes with the uncentred scale.")
