"""Sweep speed on CPU: one epoch of Lab 2's baseline CNN, labkit's in-memory path vs the textbook DataLoader loop.

Model: the Fashion-MNIST baseline CNN of Lab 2, ``labkit.models.CNN([16, 16], 3, hidden=[100],
init="xavier_uniform")`` (conv 16 3x3, conv 16 3x3, FC 100, FC 10; no padding, no pooling), SGD lr 0.01
momentum 0.9, batch 32, cross-entropy, on real MNIST (Fashion-MNIST is not available offline).
Run from the repository root:

    python benchmarks/sweep_speed.py                                   # full epoch (48,000 examples), 3 rounds
    python benchmarks/sweep_speed.py --samples 6400 --idea-samples 3200 --threads 1   # quick, steadier under load

In one run, over --rounds rounds, each round
  1. probes this machine's rates: the conv rate (best GFLOP/s of the baseline's own conv layers, forward+backward
     at batch 32, each layer alone, contiguous and channels-last) and the fp32 matmul peak (square matmuls);
  2. times one epoch's worth of training two ways (order alternating), on the same examples, same initial weights:
       a. labkit: data.load_splits (decoded and normalised once into tensors) + train.train_epoch +
          train.make_optimizer(name="sgd", momentum=0.9),
       b. textbook: torchvision MNIST + per-sample ToTensor/Normalize + DataLoader(batch_size=32, shuffle=True,
          num_workers=0) + torch.optim.SGD(lr=0.01, momentum=0.9) in a plain loop;
  3. times the issue's ideas on labkit's path, each on the first --idea-samples examples of the train split,
     against labkit as it is today in the same round, interleaved block by block: channels-last, a fused /
     for-loop SGD step, torch.compile (its compile time reported separately), one thread (when there are more),
     and evaluation of the test set at batch 1000 (labkit's default) and 256 vs 32;
  4. probes the rates again.
Then it prints the medians with their spread (min-max over the rounds): both epoch times, the ratio
textbook/labkit, labkit's GFLOP/s against the conv and matmul rates, a per-step breakdown of both loops (each part
timed in place inside the timed epochs), the largest ratio possible per round (a bound from that round's own
probes and epochs; a WARNING line where a round beats it: then that bound is noise), and each idea's speedup.
It prints; it never fails on a missed target.

Times are wall-clock seconds (time.perf_counter) unless a name says ms; GFLOP/s = 1e9 FLOP per second.
"""

from __future__ import annotations

import argparse
import copy
import getpass
import os
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

import _bench
from _bench import Epoch, Round, Spread
from labkit import data, models, train
from labkit.executors import torch_threads as threads

CHANNELS, KERNEL, HIDDEN, INIT = [16, 16], 3, [100], "xavier_uniform"  # the Fashion-MNIST baseline CNN
BATCH_SIZE = 32
LR, MOMENTUM = 0.01, 0.9
EVAL_BATCHES = (1000, 256, 32)  # no-grad evaluation of the test set: labkit's default batch, an extra middle one,
EVAL_BASE = 32                  # and the training batch, which the others are compared with
TARGET_RATIO = 3.0  # textbook time / labkit time, from the issue
CONV_OPS = ("convolution", "convolution_backward")  # flop_counter's names; everything else here is a matmul
FORMATS = {"contiguous": torch.contiguous_format, "channels-last": torch.channels_last}
IDEA_BLOCKS = 6  # each idea's examples run in this many blocks per round, interleaved with the other ideas
HELPS, HURTS = 1.05, 0.95  # verdict thresholds on the median paired speedup and on best/best (both must agree)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _bench.add_common_args(parser, rounds=3)
    parser.add_argument("--idea-samples", type=int, default=9600,
                        help="training examples per round for each idea and for labkit today beside it, the first "
                             "ones of the train split (rounded down to whole batches per block; default %(default)s)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile idea (it compiles for "
                        "tens of seconds)")
    return parser.parse_args()


def make_model(memory_format: torch.memory_format = torch.contiguous_format) -> models.CNN:
    """Return the baseline CNN, freshly initialised from SEED (so every call gives identical weights)."""
    torch.manual_seed(_bench.SEED)
    return models.CNN(CHANNELS, KERNEL, hidden=HIDDEN, init=INIT).to(memory_format=memory_format)


def labkit_optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    return train.make_optimizer(model, LR, name="sgd", momentum=MOMENTUM)


def labkit_epoch(split: data.Split) -> Epoch:
    model = make_model()
    return _bench.labkit_epoch(model, split, labkit_optimizer(model), BATCH_SIZE)


def textbook_epoch(dataset: torch.utils.data.Dataset) -> Epoch:
    model = make_model()  # also seeds the global RNG that DataLoader's shuffle draws from
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)  # torch's default: for-loop on CPU
    return _bench.textbook_epoch(model, dataset, optimizer, BATCH_SIZE)


# ---------------------------------------------------------------- rates of this machine

def conv_works() -> dict[str, tuple[Callable[[], None], int]]:
    """{"conv1 contiguous": (work, FLOPs), ...}: each conv layer of the baseline alone, forward+backward at batch 32,
    as in training (weight and bias grads; the input grad only where the layer's input needs one)."""
    model = make_model()
    shapes: dict[str, tuple[torch.Size, torch.Size]] = {}
    convs = {name: m for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}
    hooks = [m.register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, (i[0].shape, o.shape)))
             for name, m in convs.items()]
    with torch.no_grad():
        model(torch.zeros(BATCH_SIZE, 1, 28, 28))
    for hook in hooks:
        hook.remove()
    works = {}
    for i, (name, conv) in enumerate(convs.items()):
        for label, fmt in FORMATS.items():
            layer = copy.deepcopy(conv).to(memory_format=fmt)
            x = torch.randn(shapes[name][0]).contiguous(memory_format=fmt).requires_grad_(i > 0)
            grad = torch.randn(shapes[name][1]).contiguous(memory_format=fmt)

            def work(layer=layer, x=x, grad=grad) -> None:
                layer.weight.grad = layer.bias.grad = x.grad = None
                layer(x).backward(grad)

            works[f"{name} {label}"] = (work, sum(_bench.count_flops(work).values()))
    return works


class Rates:
    """Probes: every conv layer alone in both formats, and the square matmul peak (GFLOP/s)."""

    def __init__(self) -> None:
        self.convs = conv_works()
        self.layers = sorted({key.split()[0] for key in self.convs})

    def probe(self) -> dict[str, float]:
        rates = {key: _bench.best_rate(work, flop) for key, (work, flop) in self.convs.items()}
        rates.update(_bench.matmul_peak())
        return rates

    def conv_rate(self, rates: dict[str, float]) -> float:
        """The conv rate of one probe's ``rates``: both layers' FLOPs over their best times (best format)."""
        flop = {layer: self.convs[f"{layer} contiguous"][1] for layer in self.layers}
        best = {layer: max(rates[f"{layer} {label}"] for label in FORMATS) for layer in self.layers}
        return sum(flop.values()) / sum(flop[layer] / best[layer] for layer in self.layers)

    @staticmethod
    def matmul_rate(rates: dict[str, float]) -> float:
        return max(rates[f"n={n}"] for n in _bench.MATMUL_SIZES)


# ---------------------------------------------------------------- the ideas, on labkit's path



@dataclass
class Variant:
    """One way to run labkit's path: ``start()`` gives a fresh (model, optimizer, examples); ``threads`` if set."""

    start: Callable[[], tuple[torch.nn.Module, torch.optim.Optimizer, data.Split]]
    threads: int | None = None


class Ideas:
    """Each idea trains on the same first examples as labkit today beside it, in every round. To keep a burst of
    load on the shared machine from landing on one variant only, each round interleaves them in IDEA_BLOCKS blocks
    (A B C .. C B A ..., the model and optimizer carried from block to block, after WARMUP_BATCHES untimed steps
    each); a variant's time is its blocks' sum.
    """

    def __init__(self, train_split: data.Split, test: data.Split, samples: int, compile_model: bool) -> None:
        block = min(samples, len(train_split)) // BATCH_SIZE // IDEA_BLOCKS * BATCH_SIZE  # whole batches: one shape
        if block < BATCH_SIZE:
            raise SystemExit(f"--idea-samples={samples}: choose at least {IDEA_BLOCKS * BATCH_SIZE} "
                             f"({IDEA_BLOCKS} blocks of a batch)")
        self.block = block
        n = block * IDEA_BLOCKS
        self.split = data.Split(train_split.x[:n], train_split.y[:n])
        self.split_cl = data.Split(self.split.x.contiguous(memory_format=torch.channels_last), self.split.y)
        self.test = test
        cl = torch.channels_last
        self.variants: dict[str, Variant] = {
            "labkit today": Variant(lambda: self._fresh(labkit_optimizer)),
            "channels-last (model and input)": Variant(lambda: self._fresh(labkit_optimizer, cl)),
            "SGD fused=True": Variant(lambda: self._fresh(self._sgd(fused=True))),
            "SGD for-loop (foreach=False)": Variant(lambda: self._fresh(self._sgd(foreach=False))),
            "channels-last + SGD fused=True": Variant(lambda: self._fresh(self._sgd(fused=True), cl)),
        }
        if torch.get_num_threads() > 1:
            self.variants[f"1 thread instead of {torch.get_num_threads()} (extra)"] = Variant(
                lambda: self._fresh(labkit_optimizer), threads=1)
        self.compile_note = "skipped (--no-compile)"
        if compile_model:
            self._add_compiled()
        self.eval_model = make_model()
        self.labkit_optimizer_name = _bench.describe_optimizer(labkit_optimizer(self.eval_model))

    @staticmethod
    def _sgd(**kind) -> Callable[[torch.nn.Module], torch.optim.Optimizer]:
        return lambda model: torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, **kind)

    def _fresh(self, optimizer: Callable, memory_format: torch.memory_format = torch.contiguous_format):
        model = make_model(memory_format)
        return model, optimizer(model), self.split_cl if memory_format == torch.channels_last else self.split

    def _add_compiled(self) -> None:
        """Compile the model once (timed: the first steps compile forward and backward); reset its weights per run."""
        base = make_model()
        initial = copy.deepcopy(base.state_dict())
        warm = data.Split(self.split.x[:_bench.WARMUP_BATCHES * BATCH_SIZE],
                          self.split.y[:_bench.WARMUP_BATCHES * BATCH_SIZE])
        cache = Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR")
                     or Path(tempfile.gettempdir()) / f"torchinductor_{getpass.getuser()}")
        cached = "present" if cache.is_dir() and any(cache.iterdir()) else "absent (a cold compile)"
        try:
            compiled = torch.compile(base)
            start = time.perf_counter()
            _bench.labkit_epoch(compiled, warm, labkit_optimizer(compiled), BATCH_SIZE)
            first_s = time.perf_counter() - start
            plain = make_model()
            plain_s = _bench.labkit_epoch(plain, warm, labkit_optimizer(plain), BATCH_SIZE).seconds
        except Exception as error:  # noqa: BLE001 -- any failure of the compiler stack means: skip, say why
            last = traceback.format_exception_only(error)[-1].strip()
            self.compile_note = f"skipped: torch.compile failed here: {last[:300]}"
            return
        self.compile_note = (f"compile time {first_s - plain_s:.1f} s (first {_bench.WARMUP_BATCHES} steps took "
                             f"{first_s:.1f} s, plain ones {plain_s:.2f} s; inductor's on-disk cache {cache} was "
                             f"{cached} at start), not in the times above")

        def start_compiled():
            base.load_state_dict(initial)  # in place: the compiled graph keeps its parameters
            return compiled, labkit_optimizer(compiled), self.split

        self.variants["torch.compile(model)"] = Variant(start_compiled)

    def run(self, r: int) -> dict[str, object]:
        """Every variant over the examples, interleaved block by block (order rotated by round ``r``), then the
        evaluation at each batch size, twice (forward and reverse order)."""
        names = list(self.variants)
        shift = r % len(names)
        order = names[shift:] + names[:shift]
        state = {name: self.variants[name].start() for name in order}
        warm = _bench.WARMUP_BATCHES * BATCH_SIZE
        for name in order:  # first steps (allocations, kernel choices, momentum buffers) not counted
            model, optimizer, split = state[name]
            with threads(self.variants[name].threads or torch.get_num_threads()):
                _bench.labkit_epoch(model, data.Split(split.x[:warm], split.y[:warm]), optimizer, BATCH_SIZE)
        blocks: dict[str, list[Epoch]] = {name: [] for name in order}
        for b in range(IDEA_BLOCKS):
            for name in order if b % 2 == 0 else order[::-1]:
                model, optimizer, split = state[name]
                part = data.Split(split.x[b * self.block:(b + 1) * self.block],
                                  split.y[b * self.block:(b + 1) * self.block])
                with threads(self.variants[name].threads or torch.get_num_threads()):
                    blocks[name].append(_bench.labkit_epoch(model, part, optimizer, BATCH_SIZE))
        evals = dict.fromkeys(EVAL_BATCHES, 0.0)
        for batch in EVAL_BATCHES + EVAL_BATCHES[::-1]:
            evals[batch] += _bench.timed(lambda: train.evaluate(self.eval_model, self.test, batch_size=batch))
        return {"epochs": {name: Epoch.total(blocks[name]) for name in names}, "evals": evals}


def verdict(paired: list[float], best: float) -> str:
    """"helps" / "hurts" when the median of the ``paired`` speedups and the best-vs-best speedup agree,
    else "no clear change"."""
    median = Spread.of(paired).median
    word = ("helps" if min(median, best) >= HELPS else "hurts" if max(median, best) <= HURTS else "no clear change")
    return f"{word} (faster in {sum(s > 1.0 for s in paired)}/{len(paired)} rounds)"


def print_ideas(rounds: list[Round], ideas: Ideas) -> None:
    results = [r.results["ideas"] for r in rounds]
    clean = [r for r, rnd in enumerate(rounds) if not _bench.noise(rnd)] or list(range(len(rounds)))
    which = "all rounds (none was clean)" if len(clean) == len(rounds) and any(map(_bench.noise, rounds)) else (
        f"clean rounds {', '.join(str(r + 1) for r in clean)}")
    steps = len(ideas.split) // BATCH_SIZE
    print(f"\n-- 6. the issue's ideas on labkit's path ({len(ideas.split)} examples, {steps} steps each, interleaved "
          f"in {IDEA_BLOCKS} blocks every round; paired speedup = labkit today's time / the idea's time in the same "
          "round; best/best = labkit today's fastest round / the idea's fastest round) --")
    print(f"  {'':34s} {'time':>22s} {'fwd+bwd ms/step':>16s} {'opt ms/step':>12s} {'paired speedup':>22s} "
          f"{'clean':>6s} {'best/best':>9s}")
    today_best = min(res["epochs"]["labkit today"].seconds for res in results)
    for name in ideas.variants:
        epochs: list[Epoch] = [res["epochs"][name] for res in results]
        seconds = Spread.of(e.seconds for e in epochs)
        paired = [res["epochs"]["labkit today"].seconds / res["epochs"][name].seconds for res in results]
        paired_clean = [paired[r] for r in clean]
        best = today_best / seconds.low
        fb = Spread.of(epochs[r].ms_per_step("forward+backward") for r in clean).median if epochs[0].parts else 0
        opt = Spread.of(epochs[r].ms_per_step("optimizer step") for r in clean).median if epochs[0].parts else 0
        tail = "" if name == "labkit today" else f"  {verdict(paired_clean, best)}"
        print(f"  {name:34s} {seconds.format('.2f', ' s'):>22s} {fb:16.2f} {opt:12.3f} "
              f"{Spread.of(paired).format('.2f', 'x'):>22s} {Spread.of(paired_clean).median:5.2f}x {best:8.2f}x{tail}")
    print(f"  labkit today's optimizer: {ideas.labkit_optimizer_name}; fwd+bwd, opt (ms per step) and 'clean' (the "
          f"median paired speedup): over {which}; verdict 'helps' (>= {HELPS:.2f}x) or 'hurts' (<= {HURTS:.2f}x) "
          "when that and best/best agree")
    print(f"  torch.compile: {ideas.compile_note}")
    print(f"  evaluation of the test set ({len(ideas.test)} examples, train.evaluate, no grad, each batch size twice "
          f"per round; speedup = batch {EVAL_BASE}'s time / that batch's time; verdict over {which}):")
    base_best = min(res["evals"][EVAL_BASE] for res in results)
    for batch in EVAL_BATCHES:
        seconds = Spread.of(res["evals"][batch] / 2 for res in results)
        line = f"    batch {batch:4d}: {seconds.format('.2f', ' s'):>22s}"
        if batch != EVAL_BASE:
            paired = [res["evals"][EVAL_BASE] / res["evals"][batch] for res in results]
            best = base_best / 2 / seconds.low
            line += (f"  paired speedup {Spread.of(paired).format('.2f', 'x')}, best/best {best:.2f}x  "
                     f"{verdict([paired[r] for r in clean], best)}")
        print(line)


def main() -> None:
    args = parse_args()
    _bench.setup(args, "labkit sweep speed benchmark: Lab 2 baseline CNN (CPU)")
    rates = Rates()
    print(f"\n-- 1. rates, probed before and after every round (best of {_bench.PROBE_WINDOWS} windows of "
          f"~{_bench.PROBE_WINDOW_S} s) --")
    layer_flop = ", ".join(f"{key.split()[0]}: {f / 1e6:.1f} MFLOP" for key, (_w, f) in rates.convs.items()
                           if key.endswith("contiguous"))
    print(f"  conv: each conv layer of the baseline alone, forward+backward at batch {BATCH_SIZE}, contiguous and "
          f"channels-last ({layer_flop})")
    print(f"  matmul: fp32 square n x n x n (FLOPs = 2n^3), n in {list(_bench.MATMUL_SIZES)}")

    print(f"\n-- 2. one epoch's worth, batch {BATCH_SIZE}, {make_model().name} (init {INIT}), SGD lr {LR} "
          f"momentum {MOMENTUM} --")
    splits, split, dataset = _bench.load_both(args.data_dir, args.samples)
    n = len(split)
    flops = _bench.training_flops(make_model(), BATCH_SIZE)
    conv_fpe = sum(v for k, v in flops.items() if k in CONV_OPS) / BATCH_SIZE
    mm_fpe = sum(v for k, v in flops.items() if k not in CONV_OPS) / BATCH_SIZE
    fpe = conv_fpe + mm_fpe
    print(f"  {n} examples, {split.num_batches(BATCH_SIZE)} steps; same initial weights; the losses differ a "
          "little because the shuffle orders differ")
    print(f"  training FLOPs counted by torch.utils.flop_counter over one forward+backward: {fpe / 1e6:.2f} MFLOP per "
          f"example ({conv_fpe / 1e6:.2f} in convolutions, {mm_fpe / 1e6:.2f} in matmuls; by op: "
          + ", ".join(f"{k} {v / BATCH_SIZE / 1e6:.2f}" for k, v in flops.items()) + ")")
    warm = min(_bench.WARMUP_BATCHES * BATCH_SIZE, n)
    labkit_epoch(data.Split(split.x[:warm], split.y[:warm]))
    textbook_epoch(torch.utils.data.Subset(dataset, range(warm)))
    ideas = Ideas(splits.train, splits.test, args.idea_samples, not args.no_compile)
    rows: list[dict[str, float]] = []

    def report(r: int, rnd: Round) -> None:
        for path in ("labkit", "textbook"):
            epoch = rnd.results[path]
            print(f"  round {r + 1} {path:8s}: {epoch.seconds:7.2f} s  (mean train loss {epoch.loss:.4f})")
        labkit, textbook = rnd.results["labkit"], rnd.results["textbook"]
        conv, mm = rates.conv_rate(rnd.best()), rates.matmul_rate(rnd.best())
        row = {"ratio": textbook.seconds / labkit.seconds, "gflops": n * fpe / labkit.seconds / 1e9,
               "conv": conv, "matmul": mm}
        floor_s = n * (conv_fpe / conv + mm_fpe / mm) / 1e9  # every FLOP at the best rate probed around the round
        if labkit.parts and textbook.parts:
            row["max_ratio"] = _bench.max_ratio(textbook, labkit, floor_s)
            row["ceiling"] = n * fpe / (floor_s + labkit.seconds - labkit.parts["forward+backward"]) / 1e9
            row["fb_tb_over_lk"] = textbook.parts["forward+backward"] / labkit.parts["forward+backward"]
        rows.append(row)
        today = rnd.results["ideas"]["epochs"]["labkit today"].seconds
        print(f"  round {r + 1}: conv rate {rates.conv_rate(rnd.before):.1f} before, "
              f"{rates.conv_rate(rnd.after):.1f} after; matmul peak {rates.matmul_rate(rnd.before):.1f} before, "
              f"{rates.matmul_rate(rnd.after):.1f} after (GFLOP/s); ratio {row['ratio']:.2f}x; labkit "
              f"{row['gflops']:.1f} GFLOP/s; ideas: "
              + ", ".join(f"{name} {today / e.seconds:.2f}x" for name, e in rnd.results["ideas"]["epochs"].items()
                          if name != "labkit today"))

    rounds = _bench.run_rounds(args.rounds, rates.probe,
                               {"labkit": lambda: labkit_epoch(split), "textbook": lambda: textbook_epoch(dataset)},
                               report, then={"ideas": ideas.run})

    def column(key: str) -> list[float]:
        return [row[key] for row in rows if key in row]

    labkit_s = Spread.of(r.results["labkit"].seconds for r in rounds)
    textbook_s = Spread.of(r.results["textbook"].seconds for r in rounds)
    ratio, gflops = Spread.of(column("ratio")), Spread.of(column("gflops"))
    conv, mm = Spread.of(column("conv")), Spread.of(column("matmul"))
    print(f"\n-- 3. results (median (min-max) of {args.rounds} rounds) --")
    print(f"  labkit   epoch: {labkit_s.format('.2f', ' s')}  ({n / labkit_s.median:6.0f} examples/s)")
    print(f"  textbook epoch: {textbook_s.format('.2f', ' s')}  ({n / textbook_s.median:6.0f} examples/s)")
    print(f"  ratio textbook/labkit: {ratio.format('.2f', 'x')}  (per round, both loops in the same round)")
    _bench.print_clean(rounds, {"ratio": (column("ratio"), ".2f", "x"), "labkit GFLOP/s": (column("gflops"), ".1f", ""),
                                "conv rate": (column("conv"), ".1f", ""), "matmul peak": (column("matmul"), ".1f", "")})
    print(f"  target ratio >= {TARGET_RATIO:.1f}x: {'met' if ratio.median >= TARGET_RATIO else 'NOT met'} "
          f"({ratio.median:.2f}x)")
    print(f"  labkit achieved: {gflops.format('.1f')} GFLOP/s")
    print(f"  conv rate (the baseline's conv layers alone, best format): {conv.format('.1f')} GFLOP/s -> labkit is at "
          f"{Spread.of(g / c for g, c in zip(column('gflops'), column('conv'))).format('.1%')} of it")
    print(f"  matmul peak (fp32 square): {mm.format('.1f')} GFLOP/s -> labkit is at "
          f"{Spread.of(g / m for g, m in zip(column('gflops'), column('matmul'))).format('.1%')} of it")
    last = rounds[-1].after
    print("  per layer and format, last probe: " + ", ".join(
        f"{key} {last[key]:.1f}" for key in rates.convs) + " GFLOP/s")

    print(f"\n-- 4. where a step goes (batch {BATCH_SIZE}, ms per step, each part timed in place inside the timed "
          "epochs) --")
    _bench.print_breakdown({"labkit": [r.results["labkit"] for r in rounds],
                            "textbook": [r.results["textbook"] for r in rounds]},
                           "forward+backward: batch in hand until optimizer.step (zero_grad and loss included)")
    print(f"  labkit's optimizer: {ideas.labkit_optimizer_name}; textbook's: "
          f"{_bench.describe_optimizer(torch.optim.SGD(make_model().parameters(), lr=LR, momentum=MOMENTUM))}")

    warnings: list[str] = []
    if column("max_ratio"):
        print("\n-- 5. bounds, per round, from that round's own probes and epochs --")
        for r, row in enumerate(rows):
            print(f"  round {r + 1}: ratio {row['ratio']:.2f}x vs largest possible {row['max_ratio']:.2f}x; labkit "
                  f"{row['gflops']:.1f} GFLOP/s vs ceiling {row['ceiling']:.1f} (the shared forward+backward took "
                  f"{row['fb_tb_over_lk']:.2f}x as long in the textbook epoch)")
        best = Spread.of(column("max_ratio"))
        print(f"  largest ratio possible here: even with the shared forward+backward at the probed rates (convs at the"
              f" conv rate, matmuls at matmul peak), textbook/labkit = {best.format('.2f', 'x')} "
              f"(target {TARGET_RATIO:.1f}x)")
        print(f"  labkit's ceiling: the same FLOPs at those rates plus what its epoch measured besides (fetch, SGD "
              f"step, bookkeeping): {Spread.of(column('ceiling')).format('.1f')} GFLOP/s")
        warnings = _bench.round_warnings(column)
    print_ideas(rounds, ideas)
    _bench.finish(warnings)


if __name__ == "__main__":
    main()
