import pytest
import torch
from torch import nn

from labkit import export
from labkit.labs.inference import zoo

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")


def test_cnn_export_passes_the_checker_and_onnxruntime_matches_pytorch(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 4)).eval()
    x = torch.randn(2, 3, 16, 16)
    info = export.export_onnx(model, x, tmp_path / "cnn.onnx", input_names=["images"], output_names=["logits"])
    assert info["path"].exists() and info["nodes"] > 0 and "Conv" in info["ops"]
    pytest.importorskip("onnxruntime")
    assert export.onnxruntime_max_diff(info["path"], model, x) < 1e-5


def test_bert_export_has_every_gemm_and_matches_pytorch(tmp_path):
    pytest.importorskip("transformers")
    from lab3_models import tiny_bert

    model, tokens = tiny_bert(), zoo.token_batch(2, 8)
    info = export.export_onnx(model, tokens, tmp_path / "bert.onnx",
                              input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["start_logits", "end_logits"])
    assert info["ops"]["MatMul"] == 2 * 8 + 1, "per block: 6 weight GEMMs + QK^T + attention x V; plus the QA head"
    assert info["ops"]["Softmax"] == 2
    pytest.importorskip("onnxruntime")
    assert export.onnxruntime_max_diff(info["path"], model, tokens) < 1e-4


def test_export_restores_the_training_mode(tmp_path):
    model = nn.Sequential(nn.Linear(4, 2)).train()
    export.export_onnx(model, torch.randn(1, 4), tmp_path / "m.onnx")
    assert model.training
