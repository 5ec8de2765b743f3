"""Training speed on CPU: labkit's in-memory path vs the textbook DataLoader loop.

Model: the Lab 1 baseline MLP 784-1024-1024-1024-10, Adam lr 1e-3, batch 64, cross-entropy, MNIST.
Run from the repository root:

    python benchmarks/train_speed.py                          # one full epoch (48,000 examples), 2 rounds
    python benchmarks/train_speed.py --samples 6400 --threads 1

In one run it
  1. measures this machine's fp32 matmul peak (best GFLOP/s of a few square matmuls),
  2. times one epoch's worth of training two ways, on the same examples with the same seed and
     the same initial weights, interleaved over --rounds rounds (order alternates), median of each:
       a. labkit: data.load_splits (decoded once into tensors) + train.train_epoch + fused Adam
       b. textbook: torchvision MNIST + ToTensor/Normalize + DataLoader(shuffle=True) + Adam,
          the way pytorch/examples mnist does it,
  3. prints the ratio textbook/labkit, labkit's achieved GFLOP/s and its fraction of the peak,
     against the targets of the issue,
  4. prints a per-step breakdown of both loops, each part timed in place (fetch the batch,
     forward+backward, optimizer step), labkit's ceiling at batch 64, and the largest ratio possible
     on this machine (both loops share the forward+backward; only fetching and Adam differ).

Times are wall-clock seconds (time.perf_counter) unless a name says ms; GFLOP/s = 1e9 FLOP per second.
On a shared machine absolute times drift: compare the ratios, which are measured side by side.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import time
from pathlib import Path
from typing import Iterator

os.environ["LABKIT_PROGRESS"] = "off"  # set before importing labkit: no progress bar in the timed loops

import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader, Subset
from torch.utils.flop_counter import FlopCounterMode
from torchvision import datasets, transforms

from labkit import counting, data, models, sysinfo, train

REPO_ROOT = Path(__file__).resolve().parents[1]
IN_FEATURES, HIDDEN, NUM_CLASSES = 28 * 28, [1024, 1024, 1024], 10  # Lab 1 baseline MLP
BATCH_SIZE = 64
LR = 1e-3
SEED = 0
VAL_FRACTION = 0.2  # labkit's 80/20 split of MNIST's 60,000 training images: 48,000 to train on
WARMUP_BATCHES = 5  # per path, before timing, not counted
BREAKDOWN_STEPS = 100  # training steps timed in the breakdown
MATMUL_SIZES = (1024, 2048, 4096)  # square matmuls for the peak
MATMUL_WINDOW_FLOP = 2e10  # FLOPs per timed window of matmuls (about 0.2 s here)
TARGET_RATIO = 2.0  # textbook time / labkit time, from the issue
TARGET_PEAK_FRACTION = 0.60  # labkit training GFLOP/s / matmul peak GFLOP/s, from the issue


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=default_data_dir(),
                        help="folder holding MNIST/raw (default: $LABKIT_DATA_DIR, else ../shared/data "
                             "next to the repo if it exists, else labkit's default)")
    parser.add_argument("--samples", type=int, default=None,
                        help="training examples per timed epoch (default: the whole 48,000-example train split)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="timed (labkit, textbook) pairs, alternating order; the median is reported")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's default, %(default)s = unchanged)")
    return parser.parse_args()


def default_data_dir() -> str | None:
    """Return $LABKIT_DATA_DIR, else <repo>/../shared/data if it exists, else None (labkit's own default)."""
    if os.environ.get("LABKIT_DATA_DIR"):
        return os.environ["LABKIT_DATA_DIR"]
    shared = REPO_ROOT.parent / "shared" / "data"
    return str(shared) if shared.is_dir() else None


def timed(fn) -> float:
    """Run ``fn()`` once and return the wall-clock time in seconds."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def matmul_gflops(m: int, k: int, n: int, windows: int = 3) -> float:
    """Return the best fp32 GFLOP/s of an (m, k) x (k, n) matmul (2*m*k*n FLOPs) over ``windows`` timed windows.

    Each window runs enough back-to-back matmuls for about MATMUL_WINDOW_FLOP FLOPs, after one warm-up window.
    """
    a, b = torch.randn(m, k), torch.randn(k, n)
    out = torch.empty(m, n)
    flop = 2 * m * k * n
    repeats = max(1, math.ceil(MATMUL_WINDOW_FLOP / flop))

    def window() -> None:
        for _ in range(repeats):
            torch.mm(a, b, out=out)

    window()  # warm-up
    best_s = min(timed(window) for _ in range(windows))
    return repeats * flop / best_s / 1e9


def matmul_peak() -> dict[int, float]:
    """Return {n: best GFLOP/s} of square (n, n) x (n, n) fp32 matmuls for n in MATMUL_SIZES."""
    return {n: matmul_gflops(n, n, n) for n in MATMUL_SIZES}


def make_model() -> torch.nn.Module:
    """Return the Lab 1 MLP, freshly initialised from SEED (so every call gives identical weights)."""
    torch.manual_seed(SEED)
    return models.MLP(IN_FEATURES, HIDDEN, NUM_CLASSES)


def training_flop_per_example(model: torch.nn.Module) -> tuple[float, int]:
    """Return (counted, rule-of-thumb) training FLOPs per example.

    counted: torch.utils.flop_counter over one real forward+backward at batch BATCH_SIZE, divided by the
    batch (it sees every matmul autograd runs, and skips the input gradient nobody asked for);
    rule of thumb: 3 x forward FLOPs (forward = 2 x MACs, backward ~ 2 x forward).
    """
    x = torch.zeros(BATCH_SIZE, 1, 28, 28)
    y = torch.zeros(BATCH_SIZE, dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    rule = 3 * counting.macs_to_flops(counting.count_macs(model, torch.zeros(1, 1, 28, 28)))
    return counter.get_total_flops() / BATCH_SIZE, rule


def labkit_epoch(split: data.Split) -> tuple[float, float]:
    """Train a fresh model for one pass over ``split`` the labkit way; return (seconds, mean train loss)."""
    model = make_model()
    optimizer = train.make_optimizer(model, LR)  # Adam(fused=True)
    generator = torch.Generator().manual_seed(SEED)
    start = time.perf_counter()
    loss, _accuracy = train.train_epoch(model, split, optimizer, batch_size=BATCH_SIZE, generator=generator)
    return time.perf_counter() - start, loss


def textbook_epoch(dataset: torch.utils.data.Dataset) -> tuple[float, float]:
    """Train a fresh model for one pass over ``dataset`` the pytorch/examples way; return (seconds, mean loss)."""
    model = make_model()  # also seeds the global RNG that DataLoader's shuffle draws from
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)  # default implementation, not fused
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True)
    start = time.perf_counter()
    model.train()
    loss_sum = 0.0
    for images, target in loader:
        optimizer.zero_grad()
        output = model(images)
        loss = F.cross_entropy(output, target)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(target)
    return time.perf_counter() - start, loss_sum / len(dataset)


def load_labkit(data_dir: str | None, samples: int | None) -> tuple[data.Split, torch.Tensor]:
    """Return (labkit's train split cut to ``samples`` examples, their indices in MNIST's training set)."""
    splits = data.load_splits("mnist", data_dir, val_fraction=VAL_FRACTION, seed=SEED)
    train_idx, _val_idx = data.train_val_split(60_000, val_fraction=VAL_FRACTION, seed=SEED)
    n = len(splits.train) if samples is None else samples
    if not 0 < n <= len(splits.train):
        raise SystemExit(f"--samples={samples}: choose 1..{len(splits.train)} (the train split)")
    return data.Split(splits.train.x[:n], splits.train.y[:n]), train_idx[:n]


def load_textbook(data_dir: str | None, indices: torch.Tensor) -> Subset:
    """Return the textbook dataset: torchvision MNIST with ToTensor + Normalize, as a Subset of ``indices``."""
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    root = str(data.resolve_data_dir(data_dir))
    mnist = datasets.MNIST(root, train=True, download=False, transform=transform)
    return Subset(mnist, indices.tolist())


PARTS = ("fetch the batch", "forward+backward", "optimizer step")


def time_loop_parts(batches: Iterator, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    steps: int) -> dict[str, float]:
    """Return ms per step of each of PARTS, timed in place over ``steps`` steps of a real training loop
    (after WARMUP_BATCHES), so caches are as warm or cold as in an epoch and the parts add up to a step."""
    totals = dict.fromkeys(PARTS, 0.0)
    for step in range(WARMUP_BATCHES + steps):
        t0 = time.perf_counter()
        x, y = next(batches)
        t1 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        t2 = time.perf_counter()
        optimizer.step()
        t3 = time.perf_counter()
        if step >= WARMUP_BATCHES:
            for part, seconds in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2)):
                totals[part] += seconds
    return {part: 1e3 * seconds / steps for part, seconds in totals.items()}


def endless(make_iterable) -> Iterator:
    """Yield from ``make_iterable()`` again and again (a new shuffled epoch each time)."""
    while True:
        yield from make_iterable()


def step_breakdown(split: data.Split, dataset: Subset, steps: int) -> dict[str, dict[str, float]]:
    """Return {loop: {part: ms per step}} for labkit's and the textbook loop, each part timed in place,
    plus a "reference" entry: each Adam step alone (state hot in cache) and forward+backward at batch 512."""
    model = make_model()
    generator = torch.Generator().manual_seed(SEED)
    labkit_batches = endless(lambda: split.batches(BATCH_SIZE, shuffle=True, generator=generator))
    textbook_batches = endless(lambda: DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True))
    textbook_model = make_model()
    loops = {
        "labkit": time_loop_parts(labkit_batches, model, train.make_optimizer(model, LR), steps),
        "textbook": time_loop_parts(textbook_batches, textbook_model,
                                    torch.optim.Adam(textbook_model.parameters(), lr=LR), steps),
    }
    reference = {}
    for name, fused in (("Adam step, fused, alone (state hot in cache)", True),
                        ("Adam step, default, alone (state hot in cache)", False)):
        alone = torch.optim.Adam(model.parameters(), lr=LR, fused=fused)  # grads are left from the last backward
        alone.step()  # warm-up, creates the state
        reference[name] = 1e3 * timed(lambda: [alone.step() for _ in range(steps)]) / steps
    big = 512  # a bigger batch shows how much batch 64 itself costs
    big_batches = list(itertools.islice(split.batches(big, shuffle=True, generator=generator),
                                        max(2, steps * BATCH_SIZE // big)))

    def forward_backward(chunk: list) -> None:
        for bx, by in chunk:
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(bx), by).backward()

    forward_backward(big_batches[:1])
    examples = sum(len(by) for _bx, by in big_batches)
    reference[f"forward+backward per 64 examples at batch {big}"] = (
        1e3 * timed(lambda: forward_backward(big_batches)) / (examples / BATCH_SIZE))
    return {**loops, "reference": reference}


def run_rounds(split: data.Split, dataset: Subset, rounds: int) -> dict[str, list[float]]:
    """Warm up both paths, then time ``rounds`` (labkit, textbook) pairs, alternating the order; return seconds."""
    warm = WARMUP_BATCHES * BATCH_SIZE
    labkit_epoch(data.Split(split.x[:warm], split.y[:warm]))
    textbook_epoch(Subset(dataset, range(warm)))
    times: dict[str, list[float]] = {"labkit": [], "textbook": []}
    for r in range(rounds):
        order = ["labkit", "textbook"] if r % 2 == 0 else ["textbook", "labkit"]
        for path in order:
            seconds, loss = labkit_epoch(split) if path == "labkit" else textbook_epoch(dataset)
            times[path].append(seconds)
            print(f"  round {r + 1} {path:8s}: {seconds:7.2f} s  (mean train loss {loss:.4f})")
    return times


def print_targets(ratio: float, fraction: float) -> None:
    """Print each target of the issue with met / NOT met (ratio: times; fraction: of the matmul peak)."""
    print(f"  target ratio >= {TARGET_RATIO:.1f}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'} ({ratio:.2f}x)")
    print(f"  target >= {TARGET_PEAK_FRACTION:.0%} of peak: "
          f"{'met' if fraction >= TARGET_PEAK_FRACTION else 'NOT met'} ({fraction:.1%})")


def print_breakdown(split: data.Split, dataset: Subset, flop_per_example: float, peak: float) -> None:
    """Print ms per step of each loop's parts, matmul GFLOP/s at the MLP's shapes, labkit's ceiling, and the
    largest ratio the two loops could reach if the forward+backward they share ran at the matmul peak."""
    print(f"\n-- 4. where a step goes (batch {BATCH_SIZE}, ms per step, each part timed in place over "
          f"{BREAKDOWN_STEPS} steps of each loop) --")
    step_flop = BATCH_SIZE * flop_per_example
    ms = step_breakdown(split, dataset, BREAKDOWN_STEPS)
    labkit, textbook, reference = ms["labkit"], ms["textbook"], ms["reference"]
    print(f"  {'':47s} {'labkit':>9s} {'textbook':>9s}")
    for part in PARTS:
        print(f"  {part:47s} {labkit[part]:6.2f} ms {textbook[part]:6.2f} ms")
    print(f"  {'whole step':47s} {sum(labkit.values()):6.2f} ms {sum(textbook.values()):6.2f} ms")
    print(f"  labkit's forward+backward runs at {step_flop / labkit['forward+backward'] / 1e6:.1f} GFLOP/s")
    for name, value in reference.items():
        rate = f"  ({step_flop / value / 1e6:6.1f} GFLOP/s)" if name.startswith("forward+backward") else ""
        print(f"  {name:47s} {value:6.2f} ms{rate}")
    peak_ms = 1e3 * step_flop / (peak * 1e9)
    print(f"  at matmul peak the step's FLOPs alone would take {peak_ms:.2f} ms")
    shapes = {"forward/input-grad shape 64x1024 @ 1024x1024": (BATCH_SIZE, 1024, 1024),
              "weight-grad shape 1024x64 @ 64x1024": (1024, BATCH_SIZE, 1024)}
    rates = {label: matmul_gflops(m, k, n) for label, (m, k, n) in shapes.items()}
    for label, rate in rates.items():
        print(f"  matmul at the MLP's {label:45s} {rate:6.1f} GFLOP/s")
    adam_ms = labkit["optimizer step"]
    ceiling = step_flop / (step_flop / (max(rates.values()) * 1e9) + adam_ms / 1e3) / 1e9
    print(f"  labkit's ceiling at batch {BATCH_SIZE}: every matmul at the faster of those rates, nothing but its "
          f"Adam step beside them: {ceiling:.1f} GFLOP/s = {ceiling / peak:.1%} of peak")
    # Both loops run the same forward+backward; only fetching and the optimizer step differ.
    best = ((textbook["fetch the batch"] + textbook["optimizer step"] + peak_ms)
            / (labkit["fetch the batch"] + labkit["optimizer step"] + peak_ms))
    print(f"  largest ratio possible here: even with the shared forward+backward at matmul peak "
          f"({peak_ms:.2f} ms), textbook/labkit = {best:.2f}x (target {TARGET_RATIO:.1f}x)")


def main() -> None:
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print("== labkit training speed benchmark (CPU) ==")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, threads {torch.get_num_threads()}")
    print(f"device: {sysinfo.describe_device('cpu')}")
    print(f"load average at start (1/5/15 min): {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"data dir: {data.resolve_data_dir(args.data_dir)}")

    print("\n-- 1. fp32 matmul peak (square n x n x n, FLOPs = 2n^3, best of 3 windows) --")
    peak_start = matmul_peak()
    print("  " + ", ".join(f"n={k}: {v:.1f}" for k, v in peak_start.items()) + " GFLOP/s")

    start = time.perf_counter()
    split, indices = load_labkit(args.data_dir, args.samples)
    labkit_load_s = time.perf_counter() - start
    start = time.perf_counter()
    dataset = load_textbook(args.data_dir, indices)
    textbook_load_s = time.perf_counter() - start
    n = len(split)
    flop_per_example, rule_flop_per_example = training_flop_per_example(make_model())

    print(f"\n-- 2. one epoch's worth: {n} examples, batch {BATCH_SIZE}, {split.num_batches(BATCH_SIZE)} steps, "
          f"MLP {IN_FEATURES}-{'-'.join(map(str, HIDDEN))}-{NUM_CLASSES}, Adam lr {LR} --")
    print(f"  loading, once, not in the epoch times: labkit load_splits {labkit_load_s:.2f} s "
          f"(decodes + normalises all 70k), textbook MNIST() {textbook_load_s:.2f} s")
    print("  same examples, same initial weights; the losses differ a little because the shuffle orders differ")
    times = run_rounds(split, dataset, args.rounds)

    labkit_s, textbook_s = statistics.median(times["labkit"]), statistics.median(times["textbook"])
    peak_end = matmul_peak()
    peak = max(*peak_start.values(), *peak_end.values())
    ratio = textbook_s / labkit_s
    labkit_gflops = n * flop_per_example / labkit_s / 1e9
    textbook_gflops = n * flop_per_example / textbook_s / 1e9

    print(f"\n-- 3. results (medians of {args.rounds} rounds) --")
    print(f"  labkit   epoch: {labkit_s:7.2f} s  ({n / labkit_s:6.0f} examples/s, {labkit_gflops:6.1f} GFLOP/s)")
    print(f"  textbook epoch: {textbook_s:7.2f} s  ({n / textbook_s:6.0f} examples/s, {textbook_gflops:6.1f} GFLOP/s)")
    print(f"  ratio textbook/labkit: {ratio:.2f}x")
    print(f"  training FLOPs counted by torch.utils.flop_counter over one forward+backward: "
          f"{flop_per_example / 1e6:.2f} MFLOP per example (the 3 x forward rule of thumb says "
          f"{rule_flop_per_example / 1e6:.2f}: it also counts the first layer's input gradient, never computed)")
    print(f"  matmul peak: {peak:.1f} GFLOP/s, best of start and end (end: "
          + ", ".join(f"n={k}: {v:.1f}" for k, v in peak_end.items()) + ")")
    print(f"  labkit achieved: {labkit_gflops:.1f} GFLOP/s = {labkit_gflops / peak:.1%} of peak")
    print_targets(ratio, labkit_gflops / peak)
    print_breakdown(split, dataset, flop_per_example, peak)
    print(f"\nload average at end (1/5/15 min): {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
