import pytest
import torch
from torch import nn

from labkit.labs.inference import memory


@pytest.fixture
def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(8, 4, 3),
                         nn.Flatten(), nn.Linear(4 * 14 * 14, 10))


def test_conv_layer_table_has_shapes_and_bytes_per_convolution(net):
    table = memory.conv_layer_table(net, torch.randn(2, 3, 16, 16))
    assert list(table.layer) == ["0", "2"]
    first = table.iloc[0]
    assert first.input_shape == (2, 3, 16, 16) and first.output_shape == (2, 8, 16, 16)
    assert first.weight_shape == (8, 3, 3, 3) and first.weight_bytes == (8 * 27 + 8) * 4
    assert first.activation_bytes == 2 * 8 * 16 * 16 * 4


def test_memory_estimate_counts_by_hand(net):
    x = torch.randn(2, 3, 16, 16)
    est = memory.memory_estimate(net, x, optimizer="adam").set_index(["phase", "part"]).bytes
    params = sum(p.numel() for p in net.parameters()) * 4
    outputs = [2 * 8 * 16 * 16, 2 * 4 * 14 * 14, 2 * 10]  # conv, conv, linear: ReLU is in place, Flatten a view
    assert est["training", "activations"] == sum(outputs) * 4
    assert est["training", "optimizer state"] == 2 * params and est["training", "gradients"] == params
    assert est["inference", "activations"] == (2 * 8 * 16 * 16 + 2 * 4 * 14 * 14) * 4  # second conv: input + output
    assert est["inference", "input batch"] == x.numel() * 4


def test_unknown_optimizer_is_named(net):
    with pytest.raises(ValueError, match=r"'rmsprop'.*'sgd_momentum'"):
        memory.memory_estimate(net, torch.randn(1, 3, 16, 16), optimizer="rmsprop")


def test_measured_training_peak_holds_parameters_optimizer_state_and_activations(net):
    x = torch.randn(4, 3, 16, 16)
    peak = memory.measured_peak(net, x, training=True, optimizer="sgd_momentum")
    params = sum(p.numel() for p in net.parameters()) * 4
    assert peak["parameter"] == params and peak["optimizer_state"] == params
    assert peak["activation"] > 0 and peak["peak_total"] >= params * 2 + peak["activation"]
    assert all(p.grad is None for p in net.parameters()), "no gradient is left behind on the model"


def test_measured_inference_peak_has_no_gradients_and_restores_training_mode(net):
    net.train()
    peak = memory.measured_peak(net, torch.randn(4, 3, 16, 16), training=False)
    assert peak["gradient"] == 0 and peak["optimizer_state"] == 0 and peak["parameter"] > 0
    assert net.training


def test_memory_comparison_puts_estimate_and_measurement_side_by_side(net):
    x = torch.randn(2, 3, 16, 16)
    est = memory.memory_estimate(net, x)
    table = memory.memory_comparison(est, memory.measured_peak(net, x, training=False),
                                     memory.measured_peak(net, x, training=True))
    assert set(table.source) == {"estimate", "measured"} and set(table.phase) == {"inference", "training"}
    measured = table[(table.source == "measured") & (table.phase == "training")].set_index("part").bytes
    assert measured["weights"] == est.set_index(["phase", "part"]).bytes["training", "gradients"]
