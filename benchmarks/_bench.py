"""What the benchmarks share: data, both training loops, per-part clocks, rate probes, rounds and medians.

Robust on a shared, noisy machine by construction:
  * every timed epoch carries its own per-step breakdown, timed in place (``StepClock``): the fetch of each batch
    (``next()`` on the batches), forward+backward (batch in hand until ``optimizer.step`` is entered), the
    optimizer step (between the optimizer's step pre- and post-hooks) and the rest (bookkeeping between steps);
    the parts add up to the epoch time, and labkit's ``train.train_epoch`` runs unmodified;
  * ``run_rounds`` alternates the loops over rounds and probes the machine's rates before and after each round,
    so every bound is computed from measurements taken around the very epochs it bounds;
  * results are medians with their spread (min-max over the rounds).

Times are wall-clock seconds (time.perf_counter) unless a name says ms; GFLOP/s = 1e9 FLOP per second.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

os.environ.setdefault("LABKIT_PROGRESS", "off")  # no progress bar in the timed loops

import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader, Subset
from torch.utils.flop_counter import FlopCounterMode
from torchvision import datasets, transforms

from labkit import data, sysinfo, train

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED = 0
VAL_FRACTION = 0.2  # labkit's 80/20 split of MNIST's 60,000 training images: 48,000 to train on
MNIST_MEAN_STD = ((0.1307,), (0.3081,))  # the textbook Normalize, the same constants labkit uses for MNIST
WARMUP_BATCHES = 5  # per path, before timing, not counted
MATMUL_SIZES = (1024, 2048, 4096)  # square matmuls for the peak
PROBE_WINDOW_S = 0.1  # seconds of back-to-back work per timed window of a rate probe
PROBE_WINDOWS = 3  # timed windows per probe (after one warm-up window); the best counts
PARTS = ("fetch the batch", "forward+backward", "optimizer step", "the rest")
NOISY_DRIFT = 1.5  # a round is noisy when a rate probed after it differs from the one before by more than this,
NOISY_SHARED = 1.25  # or when the shared forward+backward took more than this times as long in one loop as the other


# ---------------------------------------------------------------- command line and header

def default_data_dir() -> str | None:
    """Return $LABKIT_DATA_DIR, else <repo>/../shared/data if it exists, else None (labkit's own default)."""
    if os.environ.get("LABKIT_DATA_DIR"):
        return os.environ["LABKIT_DATA_DIR"]
    shared = REPO_ROOT.parent / "shared" / "data"
    return str(shared) if shared.is_dir() else None


def add_common_args(parser: argparse.ArgumentParser, *, rounds: int) -> argparse.ArgumentParser:
    """Add --data-dir, --samples, --rounds (default ``rounds``) and --threads to ``parser``; return it."""
    parser.add_argument("--data-dir", default=default_data_dir(),
                        help="folder holding MNIST/raw (default: $LABKIT_DATA_DIR, else ../shared/data "
                             "next to the repo if it exists, else labkit's default)")
    parser.add_argument("--samples", type=int, default=None,
                        help="training examples per timed epoch (default: the whole 48,000-example train split)")
    parser.add_argument("--rounds", type=int, default=rounds,
                        help="timed rounds (each: rate probe, both loops in alternating order, rate probe); "
                             "medians and min-max over the rounds are reported (default %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's default, unchanged)")
    return parser


def setup(args: argparse.Namespace, title: str) -> None:
    """Check --rounds, apply --threads and print the run's header (versions, device, load, data dir)."""
    if args.rounds < 1:
        raise SystemExit(f"--rounds={args.rounds}: choose 1 or more")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"== {title} ==")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, threads {torch.get_num_threads()}")
    print(f"device: {sysinfo.describe_device('cpu')}")
    print(f"load average at start (1/5/15 min): {load_average()}")
    print(f"data dir: {data.resolve_data_dir(args.data_dir)}")


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# ---------------------------------------------------------------- data: the same examples both ways

def load_labkit(data_dir: str | None, samples: int | None) -> tuple[data.DataSplits, data.Split, torch.Tensor]:
    """Return (labkit's splits, the train split cut to ``samples`` examples, their indices in MNIST's training set)."""
    splits = data.load_splits("mnist", data_dir, val_fraction=VAL_FRACTION, seed=SEED)
    train_idx, _val_idx = data.train_val_split(60_000, val_fraction=VAL_FRACTION, seed=SEED)
    n = len(splits.train) if samples is None else samples
    if not 0 < n <= len(splits.train):
        raise SystemExit(f"--samples={samples}: choose 1..{len(splits.train)} (the train split)")
    return splits, data.Split(splits.train.x[:n], splits.train.y[:n]), train_idx[:n]


def load_textbook(data_dir: str | None, indices: torch.Tensor) -> Subset:
    """Return the textbook dataset: torchvision MNIST with ToTensor + Normalize, as a Subset of ``indices``."""
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(*MNIST_MEAN_STD)])
    root = str(data.resolve_data_dir(data_dir))
    mnist = datasets.MNIST(root, train=True, download=False, transform=transform)
    return Subset(mnist, indices.tolist())


def load_both(data_dir: str | None, samples: int | None) -> tuple[data.DataSplits, data.Split, Subset]:
    """Load labkit's splits and the textbook dataset on the same examples; print the load times and a check."""
    start = time.perf_counter()
    splits, split, indices = load_labkit(data_dir, samples)
    labkit_load_s = time.perf_counter() - start
    start = time.perf_counter()
    dataset = load_textbook(data_dir, indices)
    textbook_load_s = time.perf_counter() - start
    probe = [0, len(split) // 2, len(split) - 1]
    worst = max((dataset[i][0] - split.x[i]).abs().max().item() for i in probe)
    same = all(dataset[i][1] == split.y[i].item() for i in probe) and worst < 1e-4
    print(f"  loading, once, not in the epoch times: labkit load_splits {labkit_load_s:.2f} s "
          f"(decodes + normalises all 70k), textbook MNIST() {textbook_load_s:.2f} s")
    print(f"  same examples both ways: examples {probe} compared, labels equal and pixels within {worst:.1e}: "
          f"{'yes' if same else 'NO'}")
    return splits, split, dataset


# ---------------------------------------------------------------- parts of a step, timed in place

class StepClock:
    """Times the parts of every training step in place, inside an unmodified training loop.

    ``batches(iterable)`` wraps the loop's batches (times each ``next()``); ``watching(optimizer)`` hooks the
    optimizer's step (pre- and post-hooks). Forward+backward is the time from a batch in hand to the optimizer
    step entered (it includes zero_grad and the loss); the rest is whatever the epoch spent besides.
    Its own cost is two perf_counter calls and two hook calls per step (microseconds against milliseconds).
    """

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PARTS[:3], 0.0)
        self.batches_seen = 0
        self.steps = 0
        self._batch_at: float | None = None
        self._step_at = 0.0

    def batches(self, iterable: Iterable) -> Iterator:
        iterator = iter(iterable)
        while True:
            start = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.seconds["fetch the batch"] += time.perf_counter() - start
                return
            self._batch_at = time.perf_counter()
            self.seconds["fetch the batch"] += self._batch_at - start
            self.batches_seen += 1
            yield item

    def _pre_step(self, *_args) -> None:
        self._step_at = time.perf_counter()
        if self._batch_at is not None:
            self.seconds["forward+backward"] += self._step_at - self._batch_at
            self._batch_at = None

    def _post_step(self, *_args) -> None:
        self.seconds["optimizer step"] += time.perf_counter() - self._step_at
        self.steps += 1

    @contextmanager
    def watching(self, optimizer: torch.optim.Optimizer) -> Iterator[None]:
        handles = [optimizer.register_step_pre_hook(self._pre_step),
                   optimizer.register_step_post_hook(self._post_step)]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def parts(self, epoch_s: float) -> dict[str, float] | None:
        """Return {part: seconds} over the epoch (adding up to ``epoch_s``), or None if no batch passed the clock."""
        if self.batches_seen == 0 or self.steps == 0:
            return None
        return {**self.seconds, "the rest": epoch_s - sum(self.seconds.values())}


class _ClockedSplit(data.Split):
    """A labkit Split whose batches pass through a StepClock (set ``clock`` after construction)."""

    clock: StepClock

    def batches(self, *args, **kwargs):
        return self.clock.batches(super().batches(*args, **kwargs))


@dataclass
class Epoch:
    """One timed epoch: wall seconds, mean train loss, examples, optimizer steps, and its parts in seconds."""

    seconds: float
    loss: float
    examples: int
    steps: int
    parts: dict[str, float] | None

    def ms_per_step(self, part: str) -> float:
        return 1e3 * self.parts[part] / self.steps

    @classmethod
    def total(cls, epochs: list["Epoch"]) -> "Epoch":
        """One Epoch for several consecutive runs: times, examples, steps and parts summed; loss averaged."""
        examples = sum(e.examples for e in epochs)
        parts = None if any(e.parts is None for e in epochs) else {
            part: sum(e.parts[part] for e in epochs) for part in PARTS}
        return cls(sum(e.seconds for e in epochs), sum(e.loss * e.examples for e in epochs) / examples, examples,
                   sum(e.steps for e in epochs), parts)


def labkit_epoch(model: torch.nn.Module, split: data.Split, optimizer: torch.optim.Optimizer,
                 batch_size: int) -> Epoch:
    """One pass over ``split`` through labkit's own ``train.train_epoch``, its parts timed in place."""
    clock = StepClock()
    clocked = _ClockedSplit(split.x, split.y)
    clocked.clock = clock
    generator = torch.Generator().manual_seed(SEED)
    with clock.watching(optimizer):
        start = time.perf_counter()
        loss, _accuracy = train.train_epoch(model, clocked, optimizer, batch_size=batch_size, generator=generator,
                                            show_progress=False)
        seconds = time.perf_counter() - start
    return Epoch(seconds, loss, len(split), clock.steps, clock.parts(seconds))


def textbook_epoch(model: torch.nn.Module, dataset: torch.utils.data.Dataset, optimizer: torch.optim.Optimizer,
                   batch_size: int) -> Epoch:
    """One pass over ``dataset`` the pytorch/examples way (DataLoader, shuffle, num_workers=0), timed in place.

    The DataLoader's shuffle draws from the global RNG: seed it (e.g. by building the model) before calling.
    """
    clock = StepClock()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
    with clock.watching(optimizer):
        start = time.perf_counter()
        model.train()
        loss_sum = 0.0
        for images, target in clock.batches(loader):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images), target)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(target)
        seconds = time.perf_counter() - start
    return Epoch(seconds, loss_sum / len(dataset), len(dataset), clock.steps, clock.parts(seconds))


def describe_optimizer(optimizer: torch.optim.Optimizer) -> str:
    """E.g. ``SGD(foreach=True)``: the class and which implementation its step uses."""
    kind = ("fused" if optimizer.defaults.get("fused") else
            "foreach" if optimizer.defaults.get("foreach") else "for-loop")
    return f"{type(optimizer).__name__} ({kind})"


# ---------------------------------------------------------------- FLOPs and rates

def count_flops(fn: Callable[[], None]) -> dict[str, int]:
    """Return {aten op name: FLOPs} that torch.utils.flop_counter counts while ``fn()`` runs."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return {str(op).removeprefix("aten."): int(n) for op, n in counter.get_flop_counts()["Global"].items()}


def training_flops(model: torch.nn.Module, batch_size: int) -> dict[str, int]:
    """Return {op: FLOPs} of one forward+backward of ``model`` on a [batch_size, 1, 28, 28] batch (grads cleared).

    The counter sees every kernel autograd runs, and skips the input gradient nobody asked for.
    """
    x = torch.zeros(batch_size, 1, 28, 28)
    y = torch.zeros(batch_size, dtype=torch.long)
    flops = count_flops(lambda: F.cross_entropy(model(x), y).backward())
    model.zero_grad(set_to_none=True)
    return flops


def best_rate(work: Callable[[], None], flop: float) -> float:
    """Return the best GFLOP/s of ``work`` (``flop`` FLOPs a call) over PROBE_WINDOWS windows of ~PROBE_WINDOW_S."""
    start = time.perf_counter()
    work()  # warm-up, and a first guess of the time a call takes
    repeats = max(1, math.ceil(PROBE_WINDOW_S / max(time.perf_counter() - start, 1e-6)))

    def window() -> None:
        for _ in range(repeats):
            work()

    if repeats > 1:
        window()  # warm-up window (a call longer than a window was warm-up enough)
    best_s = min(timed(window) for _ in range(PROBE_WINDOWS))
    return repeats * flop / best_s / 1e9


def matmul_gflops(m: int, k: int, n: int) -> float:
    """Return the best fp32 GFLOP/s of an (m, k) x (k, n) matmul (2*m*k*n FLOPs)."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    out = torch.empty(m, n)
    return best_rate(lambda: torch.mm(a, b, out=out), 2 * m * k * n)


def matmul_peak() -> dict[str, float]:
    """Return {"n=N": best GFLOP/s} of square (n, n) x (n, n) fp32 matmuls for n in MATMUL_SIZES."""
    return {f"n={n}": matmul_gflops(n, n, n) for n in MATMUL_SIZES}


def timed(fn: Callable[[], object]) -> float:
    """Run ``fn()`` once and return the wall-clock time in seconds."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ---------------------------------------------------------------- rounds and medians

@dataclass
class Round:
    """One round: the rates probed before and after, and each path's timed result."""

    before: dict[str, float]
    after: dict[str, float]
    results: dict[str, object] = field(default_factory=dict)

    def rate(self, name: str) -> float:
        """The best of the two probes around this round (a ceiling takes the machine at its best)."""
        return max(self.before[name], self.after[name])

    def best(self) -> dict[str, float]:
        """Every rate at the best of the two probes around this round."""
        return {name: self.rate(name) for name in self.before}


def run_rounds(rounds: int, probe: Callable[[], dict[str, float]], paths: dict[str, Callable[[], object]],
               report: Callable[[int, Round], None], then: dict[str, Callable[[int], object]] | None = None,
               ) -> list[Round]:
    """Run ``rounds`` rounds: probe, every path once (order rotated each round), each of ``then`` (called with
    the round's index), probe; ``report`` each round."""
    names = list(paths)
    done = []
    for r in range(rounds):
        shift = r % len(names)
        order = names[shift:] + names[:shift]
        this = Round(before=probe(), after={})
        for name in order:
            this.results[name] = paths[name]()
        for name, fn in (then or {}).items():
            this.results[name] = fn(r)
        this.after = probe()
        done.append(this)
        report(r, this)
    return done


@dataclass
class Spread:
    """Median and min-max of a list of values."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> "Spread":
        values = list(values)
        return cls(statistics.median(values), min(values), max(values))

    def format(self, spec: str = ".2f", unit: str = "") -> str:
        return f"{self.median:{spec}}{unit} ({self.low:{spec}}-{self.high:{spec}}{unit})"


def noise(rnd: Round) -> str:
    """Why round ``rnd`` is noisy ("" if it is not): its probes drifted, or the work both loops share (labkit's and
    the textbook's forward+backward) ran at different speeds in the two epochs, so the machine changed under it."""
    reasons = []
    drift = max(max(rnd.before[k], rnd.after[k]) / min(rnd.before[k], rnd.after[k]) for k in rnd.before)
    if drift > NOISY_DRIFT:
        reasons.append(f"a probed rate changed {drift:.1f}x between before and after")
    labkit, textbook = rnd.results["labkit"], rnd.results["textbook"]
    if labkit.parts and textbook.parts:
        shared = textbook.ms_per_step("forward+backward") / labkit.ms_per_step("forward+backward")
        if not 1 / NOISY_SHARED <= shared <= NOISY_SHARED:
            reasons.append(f"the shared forward+backward took {shared:.2f}x as long per step in the textbook epoch")
    return "; ".join(reasons)


def print_clean(rounds: list[Round], values: dict[str, tuple[list[float], str, str]]) -> None:
    """Print which rounds were noisy and, when some were not, ``values`` ({label: (per-round values, format spec,
    unit)}) over the clean rounds only."""
    flags = [noise(rnd) for rnd in rounds]
    clean = [r for r, flag in enumerate(flags) if not flag]
    for r, flag in enumerate(flags):
        if flag:
            print(f"  round {r + 1} was noisy: {flag}")
    if not clean:
        print("  every round was noisy: the medians above mix loads; rerun when `uptime` shows a quiet machine, "
              "or with --threads 1 (see benchmarks/README.md)")
    elif len(clean) < len(rounds):
        print(f"  clean rounds only ({', '.join(str(r + 1) for r in clean)}): " + "; ".join(
            f"{label} {Spread.of(v[r] for r in clean).format(spec, unit)}"
            for label, (v, spec, unit) in values.items()))


def max_ratio(textbook: Epoch, labkit: Epoch, shared_floor_s: float) -> float:
    """The largest textbook/labkit time ratio possible if the work both loops share (forward+backward) took
    ``shared_floor_s`` (over the epoch) or longer in both, and each loop kept its other parts as measured.

    (a + F) / (b + F) over F >= floor is largest at the floor when a > b, else it tends to 1 from below.
    """
    a = textbook.seconds - textbook.parts["forward+backward"] + shared_floor_s
    b = labkit.seconds - labkit.parts["forward+backward"] + shared_floor_s
    return max(a / b, 1.0)


def bound_warnings(label: str, measured: list[float], bounds: list[float], why: str) -> list[str]:
    """Return one warning line per round whose ``measured`` value exceeds its ``bounds`` value."""
    return [f"WARNING: round {r + 1}: {label} {m:.2f} exceeds that round's bound {b:.2f}, so that bound is noise, "
            f"not a bound ({why})" for r, (m, b) in enumerate(zip(measured, bounds)) if m > b]


def round_warnings(column: Callable[[str], list[float]]) -> list[str]:
    """Warnings for rounds whose ratio beat their largest ratio possible or whose labkit GFLOP/s beat its ceiling
    (``column(key)``: the per-round values of "ratio", "max_ratio", "gflops", "ceiling")."""
    return (bound_warnings("ratio textbook/labkit", column("ratio"), column("max_ratio"),
                           "the shared forward+backward ran slower in one loop's epoch than in the other's")
            + bound_warnings("labkit GFLOP/s", column("gflops"), column("ceiling"),
                             "the rates were probed lower than the epoch ran"))


def finish(warnings: list[str]) -> None:
    """Print the warning lines, then the load average at the end."""
    for line in warnings:
        print(line)
    print(f"\nload average at end (1/5/15 min): {load_average()}")


def print_breakdown(loops: dict[str, list[Epoch]], note: str) -> None:
    """Print ms per step of every part of each loop (median over its rounds' epochs), timed in place."""
    names = list(loops)
    print(f"  {'':22s}" + "".join(f"{name:>30s}" for name in names))
    for part in PARTS + ("whole step",):
        cells = []
        for name in names:
            epochs = loops[name]
            if any(e.parts is None for e in epochs):
                cells.append(f"{'not measured':>30s}")
                continue
            values = [1e3 * e.seconds / e.steps if part == "whole step" else e.ms_per_step(part) for e in epochs]
            cells.append(f"{Spread.of(values).format('.2f', ' ms'):>30s}")
        print(f"  {part:22s}" + "".join(cells))
    print(f"  ({note}; median (min-max) over the rounds' timed epochs)")
    if any(e.parts is None for epochs in loops.values() for e in epochs):
        print("  'not measured': no batch passed the clock (labkit's train_epoch no longer draws its batches "
              "through Split.batches?)")
