"""Tiny stand-ins for Lab 3's models: a BERT with BERT-base's structure at toy sizes, and a small attention model."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from labkit.labs.inference.zoo import BERT_VOCAB_SIZE, QuestionAnswering

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, max_position_embeddings=64)


def tiny_bert(**sizes) -> QuestionAnswering:
    """BERT with a QA head, 2 blocks of d_model 32 and 4 heads; the real cased vocabulary so zoo's tokens fit."""
    from transformers import BertConfig, BertForQuestionAnswering

    torch.manual_seed(0)
    config = BertConfig(vocab_size=BERT_VOCAB_SIZE, **{**TINY, **sizes})
    return QuestionAnswering(BertForQuestionAnswering(config)).eval()


class SelfAttention(nn.Module):
    """Q, K, V and output projections around ``F.scaled_dot_product_attention``; states its heads as BERT does."""

    def __init__(self, d_model: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.num_attention_heads, self.attention_head_size = heads, d_model // heads
        self.q, self.k, self.v, self.o = (nn.Linear(d_model, d_model) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq_len, d_model = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, seq_len, self.num_attention_heads, self.attention_head_size).transpose(1, 2)

        context = F.scaled_dot_product_attention(heads(self.q(x)), heads(self.k(x)), heads(self.v(x)))
        return self.o(context.transpose(1, 2).reshape(batch, seq_len, d_model))
