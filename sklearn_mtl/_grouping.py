"""Propose which tasks to train together, from a task-affinity matrix."""

import numpy as np
from sklearn.cluster import AgglomerativeClustering

__all__ = ["suggest_task_groups"]

# up to this many tasks every partition is scored; above, average-linkage
# clustering on the affinity proposes the groups
MAX_TASKS_EXHAUSTIVE = 10


def suggest_task_groups(affinity, n_groups, task_names=None):
    """Split tasks into ``n_groups`` groups that help each other most.

    Each task is scored by its mean affinity to the other members of its
    group (a task alone scores 0), and the grouping with the largest total
    is returned (the objective of Fifty et al. 2021, restricted to
    partitions). With up to 10 tasks every partition is tried; with more,
    average-linkage clustering of the symmetrised affinity proposes the
    groups.

    Parameters
    ----------
    affinity : MultiTaskRegressor or array-like of shape (n_tasks, n_tasks)
        A model fitted with ``task_affinity=...`` (its ``task_affinity_`` and
        ``task_names_`` are used), or an affinity matrix: entry ``[i, j]``
        says how much training task ``i`` helps task ``j``. It is
        symmetrised; NaN (tasks never trained together) counts as 0.
    n_groups : int
        Number of groups, between 1 and the number of tasks.
    task_names : array-like of shape (n_tasks,), default=None
        Names for a matrix input; default: the task indices.

    Returns
    -------
    groups : list of ndarray
        The task names (or indices) of each group, largest group first.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl import suggest_task_groups
    >>> affinity = np.array([[1.0, 0.9, -0.2, 0.0],
    ...                      [0.9, 1.0, 0.1, -0.1],
    ...                      [-0.2, 0.1, 1.0, 0.8],
    ...                      [0.0, -0.1, 0.8, 1.0]])
    >>> suggest_task_groups(affinity, 2, task_names=["a", "b", "c", "d"])
    [array(['a', 'b'], dtype='<U1'), array(['c', 'd'], dtype='<U1')]
    """
    if hasattr(affinity, "task_affinity_") or hasattr(affinity, "net_"):
        if task_names is None:
            task_names = affinity.task_names_
        affinity = affinity.task_affinity_
    matrix = np.asarray(affinity, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.size == 0:
        raise ValueError(
            f"affinity must be a square (n_tasks, n_tasks) matrix, got shape "
            f"{matrix.shape}."
        )
    if np.isinf(matrix).any():
        raise ValueError("affinity contains infinite values.")
    n_tasks = matrix.shape[0]
    names = np.arange(n_tasks) if task_names is None else np.asarray(task_names)
    if names.shape != (n_tasks,):
        raise ValueError(f"task_names has {names.size} entries for {n_tasks} tasks.")
    if not isinstance(n_groups, (int, np.integer)) or not 1 <= n_groups <= n_tasks:
        raise ValueError(
            f"n_groups must be an integer between 1 and the number of tasks "
            f"({n_tasks}), got {n_groups!r}."
        )
    similarity = np.nan_to_num((matrix + matrix.T) / 2.0, nan=0.0)
    np.fill_diagonal(similarity, 0.0)
    if n_tasks <= MAX_TASKS_EXHAUSTIVE:
        labels = _best_partition(similarity, n_groups)
    else:
        distance = similarity.max() - similarity
        np.fill_diagonal(distance, 0.0)
        labels = AgglomerativeClustering(
            n_clusters=n_groups, metric="precomputed", linkage="average"
        ).fit_predict(distance)
    groups = [np.flatnonzero(labels == g) for g in np.unique(labels)]
    groups.sort(key=lambda g: (-len(g), g[0]))
    return [names[g] for g in groups]


def _score(similarity, labels):
    total = 0.0
    for g in np.unique(labels):
        members = np.flatnonzero(labels == g)
        if len(members) > 1:
            block = similarity[np.ix_(members, members)]
            total += block.sum() / (len(members) - 1)
    return total


def _partitions(n, k):
    """Yield every labelling of ``n`` items into exactly ``k`` non-empty groups."""
    labels = np.zeros(n, dtype=int)

    def place(i, used):
        if n - i < k - used:
            return
        if i == n:
            if used == k:
                yield labels.copy()
            return
        for g in range(min(used + 1, k)):
            labels[i] = g
            yield from place(i + 1, max(used, g + 1))

    yield from place(0, 0)


def _best_partition(similarity, n_groups):
    best, best_score = None, -np.inf
    for labels in _partitions(len(similarity), n_groups):
        score = _score(similarity, labels)
        if score > best_score + 1e-12:
            best, best_score = labels, score
    return best
