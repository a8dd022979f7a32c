"""Transferability: how well a pretrained source's features serve a target.

:func:`transferability_score` scores a fitted source on a target data set
without fine-tuning anything: it runs the source's trunk on the target inputs
and measures how well a linear model on those features explains each target
task. :func:`rank_sources` does that for several candidate sources and orders
them, so the expensive fine-tune is spent on the most promising one.
"""

from collections.abc import Mapping

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import RidgeCV
from sklearn.utils import Bunch, check_array
from sklearn.utils._param_validation import StrOptions, validate_params
from sklearn.utils.validation import validate_data

from ._base import BaseNetwork
from ._probe import ALPHAS
from ._sources import resolve_source
from ._tensors import eval_in_chunks
from ._validation import check_multitask_y

__all__ = ["transferability_score", "rank_sources"]

METHODS = ("logme", "linear_probe")
# fixed-point iterations of LogME: they usually converge in a handful of steps
LOGME_MAX_ITER = 100
LOGME_TOL = 1e-6
# keeps the alpha and beta updates finite when the fit is exact or the
# features explain nothing (the reference implementation adds 1e-5; here the
# target has unit variance and the features unit top singular value, and a
# smaller value moves the fixed point less off the true maximum)
LOGME_EPSILON = 1e-10
MIN_LABELLED_ROWS = 3


def _source_features(source, X):
    """Run a source's trunk on ``X`` and return the features.

    Parameters
    ----------
    source : estimator, skorch net or torch.nn.Module
        Anything :class:`~sklearn_mtl.TransferEstimator` accepts as ``source``
        (except None).
    X : array-like of shape (n_samples, n_features)
        Inputs, with the columns the source was trained on.

    Returns
    -------
    features : ndarray of shape (n_samples, d)
        The trunk's outputs, float64.
    """
    parts = resolve_source(source)
    estimator = source.estimator if isinstance(source, FrozenEstimator) else source
    if isinstance(estimator, BaseNetwork):
        # checks the feature count and names against the source's fit
        X = validate_data(estimator, X, reset=False, dtype=[np.float64, np.float32])
    else:
        X = check_array(X, dtype=[np.float64, np.float32])
        if parts.n_features is not None and X.shape[1] != parts.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features, but the source trunk expects "
                f"{parts.n_features}."
            )
    param = next(parts.trunk.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    features = eval_in_chunks(parts.trunk, X, device, dtype)
    features = features.reshape(len(X), -1)
    if not np.all(np.isfinite(features)):
        raise ValueError(
            "The source trunk produced non-finite features on X; the inputs may be "
            "far outside the range the source was trained on (scale X as it was "
            "scaled for the source)."
        )
    return features


def _log_maximum_evidence(features, y):
    """LogME of one task: the maximised log evidence per labelled row.

    Bayesian linear regression ``y = features @ w + b + noise`` with prior
    ``w ~ N(0, I / alpha)``, noise ``N(0, 1 / beta)`` and a flat prior on the
    intercept ``b``. The evidence ``p(y | alpha, beta)`` is maximised over
    ``(alpha, beta)`` by the fixed-point iteration of You et al. (2021) on the
    singular value decomposition of the centred features.

    Parameters
    ----------
    features : ndarray of shape (n, d)
        Features of the labelled rows.
    y : ndarray of shape (n,)
        The task's targets on those rows (not constant).

    Returns
    -------
    evidence : float
        Log evidence at the maximum, divided by ``n - 1`` (the degrees of
        freedom left after the intercept).
    alpha, beta : float
        The maximising prior and noise precisions (``alpha`` is ``inf`` when
        the features are constant).
    """
    n_dof = len(y) - 1  # the intercept takes one
    F = features - features.mean(axis=0)
    z = y - y.mean()
    z = z / np.sqrt(z @ z / n_dof)  # unit variance: ||z||^2 = n - 1
    u, s, _ = np.linalg.svd(F, full_matrices=False)
    top = s[:1].max(initial=0.0)
    rank = int((s > top * max(F.shape) * np.finfo(float).eps).sum())
    # the evidence does not depend on the features' scale: work with the largest
    # singular value at 1, so that LOGME_EPSILON means the same for every source
    u, sigma = u[:, :rank], (s[:rank] / top) ** 2 if rank else s[:0]
    x2 = (u.T @ z) ** 2
    outside = max(float(z @ z - x2.sum()), 0.0)  # part of z no feature spans

    def terms(alpha, beta):
        t = alpha / beta
        gamma = float((sigma / (sigma + t)).sum())
        m2 = float((sigma * x2 / (sigma + t) ** 2).sum())  # ||posterior mean||^2
        res2 = float((x2 * (t / (sigma + t)) ** 2).sum()) + outside
        return gamma, m2, res2

    if rank == 0:
        beta = n_dof / max(outside, LOGME_EPSILON)
        evidence = n_dof * (np.log(beta) - np.log(2 * np.pi)) - beta * outside
        return evidence / 2 / n_dof, np.inf, beta
    alpha, beta = 1.0, 1.0
    for _ in range(LOGME_MAX_ITER):
        t = alpha / beta
        gamma, m2, res2 = terms(alpha, beta)
        alpha = gamma / (m2 + LOGME_EPSILON)
        beta = (n_dof - gamma) / (res2 + LOGME_EPSILON)
        if abs(alpha / beta - t) <= LOGME_TOL * t:
            break
    _, m2, res2 = terms(alpha, beta)
    # log|A| of A = alpha I + beta F'F has d - rank eigenvalues equal to alpha;
    # they cancel against d/2 log(alpha), leaving rank/2 log(alpha)
    evidence = (
        rank * np.log(alpha)
        + n_dof * np.log(beta)
        - np.log(alpha + beta * sigma).sum()
        - beta * res2
        - alpha * m2
        - n_dof * np.log(2 * np.pi)
    )
    return float(evidence / 2 / n_dof), alpha * top**2, beta


def _probe_loo_r2(features, y):
    """Leave-one-out R^2 of a ridge regression of ``y`` on ``features``.

    The ridge strength is the one with the lowest leave-one-out error on a
    grid scaled to the features' largest singular value.

    Parameters
    ----------
    features : ndarray of shape (n, d)
        Features of the labelled rows.
    y : ndarray of shape (n,)
        The task's targets on those rows (not constant).

    Returns
    -------
    r2 : float
        ``1 - LOO mean squared error / variance of y``.
    """
    centred = features - features.mean(axis=0)
    top = np.linalg.svd(centred, compute_uv=False)[:1].max(initial=0.0) ** 2
    grid = max(top, 1e-12) * ALPHAS
    ridge = RidgeCV(alphas=grid, store_cv_results=True).fit(features, y)
    loo_mse = ridge.cv_results_.reshape(len(y), -1).mean(axis=0).min()
    return float(1.0 - loo_mse / y.var())


SCORERS = {
    "logme": lambda features, y: _log_maximum_evidence(features, y)[0],
    "linear_probe": _probe_loo_r2,
}


def _check_target(y, n_samples):
    """Validate ``y``; return it 2-D with its task names."""
    Y, _, task_names = check_multitask_y(y, n_samples=n_samples)
    for t, name in enumerate(task_names):
        labelled = Y[~np.isnan(Y[:, t]), t]
        if len(labelled) < MIN_LABELLED_ROWS:
            raise ValueError(
                f"Task {name!r} has {len(labelled)} labelled row(s); a "
                f"transferability score needs at least {MIN_LABELLED_ROWS}."
            )
        if np.ptp(labelled) == 0:
            raise ValueError(
                f"Task {name!r} has constant labelled targets: no features can "
                "explain it better than its mean, so it cannot rank sources."
            )
    return Y


def _task_scores(features, Y, method):
    """Score each column of ``Y`` on its labelled rows."""
    scorer = SCORERS[method]
    scores = []
    for t in range(Y.shape[1]):
        rows = ~np.isnan(Y[:, t])
        scores.append(scorer(features[rows], Y[rows, t]))
    return np.asarray(scores)


_COMMON_CONSTRAINTS = {
    "X": ["array-like"],
    "y": ["array-like"],
    "method": [StrOptions(set(METHODS))],
}


@validate_params(
    {
        "source": [object],
        **_COMMON_CONSTRAINTS,
        "multioutput": [StrOptions({"raw_values", "uniform_average"})],
    },
    prefer_skip_nested_validation=True,
)
def transferability_score(
    source, X, y, *, method="logme", multioutput="uniform_average"
):
    """Estimate how well a fitted source's features serve a target, without fine-tuning.

    The source's trunk is run on ``X`` (nothing trains) and each target task
    is scored on its labelled rows by how well a linear model on those
    features explains it. The scores rank candidate sources for one target:
    compare them across sources on the same ``X, y``, not across targets.

    Parameters
    ----------
    source : estimator, skorch net or torch.nn.Module
        A fitted :class:`~sklearn_mtl.MultiTaskRegressor` or
        :class:`~sklearn_mtl.TransferEstimator` (or a
        :class:`sklearn.frozen.FrozenEstimator` of one), a fitted skorch
        ``NeuralNet`` or a trunk module: anything
        :class:`~sklearn_mtl.TransferEstimator` accepts as ``source``.
    X : array-like of shape (n_samples, n_features)
        Target inputs, with the columns (and scaling) the source was trained
        on.
    y : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Target values; NaN marks a cell not labelled for that task. Each task
        needs at least 3 labelled rows and must not be constant on them.
    method : {"logme", "linear_probe"}, default="logme"
        - ``"logme"``: LogME (You et al. 2021), the log evidence per row of
          Bayesian linear regression on the features, maximised over the
          prior and noise precisions. The features are centred (the head has
          an intercept) and the task scaled to unit variance, so a source
          whose features carry nothing about a task scores about
          ``-(1 + log(2 pi)) / 2 = -1.42`` on it; higher is better.
        - ``"linear_probe"``: the leave-one-out R^2 of a ridge regression on
          the features, its strength chosen by leave-one-out error: what the
          linear probe of :class:`~sklearn_mtl.TransferEstimator` would
          reach. 1 is a perfect fit, about 0 (or below) means no use.
    multioutput : {"uniform_average", "raw_values"}, default="uniform_average"
        Average the task scores, or return one per task.

    Returns
    -------
    score : float or ndarray of shape (n_tasks,)
        The mean score over tasks, or the score of each task.

    See Also
    --------
    rank_sources : Score and order several candidate sources.

    Notes
    -----
    LogME fits, per task, ``y = F w + b + e`` with ``w ~ N(0, I / alpha)`` and
    ``e ~ N(0, I / beta)`` on the features ``F`` and returns
    ``max_{alpha, beta} log p(y | F, alpha, beta) / (n - 1)``. The maximum is
    found by the fixed-point iteration of the reference implementation on the
    singular values of the centred features. Unlike the reference code, the
    log-determinant keeps the ``d - rank`` zero singular values (so the score
    of features wider than the number of rows is the exact evidence), and a
    flat prior on the intercept removes one degree of freedom.

    References
    ----------
    You, Liu, Wang and Long (2021), "LogME: Practical Assessment of Pre-trained
    Models for Transfer Learning", ICML.

    Examples
    --------
    >>> from sklearn_mtl import MultiTaskRegressor, transferability_score
    >>> from sklearn_mtl.datasets import make_multitask_regression
    >>> X, Y = make_multitask_regression(n_samples=300, n_tasks=3, random_state=0)
    >>> source = MultiTaskRegressor(max_epochs=20, random_state=0).fit(X, Y[:, :2])
    >>> score = transferability_score(source, X[:50], Y[:50, 2])
    >>> bool(score > -1.42)  # better than features that carry nothing
    True
    >>> transferability_score(source, X[:50], Y[:50], multioutput="raw_values").shape
    (3,)
    """
    features = _source_features(source, X)
    Y = _check_target(y, len(features))
    scores = _task_scores(features, Y, method)
    return scores if multioutput == "raw_values" else float(scores.mean())


@validate_params(
    {"sources": [Mapping, list, tuple], **_COMMON_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def rank_sources(sources, X, y, *, method="logme"):
    """Score several candidate sources on one target and order them, best first.

    Each source is scored by :func:`transferability_score` on the same
    ``X, y``; nothing is fine-tuned.

    Parameters
    ----------
    sources : dict of str to source, or list of sources
        The candidates: anything :class:`~sklearn_mtl.TransferEstimator`
        accepts as ``source`` (except None). A list is named by position
        (``0, 1, ...``).
    X : array-like of shape (n_samples, n_features)
        Target inputs, with the columns every source was trained on.
    y : array-like of shape (n_samples,) or (n_samples, n_tasks)
        Target values; NaN marks a cell not labelled for that task.
    method : {"logme", "linear_probe"}, default="logme"
        The score (see :func:`transferability_score`); higher is better.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With attributes:

        - ``scores``: dict of name to the mean score over tasks, in the
          order of ``sources``;
        - ``task_scores``: dict of name to an ndarray of shape (n_tasks,);
        - ``ranking``: list of names, highest score first (ties keep the
          order of ``sources``);
        - ``best``: the first name of ``ranking``.

    See Also
    --------
    transferability_score : The score of one source.

    Examples
    --------
    >>> from torch import nn
    >>> from sklearn_mtl import MultiTaskRegressor, rank_sources
    >>> from sklearn_mtl.datasets import make_multitask_regression
    >>> X, Y = make_multitask_regression(n_samples=300, n_tasks=3, random_state=0)
    >>> trained = MultiTaskRegressor(max_epochs=20, random_state=0).fit(X, Y[:, :2])
    >>> constant = nn.Sequential(nn.Linear(X.shape[1], 8))
    >>> _ = nn.init.zeros_(constant[0].weight)
    >>> candidates = {"trained": trained, "constant": constant}
    >>> result = rank_sources(candidates, X[:50], Y[:50, 2])
    >>> result.ranking
    ['trained', 'constant']
    >>> round(result.scores["constant"], 2)
    -1.42
    """
    named = (
        dict(sources.items())
        if isinstance(sources, Mapping)
        else dict(enumerate(sources))
    )
    if not named:
        raise ValueError("sources is empty: give at least one candidate source.")
    Y = None
    task_scores = {}
    for name, source in named.items():
        try:
            features = _source_features(source, X)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"Source {name!r}: {exc}") from exc
        if Y is None:
            Y = _check_target(y, len(features))
        task_scores[name] = _task_scores(features, Y, method)
    scores = {name: float(values.mean()) for name, values in task_scores.items()}
    ranking = sorted(scores, key=lambda name: -scores[name])  # stable for ties
    return Bunch(
        scores=scores, task_scores=task_scores, ranking=ranking, best=ranking[0]
    )
