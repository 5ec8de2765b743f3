"""Does Ray speed a Lab 2 sweep up, or at least not slow it down, on this machine? And what would the
whole Lab 2 grid cost on 1, 2, 8 and 64 cores, and for a class of 100 students?

The same slice of Lab 2's model grid (the first ``--configs`` configs of ``plan.model_grid`` with the lab's
defaults, real MNIST, ``--epochs`` epoch(s) on ``--train-limit`` training examples, tracking off) runs with
three executors, in a rotated order each round so all see the same machine load:

- **local**: one trial after another in this process, torch's default threads (all cores);
- **ray 1x2**: Ray tasks of two threads each (one at a time on two cores);
- **ray 2x1**: Ray tasks of one thread each (two at a time).

Each setting writes a fresh results file and is timed from the first trial submitted to the last row
written (Ray's start-up is timed once, separately: it is paid once per session, not per sweep). Printed:
configs per hour per setting (median and min-max over the rounds) and the ratio of the best Ray setting to
local (target >= 1.0x). The scale-out table takes the wall time per trial measured here with one-thread
trials two at a time (core-seconds: sweep wall x cores / configs, checks and evaluation included), scales it
to the lab's examples x epochs, and multiplies by the trial count of the lab's default grids. Run from the
repository root:

    python benchmarks/sweep_scale.py                      # 8 configs, 1 epoch on 12,000 examples, 2 rounds
    python benchmarks/sweep_scale.py --configs 12 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

import _bench
from labkit import executors
from labkit.labs.cnn import plan
from labkit.labs.cnn.params import Lab2Params
from labkit.labs.cnn.sweeps import CNNSetup, run_cnn_sweep

TARGET_RATIO = 1.0
SETTINGS = {"local": executors.Executor("local"),
            "ray 1x2": executors.Executor("ray", threads_per_trial=2),
            "ray 2x1": executors.Executor("ray", threads_per_trial=1)}
CORES = (1, 2, 8, 64)
CLASS_SIZE = 100
FULL_TRAIN = 60000  # MNIST / Fashion-MNIST training images before the 80/20 split (train_limit counts these)


def lab2_grid_sizes() -> tuple[int, int]:
    """Trials in Lab 2's default model grid and training grid."""
    p = Lab2Params()
    return len(plan.model_grid(p).configs), len(plan.training_grid(p).configs)


def time_setting(name: str, configs: list[dict], setup: CNNSetup, folder: Path) -> tuple[float, list[float]]:
    """Wall seconds of the whole sweep, and each trial's recorded training + inference seconds."""
    path = folder / name.replace(" ", "_") / "results.csv"
    start = time.perf_counter()
    rows = run_cnn_sweep(configs, setup, path, sweep="scale", tracking=False, executor=SETTINGS[name])
    wall = time.perf_counter() - start
    assert len(rows) == len(configs), f"{name}: {len(rows)} rows for {len(configs)} configs"
    return wall, list(rows.train_time_s + rows.inference_time_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=_bench.default_data_dir())
    parser.add_argument("--configs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-limit", type=int, default=12000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    p = Lab2Params()
    configs = plan.model_grid(p).configs[: args.configs]
    setup = CNNSetup(data_dir=args.data_dir, epochs=args.epochs, device="cpu", train_limit=args.train_limit,
                     checks_per_epoch=p.checks_per_epoch, probe_examples=p.probe_examples)
    print(f"{len(configs)} configs of the Lab 2 model grid, {args.epochs} epoch(s) on {args.train_limit:,} MNIST "
          f"examples, {torch.get_num_threads()} torch threads by default, {args.rounds} round(s)")
    start = time.perf_counter()
    ray = executors.connect_ray()
    ray_cpus = ray.cluster_resources().get("CPU", 0)
    print(f"Ray {ray.__version__} started in {time.perf_counter() - start:.1f} s "
          f"({int(ray_cpus)} CPUs); paid once per session, not counted below")

    walls: dict[str, list[float]] = {name: [] for name in SETTINGS}
    trial_s: dict[str, list[float]] = {name: [] for name in SETTINGS}
    ratios = []
    names = list(SETTINGS)
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            order = names[round_ % len(names):] + names[: round_ % len(names)]
            this_round = {}
            for name in order:
                wall, per_trial = time_setting(name, configs, setup, Path(tmp) / f"round{round_}")
                this_round[name] = wall
                walls[name].append(wall)
                trial_s[name] += per_trial
            best_ray = min(this_round["ray 1x2"], this_round["ray 2x1"])
            ratios.append(this_round["local"] / best_ray)
            print(f"round {round_ + 1}: " + ", ".join(f"{n} {this_round[n]:.1f} s" for n in names)
                  + f"; best Ray / local speed {ratios[-1]:.2f}x")
    ray.shutdown()

    print("\nsetting   configs/hour (median, min-max over rounds)   train+inference s per trial (median)")
    for name in names:
        per_hour = [3600 * len(configs) / w for w in walls[name]]
        print(f"{name:8}  {statistics.median(per_hour):8.0f}  ({min(per_hour):.0f}-{max(per_hour):.0f})"
              f"{'':24}{statistics.median(trial_s[name]):.1f}")
    ratio = statistics.median(ratios)
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"\nbest Ray setting / local: {ratio:.2f}x (min {min(ratios):.2f}x, max {max(ratios):.2f}x); "
          f"target >= {TARGET_RATIO:.1f}x {verdict}")

    # Scale-out, back of the envelope: what a trial costs in core-seconds of wall time (each setting keeps both
    # cores busy: sweep wall x 2 cores / configs, training, checks and evaluation included), scaled from this
    # slice to the lab's training examples x epochs, packed as one-thread trials onto the cores.
    model_n, training_n = lab2_grid_sizes()
    trials = model_n + training_n
    cores_here = int(ray_cpus)
    scale = (FULL_TRAIN * p.sweep_epochs) / (args.train_limit * args.epochs)
    core_s = {name: statistics.median(walls[name]) * cores_here / len(configs) * scale for name in names}
    print(f"\nLab 2 grid: {model_n} model + {training_n} training configs = {trials} trials of {p.sweep_epochs} "
          f"epochs on the whole training set ({FULL_TRAIN:,} images before the 80/20 split); per trial, measured "
          f"above and scaled x{scale:.0f}: " + ", ".join(f"{core_s[n]:.0f} core-s ({n})" for n in names))
    one_thread = core_s["ray 2x1"]
    print("cores   grid wall time (h)   how")
    for cores in CORES:
        how = "one one-thread trial at a time" if cores == 1 else f"{cores} one-thread trials at a time (Ray)"
        print(f"{cores:5}   {trials * one_thread / cores / 3600:10.2f}           {how}")
    core_hours = trials * one_thread / 3600
    print(f"class of {CLASS_SIZE}: {CLASS_SIZE * core_hours:.0f} core-hours; on a shared 64-core cluster "
          f"{CLASS_SIZE * core_hours / 64:.1f} h of wall time, one grid per student (cores of this machine's kind; "
          f"the Lab 2 default run adds the baseline, regularisation, architecture and pathology trainings)")

if __name__ == "__main__":
    main()
