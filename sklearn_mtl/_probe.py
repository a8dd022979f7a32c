"""The linear probe: a ridge regression of each task on the trunk's features.

The probe is solved in closed form with the ridge strength chosen by efficient
leave-one-out cross-validation (sklearn's ``RidgeCV``) and the
one-standard-error rule. When a prior head is
given (the source's own head, mapped to the target's units), the ridge is fit
to the residual of the prior, i.e. it shrinks toward the prior instead of
toward zero: with little target data the probe stays at the source's head,
with more data it moves away as far as cross-validation supports.
"""

import inspect
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    LogisticRegression,
    LogisticRegressionCV,
    Ridge,
    RidgeCV,
)
from sklearn.model_selection import StratifiedKFold

__all__ = ["fit_linear_probe", "fit_logistic_probe"]

ALPHAS = np.logspace(-4, 4, 17)
MIN_ROWS_FOR_CV = 3
ROWS_PER_DEGREE_OF_FREEDOM = 5
# inverse strengths the logistic probe chooses from, by cross-validated log-loss
LOGISTIC_CS = np.logspace(-4, 4, 9)
LOGISTIC_FOLDS = 5
# logit offset of a class the probe's rows never show (probability ~ e^-10)
ABSENT_CLASS_LOGIT = -10.0
# scikit-learn >= 1.8 warns unless these are set; earlier versions lack them
_LOGISTIC_CV_OPTIONS = {
    name: value
    for name, value in {"l1_ratios": (0.0,), "use_legacy_attributes": False}.items()
    if name in inspect.signature(LogisticRegressionCV).parameters
}


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


def fit_logistic_probe(features, codes, cell_weights, task_losses):
    """Logistic-regression head per classification task on the trunk's features.

    Each task's strength ``C`` is chosen by stratified K-fold log-loss
    (sklearn's ``LogisticRegressionCV``, up to 5 folds, as many as the rarest
    class allows); with fewer than 2 rows in some class, ``C = 1``. The
    features are standardised for the solver and the coefficients mapped
    back, so the head reads the raw features.

    Parameters
    ----------
    features : ndarray of shape (n_samples, d)
        Trunk features.
    codes : ndarray of shape (n_samples, n_tasks)
        Class codes (ignored where ``cell_weights`` is 0).
    cell_weights : ndarray of shape (n_samples, n_tasks)
        Sample (and class) weight where labelled, 0 elsewhere.
    task_losses : list of TaskLoss
        Each task's loss: ``n_outputs`` 1 (binary: the logit of class 1) or
        ``K`` (one logit per class).

    Returns
    -------
    weight : ndarray of shape (n_outputs, d)
    bias : ndarray of shape (n_outputs,)
    alphas : ndarray of shape (n_tasks,)
        ``1 / C`` chosen for each task; ``inf`` where no probe was fitted
        (a single class).
    """
    d = features.shape[1]
    widths = [loss.n_outputs for loss in task_losses]
    starts = np.concatenate(([0], np.cumsum(widths)[:-1])).astype(int)
    weight, bias = np.zeros((sum(widths), d)), np.zeros(sum(widths))
    alphas = np.full(len(task_losses), np.inf)
    mean, std = features.mean(axis=0), features.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    for t, (start, width) in enumerate(zip(starts, widths, strict=True)):
        rows = cell_weights[:, t] > 0
        y = codes[rows, t].astype(int)
        present = np.unique(y)
        if len(present) < 2:
            continue
        F, w = (features[rows] - mean) / std, cell_weights[rows, t]
        folds = min(LOGISTIC_FOLDS, int(np.bincount(y)[present].min()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if folds >= 2:
                model = LogisticRegressionCV(
                    Cs=LOGISTIC_CS,
                    cv=StratifiedKFold(folds, shuffle=True, random_state=0),
                    scoring="neg_log_loss",
                    max_iter=1000,
                    **_LOGISTIC_CV_OPTIONS,
                ).fit(F, y, sample_weight=w)
                C = float(np.ravel(model.C_)[0])
            else:
                C = 1.0
                model = LogisticRegression(C=C, max_iter=1000).fit(
                    F, y, sample_weight=w
                )
        coef = model.coef_ / std  # back to raw features
        intercept = model.intercept_ - coef @ mean
        if width == 1:  # binary: the logit of class 1
            weight[start], bias[start] = coef[0], intercept[0]
        else:
            rows_out = start + present
            if len(present) == 2:  # sklearn's one logit for two present classes
                coef = np.vstack([np.zeros(d), coef[0]])
                intercept = np.array([0.0, intercept[0]])
            bias[start : start + width] = intercept.min() + ABSENT_CLASS_LOGIT
            weight[rows_out], bias[rows_out] = coef, intercept
        alphas[t] = 1.0 / C
    return weight, bias, alphas
