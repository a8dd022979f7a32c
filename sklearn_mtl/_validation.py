"""Validation of multi-task targets, and stacking of per-task data sets."""

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import check_consistent_length

__all__ = ["check_multitask_y", "stack_tasks", "masked_r2_score"]


def _task_names_from(y, n_tasks):
    """Return task names: DataFrame columns or Series name, else ``task_<i>``."""
    columns = getattr(y, "columns", None)
    if columns is not None:
        return np.asarray([str(c) for c in columns], dtype=object)
    name = getattr(y, "name", None)
    if n_tasks == 1 and name is not None and hasattr(y, "dtype"):
        return np.asarray([str(name)], dtype=object)
    return np.asarray([f"task_{t}" for t in range(n_tasks)], dtype=object)


def check_multitask_y(y, *, n_samples=None, allow_unlabelled_tasks=False):
    """Validate a multi-task target where NaN means "not labelled".

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Targets. NaN marks a cell that is not labelled for that task. ``inf``
        is an error.
    n_samples : int, default=None
        When given, the number of rows ``y`` must have.
    allow_unlabelled_tasks : bool, default=False
        Accept a task with no labelled row (a chunk of ``partial_fit`` may
        lack some tasks).

    Returns
    -------
    Y : ndarray of shape (n_samples, n_tasks), dtype float64
        The targets as a 2-D float array, NaN where unlabelled.
    is_1d : bool
        Whether ``y`` was one-dimensional (one task).
    task_names : ndarray of str of shape (n_tasks,)
        Column names of a DataFrame ``y``, else ``task_0, task_1, ...``.

    Raises
    ------
    ValueError
        If ``y`` is not 1-D or 2-D, has no column, holds infinity, a task has
        no labelled row, or a row has no label for any task.
    """
    Y = check_array(
        y,
        ensure_2d=False,
        allow_nd=True,  # the messages below name y's shape
        ensure_min_features=0,
        dtype=np.float64,
        ensure_all_finite="allow-nan",
        input_name="y",
    )
    if Y.ndim > 2:
        raise ValueError(f"y must be 1-D or 2-D, got an array of shape {Y.shape}.")
    is_1d = Y.ndim == 1
    if is_1d:
        Y = Y.reshape(-1, 1)
    if n_samples is not None and Y.shape[0] != n_samples:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: {n_samples} and "
            f"{Y.shape[0]}."
        )
    if Y.shape[1] == 0:
        raise ValueError("y has 0 tasks (columns); at least one is required.")
    task_names = _task_names_from(y, Y.shape[1])

    labelled = ~np.isnan(Y)
    empty_tasks = np.flatnonzero(~labelled.any(axis=0))
    if empty_tasks.size and not allow_unlabelled_tasks:
        names = ", ".join(repr(task_names[t]) for t in empty_tasks[:10])
        raise ValueError(
            f"Input y contains NaN in every row of task(s) {names}: a task needs "
            "at least one labelled row (NaN means 'not labelled'). Drop the "
            "column or add labels."
        )
    empty_rows = np.flatnonzero(~labelled.any(axis=1))
    if empty_rows.size:
        shown = ", ".join(str(i) for i in empty_rows[:10])
        more = " ..." if empty_rows.size > 10 else ""
        raise ValueError(
            f"{empty_rows.size} row(s) of y have no label for any task (all NaN), "
            f"e.g. rows {shown}{more}. Such rows carry nothing to train on or "
            "score against; drop them."
        )
    return Y, is_1d, task_names


def stack_tasks(tasks):
    """Stack per-task data sets into one ``X`` and a NaN-masked ``Y``.

    Each task ``t`` comes with its own inputs ``X_t`` and targets ``y_t``. The
    result has the rows of every task one after the other; column ``t`` of
    ``Y`` holds ``y_t`` on the rows of task ``t`` and NaN elsewhere, so a
    :class:`~sklearn_mtl.MultiTaskRegressor` trains each head only on its own
    task's rows.

    Parameters
    ----------
    tasks : sequence of (X_t, y_t) pairs
        ``X_t`` of shape (n_t, n_features), the same ``n_features`` for every
        task; ``y_t`` of shape (n_t,) or (n_t, k_t) for a task with ``k_t``
        target columns.

    Returns
    -------
    X : ndarray of shape (sum_t n_t, n_features)
        The inputs of all tasks, stacked in task order.
    Y : ndarray of shape (sum_t n_t, sum_t k_t)
        Targets, NaN where a row is not labelled for a column.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl import stack_tasks
    >>> X, Y = stack_tasks([(np.zeros((2, 3)), [1.0, 2.0]), (np.ones((1, 3)), [5.0])])
    >>> X.shape, Y.shape
    ((3, 3), (3, 2))
    >>> Y
    array([[ 1., nan],
           [ 2., nan],
           [nan,  5.]])
    """
    if isinstance(tasks, (str, bytes)) or not hasattr(tasks, "__len__"):
        raise TypeError(
            f"tasks must be a sequence of (X_t, y_t) pairs, got {type(tasks).__name__}."
        )
    if len(tasks) == 0:
        raise ValueError("tasks is empty: give at least one (X_t, y_t) pair.")
    Xs, ys = [], []
    for t, pair in enumerate(tasks):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"Task {t} is not an (X_t, y_t) pair.")
        X_t = check_array(pair[0], dtype=np.float64, input_name=f"X of task {t}")
        y_t = check_array(
            pair[1],
            ensure_2d=False,
            dtype=np.float64,
            ensure_all_finite="allow-nan",
            input_name=f"y of task {t}",
        )
        check_consistent_length(X_t, y_t)
        if Xs and X_t.shape[1] != Xs[0].shape[1]:
            raise ValueError(
                f"Task {t} has {X_t.shape[1]} features but task 0 has "
                f"{Xs[0].shape[1]}; every task needs the same feature columns."
            )
        Xs.append(X_t)
        ys.append(y_t.reshape(len(y_t), -1))
    widths = [y.shape[1] for y in ys]
    Y = np.full((sum(len(x) for x in Xs), sum(widths)), np.nan)
    row, col = 0, 0
    for y_t, width in zip(ys, widths, strict=True):
        Y[row : row + len(y_t), col : col + width] = y_t
        row += len(y_t)
        col += width
    return np.vstack(Xs), Y


def masked_r2_score(Y_true, Y_pred, sample_weight=None):
    """R^2 per task on its labelled rows, with every task and row labelled.

    The strict form of :func:`sklearn_mtl.metrics.masked_r2_score`: ``Y_true``
    must pass :func:`check_multitask_y` (every task and every row labelled at
    least once), and ``sample_weight`` may be given by position.

    Parameters
    ----------
    Y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        True targets, NaN where not labelled.
    Y_pred : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Predictions, one column per task of ``Y_true``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights.

    Returns
    -------
    score : float
        The mean over tasks of each task's R^2.

    Raises
    ------
    ValueError
        If ``Y_true`` fails :func:`check_multitask_y`, or
        :func:`sklearn_mtl.metrics.masked_r2_score` rejects the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl._validation import masked_r2_score
    >>> Y_true = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 7.0]])
    >>> Y_pred = np.array([[1.0, 0.0], [2.0, 5.0], [3.0, 6.0]])
    >>> round(masked_r2_score(Y_true, Y_pred), 3)  # task 1 scores on 2 rows
    0.75
    """
    from .metrics import masked_r2_score as score

    Y_pred = np.asarray(Y_pred, dtype=np.float64)
    Y_true, _, _ = check_multitask_y(Y_true, n_samples=len(Y_pred))
    return score(Y_true, Y_pred, sample_weight=sample_weight)
