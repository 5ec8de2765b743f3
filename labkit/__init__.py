"""labkit: the helper package behind the labkit labs notebooks.

``import labkit`` then ``labkit.data``, ``labkit.models``, ``labkit.train``, ``labkit.labs.cnn.plan``, ...: a
submodule is imported the first time it is used. The layout (a shared core, ``labkit.labs.<lab>``,
``labkit.course``) and its rules are in docs/architecture.md.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"


def __getattr__(name: str) -> ModuleType:
    """Import ``labkit.<name>`` on first use (PEP 562), so ``import labkit`` stays light."""
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module 'labkit' has no attribute or submodule {name!r}") from None
