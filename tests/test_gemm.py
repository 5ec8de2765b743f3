import pytest
import torch
from torch import nn

from labkit.labs.gemm import rewrite as gemm
from labkit.models import CNN, MLP

LAYOUTS = gemm.LAYOUTS  # naive, folded, nhwc


def _check(model: nn.Module, x: torch.Tensor, layout: str, atol: float = 1e-5) -> nn.Module:
    model.eval()
    rewritten = gemm.to_gemm(model, layout=layout)
    with torch.no_grad():
        expected, got = model(x), rewritten(x)
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() <= atol
    assert gemm.uses_no_conv_or_linear(rewritten, x)
    return rewritten


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("conv", [
    dict(kernel_size=3),
    dict(kernel_size=5, padding=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, dilation=2),
    dict(kernel_size=(3, 1), stride=(1, 2), padding=(1, 0)),
    dict(kernel_size=1, bias=False),
])
@pytest.mark.parametrize("batch", [1, 5])
def test_convolutions_are_exact_for_stride_padding_dilation_and_kernels(layout, conv, batch):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 7, **conv), nn.ReLU(), nn.Conv2d(7, 4, 3, padding=1))
    _check(model, torch.randn(batch, 3, 13, 12), layout)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_lab2_cnns_and_an_mlp_are_rewritten_exactly(layout):
    torch.manual_seed(0)
    x = torch.randn(6, 1, 28, 28)
    _check(CNN([16, 16], 3, hidden=[100], init="xavier_uniform"), x, layout)
    _check(CNN([8, 16], 5, padding=1, pool=True, hidden=[], dropout=0.0), x, layout)
    _check(CNN([4, 8], 3, hidden=[32, 16], dropout=0.5), x, layout)
    _check(nn.Sequential(nn.Flatten(), MLP(784, [64, 32], 10)), x, layout)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_batch_norm_after_a_conv_is_folded_into_its_matrix(layout):
    torch.manual_seed(0)
    model = CNN([6, 8], 3, hidden=[20], batch_norm=True).eval()
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2), bn.weight.data.uniform_(0.5, 1.5)
    rewritten = _check(model, torch.randn(3, 1, 28, 28), layout, atol=2e-5)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in rewritten.modules())


def test_weights_are_laid_out_once_contiguous_in_the_gemm_orientation():
    conv = nn.Conv2d(3, 5, 3)
    folded = gemm.GemmConv2d(conv, layout="folded")
    assert folded.weight_matrix.shape == (27, 5) and folded.weight_matrix.is_contiguous()
    assert gemm.GemmConv2d(conv, layout="naive").weight_matrix.shape == (5, 27)
    linear = gemm.GemmLinear(nn.Linear(10, 4))
    assert linear.weight_matrix.shape == (10, 4) and linear.weight_matrix.is_contiguous()


def test_the_rewrite_does_not_share_storage_with_the_original():
    model = nn.Sequential(nn.Linear(4, 2))
    rewritten = gemm.to_gemm(model)
    with torch.no_grad():
        model[0].weight.zero_()
    assert rewritten[0].weight_matrix.abs().sum() > 0


@pytest.mark.parametrize("model,message", [
    (nn.Sequential(nn.Conv2d(4, 4, 3, groups=2)), "groups=2"),
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sigmoid()), r"layer '1' \(Sigmoid\) has no GEMM rewrite"),
    (nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, 2, 3)), "follows no convolution"),
    (nn.Sequential(nn.Conv2d(1, 2, 3, padding="same")), "padding='same'"),
])
def test_a_layer_it_cannot_rewrite_is_named(model, message):
    with pytest.raises(ValueError, match=message):
        gemm.to_gemm(model)


def test_a_model_with_its_own_forward_is_refused_with_the_reason():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x):
            return x + self.conv(x)

    with pytest.raises(ValueError, match="runs its own forward"):
        gemm.to_gemm(nn.Sequential(Residual()))


def test_the_check_sees_a_conv_call_hidden_in_a_module():
    class Sneaky(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("w", torch.randn(2, 1, 3, 3))

        def forward(self, x):
            return torch.nn.functional.conv2d(x, self.w)

    x = torch.randn(1, 1, 5, 5)
    assert "conv2d" in gemm.functions_called(Sneaky(), x) and not gemm.uses_no_conv_or_linear(Sneaky(), x)
