"""The linear probe: a ridge regression of each task on the trunk's features.

The probe is solved in closed form with the ridge strength chosen by efficient
leave-one-out cross-validation (sklearn's ``RidgeCV``) and the
one-standard-error rule. When a prior head is
given (the source's own head, mapped to the target's units), the ridge is fit
to the residual of the prior, i.e. it shrinks toward the prior instead of
toward zero: with little target data the probe stays at the source's head,
with more data it moves away as far as cross-validation supports.
"""

import numpy as np
from sklearn.linear_model import Ridge, RidgeCV

__all__ = ["fit_linear_probe"]

ALPHAS = np.logspace(-4, 4, 17)
MIN_ROWS_FOR_CV = 3
ROWS_PER_DEGREE_OF_FREEDOM = 5


def fit_linear_probe(features, Z, cell_weights, prior_weight=None, prior_bias=None):
    """Closed-form ridge head per task, shrunk toward an optional prior.

    For each task the candidates are the prior itself and ridge fits of the
    prior's residual whose effective degrees of freedom stay at most one per
    ``ROWS_PER_DEGREE_OF_FREEDOM`` labelled rows. The choice is made by
    leave-one-out error with the one-standard-error rule, preferring the
    prior, then stronger shrinkage: a few target rows can move the head only
    as far as they clearly support.

    Parameters
    ----------
    features : ndarray of shape (n_samples, d)
        Trunk features.
    Z : ndarray of shape (n_samples, n_tasks)
        Standardised targets (ignored where ``cell_weights`` is 0).
    cell_weights : ndarray of shape (n_samples, n_tasks)
        Sample weight where labelled, 0 elsewhere.
    prior_weight : ndarray of shape (n_tasks, d), default=None
        Head weights to shrink toward; zeros when None.
    prior_bias : ndarray of shape (n_tasks,), default=None
        Head biases of the prior; zeros when None.

    Returns
    -------
    weight : ndarray of shape (n_tasks, d)
    bias : ndarray of shape (n_tasks,)
    alphas : ndarray of shape (n_tasks,)
        The ridge strength chosen for each task; ``inf`` where the prior was
        kept unchanged.
    """
    n_tasks, d = Z.shape[1], features.shape[1]
    prior_weight = np.zeros((n_tasks, d)) if prior_weight is None else prior_weight
    prior_bias = np.zeros(n_tasks) if prior_bias is None else prior_bias
    weight, bias = prior_weight.copy(), prior_bias.copy()
    alphas = np.full(n_tasks, np.inf)
    for t in range(n_tasks):
        rows = cell_weights[:, t] > 0
        if rows.sum() < MIN_ROWS_FOR_CV:
            continue
        F, w = features[rows], cell_weights[rows, t]
        residual = Z[rows, t] - (F @ prior_weight[t] + prior_bias[t])
        grid = _affordable_alphas(F, len(F) / ROWS_PER_DEGREE_OF_FREEDOM)
        loo = RidgeCV(alphas=grid, store_cv_results=True).fit(
            F, residual, sample_weight=w
        )
        # candidate 0 is the prior: its leave-one-out error is the residual itself
        errors = np.column_stack([residual**2, loo.cv_results_.reshape(len(F), -1)])
        choice = _one_standard_error_choice(errors, w)
        if choice == 0:
            continue
        alpha = grid[choice - 1]
        ridge = Ridge(alpha=alpha).fit(F, residual, sample_weight=w)
        weight[t] += ridge.coef_
        bias[t] += ridge.intercept_
        alphas[t] = alpha
    return weight, bias, alphas


def _affordable_alphas(F, max_dof):
    """Ridge strengths, strongest first, whose degrees of freedom are <= max_dof.

    The degrees of freedom of ridge at strength ``a`` are
    ``sum_i s_i^2 / (s_i^2 + a)`` over the singular values of the centred
    features, plus one for the intercept.
    """
    s2 = np.linalg.svd(F - F.mean(axis=0), compute_uv=False) ** 2
    top = max(float(s2.max()), 1e-12)
    grid = top * ALPHAS[::-1]
    dof = 1 + (s2[None, :] / (s2[None, :] + grid[:, None])).sum(axis=1)
    affordable = grid[dof <= max(max_dof, 1.0)]
    return affordable if affordable.size else grid[:1]


def _one_standard_error_choice(errors, weights):
    """Index of the simplest candidate within one standard error of the best.

    Candidates are ordered simplest first. On a handful of rows the
    leave-one-out minimum is noisy; the one-standard-error rule (Hastie et al.,
    The Elements of Statistical Learning, 7.10) keeps the simplest candidate
    that is not distinguishably worse than the best.
    """
    w = weights / weights.sum()
    mean = w @ errors
    best = int(np.argmin(mean))
    spread = np.sqrt(w @ (errors[:, best] - mean[best]) ** 2 / max(len(w) - 1, 1))
    return int(np.flatnonzero(mean <= mean[best] + spread)[0])
