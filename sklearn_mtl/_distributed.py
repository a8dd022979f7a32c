"""Data-parallel training over ``torch.distributed`` (``data_parallel=True``).

Every process holds the whole training set and runs the same ``fit``. Each
global mini-batch of ``batch_size`` rows (from one seeded permutation, the
same on every process) is split between the processes: process ``p`` takes
rows ``p::world_size`` of it. The per-task label weights of the batch are
summed over the processes, so each process's task loss is its weighted sum
divided by the global weight; gradients are then summed over the processes,
which gives every process the gradient of the one-process loss.
"""

import os
from numbers import Integral

import numpy as np
import torch
from sklearn.utils import check_random_state

from ._tensors import TensorBatches
from .weighting import TaskWeighting, resolve_weighting

__all__ = ["DataParallel", "ShardedBatches", "start_data_parallel"]


class ShardedBatches(TensorBatches):
    """Iterate over one process's share of every shuffled global mini-batch.

    The row order is drawn as in :class:`~sklearn_mtl._tensors.TensorBatches`
    (so the same generator state gives the same global batches); process
    ``rank`` keeps rows ``rank::world_size`` of each, which may be none.
    ``global_sizes`` lists the global size of each batch yielded so far.
    """

    def __init__(self, dataset, batch_size, generator, rank, world_size):
        super().__init__(dataset, batch_size, shuffle=True, generator=generator)
        self.rank, self.world_size = rank, world_size
        self.global_sizes = []

    def __iter__(self):
        data, n, size = self.dataset, len(self.dataset), self.batch_size
        order = torch.randperm(n, generator=self.generator).to(data.X.device)
        self.global_sizes = []
        for start in range(0, n, size):
            batch = order[start : start + size]
            rows = batch[self.rank :: self.world_size]
            self.global_sizes.append(len(batch))
            yield (
                data.X.index_select(0, rows),
                (data.Y.index_select(0, rows), data.batch_weights(rows)),
            )


class DataParallel:
    """A process's place in the process group, and the collective steps.

    Parameters
    ----------
    rank : int
        This process's rank in the default process group.
    world_size : int
        The number of processes.
    device : str
        The training device; collective calls exchange tensors there.
    """

    def __init__(self, rank, world_size, device="cpu"):
        self.rank, self.world_size, self.device = rank, world_size, device

    def batches(self, dataset, batch_size, generator):
        """Return this process's share of the shuffled training batches."""
        return ShardedBatches(
            dataset, batch_size, generator, self.rank, self.world_size
        )

    def all_reduce(self, tensor):
        """Sum ``tensor`` over the processes, in place; return it."""
        torch.distributed.all_reduce(tensor)
        return tensor

    def broadcast_module(self, module):
        """Give every process rank 0's parameters and buffers."""
        with torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                torch.distributed.broadcast(tensor.data, src=0)

    def penalty_share(self, penalty):
        """Return this process's part of the penalty (it counts once in all)."""
        return penalty / self.world_size

    def reduce_step(self, module, step):
        """Sum the gradients and the batch loss over the processes.

        One collective call over a flat buffer. A parameter without a
        gradient here contributes zeros and stays without one.
        """
        params = [p for p in module.parameters() if p.requires_grad]
        loss = step["loss"].detach().reshape(1).to(torch.float32)
        flat = torch.cat(
            [
                (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                for p in params
            ]
            + [loss.to(params[0].device) if params else loss]
        )
        self.all_reduce(flat)
        offset = 0
        for p in params:
            n = p.numel()
            if p.grad is not None:
                p.grad.copy_(flat[offset : offset + n].view_as(p))
            offset += n
        step["loss"] = flat[offset].to(step["loss"].dtype)
        return step

    def record_global_sizes(self, history, iterator, prefix):
        """Record each batch's global size, as one process would have."""
        batches = history[-1]["batches"]
        for row, size in zip(batches, iterator.global_sizes, strict=False):
            if f"{prefix}_batch_size" in row:
                row[f"{prefix}_batch_size"] = size


def start_data_parallel(estimator, device):
    """Return ``(DataParallel or None, device)`` for the estimator's fit.

    Joins the default process group, initialising it from the variables that
    ``torchrun`` or ``accelerate launch`` set (``gloo`` on CPU, ``nccl`` on
    CUDA) when it is not initialised yet. A CUDA device without an index
    becomes ``cuda:LOCAL_RANK``.

    Raises
    ------
    ValueError
        If ``torch.distributed`` is unavailable, the script was not launched
        as several processes, or the estimator asks for something that is not
        exact across processes (see :func:`check_data_parallel`).
    """
    if not getattr(estimator, "data_parallel", False):
        return None, device
    check_data_parallel(estimator)
    dist = torch.distributed
    if not dist.is_available():
        raise ValueError(
            "data_parallel=True needs torch.distributed, which this build of "
            "torch lacks."
        )
    if device.startswith("cuda") and torch.device(device).index is None:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    if not dist.is_initialized():
        if "WORLD_SIZE" not in os.environ or "MASTER_ADDR" not in os.environ:
            raise ValueError(
                "data_parallel=True trains across processes: launch the script "
                "with `torchrun --nproc_per_node N script.py` (or `accelerate "
                "launch`), or initialise torch.distributed before fit."
            )
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(torch.device(device))
        dist.init_process_group(backend=backend)
    return DataParallel(dist.get_rank(), dist.get_world_size(), device), device


def check_data_parallel(estimator):
    """Refuse settings whose training is not exact across processes.

    The task weighting must combine the task losses linearly with weights
    that change only between epochs (``"equal"``, fixed weights, ``"dwa"``):
    a gradient-based weighting (``needs_gradients``), a learnt one such as
    ``"uncertainty"`` (its own ``combine``), and ``task_affinity`` are
    refused.
    """
    weighting = resolve_weighting(estimator.task_weighting)
    if (
        weighting.needs_gradients
        or type(weighting).combine is not TaskWeighting.combine
        or type(weighting).after_backward is not TaskWeighting.after_backward
    ):
        raise ValueError(
            f"data_parallel=True does not support task_weighting="
            f"{estimator.task_weighting!r}: it needs per-task gradients or learns "
            "from each batch's losses. Use 'equal', fixed weights or 'dwa'."
        )
    if getattr(estimator, "task_affinity", None) is not None:
        raise ValueError(
            "data_parallel=True does not support task_affinity: the per-task "
            "gradients it compares are those of one process's rows. Set "
            "task_affinity=None."
        )


def shared_random_state(random_state, parallel):
    """Return the fit's ``RandomState``, the same on every process.

    An integer ``random_state`` already gives every process the same
    generator (and the same draws as one process); otherwise rank 0 draws a
    seed and sends it to the others.
    """
    rng = check_random_state(random_state)
    if parallel is None or isinstance(random_state, Integral):
        return rng
    seed = torch.tensor(
        [rng.randint(np.iinfo(np.int32).max)], dtype=torch.int64, device=parallel.device
    )
    torch.distributed.broadcast(seed, src=0)
    return np.random.RandomState(int(seed.item()))
