import pytest

from labkit.params import LAB1_SMOKE, lab1


def test_defaults_are_the_real_lab():
    p = lab1()
    assert (p.dataset, p.epochs, p.batch_size, p.lr, p.hidden_sizes) == ("mnist", 2, 64, 1e-3, (1024, 1024, 1024))
    assert p.depths == (1, 2, 4, 8, 16) and p.batch_sizes == (1, 64, 128) and not p.smoke


def test_smoke_shrinks_data_epochs_and_grids():
    p = lab1(smoke=True)
    assert p.smoke and p.epochs == 1 and p.train_limit == LAB1_SMOKE["train_limit"]
    assert len(p.depths) < len(lab1().depths)


def test_labkit_smoke_environment_variable_turns_smoke_on(monkeypatch):
    monkeypatch.setenv("LABKIT_SMOKE", "1")
    assert lab1().smoke


@pytest.mark.parametrize("kwargs,message", [
    (dict(widths=[64, -8]), r"widths contains -8"),
    (dict(depths=[0, 2]), r"depths contains 0"),
    (dict(hidden_sizes=[]), r"hidden_sizes is empty"),
    (dict(input_sizes=[14, 32]), r"input_sizes contains 32.*crop cannot be larger than the 28x28"),
    (dict(combined_sizes=[40]), r"combined_sizes contains 40"),
    (dict(dataset="cifar10"), r"dataset='cifar10'"),
    (dict(device="tpu"), r"device='tpu'"),
    (dict(epochs=0), r"epochs contains 0"),
    (dict(lr=-1.0), r"lr=-1.0"),
    (dict(batch_sizes=[1, 2.5]), r"batch_sizes contains 2.5"),
])
@pytest.mark.parametrize("smoke", [False, True])
def test_bad_parameters_raise_an_error_naming_them(kwargs, message, smoke):
    with pytest.raises(ValueError, match=message):
        lab1(**kwargs, smoke=smoke)


def test_smoke_keeps_a_grid_the_user_chose_and_shrinks_the_rest():
    p = lab1(widths=[16], smoke=True)
    assert p.widths == (16,)
    assert p.depths == LAB1_SMOKE["depths"] and p.epochs == LAB1_SMOKE["epochs"]


def test_unknown_parameter_is_rejected_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['widht'\]"):
        lab1(widht=[1])


def test_batch_sweep_trains_on_the_lab_data_unless_given_its_own_limit():
    assert lab1().batch_sweep_limit is None, "the real lab's batch-size sweep uses the whole training set"
    assert lab1(train_limit=5000).batch_sweep_limit == 5000
    assert lab1(train_limit=5000, batch_sweep_train_limit=800).batch_sweep_limit == 800
