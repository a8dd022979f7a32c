"""GradNorm (Chen et al. 2018): weights that balance the tasks' gradient norms."""

from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from ._adam import AdamStepMixin
from ._base import TaskWeighting
from ._budget import BUDGET_CONSTRAINT, DEFAULT_MAX_TASKS_PER_STEP, TaskBudgetMixin

__all__ = ["GradNormWeighting"]

# floor of a weight after a step, relative to an equal weight
MIN_RELATIVE_WEIGHT = 1e-6


class GradNormWeighting(TaskBudgetMixin, AdamStepMixin, TaskWeighting):
    r"""Learn weights that give every task a gradient norm matched to its progress.

    On each mini-batch, with :math:`g_t` the gradient of task ``t``'s loss on
    the shared parameters, :math:`G_t = w_t \lVert g_t \rVert` its weighted
    norm and :math:`\bar G` their mean over the tasks present, GradNorm moves
    the weights down the gradient of

    .. math::

        \sum_t \bigl| G_t - \bar G \, \rho_t^{\alpha} \bigr|, \qquad
        \rho_t = \frac{\tilde L_t}{\operatorname{mean}_s \tilde L_s}, \quad
        \tilde L_t = \frac{L_t}{L_t(0)},

    with the target :math:`\bar G \rho_t^\alpha` held constant. A task that has
    trained more slowly than the others (large :math:`\rho_t`) is given a larger
    gradient norm, a fast one a smaller one. :math:`L_t(0)` is the task's
    loss the first time it appears in a mini-batch. The weights take one Adam
    step of size ``lr``, are kept positive, and are renormalised so that they
    still sum to 1 (equal weights are ``1 / n_tasks``).

    The shared parameters are updated along :math:`\sum_t w_t g_t`; the
    heads follow the gradient of :math:`\sum_t w_t L_t`.

    Parameters
    ----------
    alpha : float, default=1.5
        Strength of the pull towards equal training rates (the asymmetry);
        0 asks for equal gradient norms whatever the training rates.
    lr : float, default=0.025
        Step size of the Adam updates of the weights.
    max_tasks_per_step : int >= 2 or None, default=8
        At most this many present tasks have their gradient norms measured in
        a step; when more are present, that many are drawn at random and only
        their weights move (see Notes). None measures every present task.

    Attributes
    ----------
    n_tasks_ : int
        Number of tasks.
    weights_ : ndarray of shape (`n_tasks_`,)
        The current weights (they sum to 1), updated once per epoch.
    initial_losses_ : ndarray of shape (`n_tasks_`,)
        :math:`L_t(0)`; NaN for a task not yet seen. Updated once per epoch.

    See Also
    --------
    UncertaintyWeighting : Weights from each task's learnt noise level.
    MGDAWeighting : A shared update that no task's loss opposes.

    Notes
    -----
    The gradient norms are taken over all shared parameters (Chen et al. use
    the last shared layer; the per-task gradients on the whole trunk are
    available here anyway). A task absent from a mini-batch is left out of
    :math:`\bar G` and of the mean of the :math:`\tilde L`, and its weight and
    Adam moments stay as they were: only the weights of the present tasks
    move, and their total is kept. With a single task present nothing moves.

    The norms cost one backward pass per task. With more than
    ``max_tasks_per_step`` tasks present, a random subset of that size is
    drawn anew each step (task sub-sampling as in Liu et al.'s practical
    CAGrad [2]_) and takes the place of the present tasks above:
    :math:`\bar G`, the mean training rate and the step of the weights use
    only the drawn tasks, whose weights keep their total, and
    :math:`L_t(0)` is a task's loss the first time it is drawn. The shared update
    is still :math:`\sum_t w_t g_t` over every present task (the drawn
    tasks' gradients plus the plain gradient of the others' weighted losses),
    so only the weights' step is estimated from a sample. Within the budget
    the method is as described above.

    References
    ----------
    .. [1] Z. Chen, V. Badrinarayanan, C.-Y. Lee and A. Rabinovich,
       "GradNorm: gradient normalization for adaptive loss balancing in deep
       multitask networks", ICML 2018.
    .. [2] B. Liu, X. Liu, X. Jin, P. Stone and Q. Liu, "Conflict-averse
       gradient descent for multi-task learning", NeurIPS 2021.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mtl.weighting import GradNormWeighting
    >>> weighting = GradNormWeighting(lr=0.1).initialize(2, "cpu")
    >>> gradients = torch.tensor([[10.0, 0.0], [0.0, 1.0]])
    >>> losses, tasks = torch.tensor([1.0, 1.0]), torch.tensor([0, 1])
    >>> weighting.combine_gradients(gradients, losses, tasks)
    tensor([5.0000, 0.5000])
    >>> weighting.after_backward()
    >>> weighting.end_epoch(losses.numpy())
    >>> weighting.weights_.round(3)  # the task with the large gradient loses weight
    array([0.4, 0.6])
    """

    needs_gradients = True

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_tasks_per_step": BUDGET_CONSTRAINT,
    }

    def __init__(
        self, alpha=1.5, lr=0.025, max_tasks_per_step=DEFAULT_MAX_TASKS_PER_STEP
    ):
        self.alpha = alpha
        self.lr = lr
        self.max_tasks_per_step = max_tasks_per_step

    def initialize(self, n_tasks, device):
        """Start from equal weights, with no initial loss seen; return self."""
        self._validate_params()
        super().initialize(n_tasks, device)
        self.initial_losses_ = np.full(n_tasks, np.nan)
        self._initial_losses = torch.full(
            (n_tasks,), float("nan"), dtype=torch.float32, device=device
        )
        self._reset_adam_state(n_tasks, device)
        return self

    def combine_gradients(self, gradients, task_losses, tasks):
        """Return ``sum_t w_t g_t``; prepare the step of the weights."""
        weights = self._weights_tensor[tasks].to(gradients.dtype)
        combined = weights @ gradients
        losses = task_losses.float()
        initial = self._initial_losses[tasks]
        initial = torch.where(torch.isnan(initial), losses, initial)
        self._initial_losses[tasks] = initial
        if len(tasks) < 2:
            return combined
        norms = torch.linalg.vector_norm(gradients, dim=1).float()
        weighted_norms = weights.float() * norms
        training_rates = torch.where(initial > 0, losses / initial, 1.0)
        relative_rates = training_rates / training_rates.mean().clamp_min(1e-12)
        target = weighted_norms.mean() * relative_rates**self.alpha
        gradient = torch.zeros_like(self._weights_tensor)
        gradient[tasks] = torch.sign(weighted_norms - target) * norms
        present = torch.zeros_like(self._weights_tensor, dtype=torch.bool)
        present[tasks] = True
        self._pending = (gradient, present)
        return combined

    def after_backward(self):
        """Take one Adam step on the present tasks' weights; keep their total."""
        if self._pending is None:
            return
        weights = self._weights_tensor
        total = weights[self._pending[1]].sum()  # before the step moves them
        present = self._take_pending_step(weights)
        floor = MIN_RELATIVE_WEIGHT / self.n_tasks_
        moved = weights.clamp_min(floor)
        moved = moved * total / moved[present].sum()
        weights.copy_(torch.where(present, moved, weights))

    def end_epoch(self, task_losses):
        """Record the current weights and initial losses."""
        self.weights_ = self._weights_tensor.double().cpu().numpy()
        self.initial_losses_ = self._initial_losses.double().cpu().numpy()
