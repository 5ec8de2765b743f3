"""Lab 2's sweep plan, the one source of what the notebook trains: every sweep in order, with its configs,
its epoch cap, its training data and whether it keeps its models.

``notebooks/02_cnn_sweeps.ipynb`` runs each sweep with :func:`run`; ``labkit budget`` prices the same list
(:func:`trials`). Two sweeps depend on earlier results: the training grid varies the model grid's most accurate
model, the final run uses the training grid's best knobs. Before the run, the baseline's stand in for both.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from labkit.executors import Executor
from labkit.labs.cnn.params import Lab2Params
from labkit.labs.cnn.sweeps import BASELINE, CLASSIC, CNNSetup, run_cnn_sweep


@dataclass(frozen=True)
class PlannedSweep:
    """One sweep: its name (the results file's ``sweep`` column), its configs, its epoch cap, the training examples
    it draws from (``train_limit`` before the 80/20 split; None: all) and whether each trial keeps its model."""

    name: str
    configs: list[dict[str, Any]]
    epochs: int
    train_limit: int | None
    save_models: bool = False
    labels: tuple[str, ...] = ()  # a name per config, where the notebook shows one (the pathologies)

    def setup(self, base: CNNSetup) -> CNNSetup:
        """Return ``base`` with this sweep's epochs, training data and model saving."""
        return dataclasses.replace(base, epochs=self.epochs, train_limit=self.train_limit, save_models=self.save_models)


@dataclass(frozen=True)
class PlannedTrial:
    """One trial of the plan, flattened: its sweep, config, epoch cap, training data and model saving."""

    sweep: str
    config: dict[str, Any]
    epochs: int
    train_limit: int | None
    save_models: bool = False


def baseline_config(p: Lab2Params) -> dict[str, Any]:
    """The baseline: :data:`labkit.labs.cnn.sweeps.BASELINE` with the notebook's batch size, lr and momentum."""
    return {**BASELINE, "batch_size": p.batch_size, "lr": p.lr, "momentum": p.momentum}


def baseline(p: Lab2Params) -> PlannedSweep:
    """The baseline run: ``baseline_epochs`` on all the training data; its model is kept."""
    return PlannedSweep("baseline", [baseline_config(p)], p.baseline_epochs, p.train_limit, save_models=True)


def regularization(p: Lab2Params) -> PlannedSweep:
    """The overfitting regime: a small training set, many epochs; each run one knob away from the baseline
    (every dropout rate, every L2 weight decay, every learning rate)."""
    base = baseline_config(p)
    configs = ([{**base, "dropout": d} for d in p.dropouts] + [{**base, "weight_decay": w} for w in p.weight_decays]
               + [{**base, "lr": value} for value in p.lrs])
    return PlannedSweep("regularization", configs, p.regularization_epochs, p.regularization_limit)


def normalization(p: Lab2Params) -> PlannedSweep:
    """The baseline with and without input normalisation."""
    return PlannedSweep("normalization", [{**baseline_config(p), "normalize": on} for on in (True, False)],
                        p.sweep_epochs, p.train_limit)


def architecture(p: Lab2Params) -> list[PlannedSweep]:
    """The four one-knob sweeps around the classic conv-pool net: conv out-channels, filter size (same padding
    ``k // 2``), number of conv blocks (channels 32, 64, 128, ...), and training batch size."""
    n = len(CLASSIC["channels"])
    sweeps = {
        "channels": [{**CLASSIC, "channels": list(c)} for c in p.arch_channels],
        "kernel size": [{**CLASSIC, "kernel_sizes": [k] * n, "padding": k // 2} for k in p.arch_kernel_sizes],
        "conv layers": [{**CLASSIC, "channels": [32 * 2 ** i for i in range(layers)], "kernel_sizes": [3] * layers,
                         "padding": 1, "pool": True} for layers in p.arch_conv_layers],
        "batch size": [{**CLASSIC, "batch_size": b} for b in p.arch_batch_sizes],
    }
    return [PlannedSweep(name, configs, p.sweep_epochs, p.train_limit) for name, configs in sweeps.items()]


def model_grid(p: Lab2Params) -> PlannedSweep:
    """Every two-conv model: the kernel sizes and channels tried for conv1 and conv2, the hidden FC widths."""
    base = baseline_config(p)
    configs = [{**base, "kernel_sizes": [k1, k2], "channels": [c1, c2], "hidden": [h]}
               for k1, k2, c1, c2, h in itertools.product(*p.grid_kernel_sizes, *p.grid_channels, p.grid_hidden)]
    return PlannedSweep("model grid", configs, p.sweep_epochs, p.train_limit)


def training_grid(p: Lab2Params, best_model: dict[str, Any] | None = None) -> PlannedSweep:
    """Every (initialisation, batch size, (lr, momentum)) for ``best_model`` (the model grid's most accurate;
    before the run, the baseline)."""
    base = best_model or baseline_config(p)
    configs = [{**base, "init": init, "batch_size": batch, "lr": lr, "momentum": momentum}
               for init, batch, (lr, momentum) in itertools.product(p.grid_inits, p.grid_batch_sizes,
                                                                    p.grid_lr_momentum)]
    return PlannedSweep("training grid", configs, p.sweep_epochs, p.train_limit)


# What regularising the edge model adds: dropout after its hidden FC layer(s) (none without one) and L2 weight decay.
EDGE_DROPOUT, EDGE_WEIGHT_DECAY = 0.5, 1e-3


def edge_regularized(p: Lab2Params, edge_model: dict[str, Any] | None = None) -> PlannedSweep:
    """``edge_model`` (the cheapest model near the best accuracy, see :func:`labkit.labs.cnn.edge.edge_candidate`;
    before the run, the baseline) trained once more with :data:`EDGE_DROPOUT` and :data:`EDGE_WEIGHT_DECAY`, on the
    same data and epochs as the grids it was picked from."""
    base = edge_model or baseline_config(p)
    config = {**base, "dropout": EDGE_DROPOUT if base.get("hidden") else 0.0, "weight_decay": EDGE_WEIGHT_DECAY}
    return PlannedSweep("edge regularization", [config], p.sweep_epochs, p.train_limit)


def pathologies(p: Lab2Params) -> PlannedSweep:
    """Five ways to train badly, each one knob away from the baseline: learning rate too high (1.0) or too low
    (1e-4, no momentum), momentum too high (0.99), batch too small (1), and a large model that overfits."""
    base = baseline_config(p)
    named = {"learning rate too high": {**base, "lr": 1.0},
             "learning rate too low": {**base, "lr": 1e-4, "momentum": 0.0},
             "momentum too high": {**base, "momentum": 0.99},
             "batch size too small": {**base, "batch_size": 1},
             "large model overfits": {**base, "channels": [32, 32], "hidden": [512]}}
    return PlannedSweep("pathologies", list(named.values()), p.pathology_epochs, p.pathology_limit,
                        labels=tuple(named))


def final(p: Lab2Params, best_training: dict[str, Any] | None = None) -> PlannedSweep:
    """The final model: ``best_training`` (the training grid's best config; before the run, the baseline), trained
    ``final_epochs`` on all the training data; its model is kept."""
    return PlannedSweep("final", [best_training or baseline_config(p)], p.final_epochs, p.train_limit,
                        save_models=True)


def sweeps(p: Lab2Params, best_model: dict[str, Any] | None = None,
           best_training: dict[str, Any] | None = None) -> list[PlannedSweep]:
    """Every sweep of the notebook, in its order (``best_model``/``best_training``: see :func:`training_grid`,
    :func:`final`; default the baseline, or ``best_model`` for the final run; the edge model priced as the
    baseline)."""
    return [baseline(p), regularization(p), normalization(p), *architecture(p), model_grid(p),
            training_grid(p, best_model), edge_regularized(p), pathologies(p), final(p, best_training or best_model)]


def trials(p: Lab2Params, best_model: dict[str, Any] | None = None,
           best_training: dict[str, Any] | None = None) -> list[PlannedTrial]:
    """Every trial of :func:`sweeps`, in order."""
    return [PlannedTrial(s.name, config, s.epochs, s.train_limit, s.save_models)
            for s in sweeps(p, best_model, best_training) for config in s.configs]


def run(planned: PlannedSweep, setup: CNNSetup, results_path: str | Path, *, tracking: bool = True,
        executor: "str | Executor | None" = None) -> pd.DataFrame:
    """Run (or resume) one planned sweep on ``setup`` with the sweep's own epochs and data; return its rows."""
    return run_cnn_sweep(planned.configs, planned.setup(setup), results_path, sweep=planned.name, tracking=tracking,
                         executor=executor)

