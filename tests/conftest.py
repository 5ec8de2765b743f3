"""Shared fixtures: tiny IDX datasets written in torchvision's layout, read by the real loader."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

from idx_files import make_idx_dataset

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """A data folder holding tiny MNIST and Fashion-MNIST look-alikes in torchvision's layout."""
    root = tmp_path_factory.mktemp("data")
    make_idx_dataset(root, "MNIST", seed=0)
    make_idx_dataset(root, "FashionMNIST", seed=1)
    return root


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """Keep tests away from the real data, reports and progress settings."""
    monkeypatch.delenv("LABKIT_DATA_DIR", raising=False)
    monkeypatch.delenv("LABKIT_SMOKE", raising=False)
    monkeypatch.delenv("LABKIT_DATASET", raising=False)
    monkeypatch.setenv("LABKIT_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("LABKIT_PROGRESS", "off")
