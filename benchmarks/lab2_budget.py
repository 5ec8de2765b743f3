"""How long does the default Lab 2 run take on this machine, and can it fit the issue's 90 minutes?

Prices every trial ``notebooks/02_cnn_sweeps.ipynb`` trains with its default parameters
(:mod:`labkit.labs.cnn.budget`): each distinct training step and evaluation batch is timed with
``torch.utils.benchmark`` on in-memory batches, once per round, ``--rounds`` rounds in rotated order;
a trial's price is its steps x the median step time plus every example it evaluates x the median time
per evaluated example. That is the run's work alone (no batch building, MLflow, saving or plotting),
so the run takes longer: the price is a floor. If the floor passes 90 minutes, no faster bookkeeping
can bring the run under it with these kernels on this CPU.

The floor is checked in the same run: each round also trains a probe trial for real (the baseline, one
epoch on the regularisation subset, through the notebook's trial code) right after pricing, and prints
its measured training and wall seconds beside its price; a WARNING says when a probe beat its price
(the load changed within the round, so that round's price is noise, not a floor).

The training grid runs on the model grid's most accurate model, unknown before the run: priced on the
baseline's architecture, and again on the grid's costliest model (most MACs) as the upper end. With
``--compare RESULTS`` (a Lab 2 ``results.csv`` measured on this machine) the grid's real best model and
knobs are used where that file has them, and each measured trial's training time is set against its
price. Run from the repository root:

    python benchmarks/lab2_budget.py                                   # ~3-5 min
    python benchmarks/lab2_budget.py --compare reports/02_cnn_sweeps/results.csv
    python benchmarks/lab2_budget.py --smoke --rounds 1 --compare SMOKE_REPORTS/02_cnn_sweeps/results.csv
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

import _bench
from labkit import results, search_plots
from labkit.counting import count_macs
from labkit.labs.cnn import budget as run_budget, params, plan, sweeps as cnn_sweeps

TARGET_MIN = 90.0


def best_configs(measured: pd.DataFrame | None) -> tuple[dict | None, dict | None]:
    """The model grid's most accurate config and the training grid's, as the notebook picks them."""
    picks = []
    for sweep in ("model grid", "training grid"):
        rows = None if measured is None else measured[measured.sweep == sweep]
        picks.append(None if rows is None or rows.empty else
                     cnn_sweeps.config_from_row(search_plots.top_runs(rows, "test_acc", n=1).iloc[0]))
    return picks[0], picks[1]


def price_rounds(trials: list, probe: plan.PlannedTrial, setup: cnn_sweeps.CNNSetup, knobs: dict,
                 rounds: int) -> tuple[pd.DataFrame, list[dict]]:
    """Price ``trials`` once per round, and each round also train ``probe`` for real (the trial code the
    notebook runs) right after pricing it: its measured wall and training seconds against its price."""
    tables, checks = [], []
    for r in range(rounds):  # each round starts timing at another step; trials stay in run order (repeats)
        priced = run_budget.price_trials([*trials, probe], rounds=1, first=r * len(trials) // rounds, **knobs)
        start = time.perf_counter()
        row = cnn_sweeps.cnn_trial(probe.config, setup)
        wall = time.perf_counter() - start
        price = priced.iloc[-1]
        checks.append({"round": r + 1, "priced_train_s": price.train_s, "measured_train_s": row["train_time_s"],
                       "priced_work_s": price.work_s, "measured_wall_s": wall})
        tables.append(priced.iloc[:-1].assign(trial=range(len(trials))))
        print(f"round {r + 1}: run priced at {priced.iloc[:-1].work_s.sum() / 60:.1f} min; probe trial trained "
              f"{row['train_time_s']:.1f} s (priced {price.train_s:.1f} s), took {wall:.1f} s in all "
              f"(priced work {price.work_s:.1f} s)", flush=True)
    both = pd.concat(tables)
    median = both.groupby("trial")[["train_s", "eval_s", "work_s", "step_ms"]].median()
    priced = tables[0].drop(columns=["trial"])
    priced[["train_s", "eval_s", "work_s", "step_ms"]] = median.to_numpy()
    priced["step_ms_min"] = both.groupby("trial").step_ms.min().to_numpy()
    priced["step_ms_max"] = both.groupby("trial").step_ms.max().to_numpy()
    return priced, checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each distinct step is priced (default 3)")
    parser.add_argument("--min-run-time", type=float, default=0.2, help="seconds per timing (default 0.2)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--data-dir", default=_bench.default_data_dir(), help="MNIST folder for the probe trial")
    parser.add_argument("--compare", default=None, help="a Lab 2 results.csv from this machine")
    parser.add_argument("--smoke", action="store_true",
                        help="price the smoke run instead (to check a smoke results.csv)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    p = params.lab2(smoke=args.smoke)
    measured = results.read_results(args.compare) if args.compare else None
    best_model, best_training = best_configs(measured)
    trials = plan.trials(p, best_model=best_model, best_training=best_training)
    knobs = dict(dataset=p.dataset, test_limit=p.test_limit, checks_per_epoch=p.checks_per_epoch,
                 probe_examples=p.probe_examples, min_run_time=args.min_run_time)
    # The probe: the baseline for one epoch on the regularisation subset, through the notebook's trial code.
    probe = plan.PlannedTrial("probe", trials[0].config, 1, p.regularization_limit)
    setup = cnn_sweeps.CNNSetup(dataset=p.dataset, data_dir=args.data_dir, epochs=1, device="cpu", seed=p.seed,
                                checks_per_epoch=p.checks_per_epoch, probe_examples=p.probe_examples,
                                train_limit=p.regularization_limit, test_limit=p.test_limit)
    print(f"Lab 2 {'smoke' if args.smoke else 'default'} run: {len(trials)} trials; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, CPU capability {torch.backends.cpu.get_cpu_capability()}; "
          f"{args.rounds} rounds; load {_bench.load_average()}")
    print("training grid on:", "the model grid's best in " + args.compare if best_model else "the baseline's model")
    start = time.perf_counter()
    cnn_sweeps.load_data(setup)  # decoded once, before any round
    priced, checks = price_rounds(trials, probe, setup, knobs, args.rounds)
    table = run_budget.by_sweep(priced)
    print("\nprice per sweep (median of the rounds):")
    print(table.round(1).to_string(index=False))
    total = table.work_min.iloc[-1]
    spread = priced.step_ms_max / priced.step_ms_min
    print(f"\nprice of the run's work: {total:.1f} min (target {TARGET_MIN:.0f} min: "
          f"{'fits' if total < TARGET_MIN else 'the floor alone is over it'}); a step's time varied "
          f"{spread.median():.2f}x (max {spread.max():.2f}x) between rounds")
    probe_table = pd.DataFrame(checks)
    print("\nprobe trial, measured vs priced in the same round (a floor holds when measured >= priced):")
    print(probe_table.round(2).to_string(index=False))
    if (probe_table.measured_wall_s < probe_table.priced_work_s).any():
        print("WARNING: a probe took less than its price: the machine changed within that round; "
              "the price is noise there")

    grid = [t for t in trials if t.sweep == "model grid"]
    example = torch.zeros(1, 1, 28, 28)
    costliest = max(grid, key=lambda t: count_macs(cnn_sweeps.build_model(t.config), example))
    tail = [t for t in plan.trials(p, best_model=costliest.config) if t.sweep in ("training grid", "final")]
    tail_priced = run_budget.price_trials(tail, rounds=1, **knobs)
    default_tail = priced[priced.sweep.isin(["training grid", "final"])].work_s.sum() / 60
    print(f"\nwith the training grid and final run on the grid's costliest model "
          f"({cnn_sweeps.build_model(costliest.config).name}, one round): "
          f"{total - default_tail + tail_priced.work_s.sum() / 60:.1f} min")

    if measured is not None:
        both = run_budget.measured_vs_priced(priced, trials, measured)
        if both.empty:
            print(f"\n{args.compare}: no trial of this plan measured there")
        else:
            sums = both.groupby("sweep", sort=False)[["train_s", "measured_train_s"]].sum()
            sums["measured_vs_priced"] = sums.measured_train_s / sums.train_s
            print(f"\nmeasured training time vs its price, {len(both)} of {len(trials)} planned trials, "
                  f"{len(measured)} rows in {args.compare}:")
            print(sums.round(2).to_string())
            print(f"all: measured {both.measured_train_s.sum():.0f} s vs priced {both.train_s.sum():.0f} s "
                  f"({both.measured_train_s.sum() / both.train_s.sum():.2f}x)")
    print(f"\n(benchmark took {time.perf_counter() - start:.0f} s)")

if __name__ == "__main__":
    main()
