"""Dynamic weight average (Liu et al. 2019): favour the tasks that learn slowly."""

from numbers import Real

import numpy as np
import torch
from scipy.special import softmax
from sklearn.utils._param_validation import Interval

from ._base import TaskWeighting

__all__ = ["DWAWeighting"]


class DWAWeighting(TaskWeighting):
    r"""Weight each task by how slowly its loss has been falling.

    After each epoch ``e`` (from the second on) the weights become

    .. math::

        w_t = \operatorname{softmax}_t\left(r_t / T\right), \qquad
        r_t = \frac{L_t(e)}{L_t(e - 1)},

    where :math:`L_t(e)` is task ``t``'s mean training loss in epoch ``e``
    and :math:`T` the ``temperature``. A task whose loss fell less than the
    others' (larger :math:`r_t`) gets more weight in the next epoch. The
    first two epochs use equal weights. The weights sum to 1 (equal weights
    are ``1 / n_tasks``), so the objective stays on the scale of
    :class:`EqualWeighting`.

    Parameters
    ----------
    temperature : float, default=2.0
        Softness of the weights: large values make them close to equal,
        small ones put nearly all weight on the slowest task.

    Attributes
    ----------
    n_tasks_ : int
        Number of tasks.
    weights_ : ndarray of shape (`n_tasks_`,)
        The weights used in the next epoch.
    loss_history_ : ndarray of shape (n_epochs_seen, `n_tasks_`)
        The mean training losses of the last (up to) two epochs, oldest
        first.

    See Also
    --------
    UncertaintyWeighting : Weights from each task's learnt noise level.

    Notes
    -----
    The ratios use the epoch means the estimator records as
    ``history_[:, "train_task_loss"]``. A task whose loss in either epoch is
    not positive and finite (it had no labelled training row) gets ratio 1.
    Liu et al. multiply the weights by the number of tasks; here they sum to
    1 instead, which only rescales the objective.

    References
    ----------
    .. [1] S. Liu, E. Johns and A. J. Davison, "End-to-end multi-task
       learning with attention", CVPR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl.weighting import DWAWeighting
    >>> weighting = DWAWeighting(temperature=2.0).initialize(2, "cpu")
    >>> weighting.end_epoch(np.array([1.0, 1.0]))
    >>> weighting.weights_
    array([0.5, 0.5])
    >>> weighting.end_epoch(np.array([0.5, 1.0]))  # task 0 learnt, task 1 did not
    >>> weighting.weights_.round(3)
    array([0.438, 0.562])
    """

    _parameter_constraints: dict = {
        "temperature": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, temperature=2.0):
        self.temperature = temperature

    def initialize(self, n_tasks, device):
        """Start with equal weights and no loss history; return self."""
        self._validate_params()
        super().initialize(n_tasks, device)
        self.loss_history_ = np.empty((0, n_tasks))
        return self

    def end_epoch(self, task_losses):
        """Recompute the weights from the last two epochs' losses."""
        losses = np.asarray(task_losses, dtype=np.float64)
        self.loss_history_ = np.vstack([self.loss_history_, losses])[-2:]
        if len(self.loss_history_) < 2:
            return
        previous, current = self.loss_history_
        usable = (
            np.isfinite(previous)
            & np.isfinite(current)
            & (previous > 0)
            & (current > 0)
        )
        ratios = np.divide(current, previous, out=np.ones_like(current), where=usable)
        self.weights_ = softmax(ratios / self.temperature)
        self._weights_tensor = torch.as_tensor(
            self.weights_,
            dtype=self._weights_tensor.dtype,
            device=self._weights_tensor.device,
        )
