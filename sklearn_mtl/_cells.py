"""Training on the labelled cells only, when labels are sparse.

With many tasks and few labels per row (School: 139 tasks, one label per
student), the dense path computes every head on every row and then multiplies
most of the ``(batch, tasks)`` losses by a weight of 0. Here a training batch
carries its labelled cells instead, as ``(row, task)`` pairs: the trunk runs
on the batch's rows as before, each linear head only on the rows labelled for
its task, and the per-task sums of the loss are taken over those cells. The
loss, its gradient and every per-task statistic are those of the dense path
(up to the order of floating-point sums); the cost of the heads grows with
the number of labels, not with ``rows x tasks``.

The path is used for training batches on the CPU when the network is the
built-in hard-sharing module with linear heads (any trunk), all tasks share
one regression loss, at most :data:`MAX_DENSITY` of the cells are labelled
and there are at least :data:`MIN_TASKS` tasks, and nothing needs the dense
per-batch output (gradient-based task weighting, task affinity, per-batch
callbacks, data-parallel training). Everything else, and evaluation, stays
dense. On a GPU the dense heads are one matrix product, and the scatter-adds
of this path would make the sums' order (and the last bits) vary from run
to run, so the path is CPU only.
"""

import torch

from ._losses import LOSSES
from .modules import MultiTaskModule, TaskHeadsModule

__all__ = [
    "CellBatches",
    "CellIndex",
    "LabelledCells",
    "cell_task_sums",
    "trains_on_cells",
]

# labelled share of the (rows, tasks) cells at or below which training uses
# the cells: a head on its cells costs about 30 times its share of a dense
# matrix product (gathers and scatters instead of one GEMM), measured in
# benchmarks/README.md ("Many tasks")
MAX_DENSITY = 1 / 64
# fewer tasks than this: the dense heads cost little, keep them
MIN_TASKS = 64


class LabelledCells:
    """The labelled cells of a training batch: the batch's targets.

    ``rows`` (None: cell ``k`` is row ``k``, one label per row) and ``tasks``
    locate each cell, ``targets`` hold its standardised label, ``weights`` its
    cell weight (None: all 1) and ``counts`` the ``(T,)`` sum of the weights
    per task.
    """

    __slots__ = ("rows", "tasks", "targets", "weights", "counts")

    def __init__(self, rows, tasks, targets, weights, counts):
        self.rows, self.tasks, self.targets = rows, tasks, targets
        self.weights, self.counts = weights, counts


class CellIndex:
    """The labelled cells of a :class:`~sklearn_mtl._tensors.TensorData`, by row.

    Built once per training set: the cells in row-major order with each row's
    first cell and count, so a batch of shuffled rows gathers its cells with
    a few tensor operations (and none at all per cell or per task).
    """

    def __init__(self, dataset):
        weights = dataset.cell_weights
        rows, tasks = (weights != 0).nonzero().unbind(1)
        self.n_tasks = weights.shape[1]
        self.tasks = tasks
        self.targets = dataset.Y[rows, tasks]
        cell_weights = weights[rows, tasks]
        # all 1 (no sample weights): the sums skip the product, as the dense path
        self.weights = None if bool((cell_weights == 1).all()) else cell_weights
        self.per_row = torch.bincount(rows, minlength=len(weights))
        self.starts = self.per_row.cumsum(0) - self.per_row
        self.one_per_row = bool((self.per_row == 1).all())

    def batch(self, rows):
        """Return the :class:`LabelledCells` of the batch ``rows`` (an index tensor)."""
        if self.one_per_row:  # cell k of the batch is its row k
            cells, local = rows, None
        else:
            counts = self.per_row.index_select(0, rows)
            local = torch.repeat_interleave(
                torch.arange(len(rows), device=rows.device), counts
            )
            first = counts.cumsum(0) - counts  # each row's first cell in the batch
            offset = torch.arange(len(local), device=rows.device) - first[local]
            cells = self.starts.index_select(0, rows)[local] + offset
        tasks = self.tasks.index_select(0, cells)
        weights = None if self.weights is None else self.weights.index_select(0, cells)
        counts = torch.zeros(self.n_tasks, dtype=self.targets.dtype, device=rows.device)
        if weights is None:
            counts.index_add_(0, tasks, torch.ones_like(tasks, dtype=counts.dtype))
        else:
            counts.index_add_(0, tasks, weights)
        return LabelledCells(
            local, tasks, self.targets.index_select(0, cells), weights, counts
        )


class CellBatches:
    """Shuffled training batches of a ``TensorData`` as ``(X, LabelledCells)``.

    The rows of each epoch are drawn exactly as the dense batches draw them
    (one ``torch.randperm`` from the same generator), so the two paths see
    the same batches.
    """

    def __init__(self, dataset, batch_size, generator=None):
        self.dataset, self.batch_size, self.generator = dataset, batch_size, generator

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        data, n, size = self.dataset, len(self.dataset), self.batch_size
        order = torch.randperm(n, generator=self.generator).to(data.X.device)
        for start in range(0, n, size):
            rows = order[start : start + size]
            yield data.X.index_select(0, rows), data.cell_index.batch(rows)


def trains_on_cells(net, dataset):
    """Whether ``net``'s training batches of ``dataset`` should be cells."""
    module = net.module_
    heads = getattr(module, "heads", None)
    return (
        type(module) is MultiTaskModule
        and type(heads) is TaskHeadsModule
        and heads.output is not None
        and heads.output_tasks is None
        and heads.n_tasks >= MIN_TASKS
        and isinstance(net.criterion_, tuple(LOSSES.values()))
        and dataset.X.device.type == "cpu"
        and dataset.cell_weights.dim() == 2
        and net.data_parallel is None
        and net.affinity_ is None
        and not net.task_weighting.needs_gradients
        and not net._listens_to_batches()
        and dataset.labelled_share <= MAX_DENSITY
    )


def cell_task_sums(criterion, y_pred, cells):
    """Return the per-task ``(T,)`` sums of the weighted element-wise losses."""
    elementwise = criterion(y_pred, cells.targets)
    if cells.weights is not None:
        elementwise = elementwise * cells.weights
    sums = torch.zeros(len(cells.counts), dtype=y_pred.dtype, device=y_pred.device)
    return sums.index_add(0, cells.tasks, elementwise)
