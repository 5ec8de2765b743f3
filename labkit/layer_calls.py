"""Record every leaf-module call of one forward pass: its layer name, module, and the shape and dtype of its
first input and output (storage-free meta tensors, so no activation is kept alive)."""

from __future__ import annotations

import contextlib
from typing import Iterator, NamedTuple

import torch
from torch import nn


def is_self_attention(module: nn.Module) -> bool:
    """True for a self-attention module that states its heads (``num_attention_heads``, ``attention_head_size``),
    as transformers' BERT does; its two attention matmuls happen inside it, in no leaf module."""
    return isinstance(getattr(module, "num_attention_heads", None), int) and \
        isinstance(getattr(module, "attention_head_size", None), int)


class LayerCall(NamedTuple):
    """One call of a leaf module; input and output are storage-free meta tensors (shape and dtype only)."""
    layer: str
    module: nn.Module
    input: torch.Tensor | None
    output: torch.Tensor | None


@contextlib.contextmanager
def inference(model: nn.Module) -> Iterator[None]:
    """Run the block in eval mode under no_grad, then restore every module's own training flag."""
    was_training = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, flag in was_training.items():
            module.training = flag


def leaf_calls(model: nn.Module, inputs: tuple[torch.Tensor, ...], *, attention: bool = False) -> list[LayerCall]:
    """Run one forward pass and record every leaf-module call (and, with ``attention``, every self-attention
    module call); the hooks are removed afterwards, even on error."""
    calls: list[LayerCall] = []

    def record(module: nn.Module, args: tuple, kwargs: dict, output: object, layer: str) -> None:
        first = first_tensor(args) if first_tensor(args) is not None else first_tensor(kwargs)
        calls.append(LayerCall(layer, module, meta(first), meta(first_tensor(output))))

    handles = []
    try:
        for name, module in model.named_modules():
            if next(module.children(), None) is None or (attention and is_self_attention(module)):
                layer = name or type(module).__name__
                handles.append(module.register_forward_hook(
                    lambda m, args, kwargs, out, layer=layer: record(m, args, kwargs, out, layer), with_kwargs=True))
        with inference(model):
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def first_tensor(value: object) -> torch.Tensor | None:
    """Return the first tensor in a tensor, tuple, list or dict of them (None if there is none)."""
    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (tuple, list)) else ()
    return next((t for t in map(first_tensor, items) if t is not None), None)


def meta(t: torch.Tensor | None) -> torch.Tensor | None:
    """Return a storage-free stand-in with the shape and dtype of ``t``."""
    return None if t is None else torch.empty(t.shape, dtype=t.dtype, device="meta")


def shape(t: torch.Tensor | None) -> tuple[int, ...] | None:
    return None if t is None else tuple(int(d) for d in t.shape)


def dtype(t: torch.Tensor | None) -> str | None:
    return None if t is None else str(t.dtype)
