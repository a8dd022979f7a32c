"""Scorers for sklearn's model selection tools that leave out unlabelled targets."""

from sklearn.metrics import make_scorer
from sklearn.utils._param_validation import validate_params

from ._regression import (
    masked_mean_absolute_error,
    masked_mean_squared_error,
    masked_r2_score,
    masked_root_mean_squared_error,
)

# name: (metric, greater_is_better), named as sklearn's scorers of the same metric
_SCORERS = {
    "r2": (masked_r2_score, True),
    "neg_mean_squared_error": (masked_mean_squared_error, False),
    "neg_root_mean_squared_error": (masked_root_mean_squared_error, False),
    "neg_mean_absolute_error": (masked_mean_absolute_error, False),
}


def get_scorer_names():
    """Get the names of the scorers that :func:`get_scorer` returns.

    Returns
    -------
    names : list of str
        The names, sorted: those of :mod:`sklearn.metrics` scorers for the
        same metrics.

    Examples
    --------
    >>> from sklearn_mtl.metrics import get_scorer_names
    >>> get_scorer_names()
    ['neg_mean_absolute_error', 'neg_mean_squared_error', \
'neg_root_mean_squared_error', 'r2']
    """
    return sorted(_SCORERS)


@validate_params({"scoring": [str]}, prefer_skip_nested_validation=True)
def get_scorer(scoring):
    """Get a scorer that leaves out unlabelled (NaN) targets, by name.

    sklearn's scorers of the same names fail, or return NaN, when ``y`` holds
    NaN. These score each task on its labelled rows with the masked metrics
    of this module, so they can be given as ``scoring`` (alone or in a dict)
    to :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_validate`,
    :func:`~sklearn.model_selection.learning_curve`,
    :func:`~sklearn.inspection.permutation_importance` and the like.

    Each call returns a new scorer, so requesting metadata on it (as in
    ``get_scorer("r2").set_score_request(sample_weight=True)`` under
    metadata routing) changes no other scorer.

    Parameters
    ----------
    scoring : str
        One of :func:`get_scorer_names`:

        - ``"r2"``: :func:`masked_r2_score`;
        - ``"neg_mean_squared_error"``: minus :func:`masked_mean_squared_error`;
        - ``"neg_root_mean_squared_error"``: minus
          :func:`masked_root_mean_squared_error`;
        - ``"neg_mean_absolute_error"``: minus
          :func:`masked_mean_absolute_error`.

    Returns
    -------
    scorer : callable
        A scorer made by :func:`sklearn.metrics.make_scorer`, called as
        ``scorer(estimator, X, y)``: greater is better. It averages the tasks
        uniformly; a task without a labelled row in ``y`` is left out, with a
        ``UserWarning``.

    Raises
    ------
    ValueError
        If ``scoring`` is not one of :func:`get_scorer_names`.

    See Also
    --------
    sklearn.metrics.make_scorer : Build a scorer from a masked metric with
        other arguments, e.g. ``multioutput`` weights.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl import MultiTaskRegressor
    >>> from sklearn_mtl.metrics import get_scorer, masked_r2_score
    >>> scorer = get_scorer("r2")
    >>> scorer
    make_scorer(masked_r2_score, response_method='predict')
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(20, 3))
    >>> Y = np.c_[X[:, 0], X[:, 1]]
    >>> Y[:10, 1] = np.nan  # task 1 is labelled on the last 10 rows only
    >>> model = MultiTaskRegressor(
    ...     hidden_layer_sizes=(4,), max_epochs=5, random_state=0
    ... ).fit(X, Y)
    >>> bool(scorer(model, X, Y) == masked_r2_score(Y, model.predict(X)))
    True
    """
    if scoring not in _SCORERS:
        raise ValueError(
            f"{scoring!r} is not a scorer of sklearn_mtl.metrics; valid names are "
            f"{', '.join(map(repr, get_scorer_names()))}. Other sklearn scorers "
            "do not leave out unlabelled (NaN) targets."
        )
    metric, greater_is_better = _SCORERS[scoring]
    return make_scorer(
        metric, greater_is_better=greater_is_better, response_method="predict"
    )
