"""Specification of labkit.counting: parameters, MACs (FLOPs = 2 x MACs), bytes and per-layer tables."""

import pandas as pd
import pytest
import torch
from torch import nn

from labkit.counting import (
    analytic_macs_table,
    count_macs,
    count_params,
    human_bytes,
    layer_table,
    macs_to_flops,
    model_size_bytes,
    param_formula_table,
)

METHODS = ["torch", "thop", "analytic"]
MLP_PARAMS = (784 * 1024 + 1024) + 2 * (1024 * 1024 + 1024) + (1024 * 10 + 10)  # 2,913,290
MLP_MACS = 784 * 1024 + 2 * 1024 * 1024 + 1024 * 10  # 2,910,208 for one image
CNN_MACS = (8 * 28 * 28) * (1 * 3 * 3) + (8 * 14 * 14) * 10  # conv outputs x (in-channels x kernel) + linear


@pytest.fixture
def mlp() -> nn.Module:
    """The Lab 1 baseline: 784 -> 1024 -> 1024 -> 1024 -> 10 with ReLU."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 1024), nn.ReLU(),
        nn.Linear(1024, 1024), nn.ReLU(),
        nn.Linear(1024, 1024), nn.ReLU(),
        nn.Linear(1024, 10),
    )


@pytest.fixture
def cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 14 * 14, 10)
    )


@pytest.fixture
def image() -> torch.Tensor:
    """One MNIST-sized image, shape (1, 1, 28, 28)."""
    return torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))


class _RecordsMode(nn.Module):
    """Records (training, grad enabled) at each forward in a class-level list, so a deep copy records too."""

    seen: list = []

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        type(self).seen.append((self.training, torch.is_grad_enabled()))
        return self.linear(x)


# --- parameters --------------------------------------------------------------------------------------


def test_mlp_parameter_count_matches_hand_formula(mlp):
    assert count_params(mlp) == MLP_PARAMS == 2_913_290, f"expected 2,913,290 parameters, got {count_params(mlp):,}"


def test_trainable_only_skips_frozen_parameters(mlp):
    for p in mlp[1].parameters():
        p.requires_grad_(False)
    expected = MLP_PARAMS - (784 * 1024 + 1024)
    assert count_params(mlp, trainable_only=True) == expected, "frozen first layer should not be counted"
    assert count_params(mlp) == MLP_PARAMS, "all parameters are counted by default"


def test_resnet18_has_11_689_512_parameters():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(weights=None)
    assert count_params(model) == 11_689_512, f"expected 11,689,512, got {count_params(model):,}"


def test_param_formula_table_agrees_with_count_params_for_mlp(mlp):
    table = param_formula_table(mlp)
    assert table["params"].sum() == count_params(mlp), "the by-hand total should equal the counted total"
    assert list(table["formula"]) == ["784 x 1024 + 1024", "1024 x 1024 + 1024", "1024 x 1024 + 1024", "1024 x 10 + 10"]


def test_param_formula_table_writes_conv_as_out_in_kernel_plus_bias():
    table = param_formula_table(nn.Sequential(nn.Conv2d(1, 16, 3)))
    assert table.loc[0, "formula"] == "16 x 1 x 3 x 3 + 16", f"got {table.loc[0, 'formula']!r}"
    assert table.loc[0, "params"] == 16 * 9 + 16


def test_param_formula_table_covers_norms_embedding_conv1d_and_biasless_layers():
    model = nn.Sequential(
        nn.Embedding(100, 8), nn.LayerNorm(8), nn.Conv1d(8, 4, 5, groups=2, bias=False),
        nn.BatchNorm1d(4), nn.BatchNorm2d(4), nn.Linear(4, 3, bias=False),
    )
    table = param_formula_table(model)
    assert table["params"].sum() == count_params(model), table.to_string()
    assert list(table["formula"]) == ["100 x 8", "8 + 8", "4 x 4 x 5", "4 + 4", "4 + 4", "4 x 3"]


def test_param_formula_table_raises_for_module_without_formula():
    with pytest.raises(NotImplementedError, match=r"PReLU.*'1'"):
        param_formula_table(nn.Sequential(nn.Linear(4, 4), nn.PReLU()))


def test_model_size_bytes_counts_parameters_and_buffers():
    bn = nn.BatchNorm2d(16)  # weight, bias, running_mean, running_var in fp32 + num_batches_tracked in int64
    assert model_size_bytes(bn) == 4 * 16 * 4 + 8


# --- MACs --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_mlp_macs_for_one_image_match_hand_formula(mlp, image, method):
    macs = count_macs(mlp, image, method=method)
    assert macs == MLP_MACS == 2_910_208, f"{method}: expected 2,910,208 MACs, got {macs:,}"


@pytest.mark.parametrize("method", METHODS)
def test_macs_scale_with_batch_size_but_params_do_not(mlp, method):
    batch = torch.rand(64, 1, 28, 28)
    assert count_macs(mlp, batch, method=method) == 64 * MLP_MACS, f"{method}: expected 64 x the one-image MACs"
    assert count_params(mlp) == MLP_PARAMS


@pytest.mark.parametrize("method", METHODS)
def test_cnn_macs_match_hand_count(cnn, image, method):
    macs = count_macs(cnn, image, method=method)
    assert macs == CNN_MACS == 72_128, f"{method}: expected {CNN_MACS:,} MACs, got {macs:,}"


def test_macs_to_flops_doubles():
    assert macs_to_flops(MLP_MACS) == 2 * MLP_MACS


def test_analytic_macs_table_shows_formula_per_layer(mlp, image):
    table = analytic_macs_table(mlp, image)
    assert list(table.columns) == ["layer", "type", "formula", "macs"]
    assert table.loc[table.layer == "1", "formula"].item() == "1 x 1024 outputs x 784 inputs"
    assert table.loc[table.type == "ReLU", "macs"].eq(0).all(), "ReLU does no multiply-adds"
    assert table["macs"].sum() == MLP_MACS


def test_analytic_raises_not_implemented_for_module_without_formula(image):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Upsample(scale_factor=2))
    with pytest.raises(NotImplementedError, match=r"Upsample.*'1'.*method=\"torch\""):
        count_macs(model, image, method="analytic")


def test_unknown_method_raises_value_error_naming_allowed_methods(mlp, image):
    with pytest.raises(ValueError, match=r"'torch', 'thop', 'analytic'"):
        count_macs(mlp, image, method="fvcore")


def test_thop_leaves_no_hooks_or_buffers_on_model(cnn, image):
    keys_before = list(cnn.state_dict())
    count_macs(cnn, image, method="thop")
    assert list(cnn.state_dict()) == keys_before, "thop's total_ops/total_params must not stay in the state_dict"
    for module in cnn.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks, f"hook left on {module}"
        assert not hasattr(module, "total_ops"), f"total_ops left on {module}"


def test_thop_prints_nothing(cnn, image, capsys):
    count_macs(cnn, image, method="thop")
    assert capsys.readouterr() == ("", ""), "thop's output should be silenced"


@pytest.mark.parametrize("method", METHODS)
def test_counting_runs_in_eval_without_grad_and_restores_training_mode(method):
    model = _RecordsMode().train()
    _RecordsMode.seen.clear()
    count_macs(model, torch.rand(3, 4), method=method)
    assert _RecordsMode.seen == [(False, False)], f"{method}: expected one forward in eval mode under no_grad"
    assert model.training and model.linear.training, f"{method}: training mode should be restored"


def test_resnet18_torch_macs_equal_sum_of_conv_and_linear_formulas():
    torchvision = pytest.importorskip("torchvision")
    model = torchvision.models.resnet18(weights=None)
    x = torch.rand(1, 3, 224, 224)
    by_formula = layer_table(model, x)["macs"].sum()  # BatchNorm/pooling rows are <NA>, skipped by sum
    assert count_macs(model, x, method="torch") == by_formula == 1_814_073_344


# --- per-layer table ---------------------------------------------------------------------------------


def test_layer_table_shapes_are_int_tuples(mlp, image):
    row = layer_table(mlp, image).set_index("layer").loc["1"]
    assert row.input_shape == (1, 784) and row.output_shape == (1, 1024), row.to_string()
    assert row.weight_shape == (1024, 784), "weight shape is (out_features, in_features)"
    assert all(type(d) is int for d in row.output_shape)


def test_layer_table_fp32_bytes_are_four_per_element(mlp, image):
    table = layer_table(mlp, image)
    assert (table["weight_bytes"] == 4 * table["params"]).all(), "fp32 weights take 4 bytes per element"
    activation_numel = table["output_shape"].map(lambda s: torch.Size(s).numel())
    assert (table["activation_bytes"] == 4 * activation_numel).all(), "fp32 activations take 4 bytes per element"


def test_layer_table_dtype_columns_show_float32(mlp, image):
    table = layer_table(mlp, image)
    assert (table["input_dtype"] == "torch.float32").all() and (table["output_dtype"] == "torch.float32").all()
    linear = table[table.type == "Linear"]
    assert (linear["weight_dtype"] == "torch.float32").all()
    assert table.loc[table.type == "ReLU", "weight_shape"].isna().all(), "a layer without weight has no weight shape"


def test_layer_table_leaves_macs_missing_where_no_formula(image):
    table = layer_table(nn.Sequential(nn.Conv2d(1, 4, 3), nn.Upsample(scale_factor=2)), image)
    assert table["macs"].tolist() == [4 * 26 * 26 * 9, pd.NA], "Upsample has no formula: <NA>, not an error"


def test_layer_table_removes_its_hooks_even_on_error(mlp, image):
    layer_table(mlp, image)
    with pytest.raises(RuntimeError):
        layer_table(mlp, torch.rand(1, 5))  # wrong input size: the first Linear fails
    assert all(not m._forward_hooks for m in mlp.modules()), "hooks must be removed after layer_table"


def test_human_bytes_uses_binary_units():
    assert [human_bytes(512), human_bytes(1536), human_bytes(3 * 1024**2)] == ["512 B", "1.5 KiB", "3.0 MiB"]


def test_a_compiled_module_is_counted_as_the_module_it_wraps_without_a_warning():
    import warnings

    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    x = torch.randn(3, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when global module hooks meet a compiled module
        assert count_macs(torch.compile(model), x) == count_macs(model, x) == 3 * (8 * 4 + 4 * 2)
