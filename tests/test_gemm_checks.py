import pytest
import torch

from labkit.labs.gemm import rewrite as gemm, evaluation as gemm_checks
from labkit.data import load_splits
from labkit.models import CNN, DamagedModelError, save_model

import torch_pruning  # noqa: F401  (a required dependency: a broken install fails here, never skips)


@pytest.fixture
def splits(data_dir):
    return load_splits("mnist", data_dir, seed=0)


def test_without_a_lab4_model_a_small_one_is_trained_pruned_saved_and_reused(tmp_path, splits):
    out = tmp_path / "05_gemm_rewrite"
    out.mkdir()
    model, how = gemm_checks.lab4_model_or_small(out, splits, epochs=1, device="cpu")
    assert "trained here" in how and model.config()["channels"] == [12, 12] and model.config()["hidden"] == [75]
    again, how_again = gemm_checks.lab4_model_or_small(out, splits)
    assert "earlier run" in how_again and torch.equal(again.conv1.weight, model.conv1.weight)


def test_lab4_model_is_preferred_when_saved(tmp_path, splits):
    (tmp_path / "04_pruning").mkdir()
    save_model(CNN([3, 4], 3, hidden=[5]), tmp_path / "04_pruning" / "pruned_model.pt")
    model, how = gemm_checks.lab4_model_or_small(tmp_path / "05_gemm_rewrite", splits)
    assert how.startswith("Lab 4's pruned model") and model.config()["channels"] == [3, 4]


def test_exactness_covers_every_test_example(splits):
    torch.manual_seed(0)
    model = CNN([4, 4], 3, hidden=[8]).eval()
    table = gemm_checks.exactness(model, {"nhwc": gemm.to_gemm(model, layout="nhwc")}, splits.test)
    row = table.iloc[0]
    assert row.examples == len(splits.test) and row.max_abs_diff < 1e-5 and row.max_rel_diff < 1e-5
    assert row.max_rel_diff == pytest.approx(row.max_abs_diff / float(model(splits.test.x).detach().abs().max()), rel=1e-3)
    assert row.same_predictions == len(splits.test)


def test_inference_seconds_reports_ratios_to_the_first_model():
    model = torch.nn.Sequential(torch.nn.Linear(8, 4))
    table = gemm_checks.inference_seconds({"original": model, "rewrite": gemm.to_gemm(model)}, torch.randn(64, 8),
                                         batch_size=16, rounds=2)
    assert table.model.tolist() == ["original", "rewrite"] and table.ratio.iloc[0] == 1.0
    assert (table.min_s <= table.median_s).all() and (table.median_s <= table.max_s).all()


def test_a_damaged_lab4_model_stops_lab5_naming_it_instead_of_being_replaced(tmp_path, splits):
    lab4 = save_model(CNN([3, 4], 3, hidden=[5]), tmp_path / "04_pruning" / "pruned_model.pt")
    lab4.write_bytes(b"not a model: a file overwritten by mistake\n" * 40)
    out = tmp_path / "05_gemm_rewrite"
    with pytest.raises(DamagedModelError) as error:
        gemm_checks.lab4_model_or_small(out, splits, epochs=1, device="cpu")
    message = str(error.value)
    assert message.startswith(f"{lab4} (1,720 bytes) cannot be loaded: it is not a file torch.save wrote"), message
    assert "Run Lab 4 again into the same reports folder" in message and "move it aside" in message, message
    assert lab4.read_bytes().startswith(b"not a model") and not (out / "small_pruned_model.pt").exists()


def test_without_a_lab4_model_the_sentence_says_the_file_is_absent(tmp_path, splits):
    _, how = gemm_checks.lab4_model_or_small(tmp_path / "05_gemm_rewrite", splits, epochs=1, device="cpu")
    assert how.endswith(f"because there is no Lab 4 pruned model at {tmp_path / '04_pruning' / 'pruned_model.pt'}")
