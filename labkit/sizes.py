"""How big a model is: bytes of its tensors in memory against the bytes of the file ``torch.save`` writes."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from labkit.counting import model_size_bytes


def _saved_bytes(obj: object) -> int:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getbuffer().nbytes


def memory_vs_file(model: nn.Module, saved_file: str | Path | None = None) -> pd.DataFrame:
    """Return sizes in bytes: the tensors in memory (numel x element size), ``torch.save`` of the state dict and
    of an empty dict (the container's fixed cost) measured in memory, the per-tensor overhead, what training
    adds (gradients and momentum), and the size of ``saved_file``."""
    state = model.state_dict()
    tensor_bytes = model_size_bytes(model)
    file_bytes = _saved_bytes(state)
    empty_bytes = _saved_bytes({})
    per_tensor = round((file_bytes - tensor_bytes - empty_bytes) / max(1, len(state)))
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    rows = [("parameters and buffers in memory", tensor_bytes, "numel x 4 bytes (float32), summed"),
            ("torch.save(state_dict) file", file_bytes, f"{len(state)} tensors in a zip archive"),
            ("torch.save({}) file", empty_bytes, "the archive's fixed cost (header, pickle, version records)"),
            ("overhead per tensor", per_tensor, "(file - tensors - fixed cost) / number of tensors: "
                                                "name, pickled metadata, zip entry and alignment padding")]
    rows.append(("+ gradients and SGD momentum while training", 2 * param_bytes,
                 "one gradient and one momentum value per parameter (Adam keeps two moments: 3 x)"))
    if saved_file is not None:
        rows.append((f"{Path(saved_file).name} on disk", Path(saved_file).stat().st_size,
                     "labkit.models.save_model: config + state dict"))
    return pd.DataFrame(rows, columns=["what", "bytes", "how it was measured"])
