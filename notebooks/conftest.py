"""nbval runs every lab notebook in smoke mode on the real dataset, or skips a lab that reads MNIST when the data
is absent (Lab 3 reads none: it runs on random images and tokens)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

NEEDS_NO_DATA = {"03_resnet18_bert_inference.ipynb"}
# The kernels nbval starts inherit this environment: smoke-sized runs, plain-text progress bars.
os.environ.setdefault("LABKIT_SMOKE", "1")
os.environ.setdefault("LABKIT_DATASET", "mnist")  # the real dataset CI has offline (Labs 2, 4, 5 default to Fashion-MNIST)
os.environ.setdefault("LABKIT_PROGRESS", "text")
# Their reports go to a fresh folder (shared by the labs of one pytest run, so Lab 4 finds the model Lab 2 saved),
# never into the checkout's reports/ where a real run may live.
os.environ.setdefault("LABKIT_REPORTS_DIR", tempfile.mkdtemp(prefix="labkit-nbval-"))


def _missing_data() -> list[Path]:
    from labkit.data import expected_files

    return [path for path in expected_files(os.environ["LABKIT_DATASET"]) if not path.is_file()]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.notebooks)
            item.add_marker(pytest.mark.slow)
    notebook_items = [item for item in items if here in Path(str(item.fspath)).parents
                      and Path(str(item.fspath)).name not in NEEDS_NO_DATA]
    missing = _missing_data() if notebook_items else []
    if missing:
        skip = pytest.mark.skip(reason=f"the real dataset is not here ({missing[0]}): set LABKIT_DATA_DIR to run the notebooks")
        for item in notebook_items:
            item.add_marker(skip)
