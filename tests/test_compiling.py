"""compiling: the one inductor line a student cannot act on is dropped, every other record of its logger shows."""

import logging

import torch
from torch import nn

from labkit.compiling import CPP_EXTENSION_LOGGER, compile_model, quiet_no_cuda_runtime


def test_the_no_cuda_runtime_line_is_dropped_and_nothing_else(caplog):
    logger = logging.getLogger(CPP_EXTENSION_LOGGER)
    before = list(logger.filters)
    try:
        caplog.set_level(logging.WARNING, logger=CPP_EXTENSION_LOGGER)
        logger.warning("No CUDA runtime is found, using CUDA_HOME='%s'", "/usr/local")  # unfiltered: shows
        assert "No CUDA runtime is found" in caplog.text
        caplog.clear()
        quiet_no_cuda_runtime()
        quiet_no_cuda_runtime()  # idempotent
        assert len(logger.filters) == len(before) + 1
        logger.warning("No CUDA runtime is found, using CUDA_HOME='%s'", "/usr/local")
        logger.warning("Error checking compiler version for %s", "c++")
        assert "No CUDA runtime" not in caplog.text and "Error checking compiler version for c++" in caplog.text
    finally:
        logger.filters[:] = before


def test_compile_model_returns_a_compiled_module_without_compiling_yet():
    model = nn.Linear(3, 2)
    compiled = compile_model(model)
    assert getattr(compiled, "_orig_mod", None) is model and isinstance(compiled, torch.nn.Module)
