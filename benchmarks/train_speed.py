"""Training speed on CPU: labkit's in-memory path vs the textbook DataLoader loop.

Model: the Lab 1 baseline MLP 784-1024-1024-1024-10, Adam lr 1e-3, batch 64, cross-entropy, MNIST.
Run from the repository root:

    python benchmarks/train_speed.py                          # one full epoch (48,000 examples), 2 rounds
    python benchmarks/train_speed.py --samples 6400 --threads 1

In one run it
  1. times one epoch's worth of training two ways, on the same examples with the same seed and
     the same initial weights, over --rounds rounds; each round probes this machine's rates (fp32 matmul
     peak: best GFLOP/s of a few square matmuls; matmul at the MLP's own shapes), runs both loops (order
     alternates) and probes again:
       a. labkit: data.load_splits (decoded once into tensors) + train.train_epoch + fused Adam
       b. textbook: torchvision MNIST + ToTensor/Normalize + DataLoader(shuffle=True) + Adam,
          the way pytorch/examples mnist does it,
  2. prints each round, then the medians with their spread (min-max over the rounds): the ratio
     textbook/labkit, labkit's achieved GFLOP/s and its fraction of the peak, against the targets of the issue,
  3. prints a per-step breakdown of both loops, each part timed in place inside the timed epochs (fetch the
     batch, forward+backward, optimizer step, the rest), and two bounds per round, from that round's own
     epochs and probes: labkit's ceiling at batch 64 and the largest ratio possible on this machine (both
     loops share the forward+backward; only fetching, Adam and bookkeeping differ). A round whose measured
     value exceeds its bound gets a WARNING line: the machine changed under that round, so that bound is noise.

Times are wall-clock seconds (time.perf_counter) unless a name says ms; GFLOP/s = 1e9 FLOP per second.
On a shared machine absolute times drift: compare the ratios, which are measured side by side.
"""

from __future__ import annotations

import argparse
import itertools

import torch
import torch.nn.functional as F

import _bench
from _bench import Epoch, Round, Spread
from labkit import counting, data, models, train

IN_FEATURES, HIDDEN, NUM_CLASSES = 28 * 28, [1024, 1024, 1024], 10  # Lab 1 baseline MLP
BATCH_SIZE = 64
LR = 1e-3
REFERENCE_STEPS = 100  # steps timed for the reference rows of the breakdown
MLP_SHAPES = {"forward/input-grad shape 64x1024 @ 1024x1024": (BATCH_SIZE, 1024, 1024),
              "weight-grad shape 1024x64 @ 64x1024": (1024, BATCH_SIZE, 1024)}
TARGET_RATIO = 2.0  # textbook time / labkit time, from the issue
TARGET_PEAK_FRACTION = 0.60  # labkit training GFLOP/s / matmul peak GFLOP/s, from the issue


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    return _bench.add_common_args(parser, rounds=2).parse_args()


def make_model() -> torch.nn.Module:
    """Return the Lab 1 MLP, freshly initialised from SEED (so every call gives identical weights)."""
    torch.manual_seed(_bench.SEED)
    return models.MLP(IN_FEATURES, HIDDEN, NUM_CLASSES)


def training_flop_per_example(model: torch.nn.Module) -> tuple[float, int]:
    """Return (counted, rule-of-thumb) training FLOPs per example.

    counted: torch.utils.flop_counter over one real forward+backward at batch BATCH_SIZE, divided by the
    batch; rule of thumb: 3 x forward FLOPs (forward = 2 x MACs, backward ~ 2 x forward).
    """
    counted = sum(_bench.training_flops(model, BATCH_SIZE).values())
    rule = 3 * counting.macs_to_flops(counting.count_macs(model, torch.zeros(1, 1, 28, 28)))
    return counted / BATCH_SIZE, rule


def labkit_epoch(split: data.Split) -> Epoch:
    """Train a fresh model for one pass over ``split`` the labkit way (train.train_epoch, fused Adam)."""
    model = make_model()
    return _bench.labkit_epoch(model, split, train.make_optimizer(model, LR), BATCH_SIZE)


def textbook_epoch(dataset: torch.utils.data.Dataset) -> Epoch:
    """Train a fresh model for one pass over ``dataset`` the pytorch/examples way (default Adam, not fused)."""
    model = make_model()  # also seeds the global RNG that DataLoader's shuffle draws from
    return _bench.textbook_epoch(model, dataset, torch.optim.Adam(model.parameters(), lr=LR), BATCH_SIZE)


def probe() -> dict[str, float]:
    """This machine's rates now: square matmul peaks and matmuls at the MLP's own shapes (GFLOP/s)."""
    rates = _bench.matmul_peak()
    rates.update({label: _bench.matmul_gflops(*mkn) for label, mkn in MLP_SHAPES.items()})
    return rates


def peak_of(rates: dict[str, float]) -> float:
    return max(rates[f"n={n}"] for n in _bench.MATMUL_SIZES)


class Bounds:
    """Per round: ratio, labkit GFLOP/s and fraction of peak, labkit's ceiling, and the largest ratio possible."""

    def __init__(self, total_flop: float) -> None:
        self.total_flop = total_flop
        self.rows: list[dict[str, float]] = []

    def add(self, rnd: Round) -> dict[str, float]:
        labkit, textbook = rnd.results["labkit"], rnd.results["textbook"]
        peak = max(peak_of(rnd.before), peak_of(rnd.after))
        shape_rate = max(rnd.rate(label) for label in MLP_SHAPES)
        row = {"ratio": textbook.seconds / labkit.seconds, "peak": peak,
               "gflops": self.total_flop / labkit.seconds / 1e9}
        row["fraction"] = row["gflops"] / peak
        if labkit.parts and textbook.parts:
            # labkit's ceiling: its FLOPs at the best rate of the MLP's matmul shapes, plus everything else it
            # measured in this very epoch besides the forward+backward (fetch, Adam, bookkeeping)
            others_s = labkit.seconds - labkit.parts["forward+backward"]
            row["ceiling"] = self.total_flop / (self.total_flop / (shape_rate * 1e9) + others_s) / 1e9
            row["max_ratio"] = _bench.max_ratio(textbook, labkit, self.total_flop / (peak * 1e9))
            row["fb_tb_over_lk"] = textbook.parts["forward+backward"] / labkit.parts["forward+backward"]
        self.rows.append(row)
        return row

    def column(self, key: str) -> list[float]:
        return [row[key] for row in self.rows if key in row]


def print_targets(ratio: float, fraction: float) -> None:
    """Print each target of the issue with met / NOT met (ratio: times; fraction: of the matmul peak)."""
    print(f"  target ratio >= {TARGET_RATIO:.1f}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'} ({ratio:.2f}x)")
    print(f"  target >= {TARGET_PEAK_FRACTION:.0%} of peak: "
          f"{'met' if fraction >= TARGET_PEAK_FRACTION else 'NOT met'} ({fraction:.1%})")


def reference_rows(split: data.Split) -> dict[str, float]:
    """ms per 64-example step of each Adam step alone (state hot in cache) and of forward+backward at batch 512."""
    model = make_model()
    generator = torch.Generator().manual_seed(_bench.SEED)
    x, y = next(split.batches(BATCH_SIZE, shuffle=True, generator=generator))
    F.cross_entropy(model(x), y).backward()  # grads for the optimizers to step on
    reference = {}
    for name, fused in (("Adam step, fused, alone (state hot in cache)", True),
                        ("Adam step, default, alone (state hot in cache)", False)):
        alone = torch.optim.Adam(model.parameters(), lr=LR, fused=fused)
        alone.step()  # warm-up, creates the state
        reference[name] = 1e3 * _bench.timed(lambda: [alone.step() for _ in range(REFERENCE_STEPS)]) / REFERENCE_STEPS
    big = 512  # a bigger batch shows how much batch 64 itself costs
    big_batches = list(itertools.islice(split.batches(big, shuffle=True, generator=generator),
                                        max(2, REFERENCE_STEPS * BATCH_SIZE // big)))

    def forward_backward(chunk: list) -> None:
        for bx, by in chunk:
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(bx), by).backward()

    forward_backward(big_batches[:1])
    examples = sum(len(by) for _bx, by in big_batches)
    reference[f"forward+backward per 64 examples at batch {big}"] = (
        1e3 * _bench.timed(lambda: forward_backward(big_batches)) / (examples / BATCH_SIZE))
    return reference


def print_breakdown(rounds: list[Round], bounds: Bounds, split: data.Split, flop_per_example: float) -> list[str]:
    """Print where a step goes, the MLP-shape matmul rates, both bounds per round and their medians;
    return the warning lines of rounds that beat their own bound."""
    labkit = [r.results["labkit"] for r in rounds]
    textbook = [r.results["textbook"] for r in rounds]
    print(f"\n-- 4. where a step goes (batch {BATCH_SIZE}, ms per step, each part timed in place inside the timed "
          "epochs) --")
    _bench.print_breakdown({"labkit": labkit, "textbook": textbook},
                           "forward+backward: batch in hand until optimizer.step (zero_grad and loss included)")
    step_flop = BATCH_SIZE * flop_per_example
    if all(e.parts for e in labkit):
        fb = Spread.of(step_flop / e.ms_per_step("forward+backward") / 1e6 for e in labkit)
        print(f"  labkit's forward+backward runs at {fb.format('.1f')} GFLOP/s")
    for name, value in reference_rows(split).items():
        rate = f"  ({step_flop / value / 1e6:6.1f} GFLOP/s)" if name.startswith("forward+backward") else ""
        print(f"  {name:47s} {value:6.2f} ms{rate}  (reference, timed once after the rounds)")
    peak = Spread.of(bounds.column("peak"))
    print(f"  at matmul peak the step's FLOPs alone would take {1e3 * step_flop / (peak.median * 1e9):.2f} ms "
          f"(median peak)")
    for label in MLP_SHAPES:
        rates = Spread.of(r.rate(label) for r in rounds)
        print(f"  matmul at the MLP's {label:45s} {rates.format('.1f')} GFLOP/s")
    if not bounds.column("ceiling"):
        return []
    print("  per round, each bound from that round's own probes and epochs:")
    for r, row in enumerate(bounds.rows):
        print(f"    round {r + 1}: labkit {row['gflops']:6.1f} GFLOP/s vs ceiling {row['ceiling']:6.1f}; "
              f"ratio {row['ratio']:.2f}x vs largest possible {row['max_ratio']:.2f}x "
              f"(the shared forward+backward took {row['fb_tb_over_lk']:.2f}x as long in the textbook epoch)")
    ceiling, best = Spread.of(bounds.column("ceiling")), Spread.of(bounds.column("max_ratio"))
    fraction = Spread.of(c / p for c, p in zip(bounds.column("ceiling"), bounds.column("peak")))
    print(f"  labkit's ceiling at batch {BATCH_SIZE}: every matmul at the faster MLP-shape rate, nothing but what its "
          f"epoch measured besides (fetch, Adam step, bookkeeping): {ceiling.format('.1f')} GFLOP/s = "
          f"{fraction.format('.1%')} of peak")
    print(f"  largest ratio possible here: even with the shared forward+backward at matmul peak, "
          f"textbook/labkit = {best.format('.2f', 'x')} (target {TARGET_RATIO:.1f}x)")
    return _bench.round_warnings(bounds.column)


def main() -> None:
    args = parse_args()
    _bench.setup(args, "labkit training speed benchmark (CPU)")
    print("\n-- 1. rates, probed before and after every round (best of "
          f"{_bench.PROBE_WINDOWS} windows of ~{_bench.PROBE_WINDOW_S} s) --")
    print(f"  fp32 matmul peak: square n x n x n (FLOPs = 2n^3), n in {list(_bench.MATMUL_SIZES)}; "
          f"and matmul at the MLP's shapes: {', '.join(MLP_SHAPES)}")

    print(f"\n-- 2. one epoch's worth, batch {BATCH_SIZE}, MLP {IN_FEATURES}-{'-'.join(map(str, HIDDEN))}-"
          f"{NUM_CLASSES}, Adam lr {LR} --")
    _splits, split, dataset = _bench.load_both(args.data_dir, args.samples)
    n = len(split)
    flop_per_example, rule_flop_per_example = training_flop_per_example(make_model())
    print(f"  {n} examples, {split.num_batches(BATCH_SIZE)} steps; same initial weights; the losses differ a "
          "little because the shuffle orders differ")
    warm = min(_bench.WARMUP_BATCHES * BATCH_SIZE, n)
    labkit_epoch(data.Split(split.x[:warm], split.y[:warm]))
    textbook_epoch(torch.utils.data.Subset(dataset, range(warm)))
    bounds = Bounds(n * flop_per_example)

    def report(r: int, rnd: Round) -> None:
        for path, epoch in rnd.results.items():
            print(f"  round {r + 1} {path:8s}: {epoch.seconds:7.2f} s  (mean train loss {epoch.loss:.4f})")
        row = bounds.add(rnd)
        print(f"  round {r + 1}: matmul peak {peak_of(rnd.before):.1f} before, {peak_of(rnd.after):.1f} after; "
              f"ratio {row['ratio']:.2f}x; labkit {row['gflops']:.1f} GFLOP/s = {row['fraction']:.1%} of peak")

    rounds = _bench.run_rounds(args.rounds, probe,
                               {"labkit": lambda: labkit_epoch(split), "textbook": lambda: textbook_epoch(dataset)},
                               report)

    labkit_s = Spread.of(r.results["labkit"].seconds for r in rounds)
    textbook_s = Spread.of(r.results["textbook"].seconds for r in rounds)
    ratio, gflops = Spread.of(bounds.column("ratio")), Spread.of(bounds.column("gflops"))
    fraction, peak = Spread.of(bounds.column("fraction")), Spread.of(bounds.column("peak"))
    print(f"\n-- 3. results (median (min-max) of {args.rounds} rounds) --")
    print(f"  labkit   epoch: {labkit_s.format('.2f', ' s')}  ({n / labkit_s.median:6.0f} examples/s, "
          f"{gflops.format('.1f')} GFLOP/s)")
    print(f"  textbook epoch: {textbook_s.format('.2f', ' s')}  ({n / textbook_s.median:6.0f} examples/s, "
          f"{n * flop_per_example / textbook_s.median / 1e9:6.1f} GFLOP/s)")
    print(f"  ratio textbook/labkit: {ratio.format('.2f', 'x')}  (per round, both loops in the same round)")
    _bench.print_clean(rounds, {"ratio": (bounds.column("ratio"), ".2f", "x"),
                                "labkit GFLOP/s": (bounds.column("gflops"), ".1f", ""),
                                "of peak": (bounds.column("fraction"), ".1%", "")})
    print(f"  training FLOPs counted by torch.utils.flop_counter over one forward+backward: "
          f"{flop_per_example / 1e6:.2f} MFLOP per example (the 3 x forward rule of thumb says "
          f"{rule_flop_per_example / 1e6:.2f}: it also counts the first layer's input gradient, never computed)")
    print(f"  matmul peak: {peak.format('.1f')} GFLOP/s (per round: the best of its probes before and after)")
    print(f"  labkit achieved: {gflops.format('.1f')} GFLOP/s = {fraction.format('.1%')} of that round's peak")
    print_targets(ratio.median, fraction.median)
    _bench.finish(print_breakdown(rounds, bounds, split, flop_per_example))


if __name__ == "__main__":
    main()
