import pytest

from labkit.labs.mlp.params import LAB1_SMOKE, lab1


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


# --- Lab 2 -------------------------------------------------------------------------------------------

from labkit.labs.cnn.params import LAB2_SMOKE, Lab2Params, lab2  # noqa: E402


def test_lab2_defaults_are_the_real_lab():
    p = lab2()
    assert not p.smoke and p.train_limit is None and p.dropouts == (0.0, 0.2, 0.5, 0.8)
    grid = 1
    for values in (*p.grid_kernel_sizes, *p.grid_channels, p.grid_hidden):
        grid *= len(values)
    assert grid >= 72, "the model grid has at least 72 configs"
    assert len(p.grid_inits) * len(p.grid_batch_sizes) * len(p.grid_lr_momentum) >= 48
    assert all(len(v) >= 2 for v in p.grid_kernel_sizes) and all(len(v) >= 3 for v in p.grid_channels)


def test_lab2_smoke_shrinks_every_run_and_keeps_subsets_within_train_limit():
    p = lab2(smoke=True)
    assert p.smoke and p.train_limit == LAB2_SMOKE["train_limit"]
    assert p.regularization_limit <= p.train_limit and p.pathology_limit <= p.train_limit


def test_lab2_subsets_fall_back_to_the_lab_data():
    p = lab2(regularization_train_limit=None)
    assert p.regularization_limit is None and lab2(train_limit=500).pathology_limit == 500


@pytest.mark.parametrize("kwargs,message", [
    (dict(dropouts=[0.5, 1.0]), "dropouts contains 1.0"),
    (dict(grid_inits=["he"]), "grid_inits contains 'he'"),
    (dict(grid_channels=[[4, 8]]), "grid_channels has 1 lists"),
    (dict(grid_lr_momentum=[[0.1]]), r"grid_lr_momentum contains \[0.1\]"),
    (dict(grid_lr_momentum=[[0.1, 1.2]]), "momentum contains 1.2"),
    (dict(arch_channels=[[8, -1]]), r"arch_channels\[0\] contains -1"),
    (dict(tracking="yes"), "tracking='yes'"),
    (dict(momentum=1.0), "momentum contains 1.0"),
    (dict(baseline_epochs=0), "baseline_epochs"),
    (dict(dataset="cifar"), "dataset='cifar'"),
])
@pytest.mark.parametrize("smoke", [False, True])
def test_lab2_bad_parameters_name_the_parameter(kwargs, message, smoke):
    with pytest.raises(ValueError, match=message):
        lab2(smoke=smoke, **kwargs)


def test_lab2_unknown_parameter_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['epoch'\]; Lab 2 knows"):
        lab2(epoch=3)
    assert Lab2Params().tracking is True


# --- Lab 3 -------------------------------------------------------------------------------------------

from labkit.labs.inference.params import LAB3_SMOKE, lab3  # noqa: E402


def test_lab3_defaults_are_the_spec_batches_and_sequence():
    p = lab3()
    assert p.resnet_batch_sizes == (1, 32, 64, 128) and p.bert_batch_sizes == (1, 8, 16, 32)
    assert p.seq_len == 128 and not p.pretrained and "compile" in p.variants and not p.smoke


def test_lab3_smoke_shrinks_batches_repeats_and_sequence():
    p = lab3(smoke=True)
    assert p.seq_len == LAB3_SMOKE["seq_len"] < lab3().seq_len and p.repeats < lab3().repeats
    assert max(p.resnet_batch_sizes) < 128 and "compile" not in p.variants


@pytest.mark.parametrize("kwargs,message", [
    (dict(seq_len=0), r"seq_len=0.*1 to 512"),
    (dict(seq_len=1000), r"seq_len=1000.*1 to 512"),
    (dict(resnet_batch_sizes=[1, 0]), "resnet_batch_sizes contains 0"),
    (dict(bert_batch_sizes=[]), "bert_batch_sizes is empty"),
    (dict(bert_checkpoint="bert-base"), "bert_checkpoint='bert-base'"),
    (dict(resnet_weights="IMAGENET1K_V2"), "resnet_weights='IMAGENET1K_V2'"),
    (dict(variants=["onnx"]), "variants contains 'onnx'"),
    (dict(optimizer="lbfgs"), "optimizer='lbfgs'"),
    (dict(tolerance=2.0), "tolerance contains 2.0"),
    (dict(pretrained="yes"), "pretrained='yes'"),
    (dict(device="tpu"), "device='tpu'"),
])
@pytest.mark.parametrize("smoke", [False, True])
def test_lab3_bad_parameters_stop_with_an_error_naming_them(kwargs, message, smoke):
    with pytest.raises(ValueError, match=message):
        lab3(**kwargs, smoke=smoke)


# --- Lab 4 -------------------------------------------------------------------------------------------

from labkit.labs.pruning.params import LAB4_SMOKE, lab4  # noqa: E402


def test_lab4_defaults_are_the_assignment():
    p = lab4()
    assert p.dataset == "fashion_mnist" and p.retrain_epochs == 5 and p.threshold == 0.01 and not p.smoke
    assert p.target_accuracy == 0.87 and lab4(dataset="mnist").target_accuracy == 0.97
    assert lab4(accuracy_threshold=0.9).target_accuracy == 0.9


def test_lab4_smoke_caps_the_steps_and_keeps_the_dataset():
    assert lab4(smoke=True).dataset == "fashion_mnist" and lab4(smoke=True).max_steps == LAB4_SMOKE["max_steps"]


def test_lab4_retraining_subset_never_exceeds_the_lab_data():
    assert lab4().retrain_limit == 15000 and lab4(train_limit=5000).retrain_limit == 5000
    assert lab4(retrain_train_limit=None).retrain_limit is None


@pytest.mark.parametrize("kwargs,message", [
    (dict(threshold=0), r"threshold=0: .* in \(0, 1\)"),
    (dict(threshold=1.0), r"threshold=1.0: .* in \(0, 1\)"),
    (dict(heuristic="taylor"), "heuristic='taylor'"),
    (dict(layers=["conv1", "out"]), "layer 'out'"),
    (dict(check_layer="dense"), "layer 'dense'"),
    (dict(retrain_epochs=0), "retrain_epochs contains 0"),
    (dict(accuracy_threshold=87), "accuracy_threshold contains 87"),
    (dict(max_steps=0), "max_steps contains 0"),
])
def test_lab4_bad_parameters_stop_with_an_error_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lab4(**kwargs)


# --- Lab 5 -------------------------------------------------------------------------------------------

from labkit.labs.gemm.params import lab5  # noqa: E402


def test_lab5_defaults_compare_every_layout_on_cpu_with_compile():
    p = lab5()
    assert p.dataset == "fashion_mnist" and p.device == "cpu" and p.batch_size == 32 and p.compile
    assert p.layouts == ("naive", "folded", "nhwc", "kn2row") and p.tolerance == 1e-5


def test_lab5_smoke_skips_compile_and_keeps_the_dataset():
    p = lab5(smoke=True)
    assert p.dataset == "fashion_mnist" and not p.compile and p.test_limit is not None


@pytest.mark.parametrize("kwargs,message", [
    (dict(layouts=["winograd"]), "layouts contains 'winograd'"),
    (dict(layouts=[]), "layouts is empty"),
    (dict(tolerance=0), "tolerance contains 0"),
    (dict(fallback_prune_fraction=1.0), "fallback_prune_fraction contains 1.0"),
    (dict(compile="yes"), "compile='yes'"),
    (dict(latency_batch_sizes=[0]), "latency_batch_sizes contains 0"),
])
def test_lab5_bad_parameters_stop_with_an_error_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lab5(**kwargs)
