import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from labkit import explore


@pytest.fixture
def runs():
    return pd.DataFrame({"model_name": ["a", "b", "c", "d", "e", "f"],
                         "sweep": ["depth", "depth", "depth", "width", "width", "width"],
                         "macs": [1.0, 2.0, 3.0, 1.5, 2.5, 3.5],
                         "latency_ms": [9.0, 8.0, 7.0, 6.0, 5.0, 4.0],
                         "test_acc": [0.90, 0.95, 0.93, 0.91, 0.97, 0.96]})


def test_setting_a_dropdown_changes_what_is_plotted(runs):
    explorer = explore.ResultsExplorer(runs, x="macs", y="test_acc")
    assert list(explorer.plotted.macs) == [1.0, 2.0, 3.0, 1.5, 2.5, 3.5]
    # lower MACs and higher accuracy are better: each front member beats every cheaper run's accuracy
    assert set(explorer.plotted.loc[explorer.plotted.pareto, "model_name"]) == {"a", "d", "b", "e"}
    explorer.x.value = "latency_ms"
    assert list(explorer.plotted.latency_ms) == list(runs.latency_ms)
    assert set(explorer.plotted.loc[explorer.plotted.pareto, "model_name"]) == {"f", "e"}
    assert explorer.figure.axes[0].get_xlabel() == "latency (ms)"


def test_the_filter_keeps_one_group_and_the_front_follows(runs):
    explorer = explore.ResultsExplorer(runs, x="macs", y="test_acc")
    explorer.filter_column.value = "sweep"
    assert explorer.filter_value.options == ("(all)", "depth", "width")
    explorer.filter_value.value = "width"
    assert list(explorer.plotted.model_name) == ["d", "e", "f"]
    assert set(explorer.plotted.loc[explorer.plotted.pareto, "model_name"]) == {"d", "e"}
    explorer.colour.value = "sweep"
    assert [t.get_text() for t in explorer.figure.axes[0].get_legend().get_texts()][:1] == ["width"]
    explorer.x_lower_better.value = False  # more MACs now counts as better: f joins the front, d drops out
    assert set(explorer.plotted.loc[explorer.plotted.pareto, "model_name"]) == {"e", "f"}


def test_bad_columns_name_the_usable_ones(runs):
    with pytest.raises(ValueError, match="choose from"):
        explore.ResultsExplorer(runs, x="flops")
    with pytest.raises(ValueError, match="two numeric columns"):
        explore.ResultsExplorer(runs[["model_name", "macs"]])


def test_without_a_widget_front_end_show_is_a_static_figure(runs):
    assert not explore.has_widget_frontend()  # tests run with LABKIT_PROGRESS=off
    assert isinstance(explore.ResultsExplorer(runs).show(), Figure)


def test_prediction_explorer_starts_on_the_worst_confusion_and_follows_the_dropdowns():
    true = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    pred = np.array([0, 1, 1, 2, 2, 2, 1, 2, 2])
    images = np.arange(9 * 4 * 4, dtype=float).reshape(9, 1, 4, 4)
    explorer = explore.PredictionExplorer(images, true, pred, ["zero", "one", "two"])
    assert (explorer.true_class.value, explorer.pred_class.value) == ("one", "two")
    assert list(explorer.shown) == [3, 4]
    explorer.true_class.value = "two"
    assert list(explorer.shown) == [5, 7, 8]
    explorer.pred_class.value = "zero"
    assert list(explorer.shown) == []
    assert "0 test images" in explorer.figure.texts[0].get_text()
    assert isinstance(explorer.show(), Figure)
    with pytest.raises(ValueError, match="one entry per example"):
        explore.PredictionExplorer(images[:3], true, pred, ["zero", "one", "two"])


def test_in_a_live_front_end_show_returns_the_dropdowns_above_the_figure(runs, monkeypatch):
    import ipywidgets

    monkeypatch.setattr(explore, "has_widget_frontend", lambda: True)
    explorer = explore.ResultsExplorer(runs, x="macs", y="test_acc")
    shown = explorer.show()
    assert isinstance(shown, ipywidgets.VBox) and shown.children[-1] is explorer.output
    dropdowns = [w for box in shown.children[0].children for w in box.children if isinstance(w, ipywidgets.Dropdown)]
    assert [d.description for d in dropdowns] == ["x", "y", "colour", "filter on", "keep"]
