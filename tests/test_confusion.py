"""Where a classifier fails: predictions, the confusion matrix, per-class tables, sentences and plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from labkit.confusion import (class_names, confusion_matrix, confusion_plot, describe_confusions,  # noqa: E402
                              per_class_table, predict, prediction_distribution_plot, worst_confusions)

DIGITS = ["0", "1", "2"]


@pytest.fixture
def labels() -> tuple[np.ndarray, np.ndarray]:
    """8 examples of 3 classes: one 0 predicted as 1 (1 of 4), one 2 predicted as 0 (1 of 2)."""
    true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 0, 1, 1, 1, 2, 0])
    return true, pred


@pytest.fixture
def cm(labels) -> pd.DataFrame:
    return confusion_matrix(*labels, DIGITS)


class FlagRecorder(nn.Module):
    """Returns its input as logits and records the train flag seen by each forward."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.flags: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.flags.append(self.training)
        return x * self.scale


def test_class_names_for_mnist_are_the_ten_digits():
    assert class_names("mnist") == [str(d) for d in range(10)]


def test_class_names_for_fashion_mnist_are_torchvisions_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = class_names("fashion_mnist")
    assert len(names) == 10 and names[0] == "T-shirt/top" and names[6] == "Shirt" and names[9] == "Ankle boot"
    assert list(tmp_path.iterdir()) == [], "class names must not download or write anything"


def test_class_names_rejects_an_unknown_dataset():
    with pytest.raises(ValueError, match="cifar"):
        class_names("cifar")


def test_predict_returns_the_argmax_class_of_each_example_across_batches():
    logits = torch.tensor([[0.1, 0.9, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 5.0], [0.0, 3.0, 1.0], [1.0, 0.0, 4.0]])
    pred = predict(FlagRecorder(), logits, batch_size=2)
    assert pred.tolist() == [1, 0, 2, 1, 2]
    assert pred.dtype == np.int64


def test_predict_runs_in_eval_mode_and_restores_the_train_flag():
    model = FlagRecorder().train()
    predict(model, torch.zeros(5, 3), batch_size=2)
    assert model.flags == [False, False, False], f"forward must see eval mode; saw {model.flags}"
    assert model.training, "the train flag must be restored after predicting"


def test_confusion_matrix_counts_true_class_rows_against_predicted_columns(cm):
    assert cm.to_numpy().tolist() == [[3, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert cm.index.name == "true" and cm.columns.name == "predicted"
    assert list(cm.index) == DIGITS and list(cm.columns) == DIGITS


def test_confusion_matrix_accepts_tensors(labels):
    true, pred = labels
    assert confusion_matrix(torch.tensor(true), torch.tensor(pred), DIGITS).equals(confusion_matrix(true, pred, DIGITS))


def test_confusion_matrix_rejects_labels_outside_the_classes():
    with pytest.raises(ValueError, match="outside 0..2"):
        confusion_matrix([0, 3], [0, 1], DIGITS)


def test_per_class_table_gives_recall_and_the_most_confused_class(cm):
    table = per_class_table(cm)
    assert table["examples"].tolist() == [4, 2, 2]
    assert table["correct"].tolist() == [3, 2, 1]
    assert table["recall"].tolist() == pytest.approx([0.75, 1.0, 0.5])
    assert table.loc["0", "most_confused_with"] == "1" and table.loc["0", "confused_share"] == pytest.approx(0.25)
    assert table.loc["2", "most_confused_with"] == "0" and table.loc["2", "confused_share"] == pytest.approx(0.5)
    assert table["predicted_count"].tolist() == [4, 3, 1]


def test_per_class_table_class_without_errors_is_confused_with_nothing(cm):
    row = per_class_table(cm).loc["1"]
    assert row["most_confused_with"] is None and row["confused_share"] == 0


def test_worst_confusions_ranks_pairs_by_share_of_the_true_class():
    # 30 of 1000 zeros predicted as 1 (3%) vs 5 of 10 twos predicted as 0 (50%): the share decides.
    cm = pd.DataFrame([[970, 30, 0], [0, 100, 0], [5, 0, 5]], index=pd.Index(DIGITS, name="true"),
                      columns=pd.Index(DIGITS, name="predicted"))
    worst = worst_confusions(cm, top=5)
    assert worst[["true", "predicted", "count"]].values.tolist() == [["2", "0", 5], ["0", "1", 30]]
    assert worst["share"].tolist() == pytest.approx([0.5, 0.03])


def test_describe_confusions_writes_digits_in_the_plural(cm):
    assert describe_confusions(cm) == ("The worst confusions: 50.0% of 2s (1 of 2) predicted as 0 and 25.0% of 0s "
                                       "(1 of 4) predicted as 1; 2 of 8 examples (25.0%) are misclassified.")


def test_describe_confusions_names_fashion_classes_as_images():
    names = ["T-shirt/top", "Shirt"]
    text = describe_confusions(confusion_matrix([0, 1, 1, 1, 1], [0, 1, 1, 1, 0], names), top=1)
    assert text.startswith("The worst confusion: 25.0% of Shirt images (1 of 4) predicted as T-shirt/top;"), text


def test_describe_confusions_says_when_nothing_is_misclassified():
    text = describe_confusions(confusion_matrix([0, 1, 2], [0, 1, 2], DIGITS))
    assert text == "No confusion at all: all 3 examples are predicted as their true class."


def test_confusion_plot_annotates_percent_of_each_true_class(cm):
    ax = confusion_plot(cm).axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert sorted(t for t in texts if t) == sorted(["75.0", "25.0", "100.0", "50.0", "50.0"]), texts
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert "% of each true class" in ax.get_title()


def test_confusion_plot_annotates_counts_when_not_normalized(cm):
    texts = [t.get_text() for t in confusion_plot(cm, normalize=False).axes[0].texts if t.get_text()]
    assert sorted(texts) == sorted(["3", "1", "2", "1", "1"]), texts


def test_prediction_distribution_plot_draws_true_and_predicted_counts(labels):
    ax = prediction_distribution_plot(*labels, DIGITS).axes[0]
    heights = [round(bar.get_height()) for bar in ax.patches]
    assert heights == [4, 2, 2, 4, 3, 1], f"true counts then predicted counts; got {heights}"
    assert [t.get_text() for t in ax.texts] == ["0", "+1", "-1"]
    assert [t.get_text() for t in ax.get_xticklabels()] == DIGITS
    assert ax.get_ylabel() == "test examples"
