"""The regression estimators' predict and score, on the shared fit skeleton."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_array

from ._base import BaseNetwork
from ._checks import TORCH_SUM_VALUES, is_plain_array_as_fitted, sum_is_finite
from .metrics import masked_r2_score

__all__ = ["BaseNetworkRegressor"]


class BaseNetworkRegressor(RegressorMixin, BaseNetwork):
    """The regression estimators' predict and score, on :class:`BaseNetwork`."""

    def predict(self, X):
        """Predict every task for ``X``, in bounded batches.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
            float64 predictions in the original target units; 1-D when the
            estimator was fitted on a 1-D ``y``.
        """
        self._check_fitted()
        # a large plain array is checked for NaN and infinity as its rows are
        # converted for the network (fewer bytes to read in float32, and read
        # while in cache); where a chunk's sum is not finite, X is validated
        # in full, which raises if X holds them
        in_pass = getattr(X, "size", 0) >= TORCH_SUM_VALUES and (
            is_plain_array_as_fitted(self, X, finite=False)
        )
        if not in_pass:
            X = self._validate_X(X, reset=False)
        affine = self._target_scale, self._target_mean  # applied in the pass
        Y = self._predict_standardized(
            X, check_finite=False, affine=affine, check_rows=in_pass
        )
        if Y is None:  # not finite as converted, or a sum that overflowed
            X = self._validate_X(X, reset=False)
            Y = self._predict_standardized(X, check_finite=False, affine=affine)
        if not (sum_is_finite(Y) or np.isfinite(Y).all()):  # once, in target units
            self._predict_standardized(X)  # raises if the network's output is not
            raise ValueError(
                "The predictions overflow float64 in the units of the target y; "
                "rescale y (e.g. divide it by a power of ten) and fit again."
            )
        return Y.ravel() if self._y_is_1d else Y

    def score(self, X, y, sample_weight=None):
        """R^2 per task on its labelled rows, averaged uniformly over tasks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            True targets; NaN cells are left out of their task's score.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; a task whose labelled rows all weigh
            0 is left out with a warning.

        Returns
        -------
        score : float
            Mean over tasks of R^2, as
            :func:`sklearn_mtl.metrics.masked_r2_score` computes it: a task
            with no labelled row in ``y`` is left out with a ``UserWarning``
            that names it.

        Raises
        ------
        ValueError
            If no task of ``y`` has a labelled row, or ``y`` or
            ``sample_weight`` is malformed.
        """
        check_array(  # y's own errors before the cost of predicting
            y,
            ensure_2d=False,
            dtype=np.float64,
            ensure_all_finite="allow-nan",
            input_name="y",
        )
        return masked_r2_score(y, self.predict(X), sample_weight=sample_weight)
