"""ResNet18 and BERT-base question answering, built offline, and random inputs of the right shape.

Latency, parameters and MACs do not depend on the weights, so both networks are built from their
configs with random weights by default; ``pretrained=True`` downloads the real checkpoints and, when
the network is not reachable, stops with a message saying what it tried.
"""

from __future__ import annotations

import torch
from torch import nn

MODEL_NAMES = ("resnet18", "bert")
IMAGE_SIZE = 224                     # ResNet18 input: 3 x 224 x 224 pixels
BERT_VOCAB_SIZE = 28996              # BERT-base *cased* WordPiece vocabulary
BERT_MAX_POSITIONS = 512             # position embeddings of BERT-base: the longest sequence it reads
RESNET18_WEIGHTS = "IMAGENET1K_V1"   # torchvision's ImageNet checkpoint
BERT_CHECKPOINT = "deepset/bert-base-cased-squad2"  # BERT-base cased, fine-tuned for SQuAD 2.0 question answering


class QuestionAnswering(nn.Module):
    """A transformers ``BertForQuestionAnswering`` whose forward takes token tensors and returns
    ``(start_logits, end_logits)`` (each batch x seq_len): plain tensors, so timing, counting and ONNX export
    see an ordinary module."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    @property
    def config(self):
        return self.model.config

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return out.start_logits, out.end_logits


def check_model_name(name: str) -> str:
    """Return ``name`` if labkit can build it; otherwise raise ValueError listing the known names."""
    if name not in MODEL_NAMES:
        raise ValueError(f"model {name!r} is not one of Lab 3's models: choose from {list(MODEL_NAMES)}")
    return name


def check_seq_len(seq_len: int, max_positions: int = BERT_MAX_POSITIONS) -> int:
    """Return ``seq_len`` (tokens) if BERT can read it: a whole number from 1 to ``max_positions``."""
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or not 1 <= seq_len <= max_positions:
        raise ValueError(f"seq_len={seq_len!r}: BERT reads 1 to {max_positions} tokens (its position "
                         f"embeddings); choose a whole number in that range, e.g. 128 or 384")
    return seq_len


def check_resnet18_weights(name: str) -> str:
    """Return ``name`` if it is one of torchvision's ResNet18 checkpoints, else raise ValueError listing them."""
    import torchvision

    known = [w.name for w in torchvision.models.ResNet18_Weights]
    if name not in known:
        raise ValueError(f"resnet_weights={name!r} is not a torchvision ResNet18 checkpoint: choose from {known}")
    return name


def check_bert_checkpoint(name: str) -> str:
    """Return ``name`` if it looks like a Hugging Face model id (``owner/model``), else raise ValueError."""
    if not isinstance(name, str) or name.count("/") != 1 or not all(part.strip() for part in name.split("/")):
        raise ValueError(f"bert_checkpoint={name!r}: give a Hugging Face model id 'owner/model', e.g. "
                         f"{BERT_CHECKPOINT!r} (BERT-base cased, fine-tuned for question answering)")
    return name


def resnet18(pretrained: bool = False, *, weights_name: str = RESNET18_WEIGHTS) -> nn.Module:
    """Return torchvision's ResNet18 (11,689,512 parameters) in eval mode; random weights unless ``pretrained``
    (then torchvision's checkpoint ``weights_name``)."""
    import torchvision

    if not pretrained:
        return torchvision.models.resnet18(weights=None).eval()
    weights = torchvision.models.ResNet18_Weights[check_resnet18_weights(weights_name)]
    try:
        return torchvision.models.resnet18(weights=weights).eval()
    except Exception as error:  # URLError, HTTPError, SSL errors...: all mean "not reachable from here"
        raise RuntimeError(f"pretrained=True: could not download ResNet18 weights {weights_name} from "
                           f"{weights.url} ({type(error).__name__}: {error}). Run with pretrained=False: latency, "
                           "parameters and MACs do not depend on the weights.") from error


def bert_qa(pretrained: bool = False, *, checkpoint: str = BERT_CHECKPOINT) -> QuestionAnswering:
    """Return BERT-base cased with a question-answering head (107,721,218 parameters) in eval mode.

    Random weights from ``BertConfig(vocab_size=28996)`` unless ``pretrained`` (then ``checkpoint`` from the
    Hugging Face hub).
    """
    from transformers import BertConfig, BertForQuestionAnswering

    check_bert_checkpoint(checkpoint)
    if not pretrained:
        return QuestionAnswering(BertForQuestionAnswering(BertConfig(vocab_size=BERT_VOCAB_SIZE))).eval()
    try:
        model = BertForQuestionAnswering.from_pretrained(checkpoint)
    except Exception as error:  # OSError when the hub is unreachable and nothing is cached
        raise RuntimeError(f"pretrained=True: could not load {checkpoint!r} from the Hugging Face hub or its "
                           f"local cache ({type(error).__name__}: {error}). Run with pretrained=False: latency, "
                           "parameters and MACs do not depend on the weights.") from error
    return QuestionAnswering(model).eval()


def build(name: str, pretrained: bool = False, *, resnet_weights: str = RESNET18_WEIGHTS,
          bert_checkpoint: str = BERT_CHECKPOINT) -> nn.Module:
    """Return Lab 3's model ``name`` (``"resnet18"`` or ``"bert"``) in eval mode; the checkpoint names are
    used only when ``pretrained``."""
    if check_model_name(name) == "resnet18":
        return resnet18(pretrained, weights_name=resnet_weights)
    return bert_qa(pretrained, checkpoint=bert_checkpoint)


def image_batch(batch_size: int, *, size: int = IMAGE_SIZE, seed: int = 0) -> torch.Tensor:
    """Return ``batch_size`` random images, shape batch x 3 x size x size, float32 N(0, 1) (normalised pixels)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch_size, 3, size, size, generator=generator)


def token_batch(batch_size: int, seq_len: int = 128, *, vocab_size: int = BERT_VOCAB_SIZE,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(input_ids, attention_mask, token_type_ids)``, each batch x seq_len int64.

    Random token ids; the mask is all ones (every position is a real token, the worst case a padded batch
    bounds); the first half of each sequence is segment 0 (the question), the rest segment 1 (the context).
    """
    check_seq_len(seq_len)
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, vocab_size, (batch_size, seq_len), generator=generator)
    attention_mask = torch.ones(batch_size, seq_len, dtype=torch.long)
    token_type_ids = torch.zeros(batch_size, seq_len, dtype=torch.long)
    token_type_ids[:, seq_len // 2:] = 1
    return input_ids, attention_mask, token_type_ids


def example_inputs(name: str, batch_size: int, *, seq_len: int = 128, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Return the positional inputs of model ``name`` for one batch: ``(images,)`` or the three token tensors."""
    if check_model_name(name) == "resnet18":
        return (image_batch(batch_size, seed=seed),)
    return token_batch(batch_size, seq_len, seed=seed)
