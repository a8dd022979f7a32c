"""The estimator's own pieces, put together for federated training.

The server builds the initial network and, at the end, the fitted estimator;
each site builds the same network for its local epochs. Both go through the
estimator's private building blocks (``_make_net``, ``_validate_X``,
``_set_fitted``), so a federated model is an ordinary fitted estimator.
"""

import numpy as np
import torch

from .._adaptive import fixed_alpha, stops_early
from .._checks import loss_of_zero, resolve_device
from .._multitask import MultiTaskRegressor
from .._rng import seeded_global_rng
from .._tensors import SplitData, TensorData
from .._warm import architecture_of, record_group_settings
from ..modules import MultiTaskModule, seed_dropout
from ..weighting import TaskWeighting

__all__ = [
    "build_net",
    "check_federated_estimator",
    "local_data",
    "set_fitted",
    "site_task_weights",
    "task_keys",
]

# state-dict entries under this prefix hold one slice per task (task first)
HEAD_PREFIX = "heads."


def check_federated_estimator(estimator):
    """Raise unless ``estimator`` is a MultiTaskRegressor that can train at sites.

    Its hyperparameters are validated as ``fit`` validates them.
    """
    if not isinstance(estimator, MultiTaskRegressor):
        raise TypeError(
            "federated_fit trains a MultiTaskRegressor; got "
            f"{type(estimator).__name__}."
        )
    estimator._validate_params()
    estimator._check_hyperparameters()
    if estimator.sharing != "hard":
        raise ValueError(
            f"federated_fit needs sharing='hard' (one shared trunk and a head per "
            f"task); got sharing={estimator.sharing!r}."
        )
    if stops_early(estimator.early_stopping):
        raise ValueError(
            "early_stopping=True holds out rows at one place; federated_fit trains "
            "for n_rounds rounds. Set early_stopping=False."
        )


def _device_indices(device):
    return [torch.device(device).index or 0] if device.startswith("cuda") else []


def build_net(estimator, agreement, n_train, device, seed, example=None):
    """Build and initialise the estimator's net, seeded as ``fit`` seeds it."""
    if example is None:  # the server has no rows: zeros of the input shape
        example = np.zeros((2, *agreement.input_shape))
    n_features = agreement.input_shape[0]
    with seeded_global_rng(seed, _device_indices(device), hold=True):
        net = estimator._make_net(
            n_features,
            agreement.n_tasks,
            n_train,
            device,
            seed,
            agreement.task_names,
            example,
        )
        net.initialize()
    record_group_settings(net)
    seed_dropout(net.module_, seed, device)
    n_outputs = getattr(estimator, "_n_outputs", lambda n: n)(agreement.n_tasks)
    if not isinstance(net.module_, MultiTaskModule) or n_outputs != agreement.n_tasks:
        raise ValueError(
            "federated_fit needs a network with one output per task (a shared "
            "trunk and a head per task)."
        )
    return net


def task_keys(net):
    """Return the state-dict keys that hold one slice per task (the heads)."""
    return [k for k in net.module_.state_dict() if k.startswith(HEAD_PREFIX)]


def site_task_weights(estimator, task_rows, n_rows, total_task_rows, total_rows):
    """Return the task weights of one site's share of the pooled objective.

    The pooled objective weighs task ``t``'s mean loss by ``w_t``; a site
    holding ``n_st`` of the task's ``n_t`` labels and ``n_s`` of the ``n``
    rows weighs its own mean loss of task ``t`` by ``w_t * (n_st / n_t) *
    (n / n_s)``. The average of the sites' objectives weighted by their
    rows ``n_s / n`` is then the pooled objective, for any label pattern.
    Only equal and fixed weights are rescaled so; None (keep the estimator's
    ``task_weighting``) for a learnt or gradient-based strategy.
    """
    spec = estimator.task_weighting
    n_tasks = len(task_rows)
    if isinstance(spec, str) and spec == "equal":
        weights = np.full(n_tasks, 1.0 / n_tasks)
    elif isinstance(spec, (str, TaskWeighting)):
        return None
    else:
        weights = np.asarray(spec, dtype=np.float64)
    total_task_rows = np.asarray(total_task_rows, dtype=np.float64)
    share = np.divide(
        np.asarray(task_rows, dtype=np.float64),
        total_task_rows,
        out=np.zeros(n_tasks),
        where=total_task_rows > 0,
    )
    return weights * share * (total_rows / n_rows)


def local_data(site, agreement, device):
    """Return a site's :class:`SplitData` in the agreed target scaling."""
    Y = site.Y
    labelled = ~np.isnan(Y)
    scale = np.where(agreement.scale > 0, agreement.scale, 1.0)
    Z = np.where(labelled, (Y - agreement.mean) / scale, 0.0)
    tensors = [
        torch.tensor(np.ascontiguousarray(a), dtype=torch.float32, device=device)
        for a in (site.X, Z, labelled.astype(np.float64))
    ]
    return SplitData(TensorData(*tensors))


def train_locally(net, data, epochs, seed, device):
    """Run ``epochs`` epochs of the net's own training loop on one site's rows."""
    net.loss_reference = loss_of_zero(net.criterion_, data.train)
    with seeded_global_rng(seed, _device_indices(device)):
        net.partial_fit(data, epochs=epochs)


def set_fitted(estimator, agreement, state, history, seed):
    """Turn the final global weights into ``estimator``'s fitted state.

    Parameters
    ----------
    estimator : MultiTaskRegressor
        Gets ``net_``, ``n_features_in_``, ``n_tasks_``, ``task_names_``,
        ``feature_names_in_`` (when the sites' ``X`` had names) and the
        agreed target scaling, as ``fit`` sets them.
    agreement : SiteAgreement
        What the sites agreed on.
    state : dict of str to torch.Tensor
        The network's final state dict.
    history : list of dict
        One row per round, recorded in ``history_``.
    seed : int
        The seed of the initial weights.
    """
    device = resolve_device(estimator.device)
    # the sites' clones hold no rows out: the fixed alpha, whatever an
    # earlier fit of this estimator chose
    estimator.alpha_ = fixed_alpha(estimator.alpha)
    net = build_net(estimator, agreement, int(agreement.rows.sum()), device, seed)
    net.module_.load_state_dict(state)
    for row in history:
        net.history.new_epoch()
        for key, value in row.items():
            net.history.record(key, value)
    estimator._validate_X(np.zeros((1, *agreement.input_shape)), reset=True)
    if agreement.feature_names is not None:
        estimator.feature_names_in_ = agreement.feature_names
    estimator._set_fitted(
        net,
        np.zeros((1, agreement.n_tasks)),
        agreement.is_1d,
        agreement.task_names,
        agreement.moments,
        (agreement.mean, agreement.scale),
    )
    estimator.shrinkage_ = np.ones(agreement.n_tasks)  # nothing held out
    estimator._architecture = architecture_of(estimator)
    return estimator
