"""Datasets, splits, transforms and in-memory batches.

MNIST and Fashion-MNIST are read through torchvision's own loaders (and its download
path). The fast path decodes a dataset once into uint8 tensors, transforms the whole
tensor at once, and batches by indexing: no per-sample PIL work inside the training loop.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from torchvision import datasets, transforms
from torchvision.transforms.v2 import functional as F

from labkit.paths import project_root

IMAGE_SIZE = 28  # MNIST and Fashion-MNIST images are 28 x 28 pixels, one channel
NUM_CLASSES = 10

_DATASETS = {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST}
_ALIASES = {"fashion-mnist": "fashion_mnist", "fashionmnist": "fashion_mnist", "fmnist": "fashion_mnist"}
# Per-dataset pixel mean and std of the training set (pixels scaled to [0, 1]).
NORMALIZATION = {"mnist": (0.1307, 0.3081), "fashion_mnist": (0.2860, 0.3530)}
MODES = ("resize", "crop")


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is neither on disk nor downloadable."""


class DamagedDatasetError(ValueError):
    """A dataset file is on disk but is not a whole IDX file (cut short, another file, a bad header)."""


# IDX files: (magic number, header bytes) of the images (uint8, 3 dims) and labels (uint8, 1 dim) files.
_IDX = {"images": (2051, 16), "labels": (2049, 8)}
# The official files of MNIST and Fashion-MNIST (both 60,000 + 10,000 images of 28 x 28): their sizes in bytes.
OFFICIAL_BYTES = {"train-images-idx3-ubyte": 47_040_016, "train-labels-idx1-ubyte": 60_008,
                  "t10k-images-idx3-ubyte": 7_840_016, "t10k-labels-idx1-ubyte": 10_008}


def dataset_name(name: str) -> str:
    """Return the canonical dataset name (``"mnist"`` or ``"fashion_mnist"``), or raise."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _DATASETS:
        raise ValueError(f"dataset={name!r} is not known; choose one of {sorted(_DATASETS)}")
    return key


DISPLAY_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def display_name(name: str) -> str:
    """The dataset's name as written in prose: ``"fashion_mnist"`` -> ``"Fashion-MNIST"``."""
    return DISPLAY_NAMES[dataset_name(name)]


def describe_splits(splits: "DataSplits", class_names: list[str] | None = None) -> str:
    """One sentence: the dataset, its train / validation / test sizes, image size and classes (named if given)."""
    named = f" ({', '.join(class_names)})" if class_names else ""
    return (f"{display_name(splits.dataset)}: **{len(splits.train):,}** training, **{len(splits.val):,}** validation "
            f"and **{len(splits.test):,}** test images of {splits.size}x{splits.size} pixels, {splits.num_classes} "
            f"classes{named}.")


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Return the data folder: ``data_dir``, else ``$LABKIT_DATA_DIR``, else ``data/`` of the repo (or ``./data``)."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    if os.environ.get("LABKIT_DATA_DIR"):
        return Path(os.environ["LABKIT_DATA_DIR"]).expanduser()
    root = project_root()
    return (root / "data") if root is not None else Path("data")


def expected_files(name: str, data_dir: str | Path | None = None) -> list[Path]:
    """Return the IDX files torchvision expects for ``name`` under the data folder."""
    cls = _DATASETS[dataset_name(name)]
    raw = resolve_data_dir(data_dir) / cls.__name__ / "raw"
    return [raw / Path(url).name.removesuffix(".gz") for url, _md5 in cls.resources]


def idx_problem(path: Path) -> str | None:
    """Return what is wrong with the IDX file at ``path`` (its header, or a size its header does not give), or None."""
    kind = "images" if "images" in path.name else "labels"
    magic, header_bytes = _IDX[kind]
    size = path.stat().st_size
    with path.open("rb") as file:
        head = file.read(header_bytes)
    official = OFFICIAL_BYTES.get(path.name)
    expected = f" (the official file is {official:,} bytes)" if official else ""
    if len(head) < header_bytes or int.from_bytes(head[:4], "big") != magic:
        return (f"it is {size:,} bytes and does not start with the IDX {kind} header (magic number {magic}), so it is "
                f"not an IDX {kind} file{expected}")
    dims = [int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range((header_bytes - 4) // 4)]
    whole = header_bytes + math.prod(dims)
    if size != whole:
        held = f"{dims[0]:,} images of {dims[1]} x {dims[2]}" if kind == "images" else f"{dims[0]:,} labels"
        return f"it is {size:,} bytes, but its header says it holds {held}, which take {whole:,} bytes"
    return None


DATASET_ENV = "LABKIT_DATASET"  # `labkit run --dataset`: the dataset of every lab that takes one


def chosen_dataset(default: str) -> str:
    """Return the dataset a lab reads: ``$LABKIT_DATASET`` when set, else the lab's ``default``."""
    return dataset_name(os.environ.get(DATASET_ENV, "").strip() or default)


def check_available(name: str, data_dir: str | Path | None = None) -> None:
    """Make sure both splits of ``name`` can be read before a long run starts: whole files on disk, else a
    download (when online). Raise :class:`DatasetNotFoundError` (the files, the folder, what to pass) or
    :class:`DamagedDatasetError`."""
    check_files(name, data_dir)
    for train in (True, False):
        load_raw(name, data_dir, train=train)


def check_files(name: str, data_dir: str | Path | None = None) -> None:
    """Raise :class:`DamagedDatasetError` naming the first IDX file of ``name`` that is on disk but not whole
    (missing files are left to torchvision's download)."""
    for path in expected_files(name, data_dir):
        if path.is_file() and (problem := idx_problem(path)) is not None:
            raise DamagedDatasetError(
                f"{path} is damaged: {problem}. It was left as it is. Delete it and run again so that torchvision "
                "downloads it again (offline: copy a whole one there from a machine that has the dataset).")


def torchvision_dataset(name: str, data_dir: str | Path | None = None, *, train: bool = True,
                        download: bool = True, transform=None) -> datasets.VisionDataset:
    """Return torchvision's dataset object, downloading it if absent and allowed."""
    key = dataset_name(name)
    cls, root = _DATASETS[key], resolve_data_dir(data_dir)
    check_files(key, root)  # a file that is there but damaged is named, never taken for a missing one
    try:
        return cls(str(root), train=train, download=False, transform=transform)
    except RuntimeError as missing:
        error: Exception = missing
    if download:
        try:
            return cls(str(root), train=train, download=True, transform=transform)
        except Exception as failed:  # offline: URLError, RuntimeError from every mirror
            error = failed
    files = "\n  ".join(str(p) for p in expected_files(key, root))
    raise DatasetNotFoundError(
        f"{cls.__name__} is not in {root.resolve()} and could not be downloaded ({error}).\n"
        f"Expected these IDX files (uncompressed):\n  {files}\n"
        "Copy them there, or point data_dir / LABKIT_DATA_DIR at a folder that has them."
    ) from error


@functools.lru_cache(maxsize=8)
def _raw_tensors(key: str, root: str, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    ds = torchvision_dataset(key, root, train=train, download=download)
    return ds.data, ds.targets


def load_raw(name: str, data_dir: str | Path | None = None, *, train: bool = True,
             download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (images uint8 [N, 28, 28], labels int64 [N]) decoded once (cached in memory)."""
    key = dataset_name(name)
    return _raw_tensors(key, str(resolve_data_dir(data_dir)), train, download)


def check_size(size: int, mode: str = "resize", *, name: str = "size") -> None:
    """Raise ValueError unless ``size`` is a valid output side (pixels) for ``mode``."""
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not known; choose 'resize' or 'crop'")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"{name}={size!r}: the image side must be a positive whole number of pixels")
    if mode == "crop" and size > IMAGE_SIZE:
        raise ValueError(f"{name}={size}: a center crop cannot be larger than the "
                         f"{IMAGE_SIZE}x{IMAGE_SIZE} image; choose {name} <= {IMAGE_SIZE} or mode='resize'")


def prepare_images(images: torch.Tensor, *, size: int = IMAGE_SIZE, mode: str = "resize",
                   mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    """Turn uint8 images [N, H, W] into normalised float32 [N, 1, size, size]."""
    check_size(size, mode)
    x = images.unsqueeze(1).to(torch.float32).div_(255.0)
    if size != x.shape[-1]:
        if mode == "resize":
            x = F.resize(x, [size, size], antialias=True)
        else:
            x = F.center_crop(x, [size, size])
    return x.sub_(mean).div_(std)


def ink_outside_center(images: torch.Tensor, size: int) -> float:
    """Share of the total pixel intensity (ink) of uint8 ``images`` [N, H, W] that lies outside their central
    ``size`` x ``size`` window: what a center crop to ``size`` throws away."""
    check_size(size, "crop")
    total = float(images.sum(dtype=torch.float64))
    kept = float(F.center_crop(images, [size, size]).sum(dtype=torch.float64))
    return 1.0 - kept / total if total else 0.0


def torchvision_transform(name: str, *, size: int = IMAGE_SIZE, mode: str = "resize") -> transforms.Compose:
    """Return the per-sample PIL transform that matches :func:`prepare_images` (the textbook path)."""
    check_size(size, mode)
    mean, std = NORMALIZATION[dataset_name(name)]
    steps = [transforms.ToTensor()]
    if size != IMAGE_SIZE:
        steps.append(transforms.Resize(size, antialias=True) if mode == "resize" else transforms.CenterCrop(size))
    return transforms.Compose(steps + [transforms.Normalize((mean,), (std,))])


def train_val_split(n: int, *, val_fraction: float = 0.2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Return seeded (train_indices, val_indices) of a random ``1 - val_fraction`` / ``val_fraction`` split."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction}: must be between 0 and 1 (e.g. 0.2 for 80/20)")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = int(round(n * val_fraction))
    return perm[n_val:], perm[:n_val]


@dataclass
class Split:
    """Examples held in memory: x float32 [N, 1, S, S], y int64 [N]."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device | str) -> "Split":
        return Split(self.x.to(device), self.y.to(device))

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def batches(self, batch_size: int, *, shuffle: bool = False,
                generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (x, y) batches by indexing; the last batch may be smaller."""
        if shuffle:
            order = torch.randperm(len(self), generator=generator).to(self.y.device)
            for start in range(0, len(self), batch_size):
                idx = order[start:start + batch_size]
                yield self.x[idx], self.y[idx]
        else:
            for start in range(0, len(self), batch_size):
                yield self.x[start:start + batch_size], self.y[start:start + batch_size]


@dataclass
class DataSplits:
    """Train / validation / test splits of one dataset at one input size."""

    train: Split
    val: Split
    test: Split
    dataset: str
    size: int
    mode: str
    num_classes: int = NUM_CLASSES

    @property
    def in_features(self) -> int:
        """Input features of one flattened example (size * size)."""
        return self.size * self.size

    def to(self, device: torch.device | str) -> "DataSplits":
        return DataSplits(self.train.to(device), self.val.to(device), self.test.to(device),
                          self.dataset, self.size, self.mode, self.num_classes)


def load_splits(dataset: str = "mnist", data_dir: str | Path | None = None, *, size: int = IMAGE_SIZE,
                mode: str = "resize", val_fraction: float = 0.2, seed: int = 0,
                train_limit: int | None = None, test_limit: int | None = None,
                download: bool = True, normalize: bool = True) -> DataSplits:
    """Load a dataset into memory, split the official training set 80/20 (seeded), keep the official test set.

    ``train_limit`` keeps a seeded random subset of the training set before the split and
    ``test_limit`` the first test examples (smoke runs); None keeps everything. ``normalize``
    standardises pixels with the training set's mean and std; False keeps them in [0, 1].
    """
    key = dataset_name(dataset)
    check_size(size, mode)
    mean, std = NORMALIZATION[key] if normalize else (0.0, 1.0)
    train_images, train_labels = load_raw(key, data_dir, train=True, download=download)
    test_images, test_labels = load_raw(key, data_dir, train=False, download=download)
    pool = torch.arange(len(train_labels))
    if train_limit is not None:
        pool = torch.randperm(len(train_labels), generator=torch.Generator().manual_seed(seed))[:train_limit]
    train_idx, val_idx = train_val_split(len(pool), val_fraction=val_fraction, seed=seed)
    x_pool = prepare_images(train_images[pool], size=size, mode=mode, mean=mean, std=std)
    y_pool = train_labels[pool]
    n_test = len(test_labels) if test_limit is None else min(test_limit, len(test_labels))
    x_test = prepare_images(test_images[:n_test], size=size, mode=mode, mean=mean, std=std)
    return DataSplits(train=Split(x_pool[train_idx], y_pool[train_idx]),
                      val=Split(x_pool[val_idx], y_pool[val_idx]),
                      test=Split(x_test, test_labels[:n_test].clone()),
                      dataset=key, size=size, mode=mode)
