"""PCGrad (Yu et al. 2020): remove the conflicting part of each task's gradient."""

import torch

from ._base import TaskWeighting

__all__ = ["PCGradWeighting"]


class PCGradWeighting(TaskWeighting):
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

    The random order is drawn from torch's global generator, which the
    estimators seed from their ``random_state`` during ``fit``, so fits are
    reproducible.

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

    References
    ----------
    .. [1] T. Yu, S. Kumar, A. Gupta, S. Levine, K. Hausman and C. Finn,
       "Gradient surgery for multi-task learning", NeurIPS 2020.

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

    def combine_gradients(self, gradients, task_losses, tasks):
        """Return the mean over ``n_tasks`` of the projected gradients."""
        k = gradients.shape[0]
        squared_norms = (gradients * gradients).sum(dim=1)
        safe_norms = torch.where(
            squared_norms > 0, squared_norms, torch.ones_like(squared_norms)
        )
        projected = gradients.clone()
        # one random order of the other tasks per task (drawn as the paper's
        # loop would); the k projections advance together, one step at a time
        order = torch.stack([torch.randperm(k) for _ in range(k)])
        order = order.to(gradients.device)
        rows = torch.arange(k, device=gradients.device)
        for step in range(k):
            j = order[:, step]
            other = gradients[j]
            # no Python branch on the sign: stays asynchronous on a GPU
            dot = (projected * other).sum(dim=1).clamp(max=0)
            dot = torch.where(j == rows, torch.zeros_like(dot), dot)
            projected -= (dot / safe_norms[j])[:, None] * other
        return projected.sum(dim=0) / self.n_tasks_
