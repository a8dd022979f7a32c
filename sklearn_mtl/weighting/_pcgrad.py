"""PCGrad (Yu et al. 2020): remove the conflicting part of each task's gradient."""

import numpy as np
import torch

from ._base import TaskWeighting
from ._budget import (
    BUDGET_CONSTRAINT,
    DEFAULT_MAX_TASKS_PER_STEP,
    TaskBudgetMixin,
    current_generator,
)

__all__ = ["PCGradWeighting"]


class PCGradWeighting(TaskBudgetMixin, TaskWeighting):
    r"""Project each task's gradient off the gradients it conflicts with.

    For every task ``i`` present in a mini-batch, and every other present
    task ``j`` in a random order, the shared-parameter gradient is projected
    onto the normal plane of :math:`g_j` when the two conflict
    (:math:`g_i' \cdot g_j < 0`):

    .. math::

        g_i' \leftarrow g_i' - \frac{g_i' \cdot g_j}{\lVert g_j \rVert^2} g_j .

    The shared parameters are updated along :math:`\sum_i g_i' / T` (``T`` the
    number of tasks), the scale of :class:`EqualWeighting`; the heads follow
    the gradient of the mean task loss, as with equal weighting. When no two
    gradients conflict this is exactly equal weighting.

    The random order is drawn from the generator the estimators' nets seed
    from their ``random_state`` during ``fit`` (torch's global generator
    outside a fit), so fits are reproducible, also beside fits in other
    threads.

    Parameters
    ----------
    max_tasks_per_step : int >= 2 or None, default=8
        At most this many present tasks have their gradients computed and
        projected in a step; when more are present, that many are drawn at
        random and the others add their plain gradient :math:`g_t / T`
        (see Notes). None projects every present task's gradient.

    Attributes
    ----------
    n_tasks_ : int
        Number of tasks.
    weights_ : ndarray of shape (`n_tasks_`,)
        ``1 / n_tasks`` for every task: the weights of the heads' losses.
        The projections have no per-task weight to record.

    See Also
    --------
    MGDAWeighting : A shared update that no task's loss opposes.

    Notes
    -----
    With two tasks the combined update has a non-negative inner product with
    both gradients. With more tasks, the projections remove every pairwise
    conflict of the projected gradient with the original ones, but the sum may
    still conflict with a task in rare cases (Yu et al., Theorem 1, covers two
    tasks).

    A step costs one backward pass per projected task and ``k**2`` inner
    products of gradients for ``k`` of them, which does not scale to hundreds
    of tasks. With more than ``max_tasks_per_step`` tasks present, a random
    subset ``S`` of that size is drawn anew each step (task sub-sampling as
    in Liu et al.'s practical CAGrad [2]_) and the update is
    :math:`(\sum_{i \in S} g_i' + \sum_{j \notin S} g_j) / T`, with the
    projections taken within ``S``: the computed gradients stay bounded by
    the budget, a pair of present tasks is projected with probability
    :math:`B (B - 1) / (k (k - 1))`, and without conflicts the update is still equal
    weighting's. Within the budget the method is exactly Yu et al.'s.

    References
    ----------
    .. [1] T. Yu, S. Kumar, A. Gupta, S. Levine, K. Hausman and C. Finn,
       "Gradient surgery for multi-task learning", NeurIPS 2020.
    .. [2] B. Liu, X. Liu, X. Jin, P. Stone and Q. Liu, "Conflict-averse
       gradient descent for multi-task learning", NeurIPS 2021.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mtl.weighting import PCGradWeighting
    >>> weighting = PCGradWeighting().initialize(2, "cpu")
    >>> gradients = torch.tensor([[1.0, 1.0], [-1.0, 0.0]])  # they conflict
    >>> weighting.combine_gradients(gradients, torch.ones(2), torch.tensor([0, 1]))
    tensor([-0.2500,  0.7500])
    """

    needs_gradients = True

    _parameter_constraints: dict = {"max_tasks_per_step": BUDGET_CONSTRAINT}

    def __init__(self, max_tasks_per_step=DEFAULT_MAX_TASKS_PER_STEP):
        self.max_tasks_per_step = max_tasks_per_step

    def initialize(self, n_tasks, device):
        """Start from equal weights for the heads; return self."""
        self._validate_params()
        return super().initialize(n_tasks, device)

    def combine_gradients(self, gradients, task_losses, tasks):
        """Return the mean over ``n_tasks`` of the projected gradients."""
        k = gradients.shape[0]
        # every projected gradient is a combination of the original ones, and
        # the projections need only their inner products: the steps run on
        # the (k, k) coefficients and Gram matrix, on the CPU in float64
        exact = gradients.double()
        gram = (exact @ exact.T).cpu().numpy()
        squared_norms = np.diag(gram)
        safe_norms = np.where(squared_norms > 0, squared_norms, 1.0)
        coefficients = np.eye(k)
        # one random order of the other tasks per task (drawn as the paper's
        # loop would); the k projections advance together, one step at a time
        generator = current_generator()
        order = torch.stack(
            [torch.randperm(k, generator=generator) for _ in range(k)]
        ).numpy()
        rows = np.arange(k)
        for step in range(k):
            j = order[:, step]
            # g_i' . g_j for every i, where negative (a conflict)
            dot = np.minimum((coefficients * gram[:, j].T).sum(axis=1), 0.0)
            dot[j == rows] = 0.0
            coefficients[rows, j] -= dot / safe_norms[j]
        weights = coefficients.sum(axis=0) / self.n_tasks_
        weights = torch.as_tensor(weights, dtype=gradients.dtype)
        return weights.to(gradients.device) @ gradients
