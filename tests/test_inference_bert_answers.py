"""Lab 3's BERT answers take each branch on crafted rows: BERT gaining more or less than ResNet18 from batching,
a block that does or does not add up to the model's count, a plain counter that misses the attention or not."""

import pandas as pd

from labkit.labs.inference import bert_answers


def runs(batches, medians_ms, gflops=(40.0, 60.0)):
    return pd.DataFrame({"batch_size": batches, "median_ms": medians_ms, "p10_ms": [0.9 * m for m in medians_ms],
                         "p90_ms": [1.2 * m for m in medians_ms],
                         "throughput_per_s": [1e3 * b / m for b, m in zip(batches, medians_ms)],
                         "gflops_per_s": list(gflops)})


RESNET = runs([1, 128], [10, 640])  # 2.00x


def test_bert_gaining_less_than_resnet_gives_the_reason_as_the_expected_one():
    text = bert_answers.bert_batching(runs([1, 32], [40, 1000]), RESNET, seq_len=128)  # 1.28x
    assert "**1.28x**" in text and "against 2.00x for ResNet18" in text
    assert "BERT gains less" in text and "The expected reason" in text and "**40.0 ms**" in text


def test_bert_gaining_more_or_as_much_says_so_without_a_reason():
    more = bert_answers.bert_batching(runs([1, 32], [40, 320]), RESNET, seq_len=128)  # 4.00x
    assert "BERT gains more here" in more and "from 40.0 GFLOP/s at batch 1 to 60.0 at batch 32" in more
    assert "expected" not in more
    same = bert_answers.bert_batching(runs([1, 32], [40, 650]), RESNET, seq_len=128)  # 1.97x
    assert "about as much (within 5%)" in same and "**1.97x**" in same


def block_rows(attention_mmacs=25.0):
    names = ["Q projection", "K projection", "V projection", "QK^T (scores)", "attention x V", "attention output",
             "intermediate (FFN up)", "output (FFN down)"]
    macs = [75e6] * 3 + [attention_mmacs * 1e6] * 2 + [75e6, 300e6, 300e6]
    return pd.DataFrame({"gemm": names, "macs": macs})


def test_the_dominant_gemm_group_is_read_from_the_table():
    block = block_rows()
    total = int(block.macs.sum())
    text = bert_answers.encoder_block(block, d_model=768, n_heads=12, seq_len=128, n_blocks=12,
                                      model_macs=total * 12 + 100, qa_head_macs=100)
    assert "8 GEMMs" in text and "gives exactly the model's count" in text and "heads of 64" in text
    assert "largest share is the **feed-forward pair**, 63.2%" in text and "the two attention matmuls 5.3% at 128" in text
    long = bert_answers.encoder_block(block_rows(attention_mmacs=400), d_model=768, n_heads=12, seq_len=4096,
                                      n_blocks=12, model_macs=1, qa_head_macs=0)
    assert "largest share is the **two attention matmuls**" in long
    assert "x the model's count" in long and "exactly" not in long


def bert_macs(plain_missing: bool) -> dict:
    attention = 12 * 2 * 128 ** 2 * 768
    torch_count = 11_000_000_000
    return {"torch": torch_count, "analytic": torch_count, "thop": torch_count + 98_304,
            "FlopCounterMode (plain)": torch_count - attention if plain_missing else torch_count}


def test_a_plain_counter_that_misses_the_fused_attention_is_explained():
    text = bert_answers.bert_counters(bert_macs(True), n_layers=12, d_model=768, seq_len=128, n_norms=25)
    assert "has no formula" in text and "drops the 301.99 M MACs" not in text and "drops the 302.0 M MACs" in text


def test_a_torch_that_counts_the_attention_itself_is_said_to_agree():
    text = bert_answers.bert_counters(bert_macs(False), n_layers=12, d_model=768, seq_len=128, n_norms=25)
    assert "reports the same" in text and "no formula" not in text and "302.0 M MACs" in text


def test_bert_losing_throughput_with_the_batch_says_it_falls_and_shows_the_spread():
    text = bert_answers.bert_batching(runs([1, 2], [468, 2953], gflops=(12, 4)), RESNET, seq_len=32)
    assert "**0.32x**" in text and "*falls* with the batch" in text and "from 12.0 GFLOP/s at batch 1 to 4.00" in text
    assert "p10-p90 421-562 ms at batch 1, 2,658-3,544 ms at batch 2" in text and "BERT gains less" not in text


def test_a_bert_gain_within_the_per_sequence_spread_says_so():
    wide = runs([1, 2], [2383, 3498], gflops=(2.3, 3.1))
    wide["p10_ms"], wide["p90_ms"] = [2351, 3483], [2552, 4926]
    text = bert_answers.bert_batching(wide, RESNET, seq_len=32)
    assert "BERT gains less" in text and "overlap, so its gain is within this run's spread" in text
    assert "within this run's spread" not in bert_answers.bert_batching(runs([1, 32], [40, 320]), RESNET, seq_len=128)
