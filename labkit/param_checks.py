"""Checks shared by every lab's parameters: whole numbers, fractions, lists, the common knobs, the smoke switch."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Callable

from labkit.data import DATASET_ENV, chosen_dataset, dataset_name
from labkit.executors import Executor
from labkit.train import resolve_device


def smoke_from_env(smoke: bool) -> bool:
    """Return True if ``smoke`` is set or ``LABKIT_SMOKE`` is 1/true (how nbval runs notebooks small)."""
    return bool(smoke) or os.environ.get("LABKIT_SMOKE", "").strip().lower() in ("1", "true", "yes")


def positive_ints(values, name: str, *, allow_empty: bool = False) -> tuple[int, ...]:
    values = (values,) if isinstance(values, int) else tuple(values)
    if not values and not allow_empty:
        raise ValueError(f"{name} is empty: give at least one value")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} contains {v!r}: every value must be a positive whole number")
    return values


def check_common(params: Any) -> Callable[[str, Any], None]:
    """Check the knobs every lab has (dataset, device, seed), canonicalise the dataset name, and return a
    setter for the frozen dataclass ``params``."""
    def set_(name: str, value: Any) -> None:
        object.__setattr__(params, name, value)

    set_("dataset", dataset_name(params.dataset))
    resolve_device(params.device)
    if isinstance(params.seed, bool) or not isinstance(params.seed, int) or params.seed < 0:
        raise ValueError(f"seed={params.seed!r}: must be a non-negative whole number")
    return set_


@dataclass(frozen=True)
class LabParams:
    """The knobs every lab has (checked by :func:`check_common`)."""

    dataset: str = "mnist"
    data_dir: str | None = None
    reports_dir: str | None = None
    device: str = "auto"
    seed: int = 0

    def limits(self) -> dict[str, int | None]:
        """The data limits every lab with a dataset has (``train_limit``, ``test_limit``), for ``load_splits``."""
        return {"train_limit": self.train_limit, "test_limit": self.test_limit}


@dataclass(frozen=True)
class SweepParams(LabParams):
    """The knobs of a lab whose grids run through :func:`labkit.sweep.run_sweep`: where trials run."""

    executor: str = "local"
    ray_address: str | None = None
    threads_per_trial: int | None = None

    def sweep_executor(self) -> Executor:
        """Where the sweeps' trials run; a bad value is a ValueError naming it."""
        return Executor(self.executor, self.ray_address, self.threads_per_trial)


def notebook_values(cls, namespace: dict[str, Any]) -> dict[str, Any]:
    """Return the values of ``cls``'s fields found in ``namespace`` (a notebook's ``globals()`` after its
    parameters cell and papermill's injected one), so a notebook builds its Params without naming each knob."""
    return {f.name: namespace[f.name] for f in dataclasses.fields(cls) if f.name in namespace}


def validated_params(cls, smoke_values: dict[str, Any], lab: str, params: dict[str, Any]):
    """Build ``cls(**params)`` (unknown names are an error); a dataset left at its default becomes
    ``$LABKIT_DATASET`` when that is set; then shrink the knobs still at their default when smoke is on, so
    ``--smoke -p widths [16]`` keeps the 16."""
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; {lab} knows {sorted(fields)}")
    given = cls(**params)  # a bad value stops here, smoke or not
    defaults = cls()
    if hasattr(given, "dataset") and os.environ.get(DATASET_ENV) and given.dataset == defaults.dataset:
        given = dataclasses.replace(given, dataset=chosen_dataset(defaults.dataset))  # labkit run --dataset
    if not smoke_from_env(given.smoke):
        return given
    shrunk = {name: value for name, value in smoke_values.items() if getattr(given, name) == getattr(defaults, name)}
    return dataclasses.replace(given, smoke=True, **shrunk)


def numbers_in_range(values, name: str, *, low: float, high: float, closed_high: bool = False) -> tuple[float, ...]:
    values = tuple(values) if isinstance(values, (list, tuple)) else (values,)
    if not values:
        raise ValueError(f"{name} is empty: give at least one value")
    for v in values:
        inside = isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v and (v <= high if closed_high
                                                                                            else v < high)
        if not inside:
            raise ValueError(f"{name} contains {v!r}: every value must be in [{low}, {high}{']' if closed_high else ')'}")
    return tuple(float(v) for v in values)


def int_lists(values, name: str) -> tuple[tuple[int, ...], ...]:
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} is empty: give at least one list of values")
    return tuple(positive_ints(v, f"{name}[{i}]") for i, v in enumerate(values))


def check_bools(params: Any, *names: str) -> None:
    """Raise ValueError naming the first of ``names`` whose value on ``params`` is not True or False."""
    for name in names:
        if not isinstance(getattr(params, name), bool):
            raise ValueError(f"{name}={getattr(params, name)!r}: must be True or False")
