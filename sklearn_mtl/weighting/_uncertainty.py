"""Uncertainty weighting (Kendall et al. 2018): learnt per-task noise scales."""

from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from ._adam import AdamStepMixin
from ._base import TaskWeighting

__all__ = ["UncertaintyWeighting"]


class UncertaintyWeighting(AdamStepMixin, TaskWeighting):
    r"""Weight each task by a learnt estimate of its noise: noisy tasks count less.

    The objective is :math:`\sum_t \tfrac12 e^{-s_t} L_t + \tfrac12 s_t`, the
    regression form of Kendall et al. (2018), where :math:`s_t` is the log of
    task ``t``'s noise variance. The :math:`s_t` start at 0 and are learnt with
    their own Adam step of size ``lr`` after every mini-batch. For a fixed
    network the optimum is :math:`s_t = \log L_t`, i.e. weight
    :math:`1 / (2 L_t)`: a task whose loss is large (noisy, or on a large
    scale) is down-weighted, and the :math:`s_t` term stops all weights from
    going to zero.

    Parameters
    ----------
    lr : float, default=0.01
        Step size of the Adam updates of the log-variances. The estimator's
        targets are standardised by default, so losses start near 1 and the
        log-variances near their optimum; with ``standardize_targets=False``
        and targets on very different scales the log-variances must travel
        further (about ``log(loss)``), and a larger ``lr`` gets them there in
        fewer steps.

    Attributes
    ----------
    n_tasks_ : int
        Number of tasks.
    weights_ : ndarray of shape (`n_tasks_`,)
        The current multipliers :math:`\tfrac12 e^{-s_t}` of the task losses
        (0.5 at the start), updated once per epoch.
    log_variances_ : ndarray of shape (`n_tasks_`,)
        The current :math:`s_t`, updated once per epoch.

    See Also
    --------
    DWAWeighting : Weights from how fast each task's loss falls.
    GradNormWeighting : Weights that balance the tasks' gradient norms.

    Notes
    -----
    A task absent from a mini-batch adds neither term, and its :math:`s_t`
    and Adam moments stay as they were. At the start the weights sum to
    ``n_tasks / 2`` rather than 1, so the data term is ``n_tasks / 2`` times
    that of :class:`EqualWeighting` relative to the ``alpha`` penalty.

    References
    ----------
    .. [1] A. Kendall, Y. Gal and R. Cipolla, "Multi-task learning using
       uncertainty to weigh losses for scene geometry and semantics", CVPR
       2018.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mtl.weighting import UncertaintyWeighting
    >>> weighting = UncertaintyWeighting(lr=0.1).initialize(2, "cpu")
    >>> losses = torch.tensor([4.0, 0.25], requires_grad=True)
    >>> weighting.combine(losses, torch.tensor([True, True])).item()
    2.125
    >>> weighting.after_backward()
    >>> weighting.end_epoch(losses.detach().numpy())
    >>> weighting.log_variances_.round(2)  # the large loss raises its s_t
    array([ 0.1, -0.1])
    >>> weighting.weights_.round(3)
    array([0.452, 0.553])
    """

    _parameter_constraints: dict = {
        "lr": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, lr=0.01):
        self.lr = lr

    def initialize(self, n_tasks, device):
        """Set every log-variance to 0; return self."""
        self._validate_params()
        super().initialize(n_tasks, device)
        self.weights_ = np.full(n_tasks, 0.5)
        self.log_variances_ = np.zeros(n_tasks)
        self._log_variances = torch.zeros(n_tasks, dtype=torch.float32, device=device)
        self._reset_adam_state(n_tasks, device)
        return self

    def combine(self, task_losses, present):
        """Return ``sum_t 0.5 * exp(-s_t) * L_t + 0.5 * s_t`` over present tasks."""
        s = self._log_variances.to(task_losses.dtype)
        precision = torch.exp(-s)
        terms = 0.5 * precision * task_losses + 0.5 * s
        if task_losses.requires_grad:  # a training batch: the step follows
            gradient = 0.5 - 0.5 * precision * task_losses.detach()
            self._pending = (gradient.float(), present)
        return torch.where(present, terms, torch.zeros_like(terms)).sum()

    def after_backward(self):
        """Take one Adam step on the present tasks' log-variances."""
        self._take_pending_step(self._log_variances)

    def end_epoch(self, task_losses):
        """Record the current log-variances and weights."""
        self.log_variances_ = self._log_variances.double().cpu().numpy()
        self.weights_ = 0.5 * np.exp(-self.log_variances_)
