import pytest
import torch

from labkit.labs.inference import latency as inference, speedups, zoo
from labkit.results import read_results

from lab3_models import tiny_bert

import transformers  # noqa: F401  (a required dependency: a broken install fails here, never skips)


@pytest.fixture
def small_models(monkeypatch):
    """Lab 3's trials on a tiny BERT (ResNet18 stays real: one 224x224 image is cheap enough)."""
    built = {"resnet18": zoo.build("resnet18"), "bert": tiny_bert()}
    monkeypatch.setattr(inference, "cached_model", lambda name, *args: built[name])
    return built


def test_latency_configs_put_images_and_tokens_in_their_own_columns():
    configs = inference.latency_configs([1, 4], [2], 16)
    assert configs[0] == {"model": "resnet18", "batch_size": 1, "image_size": 224, "seq_len": None}
    assert configs[-1] == {"model": "bert", "batch_size": 2, "image_size": None, "seq_len": 16}
    with pytest.raises(ValueError, match="seq_len=600"):
        inference.latency_configs([1], [1], 600)


def test_latency_sweep_records_one_row_per_config_and_resumes(small_models, tmp_path):
    setup = inference.InferenceSetup(warmup=0, repeats=2)
    path = tmp_path / "results.csv"
    configs = inference.latency_configs([1], [1, 2], 8)
    rows = inference.run_latency_sweep(configs, setup, path)
    assert list(zip(rows.model, rows.batch_size)) == [("resnet18", 1), ("bert", 1), ("bert", 2)]
    assert rows.batch_size.dtype == "Int64" and (rows.median_ms > 0).all() and rows.repeats.eq(2).all()
    assert rows.macs.iloc[0] == 1_814_073_344, "MACs per batch come from labkit's torch count"
    assert rows.macs.iloc[2] == 2 * rows.macs.iloc[1], "MACs scale with the batch"
    assert rows.throughput_per_s.iloc[0] == pytest.approx(1e3 / rows.median_ms.iloc[0])
    small_models.clear()  # a resumed run must not build or time anything
    again = inference.run_latency_sweep(configs, setup, path)
    assert again.median_ms.tolist() == rows.median_ms.tolist() and len(read_results(path)) == 3


def test_key_fields_leave_out_checkpoint_names_unless_pretrained():
    assert "bert_checkpoint" not in inference.InferenceSetup().key_fields()
    assert inference.InferenceSetup(pretrained=True).key_fields()["bert_checkpoint"] == zoo.BERT_CHECKPOINT


def test_batching_row_compares_one_batch_with_batches_of_one(small_models, tmp_path):
    row = inference.run_batching("resnet18", 3, inference.InferenceSetup(warmup=0), tmp_path / "r.csv", repeats=2)
    assert row.n_examples == 3 and row.speedup == pytest.approx(row.batches_of_one_ms / row.one_batch_ms)
    assert read_results(tmp_path / "r.csv").sweep.tolist() == ["batching"]


def test_achieved_vs_peak_interleaves_rounds_and_reports_fractions():
    model = torch.nn.Sequential(torch.nn.Linear(64, 64))
    table = inference.achieved_vs_peak(model, (torch.randn(32, 64),), rounds=2, repeats=2, matrix_size=64)
    assert table["round"].tolist() == [1, 2]
    assert (table.fraction_of_peak == table.model_gflops_per_s / table.peak_gflops_per_s).all()


# --- speed-up variants -------------------------------------------------------------------------------


def test_variants_that_do_not_apply_are_skipped_with_the_reason():
    cpu = torch.device("cpu")
    assert "no convolutions" in speedups.skip_reason("channels_last", "bert", cpu)
    assert "nn.Linear" in speedups.skip_reason("int8_dynamic", "resnet18", cpu)
    assert speedups.skip_reason("compile", "bert", cpu) is None
    with pytest.raises(ValueError, match="'fp8'"):
        speedups.skip_reason("fp8", "bert", cpu)


def test_bf16_is_skipped_on_a_cpu_without_bf16_instructions(monkeypatch):
    from labkit import sysinfo

    monkeypatch.setattr(sysinfo, "cpu_flags", lambda: "sse4_2 avx2 avx512f")
    assert "avx512_bf16" in speedups.bf16_support(torch.device("cpu"))
    monkeypatch.setattr(sysinfo, "cpu_flags", lambda: "avx2 avx512_bf16")
    assert speedups.bf16_support(torch.device("cpu")) is None


@pytest.mark.parametrize("variant,model,exact", [("channels_last", "resnet18", True), ("int8_dynamic", "bert", False)])
def test_speedup_trial_times_variant_against_eager_and_measures_the_difference(small_models, variant, model, exact):
    config = {"model": model, "batch_size": 1, "image_size": 224, "seq_len": 8, "variant": variant}
    row = speedups.speedup_trial(config, inference.InferenceSetup(warmup=0, repeats=3))
    assert row["skipped"] is None and row["speedup"] == pytest.approx(row["eager_ms"] / row["variant_ms"])
    assert row["max_abs_diff"] < 1e-3 if exact else row["max_abs_diff"] > 0, "a layout change is exact, int8 is not"


@pytest.mark.slow
def test_compile_variant_runs_a_compiled_model(small_models):
    small_models["bert"] = tiny_bert(num_hidden_layers=1)
    config = {"model": "bert", "batch_size": 1, "image_size": None, "seq_len": 8, "variant": "compile"}
    row = speedups.speedup_trial(config, inference.InferenceSetup(warmup=0, repeats=3))
    assert row["skipped"] is None and row["max_abs_diff"] < 1e-4 and row["build_s"] > 0


def test_fastest_within_tolerance_prefers_an_accurate_variant_over_a_faster_inexact_one():
    import pandas as pd

    runs = pd.DataFrame({"model": ["bert"] * 3 + ["resnet18"], "batch_size": [1, 1, 1, 1],
                         "variant": ["int8_dynamic", "bf16_autocast", "channels_last", "bf16_autocast"],
                         "speedup": [3.0, 1.5, None, 0.8], "rel_diff": [0.05, 0.004, None, 0.001],
                         "skipped": [None, None, "no convolutions", None]})
    best = speedups.fastest_within(runs, 0.01).set_index("model")
    assert best.fastest_variant["bert"] == "bf16_autocast" and best.speedup["bert"] == 1.5
    assert best.fastest_variant["resnet18"] == "eager", "a slower variant never wins"
