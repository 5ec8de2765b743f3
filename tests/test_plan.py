"""Lab 2's one sweep plan: what each sweep trains, and the notebook runs exactly the plan, in its order."""

import ast
import json
from pathlib import Path

from labkit.labs.cnn import plan
from labkit.labs.cnn.params import Lab2Params
from labkit.labs.cnn.sweeps import BASELINE, CLASSIC, build_model

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_cnn_sweeps.ipynb"


def by_sweep(trials):
    counts = {}
    for t in trials:
        counts.setdefault(t.sweep, []).append(t)
    return counts


def test_default_plan_has_every_sweep_of_the_notebook_with_its_epochs_and_data():
    p = Lab2Params()
    planned = by_sweep(plan.trials(p))
    sizes = {name: len(trials) for name, trials in planned.items()}
    assert sizes == {"baseline": 1, "regularization": len(p.dropouts) + len(p.weight_decays) + len(p.lrs),
                     "normalization": 2, "channels": len(p.arch_channels), "kernel size": len(p.arch_kernel_sizes),
                     "conv layers": len(p.arch_conv_layers), "batch size": len(p.arch_batch_sizes),
                     "model grid": 72, "training grid": 48, "edge regularization": 1, "pathologies": 5, "final": 1}
    assert {t.epochs for t in planned["baseline"]} == {p.baseline_epochs}
    assert {(t.epochs, t.train_limit) for t in planned["regularization"]} == {(20, 6000)}
    assert {(t.epochs, t.train_limit) for t in planned["pathologies"]} == {(10, 6000)}
    assert {(t.epochs, t.train_limit) for t in planned["model grid"] + planned["training grid"]
            + planned["edge regularization"]} == {(2, None)}
    assert [t.config["batch_size"] for t in planned["batch size"]] == list(p.arch_batch_sizes)


def test_training_grid_and_final_run_use_the_models_given():
    best = {**BASELINE, "channels": [8, 32], "kernel_sizes": [5, 3], "hidden": [50]}
    knobs = {**best, "init": "default", "batch_size": 64, "lr": 0.05, "momentum": 0.5}
    planned = by_sweep(plan.trials(Lab2Params(), best_model=best, best_training=knobs))
    shapes = {(tuple(t.config["channels"]), tuple(t.config["kernel_sizes"])) for t in planned["training grid"]}
    assert shapes == {((8, 32), (5, 3))}
    assert {t.config["batch_size"] for t in planned["training grid"]} == {16, 32, 64, 128}
    assert planned["final"][0].config == knobs
    assert [t.sweep for trials in planned.values() for t in trials if t.save_models] == ["baseline", "final"]


def test_grids_are_distinct_configs():
    p = Lab2Params()
    models = plan.model_grid(p).configs
    assert len({json.dumps(m, sort_keys=True) for m in models}) == len(models) == 72
    assert {t["init"] for t in plan.training_grid(p).configs} == set(p.grid_inits)


def test_architecture_sweeps_vary_one_knob_of_the_classic_net_each():
    p = Lab2Params(arch_channels=[(8, 16), (32, 64)], arch_kernel_sizes=[3, 5, 7], arch_conv_layers=[1, 3],
                   arch_batch_sizes=[1, 64])
    sweeps = {s.name: s.configs for s in plan.architecture(p)}
    assert [c["channels"] for c in sweeps["channels"]] == [[8, 16], [32, 64]]
    assert [(c["kernel_sizes"], c["padding"]) for c in sweeps["kernel size"]] == [([3, 3], 1), ([5, 5], 2), ([7, 7], 3)]
    assert [c["channels"] for c in sweeps["conv layers"]] == [[32], [32, 64, 128]]
    assert [c["batch_size"] for c in sweeps["batch size"]] == [1, 64]
    assert all(c["pool"] == CLASSIC["pool"] for c in sweeps["channels"])
    for configs in sweeps.values():
        for config in configs:
            build_model(config)  # every config builds


def test_pathologies_change_one_knob_each_and_are_named():
    sweep = plan.pathologies(Lab2Params())
    changed = {name: {k for k in config if config[k] != BASELINE[k]} for name, config in zip(sweep.labels, sweep.configs)}
    assert changed == {"learning rate too high": {"lr"}, "learning rate too low": {"lr", "momentum"},
                       "momentum too high": {"momentum"}, "batch size too small": {"batch_size"},
                       "large model overfits": {"channels", "hidden"}}


def test_a_planned_sweep_sets_its_own_epochs_data_and_model_saving_on_the_setup():
    p = Lab2Params()
    base = p.setup()
    reg = plan.regularization(p).setup(base)
    assert (reg.epochs, reg.train_limit, reg.save_models) == (p.regularization_epochs, p.regularization_limit, False)
    kept = plan.baseline(p).setup(base)
    assert (kept.epochs, kept.save_models, kept.dataset) == (p.baseline_epochs, True, base.dataset)


def notebook_plan_calls() -> list[str]:
    """The plan functions notebook 02 calls, in cell order, and every name it calls on cnn_sweeps."""
    calls = []
    for cell in json.loads(NOTEBOOK.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.startswith("%"))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in ("plan", "cnn_sweeps"):
                calls.append((node.lineno, f"{node.func.value.id}.{node.func.attr}"))
        calls.append((10**9, "|"))  # cell boundary keeps cell order
    return [name for _, name in calls if name != "|"]


def test_the_notebook_trains_every_planned_sweep_in_the_plans_order_and_nothing_else():
    called = [name.removeprefix("plan.") for name in notebook_plan_calls() if name.startswith("plan.")]
    planned_order = ["baseline", "regularization", "normalization", "architecture", "model_grid", "training_grid",
                     "edge_regularized", "pathologies", "final"]
    assert [name for name in called if name in planned_order] == planned_order
    names = [s.name for s in plan.sweeps(Lab2Params())]
    assert names == ["baseline", "regularization", "normalization", "channels", "kernel size", "conv layers",
                     "batch size", "model grid", "training grid", "edge regularization", "pathologies", "final"], \
        "plan.sweeps lists the sweeps in the notebook's order"
    assert "cnn_sweeps.run_cnn_sweep" not in notebook_plan_calls(), "the notebook trains through plan.run only"


def test_edge_regularization_adds_dropout_only_where_there_is_a_hidden_layer_and_weight_decay_always():
    p = Lab2Params()
    with_hidden = plan.edge_regularized(p, {**plan.baseline_config(p), "hidden": [50]}).configs[0]
    without = plan.edge_regularized(p, {**plan.baseline_config(p), "hidden": []}).configs[0]
    assert (with_hidden["dropout"], with_hidden["weight_decay"]) == (plan.EDGE_DROPOUT, plan.EDGE_WEIGHT_DECAY)
    assert (without["dropout"], without["weight_decay"]) == (0.0, plan.EDGE_WEIGHT_DECAY)
