"""Regression metrics that leave out unlabelled (NaN) targets."""

import warnings

import numpy as np
from sklearn.utils import check_array
from sklearn.utils._param_validation import StrOptions, validate_params
from sklearn.utils.validation import _check_sample_weight, check_consistent_length

_PARAMETER_CONSTRAINTS = {
    "y_true": ["array-like"],
    "y_pred": ["array-like"],
    "sample_weight": ["array-like", None],
    "multioutput": [StrOptions({"raw_values", "uniform_average"}), "array-like"],
}


def _check_masked_targets(y_true, y_pred, sample_weight, multioutput):
    """Validate the inputs of a masked metric.

    Returns
    -------
    Y_true : ndarray of shape (n_samples, n_tasks)
        NaN where not labelled.
    Y_pred : ndarray of shape (n_samples, n_tasks)
    weights : ndarray of shape (n_samples,)
        Non-negative, scaled so that the largest is 1 (unless all are 0).
    multioutput : str or ndarray of shape (n_tasks,)
    task_names : list of str
        How warnings name each task: its column name for a DataFrame
        ``y_true``, else ``task <index>``.
    """
    Y_true = check_array(
        y_true,
        ensure_2d=False,
        dtype=np.float64,
        ensure_all_finite="allow-nan",
        ensure_min_features=0,
        allow_nd=True,  # the message below names the shape
        input_name="y_true",
    )
    Y_pred = check_array(
        y_pred,
        ensure_2d=False,
        dtype=np.float64,
        ensure_all_finite=False,
        ensure_min_features=0,
        allow_nd=True,
        input_name="y_pred",
    )
    check_consistent_length(Y_true, Y_pred)
    for name, array in (("y_true", Y_true), ("y_pred", Y_pred)):
        if array.ndim != 1 and array.ndim != 2:
            raise ValueError(
                f"{name} must be 1-D or 2-D, got an array of shape {array.shape}."
            )
    Y_true = Y_true.reshape(len(Y_true), -1)
    Y_pred = Y_pred.reshape(len(Y_pred), -1)
    columns = getattr(y_true, "columns", None)
    if columns is not None:
        task_names = [repr(str(name)) for name in columns]
    else:
        task_names = [f"task {t}" for t in range(Y_true.shape[1])]
    if Y_true.shape[1] == 0:
        raise ValueError("y_true has 0 tasks (columns); at least one is required.")
    if Y_pred.shape[1] != Y_true.shape[1]:
        raise ValueError(
            f"y_true has {Y_true.shape[1]} task(s) (columns), but y_pred has "
            f"{Y_pred.shape[1]}: one prediction column per task is needed."
        )
    labelled = ~np.isnan(Y_true)
    if np.isnan(Y_pred[labelled]).any():
        raise ValueError(
            "y_pred contains NaN where y_true is labelled: a prediction is needed "
            "for every labelled cell."
        )
    if np.ndim(sample_weight) == 1 and len(sample_weight) != len(Y_true):
        raise ValueError(
            f"sample_weight has {len(sample_weight)} entries, but y_true has "
            f"{len(Y_true)} rows."
        )
    weights = _check_sample_weight(
        sample_weight, Y_true, dtype=np.float64, ensure_non_negative=True
    )
    heaviest = weights.max(initial=0.0)
    if heaviest > 0:  # scale-free: huge or tiny weights must not overflow
        weights = weights / heaviest
    if not isinstance(multioutput, str):
        multioutput = check_array(
            multioutput, ensure_2d=False, dtype=np.float64, input_name="multioutput"
        )
        if multioutput.shape != (Y_true.shape[1],):
            raise ValueError(
                f"multioutput has {multioutput.size} weight(s), but y_true has "
                f"{Y_true.shape[1]} task(s): give one weight per task."
            )
    return Y_true, Y_pred, weights, multioutput, task_names


def _masked_metric(y_true, y_pred, sample_weight, multioutput, per_task):
    """Apply ``per_task(y, p, w)`` to each task's labelled rows, then average.

    A task without a labelled row of positive weight is NaN in the per-task
    values and left out of the average, with a warning.
    """
    Y_true, Y_pred, weights, multioutput, task_names = _check_masked_targets(
        y_true, y_pred, sample_weight, multioutput
    )
    n_tasks = Y_true.shape[1]
    values = np.full(n_tasks, np.nan)
    scored = np.zeros(n_tasks, dtype=bool)
    for t in range(n_tasks):
        # rows of zero weight add nothing (and 0 * inf would be NaN)
        rows = ~np.isnan(Y_true[:, t]) & (weights > 0)
        if rows.any():
            values[t] = per_task(Y_true[rows, t], Y_pred[rows, t], weights[rows])
            scored[t] = True
    left_out = np.flatnonzero(~scored)
    if left_out.size == n_tasks:
        raise ValueError(
            "y_true has no labelled row (not NaN, of positive sample_weight) for "
            "any task, so there is nothing to score. NaN means 'not labelled'."
        )
    if left_out.size:
        names = ", ".join(task_names[t] for t in left_out[:10])
        more = " ..." if left_out.size > 10 else ""
        warnings.warn(
            f"y_true has no labelled row (of positive sample_weight) for "
            f"{left_out.size} task(s): {names}{more}. They are left out of the "
            "average (NaN in multioutput='raw_values').",
            UserWarning,
            stacklevel=4,  # the caller of the public metric
        )
    if isinstance(multioutput, str) and multioutput == "raw_values":
        return values
    task_weights = np.ones(n_tasks) if isinstance(multioutput, str) else multioutput
    if task_weights[scored].sum() == 0:
        raise ValueError(
            "The multioutput weights of the scored tasks sum to 0, so their "
            "weighted average is undefined."
        )
    return float(np.average(values[scored], weights=task_weights[scored]))


def _r2(y, p, w):
    # in units of the largest |y|: targets near the float64 limit do not
    # overflow the sums of squares
    unit = np.max(np.abs(y))
    unit = unit if unit > 0 else 1.0
    with np.errstate(over="ignore"):  # p far beyond y: R^2 tends to -inf
        y, p = y / unit, p / unit
        numerator = np.sum(w * (y - p) ** 2)
        denominator = np.sum(w * (y - np.average(y, weights=w)) ** 2)
    if denominator == 0:
        return 1.0 if numerator == 0 else 0.0
    return 1.0 - numerator / denominator


def _squared_error(y, p, w):
    with np.errstate(over="ignore"):
        return np.average((y - p) ** 2, weights=w)


def _absolute_error(y, p, w):
    with np.errstate(over="ignore"):
        return np.average(np.abs(y - p), weights=w)


@validate_params(_PARAMETER_CONSTRAINTS, prefer_skip_nested_validation=True)
def masked_r2_score(
    y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"
):
    """R^2 of each task on its labelled rows, averaged over the tasks.

    NaN in ``y_true`` means "not labelled": each task is scored on the rows
    where it is labelled, as :func:`sklearn.metrics.r2_score` would score
    them. On fully labelled targets both give the same value.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        True targets, NaN where not labelled. Infinity is an error.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Predictions, one column per task. NaN is an error where ``y_true`` is
        labelled.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights.
    multioutput : {"uniform_average", "raw_values"} or array-like of shape \
            (n_tasks,), default="uniform_average"
        How the tasks' scores are combined: their mean, one score per task,
        or their average weighted by the given weights.

    Returns
    -------
    score : float or ndarray of shape (n_tasks,)
        The average R^2, or one R^2 per task for ``multioutput="raw_values"``.
        A task whose labelled targets are constant scores 1.0 for a perfect
        fit and 0.0 otherwise. A task without a labelled row (of positive
        weight) is left out of the average, with a ``UserWarning``, and is NaN
        in the raw values.

    Raises
    ------
    ValueError
        If no task has a labelled row, ``y_pred`` has another shape, holds NaN
        at a labelled cell, or ``sample_weight`` is negative or has another
        length.

    See Also
    --------
    masked_mean_squared_error : Mean squared error on the labelled rows.
    sklearn.metrics.r2_score : R^2 of fully labelled targets.

    Notes
    -----
    Each task is computed in units of its largest absolute target, so targets
    near the float64 limit do not overflow the sums of squares.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl.metrics import masked_r2_score
    >>> y_true = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 7.0]])
    >>> y_pred = np.array([[1.0, 0.0], [2.0, 5.0], [3.0, 6.0]])
    >>> round(masked_r2_score(y_true, y_pred), 3)  # task 1 is scored on 2 rows
    0.75
    >>> masked_r2_score(y_true, y_pred, multioutput="raw_values").round(3)
    array([1. , 0.5])
    """
    return _masked_metric(y_true, y_pred, sample_weight, multioutput, _r2)


@validate_params(_PARAMETER_CONSTRAINTS, prefer_skip_nested_validation=True)
def masked_mean_squared_error(
    y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"
):
    """Mean squared error of each task on its labelled rows, averaged.

    NaN in ``y_true`` means "not labelled": each task is scored on the rows
    where it is labelled. On fully labelled targets this equals
    :func:`sklearn.metrics.mean_squared_error`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        True targets, NaN where not labelled. Infinity is an error.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Predictions, one column per task. NaN is an error where ``y_true`` is
        labelled.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights.
    multioutput : {"uniform_average", "raw_values"} or array-like of shape \
            (n_tasks,), default="uniform_average"
        How the tasks' errors are combined: their mean, one error per task,
        or their average weighted by the given weights.

    Returns
    -------
    loss : float or ndarray of shape (n_tasks,)
        The average error, or one error per task for
        ``multioutput="raw_values"``. A task without a labelled row (of
        positive weight) is left out of the average, with a ``UserWarning``,
        and is NaN in the raw values.

    Raises
    ------
    ValueError
        If no task has a labelled row, ``y_pred`` has another shape, holds NaN
        at a labelled cell, or ``sample_weight`` is negative or has another
        length.

    See Also
    --------
    masked_root_mean_squared_error : Its square root, per task.
    sklearn.metrics.mean_squared_error : The same for fully labelled targets.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl.metrics import masked_mean_squared_error
    >>> y_true = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 7.0]])
    >>> y_pred = np.array([[1.0, 0.0], [2.0, 5.0], [3.0, 9.0]])
    >>> masked_mean_squared_error(y_true, y_pred, multioutput="raw_values")
    array([0., 2.])
    >>> masked_mean_squared_error(y_true, y_pred, multioutput=[1, 3])
    1.5
    """
    return _masked_metric(y_true, y_pred, sample_weight, multioutput, _squared_error)


@validate_params(_PARAMETER_CONSTRAINTS, prefer_skip_nested_validation=True)
def masked_root_mean_squared_error(
    y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"
):
    """Root mean squared error of each task on its labelled rows, averaged.

    The square root is taken per task, before the average over the tasks, as
    in :func:`sklearn.metrics.root_mean_squared_error`, which this equals on
    fully labelled targets.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        True targets, NaN where not labelled. Infinity is an error.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Predictions, one column per task. NaN is an error where ``y_true`` is
        labelled.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights.
    multioutput : {"uniform_average", "raw_values"} or array-like of shape \
            (n_tasks,), default="uniform_average"
        How the tasks' errors are combined: their mean, one error per task,
        or their average weighted by the given weights.

    Returns
    -------
    loss : float or ndarray of shape (n_tasks,)
        The average error, or one error per task for
        ``multioutput="raw_values"``. A task without a labelled row (of
        positive weight) is left out of the average, with a ``UserWarning``,
        and is NaN in the raw values.

    Raises
    ------
    ValueError
        If no task has a labelled row, ``y_pred`` has another shape, holds NaN
        at a labelled cell, or ``sample_weight`` is negative or has another
        length.

    See Also
    --------
    masked_mean_squared_error : The error before the square root.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl.metrics import masked_root_mean_squared_error
    >>> y_true = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 7.0]])
    >>> y_pred = np.array([[2.0, 0.0], [3.0, 5.0], [4.0, 9.0]])
    >>> masked_root_mean_squared_error(y_true, y_pred, multioutput="raw_values")
    array([1.        , 1.41421356])
    """

    def root_squared_error(y, p, w):
        return np.sqrt(_squared_error(y, p, w))

    return _masked_metric(
        y_true, y_pred, sample_weight, multioutput, root_squared_error
    )


@validate_params(_PARAMETER_CONSTRAINTS, prefer_skip_nested_validation=True)
def masked_mean_absolute_error(
    y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"
):
    """Mean absolute error of each task on its labelled rows, averaged.

    NaN in ``y_true`` means "not labelled": each task is scored on the rows
    where it is labelled. On fully labelled targets this equals
    :func:`sklearn.metrics.mean_absolute_error`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_tasks)
        True targets, NaN where not labelled. Infinity is an error.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Predictions, one column per task. NaN is an error where ``y_true`` is
        labelled.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights.
    multioutput : {"uniform_average", "raw_values"} or array-like of shape \
            (n_tasks,), default="uniform_average"
        How the tasks' errors are combined: their mean, one error per task,
        or their average weighted by the given weights.

    Returns
    -------
    loss : float or ndarray of shape (n_tasks,)
        The average error, or one error per task for
        ``multioutput="raw_values"``. A task without a labelled row (of
        positive weight) is left out of the average, with a ``UserWarning``,
        and is NaN in the raw values.

    Raises
    ------
    ValueError
        If no task has a labelled row, ``y_pred`` has another shape, holds NaN
        at a labelled cell, or ``sample_weight`` is negative or has another
        length.

    See Also
    --------
    sklearn.metrics.mean_absolute_error : The same for fully labelled targets.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl.metrics import masked_mean_absolute_error
    >>> y_true = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 7.0]])
    >>> y_pred = np.array([[1.0, 0.0], [2.0, 6.0], [3.0, 9.0]])
    >>> masked_mean_absolute_error(y_true, y_pred, multioutput="raw_values")
    array([0. , 1.5])
    >>> masked_mean_absolute_error(y_true, y_pred, sample_weight=[1, 1, 0])
    0.5
    """
    return _masked_metric(y_true, y_pred, sample_weight, multioutput, _absolute_error)
