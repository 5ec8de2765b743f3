"""Lab 2: CNN sweeps (parameters, the one sweep plan, the trial, the run budget)."""

from labkit import lazy_submodules

__getattr__ = lazy_submodules(__name__)
