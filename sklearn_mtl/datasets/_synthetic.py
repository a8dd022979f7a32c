"""Synthetic multi-task regression data with controllable task relatedness."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["make_multitask_regression"]


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_tasks": [Interval(Integral, 1, None, closed="left")],
        "relatedness": [Interval(Real, 0, 1, closed="both")],
        "missing_rate": [Interval(Real, 0, 1, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "n_hidden": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_multitask_regression(
    n_samples=500,
    n_features=10,
    n_tasks=4,
    *,
    relatedness=0.8,
    missing_rate=0.0,
    noise=0.1,
    n_hidden=8,
    random_state=None,
):
    """Generate related non-linear regression tasks on shared inputs.

    Each task is a small random network ``y_t = tanh(X V_t) b_t`` plus noise,
    with ``V_t = sqrt(r) V + sqrt(1 - r) U_t`` and ``b_t = sqrt(r) b +
    sqrt(1 - r) c_t`` for shared ``V, b`` and task-own ``U_t, c_t``: at
    ``relatedness=1`` all tasks share one structure, at 0 they are independent.
    Each task's noiseless signal is scaled to unit variance.

    Parameters
    ----------
    n_samples : int, default=500
        Number of rows.
    n_features : int, default=10
        Number of input features (standard normal).
    n_tasks : int, default=4
        Number of target columns.
    relatedness : float in [0, 1], default=0.8
        How much structure the tasks share.
    missing_rate : float in [0, 1), default=0.0
        Probability with which each cell of ``Y`` is dropped (set to NaN, "not
        labelled"), except that one randomly chosen cell per row is always
        kept, so that every row has a label, and every task keeps at least
        one labelled row. The expected share of NaN in ``Y`` is therefore
        ``missing_rate * (1 - 1 / n_tasks)``, not ``missing_rate``: 0.375 for
        ``missing_rate=0.5`` and 4 tasks, and no NaN at all with one task.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise, relative to the unit-variance
        signal.
    n_hidden : int, default=8
        Width of the random networks.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Inputs.
    Y : ndarray of shape (n_samples, n_tasks)
        Targets, NaN where not labelled.

    Examples
    --------
    >>> from sklearn_mtl.datasets import make_multitask_regression
    >>> X, Y = make_multitask_regression(n_samples=50, n_tasks=3,
    ...                                  missing_rate=0.5, random_state=0)
    >>> X.shape, Y.shape
    ((50, 10), (50, 3))
    """
    rng = check_random_state(random_state)
    X = rng.standard_normal((n_samples, n_features))
    r = relatedness
    V = rng.standard_normal((n_features, n_hidden)) / np.sqrt(n_features)
    b = rng.standard_normal(n_hidden)
    Y = np.empty((n_samples, n_tasks))
    for t in range(n_tasks):
        V_t = np.sqrt(r) * V + np.sqrt(1 - r) * rng.standard_normal(V.shape) / np.sqrt(
            n_features
        )
        b_t = np.sqrt(r) * b + np.sqrt(1 - r) * rng.standard_normal(n_hidden)
        signal = np.tanh(X @ V_t) @ b_t
        signal = (signal - signal.mean()) / (signal.std() or 1.0)
        Y[:, t] = signal + noise * rng.standard_normal(n_samples)
    if missing_rate > 0:
        missing = rng.random_sample(Y.shape) < missing_rate
        keep = rng.randint(n_tasks, size=n_samples)
        missing[np.arange(n_samples), keep] = False
        for t in np.flatnonzero(missing.all(axis=0)):
            missing[rng.randint(n_samples), t] = False
        Y[missing] = np.nan
    return X, Y
