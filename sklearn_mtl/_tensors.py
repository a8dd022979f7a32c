"""Tensors on the training device and the batches sliced from them.

skorch's default data path builds a per-sample ``DataLoader``; on this
project's benchmark shape that doubles fit time. Here the inputs, targets and
cell weights become tensors on the training device once per ``fit``
(:class:`TensorData`), and :class:`TensorBatches` yields slices of them;
:func:`eval_in_chunks` runs a module on an array in bounded chunks.
"""

from functools import cached_property

import numpy as np
import torch

from ._cells import CellIndex

__all__ = [
    "EVAL_CHUNK_ROWS",
    "as_cpu_tensor",
    "SplitData",
    "TensorBatches",
    "TensorData",
    "eval_in_chunks",
    "unit_counts_and_present",
]

# rows per forward pass outside training (validation, predict, probe features):
# memory stays bounded whatever the size of X
EVAL_CHUNK_ROWS = 8192


def eval_in_chunks(
    module,
    X,
    device,
    dtype=torch.float32,
    chunk_rows=EVAL_CHUNK_ROWS,
    affine=None,
    check_rows=False,
):
    """Run ``module`` on the array ``X`` in eval mode; return float64 numpy.

    ``X`` is converted to ``dtype`` on ``device`` one chunk of rows at a time;
    a module in training mode is switched to eval mode and back afterwards.
    ``affine``, a pair of float64 CPU tensors ``(scale, shift)`` with one
    value per output column, gives ``output * scale + shift`` (the product
    and the sum rounded once each, as NumPy's), made in the pass that
    converts the output to float64. A module whose ``returns_new`` is true
    promises that each output is a new tensor: a float64 one is returned
    without a copy; one whose ``records_no_graph`` is true (no tensor of it
    needs a gradient) runs outside ``torch.inference_mode``. With
    ``check_rows``, each converted chunk is summed before it is run, and
    None is returned at the first whose sum is not finite: NaN or infinity
    in ``X``, or values beyond ``dtype``'s range, or a sum that overflows
    (the caller validates ``X`` to tell them apart).
    """
    fresh = getattr(module, "returns_new", False)  # its outputs are new tensors
    was_training = module.training
    if was_training:  # a module in eval mode is never touched: threads share it
        module.eval()
    try:
        args = module, X, device, dtype, chunk_rows, affine, check_rows, fresh
        if getattr(module, "records_no_graph", False):
            return _eval_chunks(*args)  # no graph either way; about 1 µs less
        with torch.inference_mode():
            return _eval_chunks(*args)
    finally:
        if was_training:
            module.train()


def _eval_chunks(module, X, device, dtype, chunk_rows, affine, check_rows, fresh):
    """Run the loop of :func:`eval_in_chunks` in the grad mode it is given."""
    out = None
    for i in range(0, len(X), chunk_rows):
        chunk = np.ascontiguousarray(X[i : i + chunk_rows])  # X[::-1] too
        rows = _as_rows(chunk, dtype, device)
        if check_rows and not bool(rows.sum().isfinite()):
            return None
        raw = module(rows)
        if out is None and len(raw) == len(X):
            if affine is not None:  # a new float64 tensor: no copy left
                return torch.mul(raw.cpu(), affine[0]).add_(affine[1]).numpy()
            part = raw.double().cpu()
            if (part is not raw or fresh) and part.is_contiguous():
                return part.numpy()  # a copy no one else holds
            return part.numpy().copy()
        if out is None:  # one output array, filled chunk by chunk
            out = np.empty((len(X), *raw.shape[1:]))
        # converted and copied to the host in one pass, into its rows
        dest = torch.from_numpy(out[i : i + len(raw)])
        if affine is None:
            dest.copy_(raw)
        else:
            torch.mul(raw.cpu(), affine[0], out=dest).add_(affine[1])
    return out


def _as_rows(chunk, dtype, device):
    """Return a C-contiguous array as a new tensor of ``dtype`` on ``device``.

    On the CPU, :func:`as_cpu_tensor` converted by ``Tensor.to``: one pass
    for a writeable array, where ``torch.tensor(chunk, dtype=...)`` takes
    two (10,000 x 64 float64 to float32 with one thread: 70 against 110
    microseconds).
    """
    if device == "cpu" or torch.device(device).type == "cpu":
        return as_cpu_tensor(chunk).to(dtype=dtype, copy=True)
    return torch.tensor(chunk, dtype=dtype, device=device)


def as_cpu_tensor(array):
    """Return an ndarray as a CPU tensor, sharing its memory where torch can."""
    return torch.from_numpy(array) if array.flags.writeable else torch.tensor(array)


class TensorData(torch.utils.data.Dataset):
    """Inputs, zero-filled targets and per-cell weights, as device tensors.

    ``cell_weights[i, t]`` is ``sample_weight[i]`` where row ``i`` is labelled
    for task ``t`` and 0 where it is not, so one tensor carries both the
    NaN mask and the sample weights.

    When every cell weighs 1 (no NaN, equal sample weights), batches carry a
    constant view of ``unit_weights`` in place of a slice of
    ``cell_weights``, and the loss skips the product with it.
    """

    def __init__(self, X, Y, cell_weights):
        self.X, self.Y, self.cell_weights = X, Y, cell_weights
        self.unit_weights = None  # a (1, 1) tensor of 1 to expand, when possible
        if (
            cell_weights.dim() == 2
            and len(cell_weights)
            and bool((cell_weights == 1).all())
        ):
            self.unit_weights = torch.ones(
                (1, 1), dtype=cell_weights.dtype, device=cell_weights.device
            )
            self.unit_weights.unit_counts = {}  # see unit_counts_and_present

    def batch_weights(self, rows):
        """Return the cell weights of ``rows`` (a slice or an index tensor)."""
        if self.unit_weights is None:
            if isinstance(rows, slice):
                return self.cell_weights[rows]
            return self.cell_weights.index_select(0, rows)
        n_rows = (
            len(range(*rows.indices(len(self))))
            if isinstance(rows, slice)
            else len(rows)
        )
        return self.unit_weights.expand(n_rows, self.cell_weights.shape[1])

    @cached_property
    def labelled_share(self):
        """Share of the ``(rows, tasks)`` cells that carry a label."""
        weights = self.cell_weights
        return float((weights != 0).sum()) / max(weights.numel(), 1)

    @cached_property
    def cell_index(self):
        """The labelled cells by row, for batches of cells (built once)."""
        return CellIndex(self)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], (self.Y[i], self.cell_weights[i])


def unit_counts_and_present(cell_weights):
    """Return ``(counts, present)`` for a batch of unit weights, else None.

    Unit weights are views of a :class:`TensorData`'s ``unit_weights``; their
    per-task counts (the batch's row count, exact in float) and all-True
    ``present`` are made once per batch shape and shared.
    """
    base = cell_weights._base
    cache = getattr(base, "unit_counts", None) if base is not None else None
    if cache is None:
        return None
    shape = cell_weights.shape
    if shape not in cache:
        cache[shape] = (
            torch.full(shape[1:], shape[0], dtype=base.dtype, device=base.device),
            torch.ones(shape[1:], dtype=torch.bool, device=base.device),
        )
    return cache[shape]


class SplitData:
    """A training set and an optional validation set, split beforehand."""

    def __init__(self, train, valid=None):
        self.train, self.valid = train, valid


class TensorBatches:
    """Iterate over mini-batches of a :class:`TensorData` by slicing.

    Parameters
    ----------
    dataset : TensorData
        The tensors to slice.
    batch_size : int
        Rows per batch.
    shuffle : bool, default=False
        Draw a new row order each time iteration starts.
    generator : torch.Generator, default=None
        CPU generator for the row order, so shuffling never touches torch's
        global random state.
    """

    def __init__(self, dataset, batch_size, shuffle=False, generator=None):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        data, n, size = self.dataset, len(self.dataset), self.batch_size
        if not self.shuffle:
            for start in range(0, n, size):
                rows = slice(start, start + size)
                yield data.X[rows], (data.Y[rows], data.batch_weights(rows))
            return
        order = torch.randperm(n, generator=self.generator).to(data.X.device)
        # index_select: a third of the per-batch cost of X[rows] (advanced
        # indexing), with the same rows
        X, Y = data.X, data.Y
        for start in range(0, n, size):
            rows = order[start : start + size]
            yield (
                X.index_select(0, rows),
                (Y.index_select(0, rows), data.batch_weights(rows)),
            )
