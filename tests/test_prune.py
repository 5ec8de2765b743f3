import pytest
import torch
from torch import nn

from labkit.labs.pruning import prune
from labkit.counting import count_macs, count_params
from labkit.models import CNN, load_model, save_model

import torch_pruning  # noqa: F401  (a required dependency: a broken install fails here, never skips)

IMAGE = torch.zeros(1, 1, 28, 28)


def _cnn(**kwargs) -> CNN:
    torch.manual_seed(0)
    return CNN(**{"channels": [6, 8], "kernel_sizes": 3, "hidden": [20], **kwargs}).eval()


def _inputs(n: int = 4) -> torch.Tensor:
    return torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def test_prunable_layers_are_every_conv_and_linear_but_the_classifier():
    assert prune.prunable_layers(_cnn(hidden=[20, 12])) == ["conv1", "conv2", "fc1", "fc2"]


def test_l2_and_l1_importance_read_weights_and_bias_per_output_channel():
    model = _cnn()
    w, b = model.conv1.weight.detach(), model.conv1.bias.detach()
    expected_l2 = torch.sqrt((w.reshape(6, -1) ** 2).sum(1) + b ** 2)
    assert torch.allclose(prune.channel_importance(model, "conv1", "l2"), expected_l2)
    expected_l1 = w.reshape(6, -1).abs().sum(1) + b.abs()
    assert torch.allclose(prune.channel_importance(model, "conv1", "l1"), expected_l1)
    random = prune.channel_importance(model, "fc1", "random", seed=3)
    assert random.shape == (20,) and torch.equal(random, prune.channel_importance(model, "fc1", "random", seed=3))


@pytest.mark.parametrize("call,message", [
    (lambda m: prune.channel_importance(m, "conv1", "taylor"), r"unknown heuristic 'taylor'.*'l2'"),
    (lambda m: prune.channel_importance(m, "out", "l2"), r"layer 'out' cannot be pruned.*\['conv1', 'conv2', 'fc1'\]"),
    (lambda m: prune.mask_channels(m, "conv1", range(6)), r"leave conv1 with no output channel"),
    (lambda m: prune.mask_channels(m, "fc1", [20]), r"out of range: fc1 has 20"),
])
def test_bad_pruning_requests_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(_cnn())


def test_masked_channels_stay_exactly_zero_through_retraining():
    model = _cnn().train()
    prune.mask_channels(model, "conv1", [1, 4])
    prune.mask_channels(model, "fc1", [0])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    for _ in range(5):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(_inputs(8)), torch.arange(8) % 10).backward()
        optimizer.step()
    assert model.conv1.weight[[1, 4]].eq(0).all() and model.conv1.bias[[1, 4]].eq(0).all()
    assert model.fc1.weight[0].eq(0).all() and model.fc1.bias[0].eq(0)
    assert model.conv1.weight[0].ne(0).any(), "the other channels did train"
    assert prune.pruned_channels(model, "conv1") == [1, 4]


def test_masks_accumulate_and_a_batch_norm_after_the_conv_is_masked_too():
    model = _cnn(batch_norm=True)
    prune.mask_channels(model, "conv1", [0])
    prune.mask_channels(model, "conv1", [2])
    assert prune.pruned_channels(model, "conv1") == [0, 2]
    assert model.bn1.weight[[0, 2]].eq(0).all() and model.bn1.bias[[0, 2]].eq(0).all()


@pytest.mark.parametrize("kwargs", [
    dict(),                                               # conv -> conv -> flatten -> linear -> linear
    dict(padding=1, pool=True, hidden=[]),                # conv -> pool -> conv -> pool -> flatten -> classifier
    dict(batch_norm=True, hidden=[20, 12]),               # batch norm after each conv, two hidden layers
    dict(channels=[5], kernel_sizes=5, hidden=[16]),      # one conv layer
])
def test_structural_removal_computes_the_masked_outputs_with_the_predicted_size(kwargs):
    model = _cnn(**kwargs)
    if kwargs.get("batch_norm"):  # eval-mode batch norm with non-trivial statistics
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.5, 0.5), bn.running_var.uniform_(0.5, 2.0)
    layers = prune.prunable_layers(model)
    for i, layer in enumerate(layers):
        prune.mask_channels(model, layer, [0, i + 1])
    smaller = prune.remove_masked_channels(model, IMAGE)
    x = _inputs()
    with torch.no_grad():
        assert torch.allclose(smaller(x), model(x), atol=1e-5)
    config = model.config()
    expected = CNN(**{**config, "channels": [c - 2 for c in config["channels"]],
                      "hidden": [h - 2 for h in config["hidden"]]})
    assert count_params(smaller) == count_params(expected)
    assert smaller.config()["channels"] == [c - 2 for c in config["channels"]]
    assert prune.cnn_macs(smaller.config()) == count_macs(smaller, IMAGE)


def test_structural_removal_leaves_the_original_untouched():
    model = _cnn()
    before = count_params(model)
    prune.remove_channels(model, IMAGE, {"conv2": [0, 1, 2]})
    assert count_params(model) == before and model.conv2.out_channels == 8


def test_resnet18_residual_couplings_are_cut_consistently():
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    example = torch.randn(1, 3, 64, 64)
    smaller = prune.remove_channels(model, example, {"layer1.0.conv1": [0, 5, 9], "layer2.0.conv2": [3]})
    assert smaller.layer1[0].conv1.out_channels == 61 and smaller.layer1[0].conv2.in_channels == 61
    assert smaller.layer2[0].conv2.out_channels == 127, "a channel of the residual stream is cut in every block"
    assert smaller.layer2[1].conv2.out_channels == 127 and smaller.layer2[0].downsample[0].out_channels == 127
    assert smaller(example).shape == (1, 10) and count_params(smaller) < count_params(model)


def test_pruned_model_saves_and_loads_with_its_smaller_shape(tmp_path):
    smaller = prune.remove_channels(_cnn(), IMAGE, {"conv1": [0], "fc1": [3, 4]})
    path = save_model(smaller, tmp_path / "pruned.pt")
    loaded = load_model(path)
    assert loaded.config()["channels"] == [5, 8] and loaded.config()["hidden"] == [18]
    x = _inputs()
    with torch.no_grad():
        assert torch.equal(loaded(x), smaller(x))


def test_a_saved_model_that_does_not_match_its_config_is_refused(tmp_path):
    smaller = prune.remove_channels(_cnn(), IMAGE, {"conv1": [0]})
    saved = {"kind": "CNN", "config": _cnn().config(), "state_dict": smaller.state_dict()}
    torch.save(saved, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"do not match the saved config"):
        load_model(tmp_path / "bad.pt")


@pytest.mark.parametrize("kwargs", [dict(), dict(padding=[1, 0], pool=[True, False], hidden=[30, 10]),
                                    dict(channels=[3, 4, 5], kernel_sizes=[5, 3, 3])])
def test_cnn_macs_formula_matches_the_counter(kwargs):
    model = _cnn(**kwargs)
    assert prune.cnn_macs(model.config()) == count_macs(model, IMAGE)
