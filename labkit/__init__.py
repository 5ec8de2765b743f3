"""labkit: the helper package behind the labkit labs notebooks.

``import labkit`` then ``labkit.data``, ``labkit.models``, ``labkit.train``, ``labkit.labs.cnn.plan``, ...: a
submodule is imported the first time it is used. The layout (a shared core, ``labkit.labs.<lab>``,
``labkit.course``) and its rules are in docs/architecture.md.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Callable

__version__ = "0.1.0"


def lazy_submodules(package: str) -> Callable[[str], ModuleType]:
    """Return a module ``__getattr__`` (PEP 562) that imports ``<package>.<name>`` on first use."""
    def __getattr__(name: str) -> ModuleType:
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{package}.{name}":
                raise
            raise AttributeError(f"module {package!r} has no attribute or submodule {name!r}") from None
    return __getattr__


__getattr__ = lazy_submodules(__name__)
