"""A custom task weighting: the main task at weight 1, auxiliary tasks fading out.

Shown in docs/user_guide/weighting.rst and run by tests/test_docs.py.
"""

import numpy as np
import torch

from sklearn_mtl.weighting import TaskWeighting


class FadingAuxiliaryWeighting(TaskWeighting):
    """Main task at weight 1; the others start at ``aux_weight`` and decay."""

    def __init__(self, main_task=0, aux_weight=1.0, decay=0.9):
        self.main_task = main_task
        self.aux_weight = aux_weight
        self.decay = decay

    def initialize(self, n_tasks, device):
        super().initialize(n_tasks, device)  # sets n_tasks_ and weights_
        self.weights_ = np.full(n_tasks, float(self.aux_weight))
        self.weights_[self.main_task] = 1.0
        return self

    def combine(self, task_losses, present):
        weights = torch.as_tensor(
            self.weights_, dtype=task_losses.dtype, device=task_losses.device
        )
        return (weights * task_losses).sum()

    def end_epoch(self, task_losses):
        auxiliary = np.arange(self.n_tasks_) != self.main_task
        self.weights_[auxiliary] *= self.decay
