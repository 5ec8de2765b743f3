"""Tiny IDX datasets in torchvision's layout, written byte for byte like the official files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

N_TRAIN, N_TEST = 200, 50



def write_idx_images(path: Path, images: np.ndarray) -> None:
    """Write uint8 images [N, H, W] as an IDX3 file (magic 2051, big-endian sizes)."""
    path.write_bytes(struct.pack(">iiii", 2051, *images.shape) + images.astype(np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    """Write uint8 labels [N] as an IDX1 file (magic 2049)."""
    path.write_bytes(struct.pack(">ii", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


def learnable_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Noise images with a bright 4x4 block whose position encodes the label (easy to learn)."""
    images = rng.integers(0, 60, size=(len(labels), 28, 28))
    for i, label in enumerate(labels):
        row, col = 4 + 8 * (label // 4), 2 + 6 * (label % 4)
        images[i, row:row + 4, col:col + 4] = 255
    return images.astype(np.uint8)


def make_idx_dataset(root: Path, folder: str = "MNIST", seed: int = 0) -> Path:
    """Create ``root/<folder>/raw/`` with the four IDX files torchvision's MNIST loaders read."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        write_idx_images(raw / f"{prefix}-images-idx3-ubyte", learnable_images(labels, rng))
        write_idx_labels(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root
