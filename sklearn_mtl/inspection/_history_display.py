"""TrainingHistoryDisplay: per-task loss curves (and task weights) per epoch."""

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

from ._matplotlib import import_pyplot
from ._validation import check_auto_flag, check_task_names

__all__ = ["TrainingHistoryDisplay"]

# above this many tasks the legend would hide the curves: leave the names out
MAX_TASKS_IN_LEGEND = 10


def _per_epoch(values, name, n_epochs=None, n_tasks=None):
    """Return ``values`` as a float (n_epochs, n_tasks) array; NaN/inf are kept."""
    array = check_array(
        values, dtype=np.float64, ensure_all_finite=False, input_name=name
    )
    expected = (n_epochs, n_tasks)
    if n_epochs is not None and array.shape != expected:
        raise ValueError(
            f"{name} must have shape (n_epochs, n_tasks) = {expected} like "
            f"train_task_loss, got {array.shape}."
        )
    return array


def _history_column(history, key):
    """Stack a per-task history column; None when no epoch recorded it."""
    rows = [row.get(key) for row in history]
    if all(row is None for row in rows):
        return None
    width = max(len(row) for row in rows if row is not None)
    return np.array(
        [np.full(width, np.nan) if row is None else row for row in rows],
        dtype=np.float64,
    )


class TrainingHistoryDisplay:
    """Per-task training curves, and the task weights when they changed.

    One solid line per task shows its training loss after each epoch;
    dashed lines of the same colour show its validation loss when early
    stopping held out rows. When the task weights changed during training
    (a weighting strategy that adapts them), a second axes shows each task's
    weight per epoch.

    Create it with :meth:`from_estimator` from a fitted
    :class:`~sklearn_mtl.MultiTaskRegressor` or
    :class:`~sklearn_mtl.TransferEstimator`, or from arrays with the
    constructor, then call :meth:`plot` (``from_estimator`` plots).

    Parameters
    ----------
    train_task_loss : array-like of shape (n_epochs, n_tasks)
        Mean training loss of each task in each epoch.
    valid_task_loss : array-like of shape (n_epochs, n_tasks), default=None
        Mean validation loss of each task in each epoch, if any.
    task_weights : array-like of shape (n_epochs, n_tasks), default=None
        Task weights after each epoch, if recorded.
    task_names : array-like of str of shape (n_tasks,), default=None
        Line labels; ``None`` gives ``task_0, task_1, ...``.
    epochs : array-like of int of shape (n_epochs,), default=None
        Epoch numbers for the x axis; ``None`` gives ``1, ..., n_epochs``.

    Attributes
    ----------
    lines_ : dict of str to list of matplotlib.lines.Line2D
        ``"train"``, ``"valid"`` and ``"weights"``: the lines drawn, one per
        task (an empty list for what was not drawn).
    ax_ : matplotlib.axes.Axes
        Axes of the loss curves.
    weights_ax_ : matplotlib.axes.Axes or None
        Axes of the task weights; None when they were not drawn.
    figure_ : matplotlib.figure.Figure
        Figure holding the axes.
    weights_changed : bool
        Whether any task weight differs between epochs (False when no
        weights were recorded).

    See Also
    --------
    TaskAffinityDisplay : How much a step for one task helps another.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_mtl import MultiTaskRegressor
    >>> from sklearn_mtl.datasets import make_multitask_regression
    >>> from sklearn_mtl.inspection import TrainingHistoryDisplay
    >>> X, Y = make_multitask_regression(
    ...     n_samples=100, n_features=4, n_tasks=2, random_state=0
    ... )
    >>> model = MultiTaskRegressor(
    ...     max_epochs=5, early_stopping=True, random_state=0
    ... ).fit(X, Y)
    >>> display = TrainingHistoryDisplay.from_estimator(model)
    >>> [line.get_label() for line in display.lines_["train"]]
    ['task_0', 'task_1']
    >>> len(display.lines_["valid"]), display.weights_ax_ is None
    (2, True)
    """

    def __init__(
        self,
        train_task_loss,
        *,
        valid_task_loss=None,
        task_weights=None,
        task_names=None,
        epochs=None,
    ):
        self.train_task_loss = _per_epoch(train_task_loss, "train_task_loss")
        n_epochs, n_tasks = self.train_task_loss.shape
        self.valid_task_loss = (
            None
            if valid_task_loss is None
            else _per_epoch(valid_task_loss, "valid_task_loss", n_epochs, n_tasks)
        )
        self.task_weights = (
            None
            if task_weights is None
            else _per_epoch(task_weights, "task_weights", n_epochs, n_tasks)
        )
        self.task_names = check_task_names(task_names, n_tasks)
        self.epochs = (
            np.arange(1, n_epochs + 1) if epochs is None else np.asarray(epochs)
        )
        if self.epochs.shape != (n_epochs,):
            raise ValueError(
                f"epochs must have one entry per epoch ({n_epochs}), got shape "
                f"{self.epochs.shape}."
            )

    @property
    def weights_changed(self):
        """Whether any task weight differs between epochs."""
        if self.task_weights is None:
            return False
        return not np.allclose(
            self.task_weights, self.task_weights[:1], rtol=0, atol=1e-12
        )

    def plot(
        self,
        ax=None,
        *,
        weights_ax=None,
        show_weights="auto",
        train_kwargs=None,
        valid_kwargs=None,
        weights_kwargs=None,
    ):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes for the loss curves. ``None`` creates a figure: one axes, or
            two stacked axes sharing the epoch axis when the weights are
            drawn.
        weights_ax : matplotlib.axes.Axes, default=None
            Axes for the task weights. When the weights are drawn, ``ax`` is
            given and this is None, they go on a second y axis of ``ax``
            (``ax.twinx()``), dotted.
        show_weights : bool or "auto", default="auto"
            Draw the task weights: ``"auto"`` when they changed during
            training, True whenever they were recorded, False never.
        train_kwargs : dict, default=None
            Keyword arguments for ``Axes.plot`` of the training curves.
        valid_kwargs : dict, default=None
            Keyword arguments for ``Axes.plot`` of the validation curves.
        weights_kwargs : dict, default=None
            Keyword arguments for ``Axes.plot`` of the weight curves.

        Returns
        -------
        display : TrainingHistoryDisplay
            This object, with ``ax_``, ``weights_ax_``, ``figure_`` and
            ``lines_`` set.
        """
        plt = import_pyplot(f"{type(self).__name__}.plot")
        check_auto_flag(show_weights, "show_weights")
        if show_weights is True and self.task_weights is None:
            raise ValueError(
                "show_weights=True, but no task weights were recorded; pass "
                "task_weights or use show_weights='auto'."
            )
        draw_weights = (
            self.weights_changed
            if show_weights == "auto"
            else show_weights and self.task_weights is not None
        )

        twin = False
        if ax is None:
            if draw_weights and weights_ax is None:
                fig, (ax, weights_ax) = plt.subplots(
                    2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]}
                )
            else:
                fig, ax = plt.subplots()
        else:
            fig = ax.figure
            if draw_weights and weights_ax is None:
                weights_ax, twin = ax.twinx(), True

        self.lines_ = {"train": [], "valid": [], "weights": []}
        for t, name in enumerate(self.task_names):
            color = f"C{t % 10}"
            (line,) = ax.plot(
                self.epochs,
                self.train_task_loss[:, t],
                **{"color": color, "label": name, **(train_kwargs or {})},
            )
            self.lines_["train"].append(line)
            if self.valid_task_loss is not None:
                (line,) = ax.plot(
                    self.epochs,
                    self.valid_task_loss[:, t],
                    **{
                        "color": color,
                        "linestyle": "--",
                        "label": f"{name} (validation)",
                        **(valid_kwargs or {}),
                    },
                )
                self.lines_["valid"].append(line)
            if draw_weights:
                (line,) = weights_ax.plot(
                    self.epochs,
                    self.task_weights[:, t],
                    **{
                        "color": color,
                        "linestyle": ":" if twin else "-",
                        "label": f"{name} (weight)",
                        **(weights_kwargs or {}),
                    },
                )
                self.lines_["weights"].append(line)

        ax.set(xlabel="epoch", ylabel="loss per task")
        self._legend(ax)
        if draw_weights:
            weights_ax.set_ylabel("task weight")
            if not twin:
                weights_ax.set_xlabel("epoch")
                ax.set_xlabel("")
        self.ax_, self.weights_ax_, self.figure_ = ax, weights_ax, fig
        return self

    def _legend(self, ax):
        """Name the tasks (when few) and, with validation curves, the styles."""
        from matplotlib.lines import Line2D

        handles = []
        if len(self.task_names) <= MAX_TASKS_IN_LEGEND:
            handles += self.lines_["train"]
        if self.lines_["valid"]:
            handles += [
                Line2D([], [], color="black", label="train"),
                Line2D([], [], color="black", linestyle="--", label="validation"),
            ]
        if handles:
            ax.legend(handles=handles)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        ax=None,
        weights_ax=None,
        show_weights="auto",
        train_kwargs=None,
        valid_kwargs=None,
        weights_kwargs=None,
    ):
        """Plot the training history of a fitted estimator.

        Reads the history columns ``train_task_loss``, ``valid_task_loss``
        and ``task_weights`` of ``estimator.history_`` and the labels from
        ``estimator.task_names_``.

        Parameters
        ----------
        estimator : MultiTaskRegressor or TransferEstimator
            A fitted estimator.
        ax : matplotlib.axes.Axes, default=None
            Axes for the loss curves; see :meth:`plot`.
        weights_ax : matplotlib.axes.Axes, default=None
            Axes for the task weights; see :meth:`plot`.
        show_weights : bool or "auto", default="auto"
            Draw the task weights; see :meth:`plot`.
        train_kwargs : dict, default=None
            Keyword arguments for the training curves.
        valid_kwargs : dict, default=None
            Keyword arguments for the validation curves.
        weights_kwargs : dict, default=None
            Keyword arguments for the weight curves.

        Returns
        -------
        display : TrainingHistoryDisplay
            The plotted display.
        """
        check_is_fitted(estimator)
        history = estimator.history_
        train = _history_column(history, "train_task_loss")
        if train is None:
            raise ValueError(
                f"This {type(estimator).__name__} trained no epochs (a linear "
                "probe fitted in closed form has no gradient epochs), so there "
                "is no training history to plot."
            )
        display = cls(
            train,
            valid_task_loss=_history_column(history, "valid_task_loss"),
            task_weights=_history_column(history, "task_weights"),
            task_names=estimator.task_names_,
            epochs=[row["epoch"] for row in history],
        )
        return display.plot(
            ax,
            weights_ax=weights_ax,
            show_weights=show_weights,
            train_kwargs=train_kwargs,
            valid_kwargs=valid_kwargs,
            weights_kwargs=weights_kwargs,
        )
