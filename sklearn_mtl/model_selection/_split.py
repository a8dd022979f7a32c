"""K-fold splitting that spreads every task's labelled rows over the folds."""

import numpy as np
from sklearn.model_selection._split import _BaseKFold
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import _num_samples


class MultiTaskKFold(_BaseKFold):
    """K-fold cross-validator stratified on which tasks each row labels.

    NaN in ``y`` means "not labelled". Rows that label the same tasks (the
    same label pattern) are split over the folds evenly, as
    :class:`~sklearn.model_selection.StratifiedKFold` splits a class, so each
    fold holds about ``1 / n_splits`` of every task's labelled rows. Rows of
    rare patterns go first to the folds lacking their tasks. Every training
    set then holds labelled rows of every task, and every test set does too
    whenever the label patterns allow it.

    Unlike :class:`~sklearn.model_selection.KFold`, it needs no shuffling to
    split the output of :func:`~sklearn_mtl.stack_tasks`, whose rows come task
    after task.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds. At least 2, and at most the number of labelled rows
        of the task labelled least.
    shuffle : bool, default=False
        Whether to shuffle the rows of each label pattern before splitting
        them. Without shuffling, each fold gets a contiguous run of each
        pattern's rows, in row order.
    random_state : int, RandomState instance or None, default=None
        When ``shuffle`` is True, controls the shuffling, and so the folds.
        Pass an int for reproducible output across multiple function calls.
        Leave it to None when ``shuffle`` is False.

    See Also
    --------
    sklearn.model_selection.StratifiedKFold : Stratification on classes.
    sklearn.model_selection.KFold : Folds of consecutive rows.
    sklearn_mtl.metrics.get_scorer : Scorers that leave out unlabelled cells.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl import stack_tasks
    >>> from sklearn_mtl.model_selection import MultiTaskKFold
    >>> X, Y = stack_tasks([(np.zeros((4, 2)), np.arange(4.0)),
    ...                     (np.ones((6, 2)), np.arange(6.0))])
    >>> cv = MultiTaskKFold(n_splits=2)
    >>> for train, test in cv.split(X, Y):
    ...     print(test, (~np.isnan(Y[test])).sum(axis=0))
    [0 1 4 5 6] [2 3]
    [2 3 7 8 9] [2 3]
    """

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        super().__init__(n_splits=n_splits, shuffle=shuffle, random_state=random_state)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits, ``n_splits``.

        Parameters
        ----------
        X : object
            Always ignored, exists for compatibility.
        y : object
            Always ignored, exists for compatibility.
        groups : object
            Always ignored, exists for compatibility.

        Returns
        -------
        n_splits : int
            The number of train/test splits.
        """
        return self.n_splits

    def split(self, X, y, groups=None):
        """Generate indices to split data into training and test set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. Only its number of rows is used.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets, NaN where not labelled. The folds depend only on which
            cells are NaN.
        groups : object
            Always ignored, exists for compatibility.

        Yields
        ------
        train : ndarray
            The training set indices for that split.
        test : ndarray
            The testing set indices for that split.

        Raises
        ------
        ValueError
            If ``y`` is None, holds infinity, or a task has fewer labelled rows
            than ``n_splits``.
        """
        if y is None:
            raise ValueError(
                "MultiTaskKFold needs y to split: the folds spread the rows "
                "where each task is labelled (not NaN)."
            )
        return super().split(X, y, groups)

    def _iter_test_masks(self, X, y=None, groups=None):
        test_folds = self._make_test_folds(X, y)
        for fold in range(self.n_splits):
            yield test_folds == fold

    def _make_test_folds(self, X, y):
        """Return the test fold of each row."""
        Y = check_array(
            y,
            ensure_2d=False,
            dtype=np.float64,
            ensure_all_finite="allow-nan",
            allow_nd=True,  # the message below names the shape
            input_name="y",
        )
        if Y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D, got an array of shape {Y.shape}.")
        n_samples, n_splits = _num_samples(X), self.n_splits
        labelled = ~np.isnan(Y.reshape(len(Y), -1))
        if len(labelled) != n_samples:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: {n_samples} and "
                f"{len(labelled)}."
            )
        counts = labelled.sum(axis=0)
        few = np.flatnonzero(counts < n_splits)
        if few.size:
            shown = ", ".join(f"task {t} ({counts[t]})" for t in few[:10])
            raise ValueError(
                f"n_splits={n_splits} is greater than the number of labelled (not "
                f"NaN) rows of {few.size} task(s): {shown}. Every fold needs "
                "labelled rows of every task; lower n_splits or add labels."
            )
        rng = check_random_state(self.random_state) if self.shuffle else None

        patterns, codes, sizes = np.unique(
            labelled, axis=0, return_inverse=True, return_counts=True
        )
        codes = codes.reshape(-1)
        test_folds = np.empty(n_samples, dtype=np.intp)
        fold_sizes = np.zeros(n_splits, dtype=np.intp)
        fold_labels = np.zeros((n_splits, labelled.shape[1]), dtype=np.intp)
        # frequent patterns first: they fill every fold; rarer ones then go
        # where their tasks are missing or scarce
        for pattern in np.argsort(-sizes, kind="stable"):
            rows = np.flatnonzero(codes == pattern)
            if rng is not None:
                rows = rng.permutation(rows)
            tasks = patterns[pattern]
            base, extra = divmod(len(rows), n_splits)
            present = fold_labels[:, tasks]
            tie = rng.permutation(n_splits) if rng is not None else np.arange(n_splits)
            preferred = np.lexsort(
                (tie, fold_sizes, present.sum(axis=1), -(present == 0).sum(axis=1))
            )
            per_fold = np.full(n_splits, base, dtype=np.intp)
            per_fold[preferred[:extra]] += 1
            test_folds[rows] = np.repeat(np.arange(n_splits), per_fold)
            fold_sizes += per_fold
            fold_labels[:, tasks] += per_fold[:, None]
        _fill_missing_tasks(test_folds, labelled, fold_sizes, fold_labels)
        return test_folds


def _fill_missing_tasks(test_folds, labelled, fold_sizes, fold_labels):
    """Move rows into folds that hold no label of a task, where possible.

    A row of task ``t`` moves from a fold holding several labels of ``t`` into
    a fold holding none, if its old fold keeps a label of each of its tasks.
    ``test_folds``, ``fold_sizes`` and ``fold_labels`` are updated in place.
    """
    for task in np.argsort(labelled.sum(axis=0), kind="stable"):
        for fold in np.flatnonzero(fold_labels[:, task] == 0):
            rows = np.flatnonzero(labelled[:, task])
            # a row may leave its fold if no task of it would vanish there
            movable = [
                row
                for row in rows
                if np.all(fold_labels[test_folds[row], labelled[row]] >= 2)
            ]
            if not movable:
                continue
            row = max(movable, key=lambda r: (fold_sizes[test_folds[r]], -r))
            old = test_folds[row]
            test_folds[row] = fold
            fold_sizes[old] -= 1
            fold_sizes[fold] += 1
            fold_labels[old, labelled[row]] -= 1
            fold_labels[fold, labelled[row]] += 1
