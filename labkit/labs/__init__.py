"""The five labs, one package each: a lab imports labkit's core and earlier labs only."""

from labkit import lazy_submodules

__getattr__ = lazy_submodules(__name__)
