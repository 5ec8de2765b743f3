"""Known-answer checks of a student's exercise: run the student's function on cases, compare with labkit's
reference, print one line (``Exercise 4.3: passed (1/1 point)`` or the first failing case).

A check never raises on a wrong or unfinished answer: it prints what went wrong and returns the result, so the
lab goes on. The labs' own checks (``labkit.labs.<lab>.checks``) are built from :func:`run_cases`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch

# What a check prints first on its line; `labkit grade` reads it back from the check cell's output.
LINE = re.compile(r"^Exercise (?P<exercise>\d+\.\d+): (?P<status>passed|failed|not done)\b(?P<rest>.*)$", re.M)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one exercise's check: points earned out of ``points``, and the line printed."""

    exercise: str
    points: int
    earned: int
    message: str

    @property
    def passed(self) -> bool:
        return self.earned == self.points

    def __repr__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        """Show nothing as a cell's value: the check already printed its line."""


def _points(n: int) -> str:
    return f"{n} point" if n == 1 else f"{n} points"


def report(exercise: str, points: int, failure: str | None, *, not_done: bool = False) -> CheckResult:
    """Print and return the check's line: passed (all points) when ``failure`` is None, else 0 points."""
    if failure is None:
        message = f"Exercise {exercise}: passed ({points}/{_points(points)})"
    else:
        message = f"Exercise {exercise}: {'not done' if not_done else 'failed'}: {failure} (0/{_points(points)})"
    print(message)
    return CheckResult(exercise, points, points if failure is None else 0, message)


def describe_error(error: BaseException) -> str:
    """Return ``TypeError: message`` for an exception, on one line."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


Compare = Callable[[Any, Any], "str | None"]


def equal(expected: Any, got: Any) -> str | None:
    """Compare exactly (numbers, tuples, lists); return why they differ, or None."""
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if got != expected:
        return f"expected {expected!r}, got {got!r}"
    return None


def close_tensors(tolerance: float) -> Compare:
    """Compare tensors: same shape, max |diff| <= ``tolerance``."""
    def compare(expected: torch.Tensor, got: Any) -> str | None:
        if not isinstance(got, torch.Tensor):
            return f"expected a tensor of shape {tuple(expected.shape)}, got {type(got).__name__}"
        if tuple(got.shape) != tuple(expected.shape):
            return f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
        diff = (got.detach().double() - expected.detach().double()).abs().max().item() if got.numel() else 0.0
        if not math.isfinite(diff) or diff > tolerance:
            return f"max |diff| {diff:.2g} (expected <= {tolerance:g})"
        return None
    return compare


def run_cases(exercise: str, points: int, student: Callable, reference: Callable,
              cases: Iterable[tuple[str, dict[str, Any]]], compare: Compare = equal) -> CheckResult:
    """Call ``student(**kwargs)`` and ``reference(**kwargs)`` for each (label, kwargs) case; print and return the
    first failing case (``label: why``), or passed. ``NotImplementedError`` reports the exercise as not done."""
    for label, kwargs in cases:
        expected = reference(**kwargs)
        failure = call_and_compare(exercise, points, lambda: student(**kwargs), expected, compare, label)
        if failure is not None:
            return failure
    return report(exercise, points, None)


def call_and_compare(exercise: str, points: int, call: Callable[[], Any], expected: Any, compare: Compare,
                     label: str) -> CheckResult | None:
    """Run ``call``; return the failed result (printed), or None when it returns what ``compare`` accepts."""
    try:
        got = call()
    except NotImplementedError:
        return report(exercise, points, "the function still raises NotImplementedError", not_done=True)
    except Exception as error:  # the student's code may raise anything: report it, never stop the lab
        return report(exercise, points, f"{label}: raised {describe_error(error)}")
    problem = compare(expected, got)
    return None if problem is None else report(exercise, points, f"{label}: {problem}")
