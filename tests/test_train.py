import pandas as pd
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


# --- optimizers and train-accuracy checks (Lab 2) ---------------------------------------------------

from labkit.models import CNN  # noqa: E402
from labkit.train import CHECK_COLUMNS, FitResult, fit_with_checks, make_optimizer  # noqa: E402


def test_sgd_optimizer_carries_momentum_and_weight_decay():
    opt = make_optimizer(MLP(784, [8], 10), 0.05, name="sgd", momentum=0.9, weight_decay=1e-3)
    assert isinstance(opt, torch.optim.SGD)
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"]) == (0.05, 0.9, 1e-3)


@pytest.mark.parametrize("kwargs,message", [(dict(name="rmsprop"), "optimizer='rmsprop'.*adam.*sgd"),
                                            (dict(name="sgd", momentum=1.5), "momentum=1.5"),
                                            (dict(weight_decay=-1.0), "weight_decay=-1.0")])
def test_bad_optimizer_knobs_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer(MLP(784, [8], 10), 0.01, **kwargs)


def _fit_checked(splits, **kwargs):
    seed_everything(0)
    model = CNN([4], 3, hidden=[16])
    options = dict(epochs=2, batch_size=16, lr=0.05, optimizer="sgd", momentum=0.9, device="cpu", verbose=False,
                   checks_per_epoch=4, probe_examples=50)
    return fit_with_checks(model, splits, **{**options, **kwargs})


def test_checks_run_evenly_through_each_epoch_on_the_training_sample(splits):
    result = _fit_checked(splits)
    assert list(result.checks.columns) == CHECK_COLUMNS
    # 160 training examples in 10 batches of 16: checks after batches 2, 5, 8 and 10 of each epoch
    assert result.checks.epoch.tolist() == pytest.approx([0.2, 0.5, 0.8, 1.0, 1.2, 1.5, 1.8, 2.0])
    assert result.checks.train_acc.between(0, 1).all() and result.checks.train_time_s.is_monotonic_increasing


def test_check_time_excludes_evaluation_and_matches_the_epoch_times(splits):
    result = _fit_checked(splits)
    training_s = result.history.epoch_time_s.sum()
    assert result.checks.train_time_s.iloc[-1] == pytest.approx(training_s), "the clock stops during checks"
    assert (result.history.eval_time_s > 0).all(), "checks and validation go to eval_time_s"


def test_first_reach_gives_the_first_check_at_or_above_a_target():
    checks = pd.DataFrame({"epoch": [0.5, 1.0, 1.5], "examples_seen": [5, 10, 15], "train_time_s": [1.0, 2.0, 3.0],
                           "train_loss": [1.0, 0.5, 0.4], "train_acc": [0.85, 0.91, 0.95]})
    result = FitResult(pd.DataFrame(), checks)
    assert result.first_reach(0.9) == (2.0, 1.0)
    assert result.first_reach(0.96) == (None, None), "a target never reached is blank, not dropped"


def test_training_stops_when_the_loss_is_no_longer_finite(splits):
    result = _fit_checked(splits, lr=1e6, epochs=3)
    assert result.diverged and len(result.history) < 3 and result.stopped_early


def test_stop_at_ends_training_at_the_first_check_reaching_it(splits):
    result = _fit_checked(splits, epochs=5, stop_at=0.5)
    assert result.checks.train_acc.iloc[-1] >= 0.5 and (result.checks.train_acc.iloc[:-1] < 0.5).all()
    assert len(result.history) < 5 and result.stopped_early


def test_checked_fit_is_repeatable_with_the_same_seed(splits):
    a, b = _fit_checked(splits), _fit_checked(splits)
    assert a.checks.train_loss.tolist() == b.checks.train_loss.tolist()
    assert a.history.test_acc.tolist() == b.history.test_acc.tolist()
