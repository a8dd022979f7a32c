"""Class labels of classification tasks: validation, encoding, class weights."""

import numbers

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array

__all__ = [
    "check_label_columns",
    "class_weights_of",
    "encode_labels",
    "missing_mask",
]


def _is_missing(value):
    if value is None or value is getattr(_pandas(), "NA", object()):
        return True
    return isinstance(value, (float, np.floating)) and value != value


def _pandas():
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas comes with the test extra
        return None
    return pandas


def missing_mask(column):
    """Boolean mask of the unlabelled cells (NaN, None, ``pd.NA``) of a column."""
    if column.dtype.kind == "f":
        return np.isnan(column)
    if column.dtype.kind == "O":
        return np.fromiter((_is_missing(v) for v in column), bool, len(column))
    return np.zeros(len(column), dtype=bool)


def _column_array(series):
    """Return a DataFrame column as an array; nullable dtypes keep their ints.

    ``np.asarray`` turns an ``Int64`` column with ``pd.NA`` into floats; as
    objects its labels stay ints, with None where unlabelled.
    """
    if isinstance(series.dtype, np.dtype):
        return np.asarray(series)
    return series.to_numpy(dtype=object, na_value=None)


def check_label_columns(y, *, n_samples=None):
    """Validate class labels; return them as a 2-D array, 1-D flag and names.

    ``y`` is ``(n_samples,)`` or ``(n_samples, n_tasks)`` of ints, strings or
    bools (or floats holding integer codes), with NaN, None or ``pd.NA`` in
    the cells that are not labelled. Columns keep their own dtype where
    possible (a DataFrame's column of strings, another of ints).
    """
    from ._validation import _task_names_from

    columns = getattr(y, "columns", None)
    if columns is not None:  # keep each column's dtype
        Y = [_column_array(y.iloc[:, t]) for t in range(y.shape[1])]
        n_rows = y.shape[0]
    else:
        arr = check_array(
            y,
            ensure_2d=False,
            allow_nd=True,
            dtype=None,
            ensure_min_features=0,
            ensure_all_finite=False,  # NaN marks unlabelled cells; checked below
            input_name="y",
        )
        if arr.ndim > 2:
            raise ValueError(
                f"y must be 1-D or 2-D, got an array of shape {arr.shape}."
            )
        arr2 = arr.reshape(-1, 1) if arr.ndim == 1 else arr
        Y, n_rows = [arr2[:, t] for t in range(arr2.shape[1])], arr2.shape[0]
    is_1d = columns is None and arr.ndim == 1
    if n_samples is not None and n_rows != n_samples:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: {n_samples} and {n_rows}."
        )
    if not Y:
        raise ValueError("y has 0 tasks (columns); at least one is required.")
    return Y, is_1d, _task_names_from(y, len(Y))


def _labelled_values(column, t, name):
    """Return the missing mask and the labelled values of a column, checked."""
    missing = missing_mask(column)
    values = column[~missing]
    if values.dtype.kind == "O":
        kinds = {
            "str"
            if isinstance(v, str)
            else "bool"
            if isinstance(v, (bool, np.bool_))
            # bool before int: a bool is an Integral
            else "int"
            if isinstance(v, numbers.Integral)
            else "float"
            if isinstance(v, numbers.Real)
            else type(v).__name__
            for v in values
        }
        if len(kinds) > 1:
            raise ValueError(
                f"The labels of task {name!r} mix types {sorted(kinds)}; use one "
                "type per task (e.g. all strings)."
            )
        if kinds in ({"int"}, {"float"}):
            values = values.astype(np.int64 if kinds == {"int"} else np.float64)
        elif kinds == {"bool"}:
            values = values.astype(bool)
        elif kinds == {"str"}:
            values = values.astype(str)
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        raise ValueError(f"Task {name!r} holds infinity; labels must be finite.")
    try:
        check_classification_targets(values)
    except ValueError as exc:
        raise ValueError(f"Task {name!r}: {exc}") from None
    return missing, values


def _regression_values(column, name):
    """Return the missing mask and the float values of a regression column."""
    missing = missing_mask(column)
    try:
        values = column[~missing].astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"Task {name!r} is a regression task, but its values are not all numbers."
        ) from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"Task {name!r} holds infinity; targets must be finite.")
    return missing, values


def encode_labels(
    columns,
    task_names,
    classes=None,
    allow_unlabelled_tasks=False,
    allow_empty_rows=False,
    kinds=None,
):
    """Map labels to float class codes (NaN where unlabelled).

    Parameters
    ----------
    columns : list of ndarray
        One label column per task.
    task_names : ndarray of str
        Names for the error messages.
    classes : list of ndarray or None
        The classes of each task (from an earlier fit; None for a regression
        task); None finds them.
    allow_unlabelled_tasks : bool
        Accept a task with no labelled row.
    allow_empty_rows : bool
        Accept a row with no label for any task (scoring).
    kinds : list of {"classification", "regression"} or None
        The type of each task; None: every task is a classification task.
        A regression task's values are kept as floats.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_tasks), float64
        The index of each label in its task's classes (a regression task's
        value); NaN where unlabelled.
    classes : list of ndarray or None
        The sorted classes of each task (None for a regression task).
    """
    n = len(columns[0])
    codes = np.full((n, len(columns)), np.nan)
    found = []
    for t, column in enumerate(columns):
        name = task_names[t]
        regression = kinds is not None and kinds[t] == "regression"
        if regression:
            missing, values = _regression_values(column, name)
        else:
            missing, values = _labelled_values(column, t, name)
        if not len(values) and not allow_unlabelled_tasks:
            raise ValueError(
                f"Task {name!r} has no labelled row (every cell is NaN or None); a "
                "task needs at least one label. Drop the column or add labels."
            )
        if regression:
            codes[~missing, t] = values
            found.append(None)
            continue
        known = None if classes is None else classes[t]
        task_classes = np.unique(values) if known is None else known
        if len(values):
            index = np.searchsorted(task_classes, values)
            index = np.minimum(index, len(task_classes) - 1)
            unseen = task_classes[index] != values
            if unseen.any():
                raise ValueError(
                    f"y holds label(s) {np.unique(values[unseen])[:5].tolist()} for "
                    f"task {name!r}, which the model was not fitted on (its classes "
                    f"are {task_classes.tolist()[:10]})."
                )
            codes[~missing, t] = index
        found.append(task_classes)
    empty_rows = np.flatnonzero(np.isnan(codes).all(axis=1))
    if empty_rows.size and not allow_empty_rows:
        shown = ", ".join(str(i) for i in empty_rows[:10])
        more = " ..." if empty_rows.size > 10 else ""
        raise ValueError(
            f"{empty_rows.size} row(s) of y have no label for any task (all NaN or "
            f"None), e.g. rows {shown}{more}. Such rows carry nothing to train on "
            "or score against; drop them."
        )
    return codes, found


def class_weights_of(class_weight, classes, codes, sample_weight, task_names):
    """Per-cell class weights, ``(n_samples, n_tasks)`` (1 where unlabelled).

    ``class_weight`` is None, ``"balanced"`` (``n / (n_classes * count_c)`` per
    task on its labelled rows, as sklearn's ``compute_class_weight``, with the
    sample weights), a dict for a single task, or a list of per-task dicts
    (None entries for tasks left unweighted).
    """
    n_tasks = codes.shape[1]
    out = np.ones_like(codes)
    if class_weight is None:
        return out
    if isinstance(class_weight, dict):
        if n_tasks != 1:
            raise ValueError(
                f"class_weight is one dict but y has {n_tasks} tasks; give a list of "
                "dicts, one per task (None for a task without class weights)."
            )
        class_weight = [class_weight]
    elif not isinstance(class_weight, str) and len(class_weight) != n_tasks:
        raise ValueError(
            f"class_weight has {len(class_weight)} entries but y has {n_tasks} tasks."
        )
    for t in range(n_tasks):
        if classes[t] is None:  # a regression task
            continue
        labelled = ~np.isnan(codes[:, t])
        task_codes = codes[labelled, t].astype(int)
        weights = class_weight if isinstance(class_weight, str) else class_weight[t]
        if weights is None:
            continue
        if weights == "balanced":
            counts = np.bincount(
                task_codes, sample_weight[labelled], minlength=len(classes[t])
            )
            present = counts > 0
            per_class = np.ones(len(classes[t]))
            per_class[present] = counts.sum() / (present.sum() * counts[present])
        elif isinstance(weights, dict):
            unknown = [k for k in weights if k not in set(classes[t].tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight for task {task_names[t]!r} names classes "
                    f"{unknown[:5]} that are not among its classes "
                    f"{classes[t].tolist()[:10]}."
                )
            per_class = np.array(
                [float(weights.get(c, 1.0)) for c in classes[t].tolist()]
            )
            if not np.all(np.isfinite(per_class) & (per_class >= 0)):
                raise ValueError(
                    f"class_weight for task {task_names[t]!r} must be finite and "
                    "non-negative."
                )
        else:
            raise ValueError(
                f"class_weight entries must be None, 'balanced' or a dict; got "
                f"{weights!r} for task {task_names[t]!r}."
            )
        out[labelled, t] = per_class[task_codes]
    return out
