import pytest
import torch
from torch import nn

from labkit.counting import flop_formulas
from labkit.labs.inference.attention import encoder_block_gemms
from labkit.layer_calls import is_self_attention
from labkit.counting import count_macs, counter_comparison, plain_flop_counter_macs
from labkit.labs.inference.zoo import token_batch

from lab3_models import TINY, SelfAttention, tiny_bert

import transformers  # noqa: F401  (a required dependency: a broken install fails here, never skips)

# Batch 3, 10 tokens, d_model 16, 2 heads of 8, computed by hand:
B, S, D, H = 3, 10, 16, 2
PROJECTIONS = 4 * B * S * D * D            # q, k, v, o: each (B*S) x D x D
ATTENTION = 2 * B * H * S * S * (D // H)   # QK^T and attention x V: each B x H x S x S x head_dim


@pytest.fixture
def attention_model() -> SelfAttention:
    torch.manual_seed(0)
    return SelfAttention(D, H).eval()


def test_torch_method_counts_attention_matmuls_by_hand(attention_model):
    x = torch.randn(B, S, D)
    assert count_macs(attention_model, x, method="torch") == PROJECTIONS + ATTENTION


def test_plain_flop_counter_misses_exactly_the_cpu_attention_kernel(attention_model):
    x = torch.randn(B, S, D)
    assert plain_flop_counter_macs(attention_model, x) == PROJECTIONS, "the gap labkit closes is attention only"


def test_labkit_leaves_torch_global_flop_registry_alone(attention_model):
    from torch.utils.flop_counter import flop_registry

    count_macs(attention_model, torch.randn(B, S, D), method="torch")
    assert not set(flop_formulas()) & set(flop_registry), "labkit passes its formula per counter, not globally"


def test_analytic_counts_the_attention_of_a_module_stating_its_heads(attention_model):
    assert is_self_attention(attention_model) and not is_self_attention(nn.Linear(2, 2))
    assert count_macs(attention_model, torch.randn(B, S, D), method="analytic") == PROJECTIONS + ATTENTION


def test_thop_sees_the_functional_attention_too(attention_model):
    assert count_macs(attention_model, torch.randn(B, S, D), method="thop") == PROJECTIONS + ATTENTION


def test_bert_counters_torch_and_analytic_agree_and_plain_misses_attention_per_block():
    model, tokens = tiny_bert(), token_batch(2, 12)
    table = counter_comparison(model, *tokens).set_index("counter")
    attention = TINY["num_hidden_layers"] * 2 * 2 * 12 * 12 * TINY["hidden_size"]  # blocks x 2 matmuls x B x S^2 x D
    assert table.macs["torch"] == table.macs["analytic"]
    assert table.macs["torch"] - table.macs["FlopCounterMode (plain)"] == attention
    assert table.vs_torch["torch"] == 1.0 and table.macs["thop"] > 0


def test_encoder_block_gemms_read_sizes_from_the_model_and_sum_to_the_model_count():
    model, tokens = tiny_bert(), token_batch(2, 12)
    block = encoder_block_gemms(model, *tokens)
    d, heads, ffn = TINY["hidden_size"], TINY["num_attention_heads"], TINY["intermediate_size"]
    assert list(block.gemm) == ["Q projection", "K projection", "V projection", "QK^T (scores)", "attention x V",
                                "attention output", "intermediate (FFN up)", "output (FFN down)"]
    rows = block.set_index("gemm")
    assert rows.input_shape["Q projection"] == (2, 12, d) and rows.weight_shape["intermediate (FFN up)"] == (d, ffn)
    assert rows.output_shape["QK^T (scores)"] == (2, heads, 12, 12)
    qa_head = 2 * 12 * d * 2
    assert block.macs.sum() * TINY["num_hidden_layers"] + qa_head == count_macs(model, *tokens)


def test_encoder_block_gemms_refuses_a_model_without_a_bert_encoder(attention_model):
    with pytest.raises(ValueError, match="BERT"):
        encoder_block_gemms(attention_model, torch.randn(1, 4, D))
