"""Does structured pruning make a conv-heavy network faster in proportion to the MACs it removes? (CPU)

Model: Lab 2's classic conv-pool net widened, ``CNN([64, 128], 3, padding=1, pool=True, hidden=[256])`` on
1x28x28 inputs (conv work dominates). Pruning levels remove that fraction of the output channels of both
convs and of the hidden layer, least L2 importance first, with ``labkit.labs.pruning.prune.remove_channels`` (real removal:
the next layer's inputs are cut too). Run from the repository root:

    python benchmarks/prune_speed.py                  # levels 0.25 0.5 0.75, batch 32 and 1, 5 rounds
    python benchmarks/prune_speed.py --threads 1      # steadier on a loaded machine

Each round times every model once per batch size, in a rotated order, so all see the same machine load;
medians over the rounds are compared with the unpruned model measured in the same rounds. Printed per level:
the MACs ratio (pruned / original), the latency ratio, and the gain share = latency saved / MACs saved
(target: at least 0.7 at batch 32). It prints; it never fails on a missed target.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from labkit.labs.pruning import prune
from labkit.counting import count_macs
from labkit.models import CNN
from labkit.timing import measure_latency

TARGET_SHARE = 0.7


def pruned_models(levels: list[float]) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    original = CNN([64, 128], 3, padding=1, pool=True, hidden=[256]).eval()
    example = torch.zeros(1, 1, 28, 28)
    models = {"original": original}
    for level in levels:
        removals = {}
        for layer in prune.prunable_layers(original):
            scores = prune.channel_importance(original, layer, "l2")
            removals[layer] = scores.argsort()[: int(level * len(scores))].tolist()
        models[f"pruned {level:.0%}"] = prune.remove_channels(original, example, removals)
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=float, nargs="+", default=[0.25, 0.5, 0.75])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 1])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per model per round")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    models = pruned_models(args.levels)
    macs = {name: count_macs(m, torch.zeros(1, 1, 28, 28)) for name, m in models.items()}
    for batch in args.batch_sizes:
        x = torch.randn(batch, 1, 28, 28)
        samples: dict[str, list[float]] = {name: [] for name in models}
        names = list(models)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                stats = measure_latency(models[name], x, warmup=3, repeats=args.repeats)
                samples[name].append(stats.median_ms)
        base_ms = statistics.median(samples["original"])
        print(f"\nbatch {batch}: original {macs['original'] / 1e6:.1f} MMACs/example, {base_ms:.3f} ms per batch "
              f"(median of {args.rounds} rounds)")
        for name in names[1:]:
            macs_ratio = macs[name] / macs["original"]
            per_round = [m / o for m, o in zip(samples[name], samples["original"])]
            latency_ratio = statistics.median(per_round)
            share = (1 - latency_ratio) / (1 - macs_ratio)
            verdict = "" if batch != 32 else (" (meets the 0.7 target)" if share >= TARGET_SHARE else
                                              " (below the 0.7 target)")
            print(f"  {name:12s} MACs ratio {macs_ratio:.3f}  latency ratio {latency_ratio:.3f} "
                  f"(rounds {min(per_round):.3f}-{max(per_round):.3f})  gain share {share:.2f}{verdict}")


if __name__ == "__main__":
    main()
