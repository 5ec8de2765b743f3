import pandas as pd

from labkit.labs.inference import figures as inference_plots


def _latency_rows() -> pd.DataFrame:
    return pd.DataFrame({"model": ["resnet18"] * 2 + ["bert"] * 2, "batch_size": [1, 8, 1, 4],
                         "median_ms": [10.0, 40.0, 50.0, 120.0], "p10_ms": [9.0, 38.0, 48.0, 110.0],
                         "p90_ms": [12.0, 45.0, 55.0, 130.0], "throughput_per_s": [100.0, 200.0, 20.0, 33.0]})


def test_latency_throughput_plots_have_three_panels_per_model():
    fig = inference_plots.latency_throughput_plots(_latency_rows())
    assert len(fig.axes) == 6
    assert [b.get_height() for b in fig.axes[0].patches] == [10.0, 40.0], "bars are the recorded medians"


def test_speedup_plot_hatches_only_variants_outside_the_tolerance():
    runs = pd.DataFrame({"model": ["bert", "bert", "resnet18"], "batch_size": [1, 1, 1],
                         "variant": ["int8_dynamic", "bf16_autocast", "int8_dynamic"], "speedup": [3.0, 1.5, None],
                         "rel_diff": [0.05, 0.004, None], "skipped": [None, None, "no linear layers"]})
    fig = inference_plots.speedup_plot(runs, tolerance=0.01)
    bars = {round(b.get_height(), 2): b.get_hatch() for b in fig.axes[0].patches if b.get_height() > 0}
    assert bars == {3.0: "//", 1.5: None}, "skipped variants draw no bar"


def test_memory_plot_stacks_each_phase_and_source():
    table = pd.DataFrame({"phase": ["inference"] * 2 + ["training"] * 2, "source": ["estimate", "measured"] * 2,
                          "part": ["weights", "weights", "activations", "activations"],
                          "bytes": [2 ** 20, 2 ** 20, 3 * 2 ** 20, 5 * 2 ** 20]})
    fig = inference_plots.memory_plot(table)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert labels == ["1 MiB", "1 MiB", "3 MiB", "5 MiB"]
