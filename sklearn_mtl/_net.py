"""The private skorch net: masked multi-task loss over tensors kept on the device.

skorch's default data path builds a per-sample ``DataLoader``; on this
project's benchmark shape that doubles fit time. Here the inputs, targets and
cell weights become tensors on the training device once per ``fit``, and
:class:`TensorBatches` yields slices of them.
"""

import numpy as np
import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data

from ._affinity import TaskAffinityRecorder
from ._gradients import (
    add_to_grads,
    shared_parameters,
    subset_task_jacobian,
    task_jacobian,
)
from .exceptions import TrainingDivergedError
from .weighting._budget import drawing_from

__all__ = [
    "MultiTaskNet",
    "SplitData",
    "StopTraining",
    "TensorBatches",
    "TensorData",
    "eval_in_chunks",
]

# rows per forward pass outside training (validation, predict, probe features):
# memory stays bounded whatever the size of X
EVAL_CHUNK_ROWS = 8192
# a task's epoch loss above this many times the loss of predicting 0 (in
# standardised units: the mean), or 1 if larger, is divergence
DIVERGENCE_FACTOR = 1e6


class StopTraining(KeyboardInterrupt):
    """A callback's request to end training, as opposed to the user's interrupt.

    skorch callbacks end training by raising ``KeyboardInterrupt`` (early
    stopping does); :class:`MultiTaskNet` turns those into this subclass, so
    that a real interrupt (Ctrl-C) is never mistaken for one and swallowed.
    """


def eval_in_chunks(module, X, device, dtype=torch.float32, chunk_rows=EVAL_CHUNK_ROWS):
    """Run ``module`` on the array ``X`` in eval mode; return float64 numpy.

    ``X`` is converted to ``dtype`` on ``device`` one chunk of rows at a time;
    a module in training mode is switched to eval mode and back afterwards.
    """
    was_training = module.training
    if was_training:  # a module in eval mode is never touched: threads share it
        module.eval()
    out = None
    try:
        with torch.inference_mode():
            for i in range(0, len(X), chunk_rows):
                chunk = np.ascontiguousarray(X[i : i + chunk_rows])  # X[::-1] too
                rows = torch.tensor(chunk, dtype=dtype, device=device)
                part = module(rows).double().cpu().numpy()
                if out is None:  # one output array, filled chunk by chunk
                    out = np.empty((len(X), *part.shape[1:]))
                out[i : i + len(part)] = part
    finally:
        if was_training:
            module.train()
    return out


class TensorData(torch.utils.data.Dataset):
    """Inputs, zero-filled targets and per-cell weights, as device tensors.

    ``cell_weights[i, t]`` is ``sample_weight[i]`` where row ``i`` is labelled
    for task ``t`` and 0 where it is not, so one tensor carries both the
    NaN mask and the sample weights.
    """

    def __init__(self, X, Y, cell_weights):
        self.X, self.Y, self.cell_weights = X, Y, cell_weights

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], (self.Y[i], self.cell_weights[i])


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
                stop = start + size
                yield (
                    data.X[start:stop],
                    (data.Y[start:stop], data.cell_weights[start:stop]),
                )
            return
        order = torch.randperm(n, generator=self.generator).to(data.X.device)
        for start in range(0, n, size):
            rows = order[start : start + size]
            yield data.X[rows], (data.Y[rows], data.cell_weights[rows])


class _SameAsModule:
    """Stands in a pickle for a net's ``module`` that is its ``module_``."""


class MultiTaskNet(NeuralNet):
    """skorch net whose loss is ``sum_t w_t L_t + penalty(module)``.

    ``L_t`` is the weighted mean of the element-wise ``criterion`` over the
    rows labelled for task ``t``. The per-task losses of each epoch are
    recorded in ``history`` as ``train_task_loss`` / ``valid_task_loss``, and
    the task weights as ``task_weights``.

    Parameters
    ----------
    module : torch.nn.Module
        Maps ``(n, n_features)`` to ``(n, n_tasks)``.
    task_weighting : TaskWeighting
        A fresh strategy; initialised by the net.
    penalty : callable or None, default=None
        ``penalty(module) -> scalar tensor``, added to the loss of each
        training batch (the ``alpha * R(theta)`` term).
    shuffle_generator : torch.Generator or None, default=None
        Generator for the order of training rows.
    task_affinity : {"gradient_cosine", "lookahead"} or None, default=None
        Record how the tasks' training steps interact (see
        :class:`~sklearn_mtl._affinity.TaskAffinityRecorder`); None computes
        nothing extra.
    **kwargs
        Passed to :class:`skorch.NeuralNet`.
    """

    def __init__(
        self,
        module,
        *args,
        task_weighting=None,
        penalty=None,
        shuffle_generator=None,
        task_affinity=None,
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.task_weighting = task_weighting
        self.penalty = penalty
        self.shuffle_generator = shuffle_generator
        self.task_affinity = task_affinity
        self.loss_reference = None

    # ---- training runs: a callback's stop ends it, an interrupt propagates --
    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train as skorch does, but let a user's ``KeyboardInterrupt`` through.

        skorch ends training quietly on any ``KeyboardInterrupt``. Here only a
        callback's request to stop (:class:`StopTraining`) ends it quietly; an
        interrupt from the user first drops the epoch it cut short from the
        history (so every row is complete), runs the end-of-training
        callbacks, and then propagates.
        """
        if not self.initialized_:
            self.initialize()
        self.notify("on_train_begin", X=X, y=y)
        try:
            with drawing_from(self.shuffle_generator):
                self.fit_loop(X, y, **fit_params)
        except StopTraining:
            pass
        except KeyboardInterrupt:
            if len(self.history) and "task_weights" not in self.history[-1]:
                del self.history[-1]
            if len(self.history):
                self.notify("on_train_end", X=X, y=y)
            raise
        self.notify("on_train_end", X=X, y=y)
        return self

    def notify(self, method_name, **cb_kwargs):
        """Call the hooks; a ``KeyboardInterrupt`` they raise is a stop request."""
        try:
            super().notify(method_name, **cb_kwargs)
        except StopTraining:
            raise
        except KeyboardInterrupt as stop:
            raise StopTraining from stop

    # ---- pickling: CUDA-trained nets must load on CPU-only machines --------
    def __getstate__(self):
        shared = "module_" in vars(self) and vars(self).get("module") is self.module_
        state = super().__getstate__()
        state.pop("_task_stats", None)
        state.pop("_rowwise_module", None)  # a cache that points at module_
        if shared:
            # ``module`` is the very instance that became ``module_``. skorch maps
            # ``module_`` onto an available device when unpickling; pickled as
            # ``module`` too, its CUDA tensors would fail to load without a GPU.
            state["module"] = _SameAsModule()
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if isinstance(self.module, _SameAsModule):
            self.module = self.module_
        if isinstance(self.device, torch.device):  # skorch mapped CUDA onto the CPU
            self.device = str(self.device)
        if self.initialized_:
            self.task_weighting.to(self.device)
            self._reset_task_stats(self.task_weighting.n_tasks_)
            if self.affinity_ is not None:
                self.affinity_.to(self.device)

    # ---- data path -------------------------------------------------------
    def get_split_datasets(self, X, y=None, **fit_params):
        """Return the split made by the estimator (a :class:`SplitData`)."""
        if isinstance(X, SplitData):
            return X.train, X.valid
        return super().get_split_datasets(X, y, **fit_params)

    def get_iterator(self, dataset, training=False):
        """Slice device tensors; fall back to skorch for other datasets."""
        if not isinstance(dataset, TensorData):
            return super().get_iterator(dataset, training=training)
        if training:
            return TensorBatches(dataset, self.batch_size, True, self.shuffle_generator)
        return TensorBatches(dataset, max(self.batch_size, EVAL_CHUNK_ROWS))

    # ---- objective -------------------------------------------------------
    def initialize(self):
        """Build module, criterion and optimizer; prepare the weighting."""
        super().initialize()
        n_tasks = self.task_weighting.n_tasks_
        self._reset_task_stats(n_tasks)
        self.affinity_ = None
        if self.task_affinity is not None:
            self.affinity_ = TaskAffinityRecorder(
                self.task_affinity, n_tasks, self.device
            )
        return self

    def _reset_task_stats(self, n_tasks):
        """Per-task [loss sums, label weights] of the epoch, kept on the device."""
        self._task_stats = {
            prefix: torch.zeros(2, n_tasks, dtype=torch.float64, device=self.device)
            for prefix in ("train", "valid")
        }

    def _set_training(self, training=True):
        # skorch switches modes before every batch; the recursive module.train()
        # costs more than a small batch's loss, so only switch on a change.
        if self.module_.training != training:
            super()._set_training(training)

    def task_losses(self, y_pred, y_true, training=None):
        """Per-task weighted mean losses of a batch, and which tasks it labels.

        Returns ``(task_losses, present)``: ``task_losses[t]`` is 0 where
        ``present[t]`` is False. With ``training`` True or False, the batch's
        per-task sums also go into that epoch's training or validation
        statistics (``train_task_loss`` / ``valid_task_loss``).
        """
        Y, cell_weights = y_true
        elementwise = self.criterion_(y_pred, Y)
        sums = (elementwise * cell_weights).sum(dim=0)
        counts = cell_weights.sum(dim=0)
        if training is not None:
            self._task_stats["train" if training else "valid"] += torch.stack(
                (sums.detach(), counts)
            )
        present = counts > 0
        return sums / torch.where(present, counts, torch.ones_like(counts)), present

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Weighted masked task losses, plus the penalty while training."""
        task_losses, present = self.task_losses(y_pred, y_true, training)
        loss = self.task_weighting.combine(task_losses, present)
        if training and self.penalty is not None:
            loss = loss + self.penalty(self.module_)
        return loss

    def train_step_single(self, batch, **fit_params):
        """One backward pass; per-task gradients only when something needs them."""
        weighting = self.task_weighting
        if not weighting.needs_gradients and self.affinity_ is None:
            step = super().train_step_single(batch, **fit_params)
            weighting.after_backward()
            return step
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        task_losses, present = self.task_losses(y_pred, yi, training=True)
        tasks = present.nonzero().squeeze(1)
        shared = shared_parameters(self.module_)
        # a gradient strategy may bound its cost to the gradients of some tasks
        selected = weighting.select_tasks(tasks) if weighting.needs_gradients else tasks
        if self.affinity_ is not None:  # the affinity needs every present task
            gradients = task_jacobian(task_losses[tasks], shared)
            self.affinity_.update(self, Xi, yi, gradients.detach(), tasks, shared)
            if len(selected) < len(tasks):
                gradients = gradients[torch.searchsorted(tasks, selected)]
        elif len(selected) < len(tasks):  # through the selected tasks' rows only
            gradients = subset_task_jacobian(
                self, Xi, yi, task_losses, selected, shared
            )
        else:
            gradients = task_jacobian(task_losses[selected], shared)
        loss = weighting.combine(task_losses, present)
        penalty = self.penalty(self.module_) if self.penalty is not None else None
        if not weighting.needs_gradients:
            (loss if penalty is None else loss + penalty).backward()
        else:
            combined = weighting.combine_gradients(
                gradients.detach(), task_losses[selected].detach(), selected
            )
            if len(selected) < len(tasks):
                # the present tasks left out: plain gradient of their terms
                left_out = present.clone()
                left_out[selected] = False
                left_loss = weighting.combine(
                    torch.where(left_out, task_losses, 0.0), left_out
                )
                if left_loss.requires_grad:
                    left_loss.backward(inputs=shared, retain_graph=True)
            shared_ids = {id(p) for p in shared}
            rest = [
                p
                for p in self.module_.parameters()
                if p.requires_grad and id(p) not in shared_ids
            ]
            if rest and loss.requires_grad:
                loss.backward(inputs=rest)
            if penalty is not None:
                penalty.backward()
            add_to_grads(shared, combined)
        weighting.after_backward()
        if penalty is not None:
            loss = loss.detach() + penalty.detach()
        return {"loss": loss, "y_pred": y_pred}

    # ---- per-epoch bookkeeping --------------------------------------------
    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Start a history row and zero the per-task sums."""
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
        for stats in self._task_stats.values():
            stats.zero_()

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Record per-task losses and weights; stop if the loss diverged."""
        for prefix, (sums, counts) in self._task_stats.items():
            if counts.sum() > 0:
                means = (sums / counts.clamp_min(1e-300)).cpu().numpy()
                self.history.record(f"{prefix}_task_loss", means.tolist())
        train_losses = np.asarray(self.history[-1, "train_task_loss"])
        self.task_weighting.end_epoch(train_losses)
        self.history.record("task_weights", self.task_weighting.weights_.tolist())
        if self._diverged(train_losses):
            self._stop_on_divergence()

    def _diverged(self, train_losses):
        """Whether an epoch's per-task training losses show divergence.

        The rule: a loss that is NaN or infinite, or a task's loss above
        ``DIVERGENCE_FACTOR`` (1e6) times ``loss_reference`` (the loss of
        predicting 0 for that task, at least 1). In standardised units that
        is an error a thousand standard deviations wide on average.
        """
        if not np.all(np.isfinite(train_losses)):
            return True
        if self.loss_reference is None:
            return False
        limit = DIVERGENCE_FACTOR * np.maximum(self.loss_reference, 1.0)
        return bool(np.any(train_losses > limit))

    def _stop_on_divergence(self):
        """Restore the best early-stopping weights if there are any, else raise."""
        for _, callback in self.callbacks_:
            if (
                getattr(callback, "load_best", False)
                and getattr(callback, "best_model_weights_", None) is not None
            ):
                self.history.record("diverged", True)
                raise StopTraining  # the best weights load at the end of training
        raise TrainingDivergedError(
            f"The training loss diverged in epoch {len(self.history)} (it became "
            "NaN or infinite, or over a million times the loss of predicting the "
            f"mean; lr={self.lr}). Lower the learning rate `lr`, standardize X (for "
            "example with sklearn's StandardScaler), keep standardize_targets=True, "
            "or use early_stopping=True to keep the best weights seen."
        )
