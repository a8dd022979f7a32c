"""The shared-trunk architecture of the multi-task estimators."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._affinity import AFFINITY_KINDS
from ._checks import check_layer_sizes
from ._penalties import L2Penalty, SumPenalty, TaskMeanPenalty
from .modules import (
    BatchedMLP,
    MixtureOfExpertsModule,
    MultiTaskModule,
    SoftSharingModule,
    TaskHeadsModule,
    make_mlp,
)

__all__ = ["SharedTrunkMixin"]


class SharedTrunkMixin:
    """The architecture of the multi-task estimators: a trunk, a head per task.

    Shared by :class:`MultiTaskRegressor` and
    :class:`~sklearn_mtl.MultiTaskClassifier`: the sharing schemes, their
    penalties and the task affinity. A task with several outputs (a class's
    logit, a quantile) gets one output column per output, from
    ``_task_losses``.
    """

    _architecture_params = (
        "hidden_layer_sizes",
        "sharing",
        "n_experts",
        "task_affinity",
    )

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "sharing": [StrOptions({"hard", "soft", "mmoe"})],
        "n_experts": [Interval(Integral, 1, None, closed="left")],
        "sharing_alpha": [Interval(Real, 0, None, closed="left")],
        "task_affinity": [StrOptions(set(AFFINITY_KINDS)), None],
    }

    @property
    def task_affinity_(self):
        """How training each task moved the others; needs ``task_affinity``."""
        recorder = getattr(self.net_, "affinity_", None)
        if recorder is None:
            raise AttributeError(
                "task_affinity_ is recorded only when the model is fitted with "
                "task_affinity='gradient_cosine' or 'lookahead'."
            )
        return recorder.result()

    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        hidden = check_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")
        if self._custom_trunk() and self.sharing != "hard":
            raise ValueError(
                f"sharing={self.sharing!r} builds per-task or expert copies of the "
                "built-in MLP trunk; with a custom trunk use sharing='hard' (one "
                "trunk, a head per task), or build the sharing into your trunk."
            )
        if self.sharing != "hard" and not hidden:
            raise ValueError(
                f"sharing={self.sharing!r} needs at least one hidden layer in "
                "hidden_layer_sizes (the per-task trunks or the experts)."
            )

    def _net_kwargs(self):
        return {"task_affinity": self.task_affinity}

    def _build_penalty(self, module):
        alpha = self._penalty_alpha()
        penalties = [L2Penalty(alpha)] if alpha > 0 else []
        if self.sharing_alpha > 0:
            penalties.append(TaskMeanPenalty(self.sharing_alpha))
        if len(penalties) < 2:
            return penalties[0] if penalties else None
        return SumPenalty(*penalties)

    def _build_module(self, n_features, n_tasks, example=None):
        hidden = check_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")
        head = check_layer_sizes(self.head_layer_sizes, "head_layer_sizes")
        if self._custom_trunk():
            trunk, width = self._user_trunk(example)
        elif self.sharing == "hard":
            trunk = make_mlp(n_features, hidden, self.activation, self.dropout)
            width = trunk.out_features
        else:
            copies = n_tasks if self.sharing == "soft" else self.n_experts
            trunk = BatchedMLP(
                n_features, copies, hidden, self.activation, self.dropout
            )
            width = trunk.out_features
        losses = self._task_losses(n_tasks)
        output_tasks = np.repeat(np.arange(n_tasks), [x.n_outputs for x in losses])
        heads = TaskHeadsModule(
            width, len(output_tasks), head, self.activation, self.dropout, output_tasks
        )
        if self.sharing == "soft":
            return SoftSharingModule(trunk, heads)
        if self.sharing == "mmoe":
            return MixtureOfExpertsModule(trunk, n_tasks, heads)
        return MultiTaskModule(trunk, heads)
