"""Lab 3's exercise checks: BERT's attention MACs from its config, and the shapes of an encoder block's GEMMs,
against labkit's formula and the shapes a forward pass records."""

from __future__ import annotations

import random
from collections.abc import Callable
from types import SimpleNamespace

import torch

from labkit.checking import CheckResult, run_cases
from labkit.layer_formulas import attention_macs
from labkit.labs.inference.attention import encoder_block_gemms

# (layers, d_model, heads, FFN width): BERT-base, BERT-large, BERT-tiny and small odd ones.
_CONFIGS = [(12, 768, 12, 3072), (24, 1024, 16, 4096), (2, 128, 2, 512), (1, 32, 4, 64), (3, 48, 6, 80)]


def bert_config(layers: int, hidden: int, heads: int, intermediate: int) -> SimpleNamespace:
    """The fields of a transformers ``BertConfig`` the exercises read."""
    return SimpleNamespace(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads,
                           intermediate_size=intermediate)


def reference_attention_macs(config: SimpleNamespace, seq_len: int, batch: int = 1) -> int:
    """Return the MACs of QK^T and attention x V summed over every encoder block (labkit's formula)."""
    attention = SimpleNamespace(num_attention_heads=config.num_attention_heads,
                                attention_head_size=config.hidden_size // config.num_attention_heads)
    return config.num_hidden_layers * attention_macs(attention, (batch, seq_len, config.hidden_size))[0]


def _config_label(config: SimpleNamespace) -> str:
    return (f"{config.num_hidden_layers} layers, hidden_size={config.hidden_size}, "
            f"{config.num_attention_heads} heads, intermediate_size={config.intermediate_size}")


def bert_attention_macs(student: Callable[..., int]) -> CheckResult:
    """Exercise 3.1: the attention MACs of a BERT model from its config."""
    rng = random.Random(0)
    cases = [(bert_config(*c), seq, batch) for c, seq, batch in
             zip(_CONFIGS, (128, 384, 64, 7, 33), (1, 1, 8, 3, 2))]
    cases += [(bert_config(rng.randint(1, 24), 16 * h, h, rng.randint(16, 512)), rng.randint(1, 512), rng.randint(1, 32))
              for h in (rng.randint(1, 16) for _ in range(4))]
    return run_cases("3.1", 2, student, reference_attention_macs,
                     [(f"{_config_label(c)}, seq_len={seq}, batch={b}", {"config": c, "seq_len": seq, "batch": b})
                      for c, seq, b in cases])


def reference_gemm_shapes(config: SimpleNamespace, seq_len: int, batch: int = 1) -> list[tuple]:
    """Return (input_shape, weight_shape, output_shape) of each GEMM of one encoder block, from a forward pass of
    a one-block BERT of this config (:func:`labkit.labs.inference.attention.encoder_block_gemms`)."""
    from transformers import BertConfig, BertForQuestionAnswering

    model = BertForQuestionAnswering(BertConfig(
        vocab_size=50, hidden_size=config.hidden_size, num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size, num_hidden_layers=1, max_position_embeddings=max(seq_len, 8)))
    ids = torch.randint(0, 50, (batch, seq_len), generator=torch.Generator().manual_seed(0))
    table = encoder_block_gemms(model.eval(), ids)
    return [tuple(tuple(int(n) for n in shape) for shape in row)
            for row in table[["input_shape", "weight_shape", "output_shape"]].itertuples(index=False)]


def _as_shapes(got: object) -> object:
    try:
        return [tuple(tuple(int(n) for n in shape) for shape in row) for row in got]
    except (TypeError, ValueError):
        return got


def encoder_gemm_shapes(student: Callable[..., list]) -> CheckResult:
    """Exercise 3.2: the operand and output shapes of every GEMM of one BERT encoder block."""
    cases = [(bert_config(1, 32, 4, 64), 7, 2), (bert_config(1, 48, 6, 80), 5, 1), (bert_config(1, 16, 1, 24), 3, 3)]
    return run_cases("3.2", 2, lambda **kw: _as_shapes(student(**kw)), reference_gemm_shapes,
                     [(f"hidden_size={c.hidden_size}, {c.num_attention_heads} heads, intermediate_size="
                       f"{c.intermediate_size}, seq_len={seq}, batch={b}", {"config": c, "seq_len": seq, "batch": b})
                      for c, seq, b in cases])
