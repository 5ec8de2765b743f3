"""The Lab 2 CNN builder: the lab's reference networks, names, configs, init, save/load, clear errors."""

import pytest
import torch
from torch import nn

from labkit.models import CNN, INITS, initialize, load_model, save_model


def test_fashion_mnist_baseline_has_the_hand_counted_parameters():
    model = CNN([16, 16], 3, hidden=[100], init="xavier_uniform")
    by_hand = (16 * 1 * 3 * 3 + 16) + (16 * 16 * 3 * 3 + 16) + (16 * 24 * 24 * 100 + 100) + (100 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == by_hand == 925_190
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_classic_conv_pool_net_is_expressible():
    model = CNN([32, 64], 3, padding=1, pool=True, hidden=[])
    assert [type(m).__name__ for m in model] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                                                 "Flatten", "Linear"]
    assert model.out.in_features == 64 * 7 * 7, "28 -> pool 14 -> pool 7"


def test_name_says_channels_kernels_padding_pool_and_hidden_units():
    assert CNN([16, 16], 3, hidden=[100]).name == "CNN_c16k3_c16k3_fc100"
    assert CNN([32, 64], [5, 3], padding=[2, 1], pool=True, hidden=[]).name == "CNN_c32k5p2mp_c64k3p1mp"
    assert CNN([8], 3, hidden=[10], batch_norm=True, dropout=0.5).name == "CNN_c8k3_fc10_bn_do0.5"


def test_config_rebuilds_the_same_architecture():
    model = CNN([8, 16], [5, 3], hidden=[20], padding=1, pool=[True, False], batch_norm=True, dropout=0.2,
                init="kaiming_normal")
    rebuilt = CNN(**model.config())
    assert rebuilt.name == model.name and repr(rebuilt) == repr(model)
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]


def test_repr_is_readable():
    text = repr(CNN([16, 16], 3, hidden=[100], init="xavier_uniform"))
    assert "name=CNN_c16k3_c16k3_fc100" in text and "init='xavier_uniform'" in text and "(conv1): Conv2d" in text


def test_batch_norm_and_dropout_sit_where_the_names_say():
    names = [name for name, _ in CNN([8, 8], 3, hidden=[10], batch_norm=True, dropout=0.5).named_children()]
    assert names == ["conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "flatten", "fc1", "fc_relu1", "dropout1", "out"]


@pytest.mark.parametrize("init", [i for i in INITS if i != "default"])
def test_named_init_sets_every_bias_to_zero_and_changes_the_weights(init):
    torch.manual_seed(0)
    default = CNN([4, 4], 3, hidden=[8])
    torch.manual_seed(0)
    model = CNN([4, 4], 3, hidden=[8], init=init)
    for layer in ("conv1", "conv2", "fc1", "out"):
        assert torch.count_nonzero(getattr(model, layer).bias) == 0, f"{init}: {layer}.bias is not zero"
        assert not torch.equal(getattr(model, layer).weight, getattr(default, layer).weight)


def test_xavier_uniform_weights_stay_within_the_glorot_bound():
    model = CNN([4], 3, hidden=[], init="xavier_uniform")
    fan_in, fan_out = 1 * 9, 4 * 9
    bound = (6 / (fan_in + fan_out)) ** 0.5
    assert model.conv1.weight.abs().max() <= bound


def test_save_and_load_round_trip_with_weights_only(tmp_path):
    model = CNN([8, 16], 3, hidden=[32], init="xavier_uniform")
    path = save_model(model, tmp_path / "sub" / "model.pt")
    saved = torch.load(path, weights_only=True)
    assert saved["config"]["channels"] == [8, 16], "config and state dict live in one file"
    loaded = load_model(path)
    x = torch.randn(3, 1, 28, 28)
    model.eval()
    assert loaded.name == model.name and torch.equal(loaded(x), model(x))
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["model.pt"], "no temp file left behind"


def test_load_model_rejects_a_file_it_did_not_write(tmp_path):
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not written by labkit.models.save_model"):
        load_model(tmp_path / "other.pt")


def test_unknown_init_is_named_with_the_choices():
    with pytest.raises(ValueError, match="init='he'.*xavier_uniform"):
        CNN([8], 3, init="he")
    with pytest.raises(ValueError, match="init='he'"):
        initialize(nn.Linear(2, 2), "he")


def test_kernel_larger_than_the_feature_map_names_the_layer_and_sizes():
    with pytest.raises(ValueError, match=r"conv3: a 11x11 kernel is larger than the 7x7 feature map .*padding 1"):
        CNN([8, 8, 8], [3, 3, 11], padding=1, pool=True)  # 28 -> pool 14 -> pool 7


def test_pool_that_would_shrink_a_map_below_1x1_is_refused():
    with pytest.raises(ValueError, match=r"pool2: a 2x2 max-pool would shrink the 1x1 map"):
        CNN([8, 8], [3, 3], pool=True, image_size=8)


@pytest.mark.parametrize("kwargs,message", [
    (dict(channels=[]), "channels is empty"),
    (dict(channels=[8, 0]), r"channels\[1\]"),
    (dict(channels=[8, 8], kernel_sizes=[3]), "kernel_sizes=.*2 conv layers"),
    (dict(channels=[8], dropout=1.0), "dropout=1.0"),
    (dict(channels=[8], hidden=[-1]), r"hidden\[0\]"),
    (dict(channels=[8], padding=-1), r"padding\[0\]"),
])
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CNN(**kwargs)
