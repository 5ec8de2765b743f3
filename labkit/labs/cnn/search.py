"""Lab 2's hyper-parameter search read as a TA would: the top runs on test accuracy *and* overfitting (003 Q12a),
the MLflow runs table, and each training knob's effect across the grid with its spread (003 Q12b)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

# The training grid's knobs; learning rate and momentum are tried as pairs, so they are read as one knob.
TRAINING_KNOBS = {"init": "initialisation", "batch_size": "batch size", "lr_momentum": "(learning rate, momentum)"}


def run_label(row: pd.Series) -> str:
    """A run's name in a sentence: its model, initialisation, batch size, learning rate and momentum."""
    return f"{row.model_name} {row.init} b{row.batch_size} lr{row.lr:g} m{row.momentum:g}"


def grid_size(grid: str, runs: pd.DataFrame, *, model_name: str | None = None) -> str:
    """How many configurations ``grid`` (its name in prose) holds, one row of ``runs`` each, and of which model."""
    of = f" of {model_name}" if model_name else ""
    return f"The {grid} holds **{len(runs)}** configuration{'' if len(runs) == 1 else 's'}{of}."


def rank_accuracy_and_gap(runs: pd.DataFrame, *, n: int = 3) -> pd.DataFrame:
    """The ``n`` best runs on test accuracy and overfitting: among runs whose train-test gap (train_acc - test_acc,
    fraction) is at most the median gap of ``runs``, the most accurate first (ties: the smaller gap), then the
    rest; columns ``label``, ``test_acc``, ``train_test_gap``, ``gap_bound``, ``within_bound``; ranked 1..n."""
    data = runs.assign(label=[run_label(row) for _, row in runs.iterrows()],
                       train_test_gap=runs.train_acc - runs.test_acc)
    data["gap_bound"] = float(data.train_test_gap.median())
    data["within_bound"] = data.train_test_gap <= data.gap_bound
    best = data.sort_values(["within_bound", "test_acc", "train_test_gap"], ascending=[False, False, True],
                            kind="stable").head(n)
    return best.reset_index(drop=True).set_axis(range(1, len(best) + 1), axis=0).rename_axis("rank")


def _run_text(row: pd.Series) -> str:
    return f"**{row.label}** ({row.test_acc:.2%} test, gap {row.train_test_gap:+.2%})"


def top_runs_sentence(ranked: pd.DataFrame, runs: pd.DataFrame) -> str:
    """Read :func:`rank_accuracy_and_gap`'s table: how the two criteria are combined, the top runs, and whether
    the most accurate run of ``runs`` (with train_acc, test_acc) is among them."""
    if ranked.empty:
        return "No search run finished, so there is no top run to report."
    bound = float(ranked.gap_bound.iloc[0])
    within = int((runs.train_acc - runs.test_acc <= bound).sum())
    how = (f"Ranked on test accuracy and on overfitting together: a run counts as overfitting less when its train-test "
           f"gap is at most the search's median gap ({bound:+.2%}; {within} of {len(runs)} runs), and among those "
           "the most accurate come first (ties: the smaller gap).")
    top = f"The top {len(ranked)}: " + "; ".join(_run_text(row) for _, row in ranked.iterrows()) + "."
    outside = int((~ranked.within_bound).sum())
    filled = (f" {outside} of them {'is' if outside == 1 else 'are'} above the bound: too few runs were within it."
              if outside else "")
    most = runs.loc[runs.test_acc.idxmax()]
    gap = most.train_acc - most.test_acc
    if run_label(most) in set(ranked.label):
        verdict = "The most accurate run of the search is among them: here accuracy did not cost overfitting."
    else:
        verdict = (f"The most accurate run overall ({most.test_acc:.2%} test) is left out: its gap of {gap:+.2%} is "
                   "above the bound, so part of its accuracy edge comes with more overfitting.")
    return f"{how} {top}{filled} {verdict}"


def mlflow_runs_table(experiment: str, tracking_uri: str, run_keys: Sequence[str], *,
                      params: Sequence[str] = ("model_name", "init", "batch_size", "lr", "momentum"),
                      metrics: Sequence[str] = ("test_acc", "train_acc", "time_to_90_s")) -> pd.DataFrame:
    """The finished MLflow runs of ``run_keys`` (in that order) in ``mlflow.search_runs``'s columns: run id, the
    ``params.*`` and ``metrics.*`` columns asked for (a name missing in the store is left out). Reads the store
    through a client, so the process's MLflow tracking URI is left as it was."""
    from mlflow.tracking import MlflowClient

    from labkit.tracking import KEY_TAG

    client = MlflowClient(tracking_uri)
    found_experiment = client.get_experiment_by_name(experiment)
    runs = [] if found_experiment is None else client.search_runs(
        [found_experiment.experiment_id], filter_string="attributes.status = 'FINISHED'", max_results=50_000)
    found = pd.DataFrame([{"run_id": run.info.run_id, **{f"params.{k}": v for k, v in run.data.params.items()},
                           **{f"metrics.{k}": v for k, v in run.data.metrics.items()},
                           **{f"tags.{k}": v for k, v in run.data.tags.items()}} for run in runs])
    if found.empty:
        return found
    found = found.drop_duplicates(f"tags.{KEY_TAG}", keep="last").set_index(f"tags.{KEY_TAG}")
    wanted = [c for c in ("run_id", *(f"params.{p}" for p in params), *(f"metrics.{m}" for m in metrics))
              if c in found]
    keys = [key for key in run_keys if key in found.index]
    return found.loc[keys, wanted].reset_index(drop=True).set_axis(range(1, len(keys) + 1), axis=0)


def knob_effects(runs: pd.DataFrame, *, metrics: Sequence[str] = ("test_acc", "time_to_90_s")) -> pd.DataFrame:
    """Per knob of :data:`TRAINING_KNOBS` and per value: the runs, and of each metric the median, p10 and p90 over
    the runs that have it (``<metric>_median`` ...; time to 90% only over runs that reached it, ``reached_90``)."""
    data = runs.assign(lr_momentum=[f"{lr:g}/{m:g}" for lr, m in zip(runs.lr, runs.momentum)])
    rows = []
    for knob in TRAINING_KNOBS:
        for value, group in data.groupby(knob, sort=True):
            row = {"knob": knob, "value": value, "runs": len(group),
                   "reached_90": int(group.time_to_90_s.notna().sum())}
            for metric in metrics:
                values = group[metric].dropna().astype(float)
                stats = np.percentile(values, [50, 10, 90]) if len(values) else [np.nan] * 3
                row.update({f"{metric}_median": stats[0], f"{metric}_p10": stats[1], f"{metric}_p90": stats[2]})
            rows.append(row)
    return pd.DataFrame(rows)


def _metric_effect(table: pd.DataFrame, knob: str, metric: str) -> str:
    """One clause: the best and worst value of ``knob`` on ``metric`` (medians) and whether their p10-p90 ranges
    are apart (a clear effect) or overlap (no clear effect)."""
    higher_better = metric != "time_to_90_s"
    values = table[table.knob == knob]
    rows = values.dropna(subset=[f"{metric}_median"])
    show = (lambda x: f"{x:.2%}") if higher_better else (lambda x: f"{x:.2f} s")
    name = "test accuracy" if higher_better else "time to 90% train accuracy"
    if len(values) < 2:
        return f"{name}: only one value was tried"
    if len(rows) < 2:
        return f"{name}: {'no run' if rows.empty else 'only one value'} reached 90%, nothing to compare"
    rows = rows.sort_values(f"{metric}_median", ascending=not higher_better)
    best, worst = rows.iloc[0], rows.iloc[-1]

    def at(row: pd.Series) -> str:
        return (f"{row.value} (median {show(row[f'{metric}_median'])}, p10-p90 {show(row[f'{metric}_p10'])}"
                f"-{show(row[f'{metric}_p90'])})")

    apart = (best[f"{metric}_p10"] > worst[f"{metric}_p90"] if higher_better
             else best[f"{metric}_p90"] < worst[f"{metric}_p10"])
    if apart:
        return f"{name} clearly best at {at(best)}, worst at {at(worst)}: their p10-p90 ranges do not overlap"
    return (f"{name}: no clear effect, medians run from {at(best)} to {at(worst)} and these p10-p90 ranges "
            "(over the other knobs) overlap")


def knob_sentence(table: pd.DataFrame, knob: str) -> str:
    """One sentence reading :func:`knob_effects`'s rows of ``knob``: its effect on test accuracy and on time to 90%,
    a value called better only when its p10-p90 range is apart from the worst value's; runs that never reached 90%."""
    rows = table[table.knob == knob]
    never = [f"{int(r.runs - r.reached_90)} of {int(r.runs)} at {r.value}" for r in rows.itertuples()
             if r.reached_90 < r.runs]
    missing = f" Never reached 90%: {', '.join(never)}." if never and rows.reached_90.any() else ""
    return (f"**{TRAINING_KNOBS[knob].capitalize()}** ({len(rows)} value{'s' if len(rows) != 1 else ''}, "
            f"{int(rows.runs.sum())} runs): "
            f"{_metric_effect(table, knob, 'test_acc')}; {_metric_effect(table, knob, 'time_to_90_s')}.{missing}")
