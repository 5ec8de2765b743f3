"""The Lab 2 trial: train one CNN config (architecture + training knobs), measure it (the sweeps it runs are
:mod:`labkit.labs.cnn.plan`).

A config is one flat dict: the :class:`labkit.models.CNN` keyword arguments (``channels``,
``kernel_sizes``, ``hidden``, ``padding``, ``pool``, ``batch_norm``, ``dropout``, ``init``) plus
the training knobs (``optimizer``, ``lr``, ``momentum``, ``weight_decay``, ``batch_size``,
``normalize``). "Train accuracy" is measured on a fixed sample of training examples with the
training clock stopped (see :mod:`labkit.train`); times to reach a target exclude evaluation.
"""

from __future__ import annotations

import ast
import contextlib
import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from labkit import sweep as sweeps
from labkit.counting import count_macs, count_params, macs_to_flops
from labkit.data import DataSplits, load_splits
from labkit.executors import Executor
from labkit.models import CNN, save_model
from labkit.results import config_key
from labkit.sysinfo import fingerprint_id
from labkit.timing import dataset_inference_s
from labkit.train import fit_with_checks, resolve_device, seed_everything

LAB = "02_cnn_sweeps"
MODEL_KNOBS = ("channels", "kernel_sizes", "hidden", "padding", "pool", "batch_norm", "dropout", "init")
TRAINING_KNOBS = ("optimizer", "lr", "momentum", "weight_decay", "batch_size", "normalize")
# The Fashion-MNIST baseline of the lab: conv 16 3x3 -> conv 16 3x3 -> FC 100 -> FC 10, Xavier uniform, SGD momentum.
BASELINE = {"channels": [16, 16], "kernel_sizes": [3, 3], "hidden": [100], "padding": 0, "pool": False,
            "batch_norm": False, "dropout": 0.0, "init": "xavier_uniform",
            "optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0, "batch_size": 32, "normalize": True}
# The classic net the architecture sweeps vary: conv 1->32 3x3 pad 1, pool, conv 32->64 3x3 pad 1, pool, linear.
CLASSIC = {**BASELINE, "channels": [32, 64], "kernel_sizes": [3, 3], "hidden": [], "padding": 1, "pool": True}


@dataclass(frozen=True)
class CNNSetup:
    """What stays fixed across Lab 2's trials (part of every run's resume key). ``epochs`` caps training;
    ``targets`` are train accuracies (fractions) whose first-reach time and epoch each row records;
    ``save_models`` keeps each trained model at :func:`model_path` (a run that keeps its model is its own run)."""

    dataset: str = "mnist"
    data_dir: str | None = None
    epochs: int = 2
    device: str = "auto"
    seed: int = 0
    train_limit: int | None = None
    test_limit: int | None = None
    checks_per_epoch: int = 10
    probe_examples: int = 2000
    targets: tuple[float, ...] = (0.90, 0.96)
    save_models: bool = False

    def key_fields(self) -> dict[str, Any]:
        """Fields recorded with each row: the lab, the setup (minus the data path) and the machine fingerprint."""
        fields = {"lab": LAB, **{k: v for k, v in asdict(self).items() if k != "data_dir"}}
        fields["targets"] = list(self.targets)
        fields["device"] = str(resolve_device(self.device))
        fields["fingerprint_id"] = fingerprint_id()
        return fields


def target_columns(target: float) -> tuple[str, str]:
    """Column names of the first-reach time (s) and epoch of a train-accuracy ``target``: 0.9 -> time_to_90_s."""
    percent = f"{target * 100:g}".replace(".", "_")
    return f"time_to_{percent}_s", f"epochs_to_{percent}"


def build_model(config: dict[str, Any], *, image_size: int = 28, num_classes: int = 10) -> CNN:
    """Return the CNN of a config's model knobs (the training knobs are ignored)."""
    return CNN(**{k: config[k] for k in MODEL_KNOBS if k in config}, image_size=image_size, num_classes=num_classes)


@functools.lru_cache(maxsize=2)
def _splits(dataset: str, data_dir: str | None, seed: int, train_limit: int | None, test_limit: int | None,
            normalize: bool) -> DataSplits:
    return load_splits(dataset, data_dir, seed=seed, train_limit=train_limit, test_limit=test_limit,
                       normalize=normalize)


def load_data(setup: CNNSetup, *, normalize: bool = True) -> DataSplits:
    """Return the setup's splits (decoded and normalised once per process, then reused by every trial)."""
    return _splits(setup.dataset, setup.data_dir, setup.seed, setup.train_limit, setup.test_limit, bool(normalize))


def shape_columns(model: CNN) -> dict[str, int]:
    """Flat columns of an architecture for tables and plots: n_conv, conv<i>_channels, conv<i>_kernel, fc<i>_units."""
    config = model.config()
    columns = {"n_conv": len(config["channels"])}
    for i, (c, k) in enumerate(zip(config["channels"], config["kernel_sizes"]), start=1):
        columns[f"conv{i}_channels"], columns[f"conv{i}_kernel"] = c, k
    for i, width in enumerate(config["hidden"], start=1):
        columns[f"fc{i}_units"] = width
    return columns


def train_config(config: dict[str, Any], setup: CNNSetup, *, verbose: bool = False):
    """Build and train the CNN of ``config``; return (model, :class:`labkit.train.FitResult`, data)."""
    unknown = sorted(set(config) - set(MODEL_KNOBS) - set(TRAINING_KNOBS))
    if unknown:
        raise ValueError(f"unknown CNN config knob(s) {unknown}; a config holds {list(MODEL_KNOBS + TRAINING_KNOBS)}")
    knobs = {**BASELINE, **config}
    data = load_data(setup, normalize=knobs["normalize"])
    seed_everything(setup.seed)
    model = build_model(knobs, image_size=data.size, num_classes=data.num_classes)
    result = fit_with_checks(model, data, epochs=setup.epochs, batch_size=knobs["batch_size"], lr=knobs["lr"],
                             optimizer=knobs["optimizer"], momentum=knobs["momentum"],
                             weight_decay=knobs["weight_decay"], device=setup.device, seed=setup.seed,
                             verbose=verbose, checks_per_epoch=setup.checks_per_epoch,
                             probe_examples=setup.probe_examples)
    return model, result, data


def train_baseline(data: DataSplits, *, epochs: int, seed: int = 0, device: str = "auto") -> CNN:
    """Train :data:`BASELINE` (architecture and training knobs) on ``data`` for ``epochs``, without the train-accuracy
    checks; return it in eval mode (what Labs 4 and 5 prune or rewrite when Lab 2 saved no model)."""
    seed_everything(seed)
    model = build_model(BASELINE, image_size=data.size, num_classes=data.num_classes)
    fit_with_checks(model, data, epochs=epochs, batch_size=BASELINE["batch_size"], lr=BASELINE["lr"],
                    optimizer=BASELINE["optimizer"], momentum=BASELINE["momentum"],
                    weight_decay=BASELINE["weight_decay"], device=device, seed=seed, verbose=False, checks_per_epoch=0)
    return model.eval()


def model_path(results_path: str | Path, config: dict[str, Any], setup: CNNSetup) -> Path:
    """Return where :func:`run_cnn_sweep` keeps the trained model of ``config`` when ``setup.save_models``."""
    return Path(results_path).parent / "models" / f"{config_key({**config, **setup.key_fields()})}.pt"


def cnn_trial(config: dict[str, Any], setup: CNNSetup, *, save_to: str | Path | None = None) -> dict[str, Any]:
    """Train the CNN of ``config`` and return its row: cost (params, MACs and FLOPs per example), accuracies
    (fractions; ``train_acc`` on the training sample after the last epoch), ``time_to_90_s`` / ``epochs_to_90``
    per target (blank when not reached within ``setup.epochs``), training and inference times (s, ms per image),
    peak GPU memory (bytes, CUDA only), plus the ``history`` and ``checks`` tables. ``save_to``: save the model there."""
    model, result, data = train_config(config, setup)
    if save_to is not None:
        save_model(model, save_to)
    device = resolve_device(setup.device)
    history, checks = result.history, result.checks
    last = history.iloc[-1]
    macs = count_macs(model, data.test.x[:1].to(device))
    inference_s = dataset_inference_s(model, data.test.x, device=device)
    row: dict[str, Any] = {"model_name": model.name, **shape_columns(model), "params": count_params(model),
                           "macs": macs, "flops": macs_to_flops(macs), "epochs_run": len(history),
                           "diverged": result.diverged}
    for target in setup.targets:
        seconds, epoch = result.first_reach(target)
        time_column, epoch_column = target_columns(target)
        row[time_column], row[epoch_column] = seconds, epoch
    row.update({
        "train_acc": float(checks.train_acc.iloc[-1]) if len(checks) else float(last.train_acc),
        "epoch_train_acc": float(last.train_acc),
        "val_acc": float(last.val_acc), "test_acc": float(last.test_acc), "test_loss": float(last.test_loss),
        "train_time_s": float(history.epoch_time_s.sum()), "epoch_time_s": float(history.epoch_time_s.mean()),
        "inference_time_s": inference_s, "inference_ms_per_image": 1e3 * inference_s / len(data.test),
        "peak_gpu_memory_bytes": result.peak_gpu_memory_bytes,
        "history": history, "checks": checks,
    })
    return row


def run_cnn_sweep(configs: Sequence[dict[str, Any]], setup: CNNSetup, results_path: str | Path, *,
                  sweep: str, tracking: bool = True, executor: "str | Executor | None" = None) -> pd.DataFrame:
    """Run (or resume) :func:`cnn_trial` over ``configs``; return their rows read back from the results file.

    With ``setup.save_models`` each trained model is kept at :func:`model_path` (see :func:`labkit.models.load_model`).
    ``executor``: where trials run (:mod:`labkit.executors`; times are measured under its threads and concurrency).
    """
    def trial(config: dict[str, Any]) -> dict[str, Any]:
        return cnn_trial(config, setup, save_to=model_path(results_path, config, setup) if setup.save_models else None)

    return sweeps.run_sweep(configs, trial, results_path, key_fields=setup.key_fields(), sweep=sweep,
                            tracking=tracking, executor=executor)


def reached_at_first_check(results_path: str | Path, run_keys: Sequence[str], target: float = 0.9) -> pd.Series:
    """Per run key: whether the run's first train-accuracy check was already at or above ``target`` (a fraction).
    Its time to the target is then only an upper bound: the check interval (``checks_per_epoch``) hides when."""
    return pd.Series([bool(len(c)) and bool(c.train_acc.iloc[0] >= target)
                      for c in (sweeps.read_table(results_path, key, "checks") for key in run_keys)],
                     index=list(run_keys), dtype=bool)


def first_check_note(results_path: str | Path, run_keys: Sequence[str], checks_per_epoch: int,
                     target: float = 0.9) -> str:
    """A sentence saying how many runs were at ``target`` train accuracy by their first check ("" when none)."""
    hits, total = int(reached_at_first_check(results_path, run_keys, target).sum()), len(run_keys)
    if not hits:
        return ""
    most = (", so ranking them by that time mostly ranks how fast they train, not how fast they learn"
            if hits > total / 2 else "")
    return (f"{hits} of {total} configurations {'was' if hits == 1 else 'were'} already at {target:.0%} train "
            f"accuracy at the first check (about 1/{checks_per_epoch} of an epoch in): their time to {target:.0%} "
            f"is an upper bound set by the check interval{most}; more `checks_per_epoch` would separate them.")


def config_from_row(row: pd.Series | dict[str, Any]) -> dict[str, Any]:
    """Return the config (model and training knobs) recorded in a results row; list cells are parsed back."""
    config = {}
    for knob in MODEL_KNOBS + TRAINING_KNOBS:
        value = row[knob]
        if isinstance(value, str):
            with contextlib.suppress(ValueError, SyntaxError):
                value = ast.literal_eval(value)  # "[16, 16]", "False", "0.5"; a name such as "sgd" stays text
        elif hasattr(value, "item"):
            value = value.item()  # numpy scalar -> Python number
        if knob in ("batch_size", "padding") and isinstance(value, float) and value.is_integer():
            value = int(value)
        config[knob] = value
    return config


# Columns a Lab 2 table shows, in order; units are in the names (accuracy as a fraction).
SUMMARY_COLUMNS = ["model_name", "init", "optimizer", "lr", "momentum", "weight_decay", "dropout", "batch_size",
                   "normalize", "params", "macs", "train_acc", "test_acc", "time_to_90_s", "epochs_to_90",
                   "time_to_96_s", "epochs_to_96", "train_time_s", "inference_ms_per_image"]


def summary(runs: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Return the Lab 2 rows with the columns worth reading."""
    return sweeps.summary(runs, list(columns or SUMMARY_COLUMNS))
