"""The task-weighting interface: per-task losses in, one scalar objective out."""

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

    Subclasses implement :meth:`combine`; they may override :meth:`initialize`
    (to create state) and :meth:`end_epoch` (to update it once per epoch).

    Attributes
    ----------
    n_tasks_ : int
        Number of tasks, set by :meth:`initialize`.
    weights_ : ndarray of shape (`n_tasks_`,)
        The current weights, recorded in ``history_`` after each epoch.
    """

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
