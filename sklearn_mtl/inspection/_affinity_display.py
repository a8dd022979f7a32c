"""TaskAffinityDisplay: a (n_tasks, n_tasks) task-affinity matrix as a heatmap."""

from itertools import product

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

from ._matplotlib import import_pyplot
from ._validation import check_auto_flag, check_task_names

__all__ = ["TaskAffinityDisplay"]

# above this many tasks the cells are too small to print their values
MAX_TASKS_ANNOTATED = 10


class TaskAffinityDisplay:
    """Heatmap of a task-affinity matrix, coloured on a scale centred on 0.

    Entry ``[i, j]`` says how training task ``i`` relates to task ``j``:
    positive when they help each other (blue), negative when they conflict
    (red). :class:`~sklearn_mtl.MultiTaskRegressor` measures it when fitted
    with ``task_affinity="gradient_cosine"`` (the cosine similarity of the two
    tasks' gradients on the shared layers, symmetric) or
    ``task_affinity="lookahead"`` (the relative drop of task ``j``'s loss
    after a step along task ``i``'s gradient). NaN cells (pairs never
    measured) are left blank.

    Parameters
    ----------
    affinity : array-like of shape (n_tasks, n_tasks)
        The affinity matrix; finite values or NaN.
    task_names : array-like of str of shape (n_tasks,), default=None
        Tick labels; ``None`` gives ``task_0, task_1, ...``.

    Attributes
    ----------
    im_ : matplotlib.image.AxesImage
        The heatmap.
    text_ : ndarray of shape (n_tasks, n_tasks), dtype=object, or None
        The value annotations (None in NaN cells); None when values are not
        printed.
    colorbar_ : matplotlib.colorbar.Colorbar or None
        The colour bar; None when ``colorbar=False``.
    ax_ : matplotlib.axes.Axes
        Axes of the heatmap.
    figure_ : matplotlib.figure.Figure
        Figure holding the axes.

    See Also
    --------
    TrainingHistoryDisplay : Per-task loss curves over the epochs.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn_mtl.inspection import TaskAffinityDisplay
    >>> affinity = np.array([[1.0, 0.4, -0.2], [0.4, 1.0, 0.1], [-0.2, 0.1, 1.0]])
    >>> display = TaskAffinityDisplay(affinity, task_names=["a", "b", "c"]).plot()
    >>> display.text_[0, 2].get_text()
    '-0.20'
    >>> display.im_.get_clim()
    (-1.0, 1.0)
    """

    def __init__(self, affinity, task_names=None):
        self.affinity = check_array(
            affinity,
            dtype=np.float64,
            ensure_all_finite="allow-nan",
            input_name="affinity",
        )
        n_tasks = self.affinity.shape[0]
        if self.affinity.shape != (n_tasks, n_tasks):
            raise ValueError(
                "affinity must be a square (n_tasks, n_tasks) matrix, got shape "
                f"{self.affinity.shape}."
            )
        self.task_names = check_task_names(task_names, n_tasks)

    def plot(
        self,
        ax=None,
        *,
        cmap="RdBu",
        colorbar=True,
        include_values="auto",
        values_format=".2f",
        xticks_rotation="horizontal",
        imshow_kwargs=None,
        text_kwargs=None,
    ):
        """Draw the heatmap.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` creates a figure.
        cmap : str or matplotlib.colors.Colormap, default="RdBu"
            A diverging colour map; its centre is at 0 and its ends at
            ``-max|affinity|`` and ``+max|affinity|``.
        colorbar : bool, default=True
            Add a colour bar.
        include_values : bool or "auto", default="auto"
            Print each value in its cell; ``"auto"`` does when there are at
            most 10 tasks.
        values_format : str, default=".2f"
            Format specification of the printed values.
        xticks_rotation : {"vertical", "horizontal"} or float, \
default="horizontal"
            Rotation of the column labels.
        imshow_kwargs : dict, default=None
            Keyword arguments for ``Axes.imshow``.
        text_kwargs : dict, default=None
            Keyword arguments for ``Axes.text`` of the printed values.

        Returns
        -------
        display : TaskAffinityDisplay
            This object, with ``im_``, ``text_``, ``colorbar_``, ``ax_`` and
            ``figure_`` set.
        """
        plt = import_pyplot(f"{type(self).__name__}.plot")
        check_auto_flag(include_values, "include_values")
        if ax is None:
            fig, ax = plt.subplots()
        else:
            fig = ax.figure
        affinity, n_tasks = self.affinity, len(self.task_names)
        largest = np.nanmax(np.abs(affinity)) if np.isfinite(affinity).any() else 0
        limit = float(largest) if largest > 0 else 1.0
        self.im_ = ax.imshow(
            affinity,
            **{
                "cmap": cmap,
                "vmin": -limit,
                "vmax": limit,
                "interpolation": "nearest",
                **(imshow_kwargs or {}),
            },
        )
        if include_values == "auto":
            include_values = n_tasks <= MAX_TASKS_ANNOTATED
        self.text_ = None
        if include_values:
            self.text_ = np.full((n_tasks, n_tasks), None, dtype=object)
            for i, j in product(range(n_tasks), repeat=2):
                value = affinity[i, j]
                if np.isnan(value):
                    continue
                # white on the dark ends of the scale, black near its light centre
                color = "white" if abs(value) > limit / 2 else "black"
                self.text_[i, j] = ax.text(
                    j,
                    i,
                    format(value, values_format),
                    **{
                        "ha": "center",
                        "va": "center",
                        "color": color,
                        **(text_kwargs or {}),
                    },
                )
        self.colorbar_ = (
            fig.colorbar(self.im_, ax=ax, label="affinity") if colorbar else None
        )
        ticks = np.arange(n_tasks)
        ax.set(
            xticks=ticks,
            yticks=ticks,
            xticklabels=self.task_names,
            yticklabels=self.task_names,
            xlabel="task j",
            ylabel="task i",
        )
        plt.setp(ax.get_xticklabels(), rotation=xticks_rotation)
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        ax=None,
        cmap="RdBu",
        colorbar=True,
        include_values="auto",
        values_format=".2f",
        xticks_rotation="horizontal",
        imshow_kwargs=None,
        text_kwargs=None,
    ):
        """Plot the task affinity a fitted estimator measured.

        Reads ``estimator.task_affinity_`` and ``estimator.task_names_``.

        Parameters
        ----------
        estimator : object
            A fitted estimator with a ``task_affinity_`` attribute, such as a
            :class:`~sklearn_mtl.MultiTaskRegressor` fitted with
            ``task_affinity="gradient_cosine"`` or ``"lookahead"``.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; ``None`` creates a figure.
        cmap : str or matplotlib.colors.Colormap, default="RdBu"
            A diverging colour map, centred on 0.
        colorbar : bool, default=True
            Add a colour bar.
        include_values : bool or "auto", default="auto"
            Print each value in its cell; ``"auto"``: at most 10 tasks.
        values_format : str, default=".2f"
            Format specification of the printed values.
        xticks_rotation : {"vertical", "horizontal"} or float, \
default="horizontal"
            Rotation of the column labels.
        imshow_kwargs : dict, default=None
            Keyword arguments for ``Axes.imshow``.
        text_kwargs : dict, default=None
            Keyword arguments for ``Axes.text``.

        Returns
        -------
        display : TaskAffinityDisplay
            The plotted display.
        """
        affinity = getattr(estimator, "task_affinity_", None)
        if affinity is None:
            if hasattr(estimator, "fit"):
                check_is_fitted(estimator)  # an unfitted one: NotFittedError
            raise ValueError(
                f"This {type(estimator).__name__} has no task_affinity_: fit it "
                "with task_affinity='gradient_cosine' or task_affinity='lookahead' "
                "to measure the affinity between tasks."
            )
        display = cls(affinity, task_names=getattr(estimator, "task_names_", None))
        return display.plot(
            ax,
            cmap=cmap,
            colorbar=colorbar,
            include_values=include_values,
            values_format=values_format,
            xticks_rotation=xticks_rotation,
            imshow_kwargs=imshow_kwargs,
            text_kwargs=text_kwargs,
        )
