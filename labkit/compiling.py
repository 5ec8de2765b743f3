"""``torch.compile`` for the labs, without a line a student cannot act on.

On a machine with a CUDA toolkit (``nvcc`` on the PATH) but no GPU, inductor's first compile imports
``torch.utils.cpp_extension``, whose logger warns "No CUDA runtime is found, using CUDA_HOME=...": it changes
nothing on the CPU path and printed into Lab 3's and Lab 5's executed notebooks. ``compile_model`` drops that one
record (a filter on that logger); every other message of the logger still shows.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

CPP_EXTENSION_LOGGER = "torch.utils.cpp_extension"
NO_CUDA_RUNTIME = "No CUDA runtime is found"


def _not_no_cuda_runtime(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(NO_CUDA_RUNTIME)


def quiet_no_cuda_runtime() -> None:
    """Drop the cpp_extension logger's "No CUDA runtime is found" record (idempotent); nothing else."""
    logger = logging.getLogger(CPP_EXTENSION_LOGGER)
    if _not_no_cuda_runtime not in logger.filters:
        logger.addFilter(_not_no_cuda_runtime)


def compile_model(model: nn.Module, **options: Any) -> Any:
    """``torch.compile(model, **options)`` with the no-CUDA-runtime line silenced (it compiles on first call)."""
    quiet_no_cuda_runtime()
    return torch.compile(model, **options)
