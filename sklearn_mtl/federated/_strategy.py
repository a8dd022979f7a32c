"""The server's aggregation: the trunk by rows, each head by its task's labels."""

import time
from logging import INFO

import numpy as np
from flwr.app import Array, ArrayRecord, MetricRecord
from flwr.serverapp.strategy import FedAvg
from flwr.supercore import log

__all__ = ["MultiTaskFedAvg"]


def _metrics(message):
    return next(iter(message.content.metric_records.values()))


def _arrays(message):
    return next(iter(message.content.array_records.values()))


def record_bytes(record):
    """Return the bytes of the arrays in an ``ArrayRecord``."""
    return sum(len(array.data) for array in record.values())


class MultiTaskFedAvg(FedAvg):
    """Federated averaging of a shared trunk and per-task heads (FedPer-style).

    Every entry of the network's state dict that is not a head (the shared
    trunk) is averaged over the sites that replied, weighted by their rows
    (``"num-examples"``). Each head entry holds one slice per task (task
    first): slice ``t`` is averaged only over the sites that label task
    ``t``, weighted by their labelled rows for it (``"task-rows"``). A task
    that no replying site labels keeps its current head. When each site
    labels its own tasks only, every head stays with its site: FedPer.

    Parameters
    ----------
    task_keys : list of str
        State-dict keys of the heads (one slice per task along axis 0).
    fraction_train : float, default=1.0
        Share of the sites asked to train in each round.
    min_train_nodes : int, default=1
        Fewest sites asked to train in a round.
    min_available_nodes : int, default=1
        Sites that must be connected before a round starts.
    **kwargs
        Other arguments of :class:`flwr.serverapp.strategy.FedAvg`.

    Attributes
    ----------
    rounds_ : list of dict
        Per round: ``train_loss`` (row-weighted), ``train_task_loss``
        (label-weighted, per task), ``sites`` (replies aggregated),
        ``failures``, ``bytes_to_sites`` and ``bytes_from_sites`` (array
        payloads), ``dur`` (seconds).

    Notes
    -----
    The sites train on their shares of the pooled objective (task ``t``'s
    loss weighted by ``w_t * (n_st / n_t) * (n / n_s)`` at site ``s``), so
    the row-weighted average of their objectives is the pooled objective.
    With one round of one full-batch step of plain SGD from the same
    weights, the trunk's update is therefore exactly the pooled one, for any
    pattern of labels. Head ``t`` moves by the label-weighted mean of its
    sites' steps: exactly the pooled step when each of those sites holds
    the same share of the task's labels as of all rows (for instance when
    every row is labelled for every task); else site ``s``'s part of the
    step is scaled by ``(n_st / n_t) * (n / n_s)``, its share of the task's
    labels over its share of the rows. Local head steps are not damped by
    the sites that do not label the task: what FedPer needs.
    """

    def __init__(
        self,
        task_keys,
        fraction_train=1.0,
        min_train_nodes=1,
        min_available_nodes=1,
        **kwargs,
    ):
        kwargs.setdefault("fraction_evaluate", 0.0)
        kwargs.setdefault("min_evaluate_nodes", 0)
        super().__init__(
            fraction_train=fraction_train,
            min_train_nodes=min_train_nodes,
            min_available_nodes=min_available_nodes,
            **kwargs,
        )
        self.task_keys = set(task_keys)
        self.rounds_ = []
        self._current = None
        self._sent = 0
        self._started = None

    def configure_train(self, server_round, arrays, config, grid):
        """Ask the sampled sites to train from ``arrays``; count the bytes sent."""
        self._current, self._started = arrays, time.perf_counter()
        messages = list(super().configure_train(server_round, arrays, config, grid))
        self._sent = record_bytes(arrays) * len(messages)
        return messages

    def aggregate_train(self, server_round, replies):
        """Average the trunk by rows and each head over the sites labelling it."""
        replies = list(replies)
        valid, failed = self._check_and_log_replies(replies, is_train=True)
        if not valid:
            self._log_round(0, len(failed), 0, np.nan, [])
            return None, None
        valid.sort(key=lambda m: _metrics(m)["site"])
        rows = np.array([_metrics(m)["num-examples"] for m in valid], dtype=float)
        task_rows = np.array([_metrics(m)["task-rows"] for m in valid], dtype=float)
        records = [_arrays(m) for m in valid]
        current = self._current
        aggregated = {}
        row_share = rows / rows.sum()
        task_total = task_rows.sum(axis=0)
        task_share = np.divide(
            task_rows, task_total, out=np.zeros_like(task_rows), where=task_total > 0
        )
        for key in records[0].keys():
            stack = np.stack([r[key].numpy() for r in records])
            dtype = stack.dtype
            stack = stack.astype(np.float64)
            if key in self.task_keys:
                shape = task_share.shape + (1,) * (stack.ndim - 2)
                mean = (task_share.reshape(shape) * stack).sum(axis=0)
                kept = task_total <= 0  # no replying site labels these tasks
                if kept.any() and current is not None:
                    mean[kept] = current[key].numpy()[kept]
            else:
                mean = np.tensordot(row_share, stack, axes=1)
            aggregated[key] = Array(np.asarray(mean.astype(dtype)))
        losses = np.array([_metrics(m)["train-loss"] for m in valid])
        task_losses = np.array([_metrics(m)["task-loss"] for m in valid])
        task_loss = (task_share * task_losses).sum(axis=0)
        received = sum(record_bytes(r) for r in records)
        self._log_round(
            len(valid), len(failed), received, float(row_share @ losses), task_loss
        )
        metrics = MetricRecord(
            {"train-loss": float(row_share @ losses), "task-loss": task_loss.tolist()}
        )
        return ArrayRecord(aggregated), metrics

    def _log_round(self, n_valid, n_failed, received, loss, task_loss):
        self.rounds_.append(
            {
                "train_loss": loss,
                "train_task_loss": [float(v) for v in task_loss],
                "sites": n_valid,
                "failures": n_failed,
                "bytes_to_sites": int(self._sent),
                "bytes_from_sites": int(received),
                "dur": time.perf_counter() - (self._started or time.perf_counter()),
            }
        )
        log(
            INFO,
            "round %d: %d site(s) aggregated, %d failed, train loss %.4g",
            len(self.rounds_),
            n_valid,
            n_failed,
            loss,
        )
