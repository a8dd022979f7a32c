"""Equal and fixed task weights."""

import numpy as np
import torch

from ._base import TaskWeighting

__all__ = ["EqualWeighting", "FixedWeighting"]


class EqualWeighting(TaskWeighting):
    """Every task weighs ``1 / n_tasks``: the objective is the mean task loss.

    Examples
    --------
    >>> from sklearn_mtl.weighting import EqualWeighting
    >>> EqualWeighting().initialize(n_tasks=4, device="cpu").weights_
    array([0.25, 0.25, 0.25, 0.25])
    """


class FixedWeighting(TaskWeighting):
    """Weights fixed by the user: the objective is ``sum_t weights[t] * L_t``.

    Parameters
    ----------
    weights : array-like of shape (n_tasks,)
        Non-negative, finite, not all zero. Used as given (not normalised).

    Examples
    --------
    >>> from sklearn_mtl.weighting import FixedWeighting
    >>> FixedWeighting([2.0, 1.0]).initialize(n_tasks=2, device="cpu").weights_
    array([2., 1.])
    """

    def __init__(self, weights):
        self.weights = weights

    def initialize(self, n_tasks, device):
        """Check the weights against ``n_tasks`` and put them on ``device``."""
        weights = np.asarray(self.weights, dtype=np.float64)
        if weights.shape != (n_tasks,):
            raise ValueError(
                f"task weights have shape {weights.shape}, but y has {n_tasks} "
                f"task(s): give one weight per task."
            )
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError(
                f"task weights must be finite and >= 0, got {weights.tolist()}."
            )
        if not np.any(weights > 0):
            raise ValueError("task weights are all zero: nothing would be trained.")
        self.n_tasks_ = n_tasks
        self.weights_ = weights
        self._weights_tensor = torch.as_tensor(
            weights, dtype=torch.float32, device=device
        )
        return self
