"""The course tools: the ``labkit`` command, PDF reports, Colab set-up."""

from labkit import lazy_submodules

__getattr__ = lazy_submodules(__name__)
