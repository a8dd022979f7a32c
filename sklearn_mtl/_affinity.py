"""Task affinity recorded during training: how each task's step moves the others."""

import numpy as np
import torch
from torch.func import functional_call

__all__ = ["AFFINITY_KINDS", "TaskAffinityRecorder"]

AFFINITY_KINDS = ("gradient_cosine", "lookahead")


class TaskAffinityRecorder:
    """Average a ``(n_tasks, n_tasks)`` affinity over the training steps.

    ``"gradient_cosine"``: entry ``[i, j]`` is the cosine similarity of the
    gradients of tasks ``i`` and ``j`` on the shared parameters (symmetric).

    ``"lookahead"`` (Fifty et al. 2021): entry ``[i, j]`` is
    ``1 - L_j(theta_i) / L_j(theta)``, where ``theta_i`` takes one SGD step of
    size ``lr`` on the shared parameters along task ``i``'s gradient: positive
    when a step for ``i`` lowers ``j``'s loss on the same batch.

    A pair is averaged over the steps in which both tasks had labels; a pair
    that never met is NaN.
    """

    def __init__(self, kind, n_tasks, device):
        if kind not in AFFINITY_KINDS:
            raise ValueError(
                f"task_affinity={kind!r} is not one of {AFFINITY_KINDS} or None."
            )
        self.kind = kind
        self.n_tasks = n_tasks
        self.to(device, reset=True)

    def to(self, device, reset=False):
        """Move (or create, with ``reset``) the running sums on ``device``."""
        if reset:
            shape = (self.n_tasks, self.n_tasks)
            self.sums = torch.zeros(shape, dtype=torch.float64, device=device)
            self.counts = torch.zeros(shape, dtype=torch.float64, device=device)
        else:
            self.sums, self.counts = self.sums.to(device), self.counts.to(device)
        return self

    def update(self, net, X, y, gradients, tasks, shared):
        """Add one mini-batch's affinity between the present ``tasks``."""
        if self.kind == "gradient_cosine":
            unit = gradients / gradients.norm(dim=1, keepdim=True).clamp_min(1e-12)
            values = unit @ unit.T
        else:
            values = self._lookahead(net, X, y, gradients, tasks, shared)
        index = torch.meshgrid(tasks, tasks, indexing="ij")
        self.sums.index_put_(index, values.double(), accumulate=True)
        self.counts.index_put_(
            index, torch.ones_like(values, dtype=torch.float64), accumulate=True
        )

    @torch.no_grad()
    def _lookahead(self, net, X, y, gradients, tasks, shared):
        module = net.module_
        names = {id(p): name for name, p in module.named_parameters()}
        params = dict(module.named_parameters())
        before, _ = net.task_losses(module(X), y)
        before = before[tasks]
        lr = net.optimizer_.param_groups[0]["lr"]
        rows = []
        for g in gradients:
            moved, offset = dict(params), 0
            for p in shared:
                n = p.numel()
                moved[names[id(p)]] = p - lr * g[offset : offset + n].view_as(p)
                offset += n
            after, _ = net.task_losses(functional_call(module, moved, (X,)), y)
            rows.append(1.0 - after[tasks] / before.clamp_min(1e-12))
        return torch.stack(rows)

    def result(self):
        """Return the mean affinity as a float64 array, NaN for pairs that never met."""
        counts = self.counts.cpu().numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, self.sums.cpu().numpy() / counts, np.nan)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["sums"], state["counts"] = self.sums.cpu(), self.counts.cpu()
        return state
