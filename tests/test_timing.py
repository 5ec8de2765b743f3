"""labkit.timing: statistics on known samples, and what the timers call (never wall-clock values)."""

import numpy as np
import pytest
import torch
from torch import nn

from labkit.timing import (LatencyStats, compare_batched, latency_trace, measure_latency, moving_stats,
                           synchronize)


class CountingModule(nn.Module):
    """A tiny linear layer that records every call: batch size, device, train and inference flags."""

    def __init__(self, in_features: int = 4):
        super().__init__()
        self.linear = nn.Linear(in_features, 2)
        self.calls: list[dict] = []

    def forward(self, x: torch.Tensor, *rest) -> torch.Tensor:
        self.calls.append({"batch": x.shape[0], "device": x.device.type, "training": self.training,
                           "inference_mode": torch.is_inference_mode_enabled()})
        return self.linear(x)


@pytest.fixture
def model() -> CountingModule:
    torch.manual_seed(0)
    return CountingModule()


@pytest.fixture
def stats_1_to_10() -> LatencyStats:
    return LatencyStats(batch_size=4, samples_ms=tuple(float(v) for v in range(1, 11)))


# --- LatencyStats -------------------------------------------------------------------------------

def test_latency_stats_median_p10_p90_match_numpy_percentiles(stats_1_to_10):
    samples = np.arange(1, 11)
    assert stats_1_to_10.median_ms == pytest.approx(5.5), "median of 1..10 ms should be 5.5 ms"
    assert stats_1_to_10.p10_ms == pytest.approx(np.percentile(samples, 10)), "p10 should be numpy's (1.9)"
    assert stats_1_to_10.p90_ms == pytest.approx(np.percentile(samples, 90)), "p90 should be numpy's (9.1)"


def test_latency_stats_mean_std_and_iqr_on_known_samples(stats_1_to_10):
    samples = np.arange(1, 11)
    assert stats_1_to_10.mean_ms == pytest.approx(5.5)
    assert stats_1_to_10.std_ms == pytest.approx(np.std(samples, ddof=1)), "std should be the sample std (ddof=1)"
    assert stats_1_to_10.iqr_ms == pytest.approx(7.75 - 3.25), "IQR of 1..10 should be p75 - p25 = 4.5"


def test_latency_stats_std_of_a_single_sample_is_zero():
    assert LatencyStats(batch_size=1, samples_ms=(3.0,)).std_ms == 0.0


def test_per_example_ms_is_median_divided_by_batch_size(stats_1_to_10):
    assert stats_1_to_10.per_example_ms == pytest.approx(5.5 / 4), "expected 5.5 ms / 4 examples"


def test_throughput_is_examples_per_second_at_the_median(stats_1_to_10):
    assert stats_1_to_10.throughput_per_s == pytest.approx(4 / 0.0055), "expected 4 examples / 5.5 ms"


def test_as_dict_is_a_flat_row_of_statistics_without_samples(stats_1_to_10):
    row = stats_1_to_10.as_dict()
    assert "samples_ms" not in row, "the row should hold statistics, not the raw samples"
    assert row["median_ms"] == stats_1_to_10.median_ms and row["batch_size"] == 4 and row["repeats"] == 10
    expected = {"p10_ms", "p90_ms", "mean_ms", "std_ms", "iqr_ms", "per_example_ms", "throughput_per_s"}
    assert expected <= row.keys(), f"missing columns: {expected - row.keys()}"
    assert all(isinstance(v, (int, float)) for v in row.values()), f"non-numeric values in {row}"


def test_latency_stats_rejects_empty_samples():
    with pytest.raises(ValueError, match="samples_ms"):
        LatencyStats(batch_size=1, samples_ms=())


# --- measure_latency ----------------------------------------------------------------------------

def test_measure_latency_returns_one_positive_sample_per_repeat(model):
    stats = measure_latency(model, torch.randn(8, 4), warmup=2, repeats=7)
    assert len(stats.samples_ms) == 7, f"expected 7 samples, got {len(stats.samples_ms)}"
    assert all(s > 0 for s in stats.samples_ms), f"every latency should be positive: {stats.samples_ms}"


def test_measure_latency_calls_the_model_warmup_plus_repeats_times(model):
    measure_latency(model, torch.randn(8, 4), warmup=3, repeats=5)
    assert len(model.calls) == 3 + 5, f"expected 3 warm-up + 5 timed calls, model saw {len(model.calls)}"


def test_measure_latency_times_a_plain_callable():
    calls = []
    stats = measure_latency(lambda x: calls.append(x.shape), torch.zeros(2, 3), warmup=0, repeats=4)
    assert len(calls) == 4 and stats.batch_size == 2


def test_measure_latency_batch_size_is_first_dim_of_first_input(model):
    stats = measure_latency(model, (torch.randn(6, 4), torch.randn(3, 9)), warmup=0, repeats=1)
    assert stats.batch_size == 6, "batch size should come from the first tensor of the tuple"


def test_measure_latency_runs_in_eval_and_inference_mode(model):
    measure_latency(model.train(), torch.randn(2, 4), warmup=1, repeats=2)
    assert not any(c["training"] for c in model.calls), "every call should run in eval mode"
    assert all(c["inference_mode"] for c in model.calls), "every call should run under inference_mode"


def test_measure_latency_restores_each_modules_training_flag(model):
    model.train()
    model.linear.eval()  # a submodule deliberately frozen: must stay as the caller left it
    measure_latency(model, torch.randn(2, 4), warmup=1, repeats=1)
    assert model.training, "the model should be back in training mode"
    assert not model.linear.training, "a submodule in eval mode should stay in eval mode"


def test_measure_latency_moves_model_and_input_to_the_given_device(model):
    # "meta" tensors stand in for an accelerator: shapes flow, nothing is computed.
    measure_latency(model, torch.randn(2, 4), warmup=0, repeats=1, device="meta")
    assert model.calls[0]["device"] == "meta", "input should have been moved to the given device"
    assert model.linear.weight.device.type == "meta", "model should have been moved to the given device"


@pytest.mark.parametrize("kwargs, name", [({"warmup": -1}, "warmup"), ({"repeats": 0}, "repeats"),
                                          ({"repeats": 2.5}, "repeats")])
def test_measure_latency_rejects_bad_counts_naming_the_parameter(model, kwargs, name):
    with pytest.raises(ValueError, match=name):
        measure_latency(model, torch.randn(2, 4), **kwargs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_measure_latency_on_cuda_synchronizes_and_returns_samples(model):
    stats = measure_latency(model, torch.randn(8, 4), warmup=2, repeats=5, device="cuda")
    assert model.calls[-1]["device"] == "cuda" and len(stats.samples_ms) == 5


# --- latency_trace, moving_stats, compare_batched, synchronize -----------------------------------

def test_latency_trace_has_one_entry_per_input_and_no_warmup(model):
    trace = latency_trace(model, torch.randn(9, 4))
    assert trace.shape == (9,), f"expected one latency per example, got shape {trace.shape}"
    assert len(model.calls) == 9, f"expected exactly 9 calls (no warm-up), model saw {len(model.calls)}"
    assert (trace > 0).all()


def test_latency_trace_feeds_batches_of_one(model):
    latency_trace(model, torch.randn(5, 4))
    assert [c["batch"] for c in model.calls] == [1] * 5, "each example should be its own batch of 1"


def test_moving_stats_on_a_known_series():
    mean, std = moving_stats([1.0, 2.0, 3.0, 4.0, 5.0], window=3)
    np.testing.assert_allclose(mean, [1.0, 1.5, 2.0, 3.0, 4.0], err_msg="trailing mean over up to 3 values")
    np.testing.assert_allclose(std, [0.0, np.sqrt(0.5), 1.0, 1.0, 1.0], err_msg="trailing std, 0 for one value")


def test_moving_stats_with_window_one_has_zero_std():
    _, std = moving_stats(np.array([3.0, 1.0, 4.0]), window=1)
    np.testing.assert_array_equal(std, [0.0, 0.0, 0.0])


def test_moving_stats_rejects_a_window_below_one():
    with pytest.raises(ValueError, match="window"):
        moving_stats([1.0, 2.0], window=0)


def test_compare_batched_times_one_batch_against_batches_of_one(model):
    result = compare_batched(model, torch.randn(6, 4), warmup=1, repeats=2)
    batches = [c["batch"] for c in model.calls]
    assert batches.count(6) == 1 + 2, "one full batch per warm-up and timed repeat"
    assert batches.count(1) == (1 + 2) * 6, "six batches of one per warm-up and timed repeat"
    assert result["n_examples"] == 6
    assert result["speedup"] == pytest.approx(result["batches_of_one_ms"] / result["one_batch_ms"])


@pytest.mark.parametrize("device", [None, "cpu", torch.device("cpu")])
def test_synchronize_accepts_cpu_and_none(device):
    assert synchronize(device) is None


def test_dataset_inference_time_covers_every_row_once_in_eval_mode():
    from labkit.timing import dataset_inference_s

    calls = []

    class Recorder(torch.nn.Module):
        def forward(self, x):
            calls.append((len(x), self.training))
            return x

    model = Recorder().train()
    seconds = dataset_inference_s(model, torch.zeros(600, 3), batch_size=256)
    assert seconds > 0 and model.training, "the model's train flag is restored"
    assert [n for n, _ in calls] == [256, 256, 256, 88], "one warm-up batch, then 600 rows in batches of 256"
    assert not any(training for _, training in calls)
