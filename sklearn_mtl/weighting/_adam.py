"""An Adam step on a strategy's own per-task parameters, skipping absent tasks.

``torch.optim.Adam`` would move every entry of a parameter on every step (its
moment estimates keep pushing an entry whose gradient is 0), and it holds
references to its parameters, which breaks when a strategy's tensors are
moved between devices or pickled. The strategies here keep the parameter and
its moments as plain tensor attributes and update them with this function.
"""

import torch

__all__ = ["AdamStepMixin", "adam_state", "masked_adam_step"]

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def adam_state(n, device):
    """Return zero ``(exp_avg, exp_avg_sq, steps)`` for ``n`` entries on ``device``."""
    return tuple(torch.zeros(n, dtype=torch.float32, device=device) for _ in range(3))


def masked_adam_step(param, grad, exp_avg, exp_avg_sq, steps, mask, lr):
    """Update ``param`` in place by one Adam step where ``mask`` is True.

    Entries where ``mask`` is False keep their value, moments and step count,
    so a task that was absent from a mini-batch keeps its state exactly.

    Parameters
    ----------
    param, grad, exp_avg, exp_avg_sq, steps : torch.Tensor of shape (n,)
        The parameter, its gradient, and the Adam state (updated in place).
    mask : torch.Tensor of bool, shape (n,)
        The entries to update.
    lr : float
        Step size.
    """
    steps.add_(mask.to(steps.dtype))
    exp_avg.copy_(torch.where(mask, BETA1 * exp_avg + (1 - BETA1) * grad, exp_avg))
    exp_avg_sq.copy_(
        torch.where(mask, BETA2 * exp_avg_sq + (1 - BETA2) * grad * grad, exp_avg_sq)
    )
    count = steps.clamp_min(1)  # no division by zero where nothing was updated
    corrected_avg = exp_avg / (1 - BETA1**count)
    corrected_sq = exp_avg_sq / (1 - BETA2**count)
    step = lr * corrected_avg / (corrected_sq.sqrt() + EPS)
    param.sub_(torch.where(mask, step, torch.zeros_like(step)))


class AdamStepMixin:
    """Adam state for a strategy's per-task parameter, stepped after backward.

    The strategy computes the parameter's gradient while combining the losses
    and stores it, with the mask of the tasks present, as ``self._pending``;
    :meth:`_take_pending_step` then takes the step once the batch's backward
    pass is done. The step size is ``self.lr``.
    """

    def _reset_adam_state(self, n_tasks, device):
        """Zero the moments and step counts; drop any pending step."""
        self._exp_avg, self._exp_avg_sq, self._steps = adam_state(n_tasks, device)
        self._pending = None

    def _take_pending_step(self, param):
        """Step ``param`` by the pending gradient; return the mask, or None if none."""
        if self._pending is None:
            return None
        gradient, present = self._pending
        self._pending = None
        masked_adam_step(
            param,
            gradient,
            self._exp_avg,
            self._exp_avg_sq,
            self._steps,
            present,
            self.lr,
        )
        return present
