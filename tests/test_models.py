import pytest
import torch

from labkit.models import CNN, MLP, DamagedModelError, load_model, save_model


def test_baseline_mlp_has_the_lab_parameter_count():
    model = MLP(784, [1024, 1024, 1024], 10)
    by_hand = (784 * 1024 + 1024) + 2 * (1024 * 1024 + 1024) + (1024 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == by_hand == 2_913_290


def test_mlp_flattens_images_and_returns_one_logit_per_class():
    assert MLP(784, [32], 10)(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_layers_are_named_for_the_per_layer_table():
    names = [name for name, _ in MLP(784, [8, 8], 10).named_children()]
    assert names == ["flatten", "fc1", "relu1", "fc2", "relu2", "out"]


def test_uniform_builds_depth_hidden_layers_of_width():
    model = MLP.uniform(196, depth=4, width=64)
    assert model.depth == 4 and model.hidden_sizes == [64] * 4 and model.fc1.in_features == 196


@pytest.mark.parametrize("kwargs,name", [
    (dict(in_features=784, depth=0, width=64), "depth"),
    (dict(in_features=784, depth=2, width=-8), "width"),
    (dict(in_features=0, depth=2, width=8), "in_features"),
])
def test_bad_sizes_raise_an_error_naming_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        MLP.uniform(**kwargs)


def test_negative_width_in_hidden_sizes_names_its_position():
    with pytest.raises(ValueError, match=r"hidden_sizes\[1\]"):
        MLP(784, [64, -5], 10)


def test_empty_hidden_sizes_is_rejected():
    with pytest.raises(ValueError, match="at least one hidden layer"):
        MLP(784, [], 10)


# A saved model damaged on disk: cut short by a copy or sync, random bytes, a file torch wrote for another purpose.
MODEL_DAMAGES = {
    "truncated": (lambda content: content[:5000], "it is cut short"),
    "garbage": (lambda content: bytes(range(256)) * 40, "cannot be loaded: "),
    "another file": (None, "not written by labkit.models.save_model"),
}


@pytest.mark.parametrize("damage, problem", MODEL_DAMAGES.values(), ids=MODEL_DAMAGES.keys())
def test_a_damaged_model_file_is_named_with_its_size_and_the_error_and_left_as_it_is(tmp_path, damage, problem):
    path = save_model(CNN([8, 8], 3, hidden=[100]), tmp_path / "best_model.pt")
    if damage is None:
        torch.save({"weights": torch.zeros(1)}, path)
    else:
        path.write_bytes(damage(path.read_bytes()))
    before = path.read_bytes()
    with pytest.raises(DamagedModelError) as error:
        load_model(path, fix="run Lab 2 again to save it again")
    message = str(error.value)
    assert message.startswith(f"{path} ({len(before):,} bytes) cannot be loaded: ") and problem in message, message
    assert message.endswith("It was left as it is. Run Lab 2 again to save it again."), message
    assert path.read_bytes() == before


def test_a_missing_model_file_is_not_called_damaged(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file there"):
        load_model(tmp_path / "absent.pt")
