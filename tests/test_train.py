import pytest
import torch

from labkit.data import load_splits
from labkit.models import MLP
from labkit.train import HISTORY_COLUMNS, evaluate, fit, resolve_device, seed_everything


@pytest.fixture
def splits(data_dir):
    return load_splits("mnist", data_dir)


def _fit(splits, seed=0, epochs=2):
    seed_everything(seed)
    model = MLP(784, [64], 10)
    return model, fit(model, splits, epochs=epochs, batch_size=16, lr=1e-2, device="cpu", seed=seed, verbose=False)


def test_fit_returns_one_history_row_per_epoch_with_every_split(splits):
    _, history = _fit(splits, epochs=3)
    assert list(history.columns) == HISTORY_COLUMNS
    assert history.epoch.tolist() == [1, 2, 3]
    assert history[["train_acc", "val_acc", "test_acc"]].stack().between(0, 1).all()
    assert (history.epoch_time_s > 0).all()


def test_fit_learns_a_learnable_dataset(splits):
    model, history = _fit(splits, epochs=3)
    assert history.test_acc.iloc[-1] > 0.8, f"expected > 80% on block-position digits, got {history.test_acc.iloc[-1]:.0%}"
    assert history.train_loss.iloc[-1] < history.train_loss.iloc[0]
    assert evaluate(model, splits.test)[1] == pytest.approx(history.test_acc.iloc[-1])


def test_the_same_seed_gives_the_same_history(splits):
    _, a = _fit(splits, seed=1)
    _, b = _fit(splits, seed=1)
    _, c = _fit(splits, seed=2)
    columns = ["train_loss", "val_loss", "test_loss"]
    assert a[columns].equals(b[columns])
    assert not a[columns].equals(c[columns])


def test_fit_prints_a_readable_line_per_epoch(splits, capsys):
    seed_everything(0)
    fit(MLP(784, [8], 10), splits, epochs=1, batch_size=32, device="cpu")
    assert "epoch 1/1: train loss" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs,name", [(dict(epochs=0), "epochs"), (dict(batch_size=-1), "batch_size"),
                                         (dict(lr=0.0), "lr")])
def test_bad_training_knobs_name_the_parameter(splits, kwargs, name):
    with pytest.raises(ValueError, match=name):
        fit(MLP(784, [8], 10), splits, device="cpu", **kwargs)


def test_auto_device_is_cuda_only_when_available():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("device", ["tpu", "gpu0"])
def test_unknown_device_names_the_parameter(device):
    with pytest.raises(ValueError, match=f"device='{device}'"):
        resolve_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_says_so():
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
