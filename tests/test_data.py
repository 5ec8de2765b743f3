import struct

import pytest
import torch

from labkit import data
from labkit.data import (DamagedDatasetError, DatasetNotFoundError, load_splits, prepare_images, torchvision_dataset,
                         torchvision_transform)
from idx_files import N_TEST, N_TRAIN, make_idx_dataset


def test_loader_reads_idx_files_through_torchvision(data_dir):
    images, labels = data.load_raw("mnist", data_dir)
    assert images.shape == (N_TRAIN, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (N_TRAIN,) and labels.dtype == torch.int64


def test_fashion_mnist_uses_its_own_folder(data_dir):
    mnist, _ = data.load_raw("mnist", data_dir)
    fashion, _ = data.load_raw("fashion-mnist", data_dir)
    assert not torch.equal(mnist, fashion), "Fashion-MNIST must be read from FashionMNIST/raw, not MNIST/raw"


def test_describe_splits_names_the_dataset_as_written_and_its_classes(data_dir):
    splits = load_splits("fashion_mnist", data_dir)
    text = data.describe_splits(splits, ["T-shirt", "Trouser"])
    assert text == (f"Fashion-MNIST: **160** training, **40** validation and **{N_TEST}** test images of 28x28 "
                    "pixels, 10 classes (T-shirt, Trouser).")
    assert data.describe_splits(load_splits("mnist", data_dir)).endswith("28x28 pixels, 10 classes.")
    assert data.display_name("fmnist") == "Fashion-MNIST"


def test_split_is_80_20_disjoint_and_keeps_the_official_test_set(data_dir):
    splits = load_splits("mnist", data_dir)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (160, 40, N_TEST)
    train_rows = {tuple(x.flatten().tolist()) for x in splits.train.x}
    assert not any(tuple(x.flatten().tolist()) in train_rows for x in splits.val.x), "train and val overlap"


def test_split_is_the_same_for_the_same_seed_and_differs_for_another(data_dir):
    a, b = load_splits("mnist", data_dir, seed=3), load_splits("mnist", data_dir, seed=3)
    c = load_splits("mnist", data_dir, seed=4)
    assert torch.equal(a.val.y, b.val.y) and torch.equal(a.val.x, b.val.x)
    assert not torch.equal(a.val.x, c.val.x)


def test_limits_shrink_train_and_test(data_dir):
    splits = load_splits("mnist", data_dir, train_limit=100, test_limit=10)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (80, 20, 10)


@pytest.mark.parametrize("mode", ["resize", "crop"])
def test_resize_and_crop_give_the_requested_size(data_dir, mode):
    splits = load_splits("mnist", data_dir, size=14, mode=mode)
    assert splits.train.x.shape[1:] == (1, 14, 14)
    assert splits.in_features == 196


def test_center_crop_keeps_the_middle_pixels():
    images = torch.arange(28 * 28, dtype=torch.uint8).reshape(1, 28, 28)
    cropped = prepare_images(images, size=20, mode="crop")
    assert torch.allclose(cropped[0, 0], images[0, 4:24, 4:24].float() / 255)


@pytest.mark.parametrize("size,mode", [(28, "resize"), (14, "crop"), (14, "resize")])
def test_fast_path_matches_the_torchvision_per_sample_transform(data_dir, size, mode):
    dataset = torchvision_dataset("mnist", data_dir, download=False,
                                  transform=torchvision_transform("mnist", size=size, mode=mode))
    mean, std = data.NORMALIZATION["mnist"]
    images, _ = data.load_raw("mnist", data_dir)
    fast = prepare_images(images[:8], size=size, mode=mode, mean=mean, std=std)
    slow = torch.stack([dataset[i][0] for i in range(8)])
    # PIL and tensor antialiased resizing round differently; crop and identity are exact.
    tolerance = 0.05 if (mode == "resize" and size != 28) else 1e-6
    assert (fast - slow).abs().max() < tolerance


def test_crop_larger_than_the_image_names_the_parameter():
    with pytest.raises(ValueError, match=r"size=32.*larger than the 28x28"):
        prepare_images(torch.zeros(1, 28, 28, dtype=torch.uint8), size=32, mode="crop")


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match=r"dataset='cifar10'.*fashion_mnist"):
        load_splits("cifar10")


def test_missing_data_names_the_folder_and_the_files(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        data.load_raw("fashion_mnist", tmp_path / "empty", download=False)
    message = str(error.value)
    assert str((tmp_path / "empty").resolve()) in message
    assert "FashionMNIST/raw/train-images-idx3-ubyte" in message


def test_data_dir_comes_from_the_environment(monkeypatch, data_dir):
    monkeypatch.setenv("LABKIT_DATA_DIR", str(data_dir))
    assert data.resolve_data_dir() == data_dir
    assert len(load_splits("mnist").test) == N_TEST


def test_batches_cover_every_example_once_when_shuffled(data_dir):
    split = load_splits("mnist", data_dir).train
    seen = torch.cat([y for _, y in split.batches(64, shuffle=True, generator=torch.Generator().manual_seed(0))])
    assert len(seen) == len(split) and split.num_batches(64) == 3
    assert torch.equal(seen.sort().values, split.y.sort().values)


# A dataset file damaged on disk: cut short by a copy, another file under its name, a header gone wrong.
DAMAGES = {
    "truncated": (lambda content: content[:1000], "it is 1,000 bytes, but its header says it holds 200 images "
                                                  "of 28 x 28, which take 156,816 bytes"),
    "garbage": (lambda content: bytes(range(256)) * 4, "does not start with the IDX images header (magic number "
                                                       "2051), so it is not an IDX images file (the official file "
                                                       "is 47,040,016 bytes)"),
    "wrong header": (lambda content: struct.pack(">i", 2049) + content[4:], "does not start with the IDX images "
                                                                            "header"),
}


@pytest.mark.parametrize("damage, problem", DAMAGES.values(), ids=DAMAGES.keys())
def test_a_damaged_dataset_file_is_named_with_its_size_and_left_for_deletion(tmp_path, damage, problem):
    root = make_idx_dataset(tmp_path, "MNIST")
    path = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    before = path.read_bytes()
    with pytest.raises(DamagedDatasetError) as error:
        load_splits("mnist", root)  # download allowed: a damaged file must not be taken for a missing one
    message = str(error.value)
    assert message.startswith(f"{path} is damaged: ") and problem in message, message
    assert "Delete it and run again so that torchvision downloads it again" in message, message
    assert path.read_bytes() == before, "nothing may be written on top of a damaged dataset file"
