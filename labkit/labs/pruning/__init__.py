"""Lab 4: structured pruning (the heuristic, the loop, the analysis, figures)."""

from labkit import lazy_submodules

__getattr__ = lazy_submodules(__name__)
