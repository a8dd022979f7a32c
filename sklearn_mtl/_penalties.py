"""Regularisers ``R(theta)`` added to the training objective.

Each is a small picklable callable ``penalty(module) -> scalar tensor``.

The data term is the *mean* task loss (with equal weights), so a weight that
belongs to one task (a head, a per-task trunk or gate: the tensors of
``module.task_parameters()``, task first) is penalised with weight
``1 / n_tasks``, like its task's loss. Each task's own weights are then
regularised as they would be in a single-task network, whatever the number of
tasks; shared weights count in full.
"""

__all__ = ["L2Penalty", "L2SPPenalty", "TaskMeanPenalty", "SumPenalty"]


def squared_norm(param, task_ids):
    """``||param||^2``, divided by its number of tasks when it is per-task."""
    square = param.pow(2).sum()
    return square / param.shape[0] if id(param) in task_ids else square


def task_parameter_ids(module):
    """Ids of the module's per-task weight tensors (none if it does not say)."""
    if not hasattr(module, "task_parameters"):
        return set()
    return {id(p) for p in module.task_parameters()}


class L2Penalty:
    """``alpha / 2 * sum ||W||^2`` over the weight matrices (not the biases).

    A per-task weight tensor counts ``1 / n_tasks`` (see the module notes).

    Parameters
    ----------
    alpha : float
        Strength of the penalty.
    """

    def __init__(self, alpha):
        self.alpha = alpha

    def __call__(self, module):
        """Return the penalty of ``module``'s current weights."""
        task_ids = task_parameter_ids(module)
        squares = [
            squared_norm(p, task_ids) for p in module.parameters() if p.dim() > 1
        ]
        return 0.5 * self.alpha * sum(squares)


class L2SPPenalty:
    """L2-SP (Li et al. 2018): pull transferred weights toward their source values.

    ``source_alpha / 2 * sum ||w - w_source||^2`` over the transferred
    parameters, plus ``alpha / 2 * sum ||W||^2`` over the other weight
    matrices (the new head; per-task tensors count ``1 / n_tasks``).

    Parameters
    ----------
    alpha : float
        Plain L2 strength for the parameters that have no source value.
    source_alpha : float
        Strength of the pull toward the source.
    reference : dict of str to torch.Tensor
        Source values by parameter name (as in ``module.named_parameters()``).
    """

    def __init__(self, alpha, source_alpha, reference):
        self.alpha = alpha
        self.source_alpha = source_alpha
        self.reference = {name: w.detach().clone() for name, w in reference.items()}

    def __call__(self, module):
        """Return the penalty of ``module``'s current weights."""
        to_source, plain = [], []
        task_ids = task_parameter_ids(module)
        for name, p in module.named_parameters():
            ref = self.reference.get(name)
            if ref is not None:
                if ref.device != p.device:
                    ref = self.reference[name] = ref.to(p.device)
                to_source.append((p - ref).pow(2).sum())
            elif p.dim() > 1:
                plain.append(squared_norm(p, task_ids))
        return 0.5 * (self.source_alpha * sum(to_source) + self.alpha * sum(plain))

    def __getstate__(self):
        # reference weights travel on the CPU, so CUDA-trained models load anywhere
        state = dict(self.__dict__)
        state["reference"] = {k: v.cpu() for k, v in self.reference.items()}
        return state


class TaskMeanPenalty:
    """Pull each task's weights toward the mean over tasks (Evgeniou & Pontil 2004).

    ``sharing_alpha / 2 * sum_p mean_t ||p_t - mean_t p||^2`` over the
    module's ``task_parameters()`` (weight tensors whose first dimension is
    the task): the spread of the tasks' weights around their mean, averaged
    over tasks like the task losses. Large values make the tasks' own weights
    equal; 0 leaves them free.

    Parameters
    ----------
    sharing_alpha : float
        Strength of the pull.
    """

    def __init__(self, sharing_alpha):
        self.sharing_alpha = sharing_alpha

    def __call__(self, module):
        """Return the penalty of ``module``'s current task weights."""
        spreads = [
            (p - p.mean(dim=0, keepdim=True)).pow(2).sum() / p.shape[0]
            for p in module.task_parameters()
        ]
        return 0.5 * self.sharing_alpha * sum(spreads)


class SumPenalty:
    """The sum of several penalties."""

    def __init__(self, *penalties):
        self.penalties = penalties

    def __call__(self, module):
        """Return the sum of the penalties of ``module``."""
        return sum(penalty(module) for penalty in self.penalties)
