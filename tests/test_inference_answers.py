"""Lab 3's generated answers take each branch on crafted rows, and say what this machine has, not 'both cores'."""

from types import SimpleNamespace

from labkit.labs.inference import answers


def row(batch_size, median_ms, gflops=50.0):
    return SimpleNamespace(batch_size=batch_size, median_ms=median_ms, throughput_per_s=1e3 * batch_size / median_ms,
                           per_example_ms=median_ms / batch_size, gflops_per_s=gflops)


def test_batching_that_pays_says_so():
    text = answers.batching_throughput(row(1, 10), row(64, 320), device="cpu", threads=2)
    assert "batching pays" in text and "2.00x the throughput" in text


def test_batching_that_does_not_pay_names_the_threads_this_run_used():
    text = answers.batching_throughput(row(1, 10), row(64, 640), device="cpu", threads=16)
    assert "the 16 CPU threads this run used" in text and "both cores" not in text
    assert "the one CPU thread" in answers.batching_throughput(row(1, 10), row(64, 640), device="cpu", threads=1)
    assert "the GPU busy" in answers.batching_throughput(row(1, 10), row(64, 640), device="cuda", threads=16)


def test_slower_batches_give_the_cache_reason_as_the_expected_one():
    text = answers.batching_throughput(row(1, 10), row(64, 1000), device="cpu", threads=2)
    assert "*slower* per image" in text and "the expected reason" in text and "CPU's caches" in text


def test_one_batch_against_batches_of_one_takes_each_branch():
    common = dict(gmacs_per_image=1.82, activation_mib_per_image=8.6, device="cpu", threads=4)
    assert "Batching wins" in answers.one_batch_vs_batches_of_one(128, 100, 200, **common)
    lose = answers.one_batch_vs_batches_of_one(128, 200, 100, **common)
    assert "does not win" in lose and "the 4 CPU threads this run used" in lose and "1.1 GiB" in lose
    assert "barely changes" in answers.one_batch_vs_batches_of_one(128, 100, 101, **common)


def test_the_gap_to_the_peak_is_an_expected_reason_unless_a_round_exceeds_it():
    text = answers.achieved_vs_peak(40, 100, [0.4, 0.38, 0.42], batch_size=128, matrix_size=2048)
    assert "40% of the **100 GFLOP/s**" in text and "the expected reason" in text and "not located here" in text
    assert "noise, not a bound" in answers.achieved_vs_peak(40, 100, [0.4, 1.2, 0.42], batch_size=128,
                                                            matrix_size=2048)


def bert_macs(plain_missing: bool) -> dict:
    attention = 12 * 2 * 128 ** 2 * 768
    torch_count = 11_000_000_000
    return {"torch": torch_count, "analytic": torch_count, "thop": torch_count + 98_304,
            "FlopCounterMode (plain)": torch_count - attention if plain_missing else torch_count}


def test_a_plain_counter_that_misses_the_fused_attention_is_explained():
    text = answers.bert_counters(bert_macs(True), n_layers=12, d_model=768, seq_len=128, n_norms=25)
    assert "has no formula" in text and "drops the 301.99 M MACs" not in text and "drops the 302.0 M MACs" in text


def test_a_torch_that_counts_the_attention_itself_is_said_to_agree():
    text = answers.bert_counters(bert_macs(False), n_layers=12, d_model=768, seq_len=128, n_norms=25)
    assert "reports the same" in text and "no formula" not in text and "302.0 M MACs" in text
