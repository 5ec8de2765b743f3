"""Lab 4's checks of the pruned models: is the importance heuristic right, does fewer MACs mean less time,
and which pruned model is the cheapest one still accurate enough."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from labkit.labs.pruning import prune
from labkit.counting import count_macs, count_params, macs_to_flops
from labkit.data import Split
from labkit.timing import LatencyStats, measure_latency
from labkit.train import evaluate


def single_channel_drops(model: nn.Module, layer: str, test: Split, *, seed: int = 0) -> pd.DataFrame:
    """Return, for every output channel / neuron of ``layer``, its importance under each heuristic and the test
    accuracy drop (fraction, no retraining) when that channel alone is masked: ``channel``, ``l2``, ``l1``,
    ``random``, ``acc_drop``."""
    _, base = evaluate(model, test)
    scores = {h: prune.channel_importance(model, layer, h, seed=seed) for h in prune.HEURISTICS}
    rows = []
    for channel in range(len(scores["l2"])):
        masked = prune.mask_channels(prune.masked_copy(model), layer, [channel])
        _, acc = evaluate(masked, test)
        rows.append({"channel": channel, **{h: float(s[channel]) for h, s in scores.items()}, "acc_drop": base - acc})
    return pd.DataFrame(rows)


def heuristic_agreement(drops: pd.DataFrame) -> pd.Series:
    """Return each heuristic's Spearman rank correlation with the measured accuracy drop (1: it ranks the
    channels exactly as removing them hurts; 0: no better than chance)."""
    return pd.Series({h: drops[h].corr(drops.acc_drop, method="spearman") for h in prune.HEURISTICS},
                     name="spearman")


def latency_rows(models: dict[str, nn.Module], example: torch.Tensor, *, batch_sizes=(1, 32), warmup: int = 5,
                 repeats: int = 50, rounds: int = 5, device: torch.device | str | None = None) -> pd.DataFrame:
    """Time every model (name -> module) at each batch size on copies of ``example`` (one input, batch 1); return
    one row per (model, batch size): ``name``, ``params``, ``macs`` (per example), ``batch_size``, ``median_ms``,
    ``p10_ms``, ``p90_ms`` over ``repeats`` calls. The calls are spread over ``rounds`` rounds in which every
    model takes its turn, so all models see the same machine load."""
    counts = {name: (count_params(m), count_macs(m, example)) for name, m in models.items()}
    per_round = max(1, repeats // rounds)
    rows = []
    for batch in batch_sizes:
        x = example.repeat(batch, *([1] * (example.dim() - 1)))
        samples: dict[str, list[float]] = {name: [] for name in models}
        for r in range(rounds):
            for name, model in models.items():
                samples[name] += measure_latency(model, x, warmup=warmup if r == 0 else 1, repeats=per_round,
                                                 device=device).samples_ms
        for name, times in samples.items():
            stats = LatencyStats(batch, tuple(times))
            rows.append({"name": name, "params": counts[name][0], "macs": counts[name][1], "batch_size": batch,
                         "median_ms": stats.median_ms, "p10_ms": stats.p10_ms, "p90_ms": stats.p90_ms})
    return pd.DataFrame(rows)


def with_ratios(latency: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Add ``macs_ratio`` and ``latency_ratio`` (each model over ``reference`` at the same batch size) and
    ``gain_share``: the fraction of the MAC reduction that shows up as a latency reduction."""
    ref = latency[latency.name == reference].set_index("batch_size")
    out = latency.copy()
    out["macs_ratio"] = out.macs / out.batch_size.map(ref.macs)
    out["latency_ratio"] = out.median_ms / out.batch_size.map(ref.median_ms)
    saved = 1 - out.macs_ratio
    out["gain_share"] = ((1 - out.latency_ratio) / saved).where(saved > 0)
    return out


def cheapest_above(runs: pd.DataFrame, accuracy: float, *, accuracy_column: str = "acc_retrained",
                   cost: str = "macs") -> pd.Series | None:
    """Return the row with the fewest ``cost`` whose ``accuracy_column`` is at least ``accuracy`` (a fraction),
    or None when no row is accurate enough."""
    good = runs[runs[accuracy_column] >= accuracy]
    if good.empty:
        return None
    return good.sort_values([cost, accuracy_column], ascending=[True, False]).iloc[0]


def flops_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Return ``runs`` with ``flops`` = 2 x ``macs`` per example."""
    return runs.assign(flops=runs.macs.map(macs_to_flops))
