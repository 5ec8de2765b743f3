"""Graph export to ONNX, for reading a network in Netron (https://netron.app) or running it elsewhere.

``torch.onnx.export`` (the dynamo exporter of this torch, which needs ``onnxscript``) writes the graph to
``<name>.onnx`` and large weights to ``<name>.onnx.data`` beside it; keep the two together. Every export is
checked with ``onnx.checker``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections import Counter
from pathlib import Path

import torch
from torch import nn


def export_onnx(model: nn.Module, inputs: torch.Tensor | tuple[torch.Tensor, ...], path: str | Path, *,
                input_names: list[str] | None = None, output_names: list[str] | None = None) -> dict[str, object]:
    """Export ``model`` run on ``inputs`` to ``path`` (.onnx), check it with ``onnx.checker``; return
    ``path``, ``data_path`` (the weights file, or None), ``graph_bytes``, ``data_bytes``, ``nodes`` and ``ops``
    (node count per ONNX operator type, most frequent first)."""
    import onnx

    inputs = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    quiet = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, tuple(inputs), str(path), input_names=input_names, output_names=output_names,
                              dynamo=True, verbose=False)
    finally:
        model.train(was_training)
    onnx.checker.check_model(str(path), full_check=True)  # a path, so weights in .onnx.data are checked too
    data_path = path.with_name(path.name + ".data")
    graph = onnx.load(str(path), load_external_data=False)
    return {"path": path, "data_path": data_path if data_path.exists() else None,
            "graph_bytes": path.stat().st_size, "data_bytes": data_path.stat().st_size if data_path.exists() else 0,
            "nodes": len(graph.graph.node),
            "ops": dict(Counter(node.op_type for node in graph.graph.node).most_common())}


def onnxruntime_max_diff(path: str | Path, model: nn.Module, inputs: torch.Tensor | tuple[torch.Tensor, ...]) -> float:
    """Run the exported graph with onnxruntime (CPU) on ``inputs``; return the largest absolute difference
    from ``model``'s outputs."""
    import onnxruntime

    inputs = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {arg.name: x.detach().cpu().numpy() for arg, x in zip(session.get_inputs(), inputs)}
    got = session.run(None, feed)
    with torch.no_grad():
        expected = model(*inputs)
    expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
    return max(float((torch.from_numpy(g) - e.detach().cpu()).abs().max()) for g, e in zip(got, expected))
