"""nbval runs every lab notebook in smoke mode on the real dataset, or skips it when the data is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The kernels nbval starts inherit this environment: smoke-sized runs, plain-text progress bars.
os.environ.setdefault("LABKIT_SMOKE", "1")
os.environ.setdefault("LABKIT_PROGRESS", "text")


def _missing_mnist() -> list[Path]:
    from labkit.data import expected_files

    return [path for path in expected_files("mnist") if not path.is_file()]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    notebook_items = [item for item in items if here in Path(str(item.fspath)).parents]
    missing = _missing_mnist() if notebook_items else []
    if missing:
        skip = pytest.mark.skip(reason=f"real MNIST not found ({missing[0]}): set LABKIT_DATA_DIR to run the notebooks")
        for item in notebook_items:
            item.add_marker(skip)
