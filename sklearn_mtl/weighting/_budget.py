"""A fixed budget of per-task gradients per step, for many tasks.

Gradient aggregation methods need one gradient per task on the shared
parameters, so their cost grows with the number of tasks present in a
mini-batch: the Jacobian is ``k`` backward passes and ``k x n_parameters``
numbers, and PCGrad's projections are ``k**2`` inner products. With a budget
``B``, a step with more than ``B`` tasks present draws ``B`` of them at random
(uniformly, without replacement); only their gradients are computed and
aggregated, and the other present tasks are combined by the plain gradient of
their share of the objective, as with equal weighting. This is the task
sub-sampling of Liu et al.'s practical CAGrad (2021) and of the stochastic
multi-objective methods of Xiao et al. (2023), applied to PCGrad, GradNorm
and MGDA.
"""

import threading
from contextlib import contextmanager
from numbers import Integral

import torch
from sklearn.utils._param_validation import Interval

__all__ = [
    "DEFAULT_MAX_TASKS_PER_STEP",
    "TaskBudgetMixin",
    "current_generator",
    "drawing_from",
]

_DRAWS = threading.local()


def current_generator():
    """Return this thread's generator for random draws in training, or None."""
    return getattr(_DRAWS, "generator", None)


@contextmanager
def drawing_from(generator):
    """Make the task draws of this thread come from ``generator`` meanwhile.

    The estimators' nets draw from their own seeded generator during
    training, so a fit reproduces even while other fits run in other threads.
    """
    previous = getattr(_DRAWS, "generator", None)
    _DRAWS.generator = generator
    try:
        yield
    finally:
        _DRAWS.generator = previous


DEFAULT_MAX_TASKS_PER_STEP = 8

BUDGET_CONSTRAINT = [Interval(Integral, 2, None, closed="left"), None]


class TaskBudgetMixin:
    """``select_tasks`` that keeps at most ``self.max_tasks_per_step`` tasks.

    The subset is drawn from the generator of :func:`drawing_from` (the
    estimators' nets set their own, seeded from ``random_state``, so fits are
    reproducible), or from torch's global generator outside one.
    A strategy using this mixin may read ``self._left_out`` (the present tasks
    not drawn in the current step, or None) in :meth:`combine_gradients`.
    """

    _left_out = None

    def select_tasks(self, tasks):
        """Return at most ``max_tasks_per_step`` of the present ``tasks``.

        Parameters
        ----------
        tasks : torch.Tensor of int64, shape (k,)
            The tasks present in the mini-batch, in increasing order.

        Returns
        -------
        selected : torch.Tensor of int64, shape (min(k, max_tasks_per_step),)
            The tasks whose gradients the step computes, in increasing order:
            ``tasks`` itself when it is within the budget.
        """
        budget = self.max_tasks_per_step
        self._left_out = None
        if budget is None or len(tasks) <= budget:
            return tasks
        drawn = torch.zeros(len(tasks), dtype=torch.bool)
        generator = current_generator()
        drawn[torch.randperm(len(tasks), generator=generator)[:budget]] = True
        drawn = drawn.to(tasks.device)
        self._left_out = tasks[~drawn]
        return tasks[drawn]
