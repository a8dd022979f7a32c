"""The task-weighting interface: per-task losses (or gradients) in, one update out."""

import numpy as np
import torch
from sklearn.base import BaseEstimator

__all__ = ["TaskWeighting"]


class TaskWeighting(BaseEstimator):
    """Base class of task-weighting strategies.

    A strategy turns the per-task losses of a mini-batch into the scalar the
    optimiser minimises, ``sum_t w_t * L_t``. Hyperparameters go in
    ``__init__``; the estimator clones the strategy in ``fit`` and calls
    :meth:`initialize` on the clone, so the object a user passes is never
    changed. State learnt during training ends in ``_``.

    There are two kinds of strategy:

    - *Loss weighting* (``needs_gradients = False``): implement
      :meth:`combine`. The optimiser follows the gradient of its result.
    - *Gradient aggregation* (``needs_gradients = True``): implement
      :meth:`combine_gradients`. For every mini-batch the training step
      computes each present task's gradient on the shared parameters (the
      trunk) and uses the strategy's combination of them as the shared
      parameters' gradient. Task-specific parameters (the heads) follow the
      gradient of :meth:`combine` (by default ``sum_t w_t * L_t`` with the
      weights set by :meth:`initialize`; a strategy may record other
      per-task numbers in ``weights_``, as :class:`MGDAWeighting` records its
      gradient coefficients while its heads keep weight ``1 / n_tasks``).
      A strategy may compute the gradients of only some of the present tasks
      (:meth:`select_tasks`, to bound the cost with many tasks); the present
      tasks it leaves out then move the shared parameters along the plain
      gradient of their terms of :meth:`combine`.

    A task with no labelled row in a mini-batch is *absent*: it has no loss
    and no gradient. :meth:`combine` sees it through ``present``;
    :meth:`combine_gradients` never sees it at all (its row is not passed),
    so a zero gradient cannot distort the combination, and its state is left
    as it was.

    Hooks called by the training loop, in order: :meth:`initialize` once per
    new network; for each mini-batch :meth:`combine` (and
    :meth:`select_tasks` then :meth:`combine_gradients` for gradient
    strategies), then
    :meth:`after_backward`; :meth:`end_epoch` once per epoch.

    Attributes
    ----------
    n_tasks_ : int
        Number of tasks, set by :meth:`initialize`.
    weights_ : ndarray of shape (`n_tasks_`,)
        The current weights, recorded in ``history_`` after each epoch.
    """

    # whether the strategy combines per-task gradients (see the class notes)
    needs_gradients = False

    def initialize(self, n_tasks, device):
        """Prepare for training ``n_tasks`` tasks on ``device``; return self."""
        self.n_tasks_ = n_tasks
        self.weights_ = np.full(n_tasks, 1.0 / n_tasks)
        self._weights_tensor = torch.as_tensor(
            self.weights_, dtype=torch.float32, device=device
        )
        return self

    def combine(self, task_losses, present):
        """Return the scalar objective for one mini-batch.

        Parameters
        ----------
        task_losses : torch.Tensor of shape (n_tasks,)
            Mean loss of each task over its labelled rows in the batch; 0 for
            a task with no labelled row in the batch.
        present : torch.Tensor of bool, shape (n_tasks,)
            Which tasks have at least one labelled row in the batch. A task
            that is absent contributes nothing, and its weight is not moved
            onto the others.

        Returns
        -------
        loss : torch.Tensor of shape ()
            The weighted objective.
        """
        return (self._weights_tensor * task_losses).sum()

    def select_tasks(self, tasks):
        """Return the present tasks whose gradients this step computes.

        Called only when ``needs_gradients`` is True, before
        :meth:`combine_gradients`, which then sees only these tasks.

        Parameters
        ----------
        tasks : torch.Tensor of int64, shape (k,)
            The tasks present in the mini-batch, in increasing order.

        Returns
        -------
        selected : torch.Tensor of int64
            A subset of ``tasks``, in increasing order; here all of them.
        """
        return tasks

    def combine_gradients(self, gradients, task_losses, tasks):
        """Return the update direction of the shared parameters.

        Called only when ``needs_gradients`` is True.

        Parameters
        ----------
        gradients : torch.Tensor of shape (n_selected, n_shared_parameters)
            Gradient of each selected task's loss with respect to the shared
            parameters, flattened; one row per task returned by
            :meth:`select_tasks` (by default every present task).
        task_losses : torch.Tensor of shape (n_selected,)
            The selected tasks' losses (detached).
        tasks : torch.Tensor of int64, shape (n_selected,)
            Which task each row belongs to (indices into ``0..n_tasks_-1``).

        Returns
        -------
        gradient : torch.Tensor of shape (n_shared_parameters,)
            The selected tasks' part of the gradient the optimiser applies to
            the shared parameters. On the scale of equal weighting,
            ``sum_t g_t / n_tasks``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} sets needs_gradients=True but does not "
            "implement combine_gradients."
        )

    def after_backward(self):
        """Update state after each mini-batch's backward pass (no-op here)."""

    def end_epoch(self, task_losses):
        """Update state once per epoch from the epoch's mean task losses."""

    def to(self, device):
        """Move every tensor attribute to ``device``; return self."""
        for name, value in vars(self).items():
            if torch.is_tensor(value):
                setattr(self, name, value.to(device))
        return self

    def __getstate__(self):
        # tensors travel on the CPU, so a CUDA-trained model unpickles anywhere
        state = super().__getstate__()
        return {k: v.cpu() if torch.is_tensor(v) else v for k, v in state.items()}
