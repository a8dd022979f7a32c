"""The private skorch net: masked multi-task loss over tensors kept on the device.

The data path (tensors built once per ``fit``, batches sliced from them) is in
:mod:`sklearn_mtl._tensors`; training on the labelled cells of sparse labels
in :mod:`sklearn_mtl._cells`.
"""

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import get_len, unpack_data

from ._affinity import TaskAffinityRecorder
from ._cells import CellBatches, LabelledCells, cell_task_sums, trains_on_cells
from ._gradients import (
    add_to_grads,
    shared_parameters,
    subset_task_jacobian,
    task_jacobian,
)
from ._lean_step import lean_training_step
from ._tensors import (
    EVAL_CHUNK_ROWS,
    SplitData,
    TensorBatches,
    TensorData,
    unit_counts_and_present,
)
from .exceptions import TrainingDivergedError
from .weighting._budget import drawing_from
from .weighting._fixed import EqualWeighting

__all__ = ["MultiTaskNet", "StopTraining"]

# a task's epoch loss above this many times the loss of predicting 0 (in
# standardised units: the mean), or 1 if larger, is divergence
DIVERGENCE_FACTOR = 1e6
# the hooks skorch calls once per batch
BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_grad_computed")
# outputs of fused batches kept before their per-task squared errors are
# summed in one pass (see MultiTaskNet._defer_squared_errors): 4 MiB in
# float32, and as much for their targets
DEFERRED_CELLS = 1 << 20


class StopTraining(KeyboardInterrupt):
    """A callback's request to end training, as opposed to the user's interrupt.

    skorch callbacks end training by raising ``KeyboardInterrupt`` (early
    stopping does); :class:`MultiTaskNet` turns those into this subclass, so
    that a real interrupt (Ctrl-C) is never mistaken for one and swallowed.
    """


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
    data_parallel : DataParallel or None, default=None
        Train on this process's share of every batch, with losses and
        gradients summed over the processes (see ``sklearn_mtl._distributed``).
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
        data_parallel=None,
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.task_weighting = task_weighting
        self.penalty = penalty
        self.shuffle_generator = shuffle_generator
        self.task_affinity = task_affinity
        self.data_parallel = data_parallel
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
        state.pop("_batch_task_stats", None)
        state.pop("_deferred_outputs", None)
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
        if training and self.data_parallel is not None:
            return self.data_parallel.batches(
                dataset, self.batch_size, self.shuffle_generator
            )
        if training and trains_on_cells(self, dataset):  # sparse labels
            return CellBatches(dataset, self.batch_size, self.shuffle_generator)
        if training:
            return TensorBatches(dataset, self.batch_size, True, self.shuffle_generator)
        return TensorBatches(dataset, max(self.batch_size, EVAL_CHUNK_ROWS))

    # ---- the epoch loop: no per-batch hooks when nothing listens ----------
    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """Run one epoch as skorch does, with less work per batch if possible.

        When no callback (nor the net) defines a per-batch hook
        (``on_batch_begin``, ``on_batch_end``, ``on_grad_computed``), the
        hooks are not called, and the batch losses stay tensors until the
        epoch ends: then each batch gets its history row (``{prefix}_loss``,
        ``{prefix}_batch_size``) with the same values skorch records; where
        the net's step is its plain branch (see
        :func:`~sklearn_mtl._lean_step.lean_training_step`), training batches
        take the lean step. Any
        callback with a per-batch hook (``LRScheduler`` stepping every
        batch, ``ProgressBar``, ``BatchScoring``...) gets skorch's own loop.
        """
        if iterator is None:
            return
        try:
            self._run_epoch(iterator, training, prefix, step_fn, **fit_params)
        finally:
            if hasattr(iterator, "global_sizes"):  # data-parallel: global batches
                self.data_parallel.record_global_sizes(self.history, iterator, prefix)

    def _run_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if self._listens_to_batches():
            super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
            return
        if step_fn == self.train_step and type(self).train_step is NeuralNet.train_step:
            lean = lean_training_step(self, iterator) if training else None
            step_fn = self._train_step_without_hooks if lean is None else lean
        losses, sizes = [], []
        try:
            for batch in iterator:
                step = step_fn(batch, **fit_params)
                losses.append(step["loss"].detach())
                first = batch[0] if isinstance(batch, tuple | list) else batch
                # skorch's get_len, which also measures dicts and lists, costs
                # about 2 µs a batch; a tensor's length is len()
                sizes.append(
                    len(first) if type(first) is torch.Tensor else get_len(first)
                )
        finally:  # the batches done so far are recorded, as skorch does
            values = torch.stack(losses).tolist() if losses else []  # one read
            history = self.history
            for loss, size in zip(values, sizes, strict=True):
                history.new_batch()
                history.record_batch(f"{prefix}_loss", loss)
                history.record_batch(f"{prefix}_batch_size", size)
        history.record(f"{prefix}_batch_count", len(sizes))

    def _listens_to_batches(self):
        """Whether the net or a callback defines a hook called every batch."""
        for name in BATCH_HOOKS:
            if getattr(type(self), name) is not getattr(NeuralNet, name):
                return True
            if name in vars(self):
                return True
            for _, callback in self.callbacks_:
                if (
                    not isinstance(callback, Callback)
                    or name in vars(callback)
                    or getattr(type(callback), name) is not getattr(Callback, name)
                ):
                    return True
        return False

    def _train_step_without_hooks(self, batch, **fit_params):
        """Run skorch's ``train_step`` without its ``on_grad_computed`` call."""
        accumulator = self.get_train_step_accumulator()

        def step_fn():
            self._zero_grad_optimizer()
            step = self.train_step_single(batch, **fit_params)
            accumulator.store_step(step)
            return step["loss"]

        self._step_optimizer(step_fn)
        return accumulator.get_step()

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
        """Per-task [loss sums, label weights] of the epoch, kept on the device.

        Each batch only appends its ``(sums, counts)`` pair to
        ``_batch_task_stats``; :meth:`_gather_task_stats` adds them up.
        """
        self._task_stats = {
            prefix: torch.zeros(2, n_tasks, dtype=torch.float64, device=self.device)
            for prefix in ("train", "valid")
        }
        self._batch_task_stats = {prefix: [] for prefix in self._task_stats}
        self._deferred_outputs = {prefix: [] for prefix in self._task_stats}

    def _defer_squared_errors(self, pred, Y, training):
        """Keep a fused batch's outputs and targets for the per-task sums.

        Its per-task sums of squared errors are taken later, for many batches
        in one pass (:meth:`_sum_deferred`): three small operations per batch
        cost about 10 µs of a 16-unit network's 220 µs step. At most
        ``DEFERRED_CELLS`` outputs wait at a time.
        """
        prefix = "train" if training else "valid"
        deferred = self._deferred_outputs[prefix]
        deferred.append((pred, Y))
        if len(deferred) * pred.numel() >= DEFERRED_CELLS:
            self._sum_deferred(prefix)

    def _sum_deferred(self, prefix):
        """Turn the deferred batches into one pending (sums, counts) pair.

        Every cell of a fused batch weighs 1, so each task's count is the
        number of rows.
        """
        deferred = self._deferred_outputs[prefix]
        if deferred:
            preds, targets = zip(*deferred, strict=True)
            if len(deferred) == 1:  # a batch as large as the limit: no copies
                errors = preds[0].sub(targets[0]).square_()
            else:
                errors = torch.cat(preds).sub_(torch.cat(targets)).square_()
            counts = errors.new_full(errors.shape[1:], len(errors))
            self._batch_task_stats[prefix].append((errors.sum(dim=0), counts))
            deferred.clear()

    def _gather_task_stats(self):
        """Add the batches' pending per-task sums into ``_task_stats``."""
        for prefix in self._deferred_outputs:
            self._sum_deferred(prefix)
        for prefix, pending in self._batch_task_stats.items():
            if pending:
                batches = torch.stack([torch.stack(pair) for pair in pending])
                self._task_stats[prefix] += batches.double().sum(dim=0)
                pending.clear()

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
        if isinstance(y_true, LabelledCells):  # y_pred holds the labelled cells
            sums = cell_task_sums(self.criterion_, y_pred, y_true)
            counts, unit = y_true.counts, None
        else:
            sums, counts, unit = self._dense_task_sums(y_pred, y_true)
        self._record_task_sums(sums.detach(), counts, training)
        if training and self.data_parallel is not None:  # the batch's global counts
            counts, unit = self.data_parallel.all_reduce(counts.clone()), None
        if unit is None:
            present = counts > 0
            counts = torch.where(present, counts, 1.0)
        else:
            present = unit[1]
        return sums / counts, present

    def _dense_task_sums(self, y_pred, y_true):
        """Per-task loss sums and weights of a dense ``(n, T)`` batch."""
        Y, cell_weights = y_true
        elementwise = self.criterion_(y_pred, Y)
        unit = unit_counts_and_present(cell_weights)
        if unit is None:
            sums = (elementwise * cell_weights).sum(dim=0)
            counts = cell_weights.sum(dim=0)
        else:  # every weight is 1: the same sums without the product
            sums = elementwise.sum(dim=0)
            counts = unit[0]
        return sums, counts, unit

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Weighted masked task losses, plus the penalty while training."""
        loss = self._mean_squared_error(y_pred, y_true, training)
        if loss is None:
            task_losses, present = self.task_losses(y_pred, y_true, training)
            loss = self.task_weighting.combine(task_losses, present)
        if training and self.penalty is not None:
            penalty = self.penalty(self.module_)
            if self.data_parallel is not None:
                penalty = self.data_parallel.penalty_share(penalty)
            loss = loss + penalty
        return loss

    def _mean_squared_error(self, y_pred, y_true, training):
        """Return the objective as one fused ``mse_loss`` where it is one, else None.

        With squared error, equal task weights and every cell of the batch
        weighing 1, ``sum_t L_t / T`` is the mean squared error of the whole
        batch: one kernel forward and backward instead of the per-task sums,
        their division by the counts and the weighted sum (up to the
        rounding of float32 sums; about 5% of a step with a 16-unit trunk).
        The per-task sums the history records are taken without gradient,
        for many batches at once (:meth:`_defer_squared_errors`).
        """
        if (
            isinstance(y_true, LabelledCells)
            or type(self.criterion_) is not torch.nn.MSELoss
            or type(self.task_weighting) is not EqualWeighting
            or self.data_parallel is not None
        ):
            return None
        Y, cell_weights = y_true
        unit = unit_counts_and_present(cell_weights)
        if unit is None or y_pred.shape != Y.shape:
            return None
        if training is not None:
            self._defer_squared_errors(y_pred.detach(), Y, training)
        return torch.nn.functional.mse_loss(y_pred, Y)

    def _record_task_sums(self, sums, counts, training):
        """Keep a batch's per-task sums for the epoch's statistics (None: don't)."""
        if training is not None:  # added up once per epoch
            self._batch_task_stats["train" if training else "valid"].append(
                (sums, counts)
            )

    def train_step_single(self, batch, **fit_params):
        """One backward pass; per-task gradients only when something needs them."""
        weighting = self.task_weighting
        if isinstance(batch[1], LabelledCells):  # see _cells.trains_on_cells
            self._set_training(True)
            Xi, cells = batch
            y_pred = self.module_.forward_cells(Xi, cells.rows, cells.tasks)
            loss = self.get_loss(y_pred, cells, X=Xi, training=True)
            loss.backward()
            weighting.after_backward()
            return {"loss": loss, "y_pred": y_pred}
        if not weighting.needs_gradients and self.affinity_ is None:
            step = super().train_step_single(batch, **fit_params)
            if self.data_parallel is not None:
                step = self.data_parallel.reduce_step(self.module_, step)
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
        for pending in (
            *self._batch_task_stats.values(),
            *self._deferred_outputs.values(),
        ):
            pending.clear()

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Record per-task losses and weights; stop if the loss diverged."""
        self._gather_task_stats()
        if self.data_parallel is not None:  # the training rows of every process
            self.data_parallel.all_reduce(self._task_stats["train"])
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
