import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from sklearn_mtl import MultiTaskRegressor, TransferEstimator
from sklearn_mtl.datasets import make_multitask_regression
from sklearn_mtl.inspection import TaskAffinityDisplay, TrainingHistoryDisplay
from sklearn_mtl.weighting import TaskWeighting

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")

FAST = dict(hidden_layer_sizes=(8,), batch_size=32, max_epochs=4, random_state=0)
NAMES = ["height", "weight"]


class LossProportionalWeighting(TaskWeighting):
    """Weights proportional to last epoch's task losses: they change every epoch."""

    def end_epoch(self, task_losses):
        self.weights_ = np.asarray(task_losses) / np.sum(task_losses)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    X, Y = make_multitask_regression(
        n_samples=80, n_features=4, n_tasks=2, random_state=0
    )
    return X, pd.DataFrame(Y, columns=NAMES)


@pytest.fixture(scope="module")
def early_stopped(data):
    return MultiTaskRegressor(early_stopping=True, **FAST).fit(*data)


def test_one_train_and_one_valid_line_per_task_named_after_the_tasks(early_stopped):
    display = TrainingHistoryDisplay.from_estimator(early_stopped)
    assert list(early_stopped.task_names_) == NAMES
    assert [line.get_label() for line in display.lines_["train"]] == NAMES
    assert len(display.lines_["valid"]) == 2
    assert all(line.get_linestyle() == "--" for line in display.lines_["valid"])
    history = early_stopped.history_
    np.testing.assert_allclose(
        display.lines_["train"][1].get_ydata(),
        [row["train_task_loss"][1] for row in history],
    )
    np.testing.assert_allclose(
        display.lines_["valid"][0].get_ydata(),
        [row["valid_task_loss"][0] for row in history],
    )
    np.testing.assert_array_equal(display.lines_["train"][0].get_xdata(), [1, 2, 3, 4])
    # equal weighting: the weights never change, so no weights axes
    assert display.weights_ax_ is None and display.lines_["weights"] == []
    assert display.figure_.axes == [display.ax_]
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert legend == [*NAMES, "train", "validation"]


def test_no_valid_lines_without_early_stopping(data):
    model = MultiTaskRegressor(**FAST).fit(*data)
    display = TrainingHistoryDisplay.from_estimator(model)
    assert len(display.lines_["train"]) == 2 and display.lines_["valid"] == []


def test_changing_weights_get_their_own_axes(data):
    weighting = LossProportionalWeighting()
    model = MultiTaskRegressor(task_weighting=weighting, **FAST).fit(*data)
    display = TrainingHistoryDisplay.from_estimator(model)
    assert display.weights_changed
    assert display.figure_.axes == [display.ax_, display.weights_ax_]
    assert [line.get_label() for line in display.lines_["weights"]] == [
        f"{name} (weight)" for name in NAMES
    ]
    np.testing.assert_allclose(
        display.lines_["weights"][0].get_ydata(),
        [row["task_weights"][0] for row in model.history_],
    )
    assert display.weights_ax_.get_ylabel() == "task weight"
    hidden = TrainingHistoryDisplay.from_estimator(model, show_weights=False)
    assert hidden.weights_ax_ is None and len(hidden.figure_.axes) == 1


def test_given_axes_and_weights_use_a_twin_axis():
    weights = [[0.5, 0.5], [0.4, 0.6], [0.3, 0.7]]
    display = TrainingHistoryDisplay(
        [[1.0, 2.0], [0.8, 1.5], [0.6, 1.2]], task_weights=weights
    )
    fig, ax = plt.subplots()
    display.plot(ax)
    assert display.ax_ is ax and display.figure_ is fig
    assert display.weights_ax_ is not ax and len(fig.axes) == 2
    assert all(line.get_linestyle() == ":" for line in display.lines_["weights"])
    assert [line.get_label() for line in display.lines_["train"]] == [
        "task_0",
        "task_1",
    ]


def test_constant_weights_are_drawn_only_when_asked():
    display = TrainingHistoryDisplay(
        [[1.0, 2.0], [0.8, 1.5]], task_weights=[[0.2, 0.8], [0.2, 0.8]]
    )
    assert not display.weights_changed
    assert display.plot().weights_ax_ is None
    assert len(display.plot(show_weights=True).lines_["weights"]) == 2


def test_plot_kwargs_reach_the_lines():
    display = TrainingHistoryDisplay([[1.0], [0.5]], valid_task_loss=[[1.1], [0.7]])
    display.plot(train_kwargs={"linewidth": 3}, valid_kwargs={"color": "red"})
    assert display.lines_["train"][0].get_linewidth() == 3
    assert display.lines_["valid"][0].get_color() == "red"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"valid_task_loss": [[1.0, 2.0]]}, r"valid_task_loss must have shape"),
        ({"task_weights": [[1.0], [2.0]]}, r"task_weights must have shape"),
        ({"task_names": ["a"]}, r"task_names has 1 names for 2 tasks"),
        ({"epochs": [1, 2, 3]}, r"epochs must have one entry per epoch \(2\)"),
    ],
)
def test_history_display_rejects_mismatched_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainingHistoryDisplay([[1.0, 2.0], [0.5, 1.0]], **kwargs)


@pytest.mark.parametrize(
    "show_weights, match",
    [("yes", r"show_weights must be 'auto', True or False"), (True, r"no task")],
)
def test_history_display_rejects_bad_show_weights(show_weights, match):
    display = TrainingHistoryDisplay([[1.0, 2.0], [0.5, 1.0]])
    with pytest.raises(ValueError, match=match):
        display.plot(show_weights=show_weights)


def test_history_of_a_transfer_estimator(data):
    X, Y = data
    source = MultiTaskRegressor(**FAST).fit(X, Y)
    target = TransferEstimator(
        source=source, strategy="fine_tune", max_epochs=3, random_state=0
    ).fit(X, Y)
    display = TrainingHistoryDisplay.from_estimator(target)
    assert [line.get_label() for line in display.lines_["train"]] == NAMES
    assert len(display.lines_["train"][0].get_xdata()) == 3

    probe = TransferEstimator(source=source, strategy="linear_probe").fit(X, Y)
    with pytest.raises(ValueError, match="trained no epochs"):
        TrainingHistoryDisplay.from_estimator(probe)


@pytest.mark.parametrize("display", [TrainingHistoryDisplay, TaskAffinityDisplay])
def test_unfitted_estimator_raises_not_fitted(display):
    with pytest.raises(NotFittedError):
        display.from_estimator(MultiTaskRegressor())


@pytest.mark.parametrize(
    "display",
    [
        TrainingHistoryDisplay([[1.0, 2.0]]),
        TaskAffinityDisplay(np.eye(2)),
    ],
)
def test_plot_without_matplotlib_says_how_to_install_it(display, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    name = type(display).__name__
    with pytest.raises(ImportError, match=rf"{name}.plot requires matplotlib.*pip"):
        display.plot()


AFFINITY = np.array([[1.0, -0.3, 0.1], [0.8, 1.0, np.nan], [0.0, 0.05, 0.6]])


def test_affinity_heatmap_is_centred_on_zero_with_names_and_values():
    display = TaskAffinityDisplay(AFFINITY, task_names=["a", "b", "c"]).plot()
    np.testing.assert_array_equal(display.im_.get_array().filled(np.nan), AFFINITY)
    assert display.im_.get_clim() == (-1.0, 1.0)
    assert display.im_.get_cmap().name == "RdBu"
    assert display.colorbar_ is not None and len(display.figure_.axes) == 2
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in display.ax_.get_yticklabels()] == ["a", "b", "c"]
    assert display.text_[0, 1].get_text() == "-0.30"
    assert display.text_[1, 2] is None  # NaN: never measured
    assert display.text_[0, 0].get_color() == "white"  # dark end of the scale
    assert display.text_[2, 1].get_color() == "black"  # light centre


def test_affinity_scale_follows_the_largest_magnitude():
    display = TaskAffinityDisplay([[0.2, -0.5], [0.1, 0.3]]).plot(
        include_values=False, colorbar=False
    )
    assert display.im_.get_clim() == (-0.5, 0.5)
    assert display.text_ is None and display.colorbar_ is None
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == [
        "task_0",
        "task_1",
    ]
    many = TaskAffinityDisplay(np.zeros((11, 11))).plot()
    assert many.text_ is None and many.im_.get_clim() == (-1.0, 1.0)


def test_affinity_display_draws_on_given_axes():
    fig, ax = plt.subplots()
    display = TaskAffinityDisplay(np.eye(2)).plot(ax, values_format=".1f")
    assert display.ax_ is ax and display.figure_ is fig
    assert display.text_[1, 1].get_text() == "1.0"


@pytest.mark.parametrize(
    "affinity, task_names, match",
    [
        (np.ones((2, 3)), None, r"square \(n_tasks, n_tasks\) matrix, got shape"),
        ([[1.0, np.inf], [0.0, 1.0]], None, r"affinity contains infinity"),
        (np.eye(2), ["a", "b", "c"], r"task_names has 3 names for 2 tasks"),
    ],
)
def test_affinity_display_rejects_bad_input(affinity, task_names, match):
    with pytest.raises(ValueError, match=match):
        TaskAffinityDisplay(affinity, task_names=task_names)


def test_affinity_include_values_is_checked():
    with pytest.raises(ValueError, match="include_values must be"):
        TaskAffinityDisplay(np.eye(2)).plot(include_values="some")


def test_affinity_from_an_object_with_the_two_attributes():
    stub = SimpleNamespace(task_affinity_=AFFINITY, task_names_=["x", "y", "z"])
    display = TaskAffinityDisplay.from_estimator(stub, cmap="coolwarm")
    assert [t.get_text() for t in display.ax_.get_yticklabels()] == ["x", "y", "z"]
    assert display.im_.get_cmap().name == "coolwarm"


class FittedWithoutAffinity(BaseEstimator):
    def fit(self, X, y=None):
        self.task_names_ = ["a", "b"]
        return self


def test_affinity_from_an_estimator_fitted_without_it(early_stopped):
    for estimator in (FittedWithoutAffinity().fit(None), early_stopped):
        with pytest.raises(ValueError, match=r"fit it\s+with task_affinity="):
            TaskAffinityDisplay.from_estimator(estimator)
