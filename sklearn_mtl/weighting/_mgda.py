"""MGDA (Sener & Koltun 2018): the min-norm convex combination of task gradients."""

import numpy as np
import torch
from scipy.optimize import nnls
from sklearn.utils._param_validation import StrOptions

from ._base import TaskWeighting
from ._budget import BUDGET_CONSTRAINT, DEFAULT_MAX_TASKS_PER_STEP, TaskBudgetMixin

__all__ = ["MGDAWeighting"]

# a norm or loss at or below this is treated as 1 by the normalisations
TINY = 1e-12


def min_norm_weights(gram):
    """Return the convex weights of the min-norm point of vectors with ``gram``.

    Solves ``min_lambda lambda @ gram @ lambda`` over the simplex exactly, as
    the non-negative least-squares problem ``min_{mu >= 0} |R mu|^2 +
    (1 - sum(mu))^2`` with ``R.T @ R = gram``: along a ray ``mu = t * lambda``
    its minimum is ``q / (1 + q)`` with ``q = lambda @ gram @ lambda``,
    increasing in ``q``, so ``lambda = mu / sum(mu)``. The Gram matrix is
    first scaled to a unit largest diagonal (the weights do not change), so
    the two terms are comparable whatever the size of the gradients.
    """
    k = len(gram)
    largest = np.max(np.diag(gram))
    if not largest > 0:  # all vectors are zero: every point is the minimum
        return np.full(k, 1.0 / k)
    eigenvalues, eigenvectors = np.linalg.eigh(gram / largest)
    root = np.sqrt(np.clip(eigenvalues, 0, None))[:, None] * eigenvectors.T
    design = np.vstack([root, np.ones((1, k))])
    target = np.zeros(k + 1)
    target[-1] = 1.0
    mu, _ = nnls(design, target, maxiter=100 * (k + 1))
    return mu / mu.sum()


class MGDAWeighting(TaskBudgetMixin, TaskWeighting):
    r"""Update the shared parameters along the min-norm point of the task gradients.

    For the tasks present in a mini-batch, MGDA finds the convex combination
    :math:`d = \sum_t \lambda_t g_t` (:math:`\lambda_t \ge 0`,
    :math:`\sum_t \lambda_t = 1`) of their gradients on the shared parameters
    with the smallest norm. Then :math:`d \cdot g_t \ge \lVert d \rVert^2 \ge 0`
    for every task: a small step along :math:`-d` increases no task's loss
    (it is zero only at a Pareto-stationary point). The shared update is
    :math:`(k / T) \, d` for ``k`` tasks present out of ``T``, which equals
    equal weighting's update when the :math:`\lambda_t` are equal. As in Sener
    & Koltun's algorithm the heads follow their own task's gradient, here the
    gradient of the mean task loss (as with :class:`EqualWeighting`).

    Parameters
    ----------
    normalization : {"none", "l2", "loss", "loss+"}, default="none"
        Scale each gradient :math:`g_t` by :math:`1 / n_t` before the
        min-norm problem: ``"none"`` uses :math:`n_t = 1`, ``"l2"`` the
        gradient's norm (every task's direction counts alike), ``"loss"`` the
        task's loss, ``"loss+"`` their product (Sener & Koltun's
        normalisations). The update is the min-norm point of the scaled
        gradients, rescaled so that its coefficients on the unscaled
        gradients sum to 1; it keeps a non-negative inner product with every
        task's gradient.
    max_tasks_per_step : int >= 2 or None, default=8
        At most this many present tasks take part in the min-norm problem of
        a step; when more are present, that many are drawn at random and the
        others add their plain gradient :math:`g_t / T` (see Notes). None
        solves it over every present task.

    Attributes
    ----------
    n_tasks_ : int
        Number of tasks.
    weights_ : ndarray of shape (`n_tasks_`,)
        Each task's coefficient on its gradient relative to the update's
        scale ``k / T``, averaged over the last epoch's mini-batches in which
        the task was present (a task never present keeps its previous value;
        ``1 / n_tasks`` at the start). A task left out of a step's draw counts
        with ``1 / k``.

    See Also
    --------
    PCGradWeighting : Project conflicting gradients off each other.
    GradNormWeighting : Weights that balance the tasks' gradient norms.

    Notes
    -----
    A task absent from a mini-batch has no gradient and takes no part in the
    problem; a zero gradient of a present task makes the min-norm point zero
    (no shared update), as MGDA prescribes. The min-norm problem is solved
    exactly on the ``(k, k)`` Gram matrix of the present tasks' gradients, on
    the CPU in float64, as a non-negative least-squares problem
    (:func:`scipy.optimize.nnls`), rather than by Sener & Koltun's
    Frank-Wolfe iterations.

    A step costs one backward pass per task in the problem. With more than
    ``max_tasks_per_step`` tasks present, a random subset ``S`` of
    ``B = max_tasks_per_step`` of them is drawn anew each step (task
    sub-sampling, as in Liu et al.'s practical CAGrad [2]_ and the objective
    sampling of Xiao et al.'s SDMGrad [3]_) and the update is
    :math:`(B \, d_S + \sum_{j \notin S} g_j) / T`, with :math:`d_S` the
    min-norm point of the drawn tasks' gradients: no drawn task's loss is
    opposed, and the other tasks move as under equal weighting. Within the
    budget the method is as described above.

    References
    ----------
    .. [1] O. Sener and V. Koltun, "Multi-task learning as multi-objective
       optimization", NeurIPS 2018.
    .. [2] B. Liu, X. Liu, X. Jin, P. Stone and Q. Liu, "Conflict-averse
       gradient descent for multi-task learning", NeurIPS 2021.
    .. [3] P. Xiao, H. Ban and K. Ji, "Direction-oriented multi-objective
       learning: simple and provable stochastic algorithms", NeurIPS 2023.

    Examples
    --------
    >>> import torch
    >>> from sklearn_mtl.weighting import MGDAWeighting
    >>> weighting = MGDAWeighting().initialize(2, "cpu")
    >>> gradients = torch.tensor([[2.0, 0.0], [-1.0, 1.0]])
    >>> weighting.combine_gradients(gradients, torch.ones(2), torch.tensor([0, 1]))
    tensor([0.2000, 0.6000])
    >>> weighting.end_epoch(None)
    >>> weighting.weights_.round(2)
    array([0.4, 0.6])
    """

    needs_gradients = True

    _parameter_constraints: dict = {
        "normalization": [StrOptions({"none", "l2", "loss", "loss+"})],
        "max_tasks_per_step": BUDGET_CONSTRAINT,
    }

    def __init__(
        self, normalization="none", max_tasks_per_step=DEFAULT_MAX_TASKS_PER_STEP
    ):
        self.normalization = normalization
        self.max_tasks_per_step = max_tasks_per_step

    def initialize(self, n_tasks, device):
        """Start from equal weights; return self."""
        self._validate_params()
        super().initialize(n_tasks, device)
        self._coefficient_sums = np.zeros(n_tasks)
        self._batches_present = np.zeros(n_tasks)
        return self

    def _scales(self, gram, task_losses):
        """Return the normalisers ``n_t`` of the present tasks' gradients."""
        norms = np.sqrt(np.clip(np.diag(gram), 0, None))
        losses = task_losses.double().cpu().numpy()
        scales = {
            "none": np.ones(len(gram)),
            "l2": norms,
            "loss": losses,
            "loss+": losses * norms,
        }[self.normalization]
        return np.where(np.isfinite(scales) & (scales > TINY), scales, 1.0)

    def combine_gradients(self, gradients, task_losses, tasks):
        """Return ``(k / n_tasks)`` times the min-norm combination."""
        exact = gradients.double()
        gram = (exact @ exact.T).cpu().numpy()
        scales = self._scales(gram, task_losses)
        if np.all(np.isfinite(gram)):
            lambdas = min_norm_weights(gram / np.outer(scales, scales))
        else:  # a diverged step: the estimator stops at the end of the epoch
            lambdas = np.full(len(gram), 1.0 / len(gram))
        coefficients = lambdas / scales
        coefficients /= coefficients.sum()
        present = tasks.cpu().numpy()
        self._record(present, coefficients)
        scale = len(present) / self.n_tasks_
        return scale * (
            torch.as_tensor(
                coefficients, dtype=gradients.dtype, device=gradients.device
            )
            @ gradients
        )

    def _record(self, drawn, coefficients):
        """Add a step's coefficients, relative to ``k / n_tasks``, to the sums."""
        left_out = self._left_out
        self._left_out = None
        if left_out is None:
            left_out = np.zeros(0, dtype=np.int64)
        else:
            left_out = left_out.cpu().numpy()
        k = len(drawn) + len(left_out)
        self._coefficient_sums[drawn] += coefficients * (len(drawn) / k)
        self._coefficient_sums[left_out] += 1.0 / k
        self._batches_present[drawn] += 1
        self._batches_present[left_out] += 1

    def end_epoch(self, task_losses):
        """Record the epoch's mean coefficients and start new sums."""
        seen = self._batches_present > 0
        self.weights_ = np.where(
            seen,
            self._coefficient_sums / np.where(seen, self._batches_present, 1),
            self.weights_,
        )
        self._coefficient_sums[:] = 0
        self._batches_present[:] = 0
