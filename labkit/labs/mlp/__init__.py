"""Lab 1: MLP sweeps (parameters, the trial)."""

from labkit import lazy_submodules

__getattr__ = lazy_submodules(__name__)
