"""Lab 1's exercise checks: the student's parameter and MAC formulas of an MLP against labkit's counters."""

from __future__ import annotations

import random
from collections.abc import Callable

import torch

from labkit.checking import CheckResult, run_cases
from labkit.counting import count_macs, count_params
from labkit.models import MLP


def _cases(seed: int = 0) -> list[tuple[str, dict]]:
    made = [(784, [1024, 1024, 1024], 10), (784, [256, 128], 10), (4, [3], 2), (20, [5, 7, 3, 9], 4)]
    rng = random.Random(seed)
    made += [(rng.randint(1, 900), [rng.randint(1, 300) for _ in range(rng.randint(1, 4))], rng.randint(2, 20))
             for _ in range(5)]
    return [(f"in_features={n_in}, hidden={hidden}, out_features={n_out}",
             {"in_features": n_in, "hidden": hidden, "out_features": n_out}) for n_in, hidden, n_out in made]


def reference_params(in_features: int, hidden: list[int], out_features: int) -> int:
    """Return the parameters of ``MLP(in_features, hidden, out_features)``, counted on the model."""
    return count_params(MLP(in_features, list(hidden), out_features))


def reference_macs(in_features: int, hidden: list[int], out_features: int) -> int:
    """Return the MACs of one example through ``MLP(in_features, hidden, out_features)``, counted by torch."""
    return count_macs(MLP(in_features, list(hidden), out_features), torch.zeros(1, in_features))


def mlp_params(student: Callable[..., int]) -> CheckResult:
    """Exercise 1.1: an MLP's parameter count by formula."""
    return run_cases("1.1", 1, student, reference_params, _cases())


def mlp_macs(student: Callable[..., int]) -> CheckResult:
    """Exercise 1.2: an MLP's MACs per example by formula."""
    return run_cases("1.2", 1, student, reference_macs, _cases(seed=1))
