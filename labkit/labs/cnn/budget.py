"""How long a Lab 2 run takes on this machine, known before it starts: every trial the notebook will train,
each priced by timing a few of its own training steps and evaluation batches here.

A price counts the work only: training steps on in-memory batches, and every example the trial evaluates
(train-accuracy checks, validation and test after each epoch, the timed test-set pass). It leaves out
building batches, MLflow, saving and plotting, and a trial that stops early (diverged) costs less than
priced, so the run takes longer than its price. Seconds are wall-clock on this machine, under today's load.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import pandas as pd
import torch
from torch import nn
from torch.utils import benchmark

from labkit.data import train_val_split
from labkit.labs.cnn import plan
from labkit.labs.cnn import sweeps as cnn_sweeps
from labkit.labs.cnn.plan import PlannedTrial
from labkit.results import config_key
from labkit.train import make_optimizer

OFFICIAL_SIZES = {"mnist": (60_000, 10_000), "fashion_mnist": (60_000, 10_000)}  # training, test images
EVAL_BATCH = 256  # train.evaluate and timing.dataset_inference_s batch size


def split_sizes(dataset: str, train_limit: int | None, test_limit: int | None) -> tuple[int, int, int]:
    """Return (training, validation, test) examples of ``data.load_splits`` for these limits, without loading."""
    n_train, n_test = OFFICIAL_SIZES[dataset]
    pool = n_train if train_limit is None else min(train_limit, n_train)
    train_idx, val_idx = train_val_split(pool)
    return len(train_idx), len(val_idx), n_test if test_limit is None else min(test_limit, n_test)


def _timer(stmt: str, namespace: dict[str, Any], min_run_time: float) -> float:
    timer = benchmark.Timer(stmt=stmt, globals=namespace, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def price_config(config: dict[str, Any], *, image_size: int = 28, num_classes: int = 10,
                 min_run_time: float = 0.2) -> tuple[float, float]:
    """Return (seconds per training step at the config's batch size, seconds per evaluated example at batch 256),
    medians of ``torch.utils.benchmark`` on random in-memory batches with the config's optimizer."""
    knobs = {**cnn_sweeps.BASELINE, **config}
    torch.manual_seed(0)
    model = cnn_sweeps.build_model(knobs, image_size=image_size, num_classes=num_classes)
    opt = make_optimizer(model, knobs["lr"], name=knobs["optimizer"], momentum=knobs["momentum"],
                         weight_decay=knobs["weight_decay"])
    x = torch.randn(knobs["batch_size"], 1, image_size, image_size)
    y = torch.randint(0, num_classes, (knobs["batch_size"],))

    def step() -> None:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    step_s = _timer("step()", {"step": step}, min_run_time)
    model.eval()
    batch = torch.randn(EVAL_BATCH, 1, image_size, image_size)
    with torch.inference_mode():
        eval_s = _timer("model(batch)", {"model": model, "batch": batch}, min_run_time) / EVAL_BATCH
    return step_s, eval_s


def _signature(config: dict[str, Any]) -> str:
    """What decides a step's cost: the model knobs, the batch size, the optimizer and which of its terms are on."""
    knobs = {**cnn_sweeps.BASELINE, **config}
    key = {k: knobs[k] for k in cnn_sweeps.MODEL_KNOBS if k != "init"}
    key.update(batch_size=knobs["batch_size"], optimizer=knobs["optimizer"], momentum=knobs["momentum"] > 0,
               weight_decay=knobs["weight_decay"] > 0)
    return config_key(key)


def price_trials(trials: Sequence[PlannedTrial], *, dataset: str = "mnist", test_limit: int | None = None,
                 checks_per_epoch: int = 10, probe_examples: int = 2000, rounds: int = 3,
                 min_run_time: float = 0.2, first: int = 0) -> pd.DataFrame:
    """Return one row per trial: ``sweep``, ``model_name``, ``repeat``, ``batch_size``, ``epochs``, ``steps``,
    ``step_ms`` (median over ``rounds``, with ``step_ms_min``/``step_ms_max``), ``eval_examples``, ``train_s``,
    ``eval_s`` and ``work_s`` (their sum). Each distinct step is timed once per round, rounds in rotated order.
    ``first`` rotates where the timing starts (the ``first``-th distinct step), for callers that interleave
    single rounds. A ``repeat`` (same config, epochs, data and model keeping as an earlier trial in run order:
    the runner trains it once) costs nothing."""
    if rounds < 1:
        raise ValueError(f"rounds={rounds!r}: price each step at least once (rounds >= 1)")
    signatures = {_signature(t.config): t.config for t in trials}
    order = list(signatures)
    order = order[first % len(order):] + order[:first % len(order)] if order else order
    times: dict[str, list[tuple[float, float]]] = {s: [] for s in order}
    for r in range(rounds):
        shift = r * len(order) // rounds
        for sig in order[shift:] + order[:shift]:
            times[sig].append(price_config(signatures[sig], min_run_time=min_run_time))
    rows, planned = [], set()
    for t in trials:
        run = config_key({**_knobs(t.config), "epochs": t.epochs, "train_limit": t.train_limit,
                          "save_models": t.save_models})  # what the runner's key holds
        repeat = run in planned  # trained once, read back after
        planned.add(run)
        knobs = {**cnn_sweeps.BASELINE, **t.config}
        n_train, n_val, n_test = split_sizes(dataset, t.train_limit, test_limit)
        batches = math.ceil(n_train / knobs["batch_size"])
        checked = min(checks_per_epoch, batches) * min(probe_examples, n_train)
        eval_examples = t.epochs * (checked + n_val + n_test) + n_test + EVAL_BATCH  # + timed test pass, warm-up
        step = pd.Series([s for s, _ in times[_signature(t.config)]])
        per_example = float(pd.Series([e for _, e in times[_signature(t.config)]]).median())
        steps, eval_examples = (0, 0) if repeat else (t.epochs * batches, eval_examples)
        rows.append({"sweep": t.sweep, "model_name": cnn_sweeps.build_model(knobs).name, "repeat": repeat,
                     "batch_size": knobs["batch_size"], "epochs": t.epochs, "steps": steps,
                     "step_ms": 1e3 * step.median(), "step_ms_min": 1e3 * step.min(), "step_ms_max": 1e3 * step.max(),
                     "eval_examples": eval_examples, "train_s": steps * step.median(),
                     "eval_s": eval_examples * per_example})
    table = pd.DataFrame(rows)
    table["work_s"] = table.train_s + table.eval_s
    return table


def by_sweep(priced: pd.DataFrame) -> pd.DataFrame:
    """Return the priced trials summed per sweep (in run order) with a ``total`` row; seconds and minutes."""
    table = priced.groupby("sweep", sort=False).agg(trials=("sweep", "size"), repeats=("repeat", "sum"),
                                                    steps=("steps", "sum"),
                                                    train_s=("train_s", "sum"), eval_s=("eval_s", "sum"),
                                                    work_s=("work_s", "sum"))
    table.loc["total"] = table.sum()
    table["work_min"] = table.work_s / 60
    return table.reset_index()


def _knobs(config: dict[str, Any]) -> dict[str, Any]:
    """Every model and training knob of a config, the baseline's where it leaves one out."""
    knobs = {**cnn_sweeps.BASELINE, **config}
    return {k: knobs[k] for k in cnn_sweeps.MODEL_KNOBS + cnn_sweeps.TRAINING_KNOBS}


def measured_vs_priced(priced: pd.DataFrame, trials: Sequence[PlannedTrial], results: pd.DataFrame) -> pd.DataFrame:
    """Return the priced trials a results file has measured (same sweep, same config), with ``measured_train_s``
    (its ``train_time_s``) and ``measured_vs_priced`` (measured / priced training seconds)."""
    position = {(t.sweep, config_key(_knobs(t.config))): i for i, t in enumerate(trials)}
    matched = []
    for _, row in results.iterrows():
        i = position.get((row["sweep"], config_key(_knobs(cnn_sweeps.config_from_row(row)))))
        if i is not None:
            matched.append({**priced.iloc[i].to_dict(), "measured_train_s": float(row["train_time_s"])})
    table = pd.DataFrame(matched, columns=[*priced.columns, "measured_train_s"])
    table["measured_vs_priced"] = table.measured_train_s / table.train_s
    return table


def describe(p: Any, *, rounds: int = 3, min_run_time: float = 0.2) -> str:
    """Price Lab 2's run for the parameters ``p`` here and return it as text: per sweep and in total (minutes)."""
    trials = plan.trials(p)
    priced = price_trials(trials, dataset=p.dataset, test_limit=p.test_limit, checks_per_epoch=p.checks_per_epoch,
                          probe_examples=p.probe_examples, rounds=rounds, min_run_time=min_run_time)
    table = by_sweep(priced)
    return (f"Lab 2 run: {len(trials)} trials, priced here ({torch.get_num_threads()} threads, {rounds} rounds; "
            "training grid on the baseline's model):\n" + table.round(1).to_string(index=False)
            + f"\nthe work alone takes about {table.work_min.iloc[-1]:.0f} min; the run takes longer (batches, "
            "MLflow, plots)")
