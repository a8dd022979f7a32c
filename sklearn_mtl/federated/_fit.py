"""``federated_fit``: train one estimator across sites in Flower's simulation."""

import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

from flwr.simulation import run_simulation

from ._client import make_client_app
from ._model import check_federated_estimator
from ._server import make_server_app
from ._sites import SavedSite, agree_on_sites, describe_site, read_site

__all__ = ["federated_fit"]

# each simulated site trains in one process of one core (no GPU by default)
DEFAULT_BACKEND_CONFIG = {"client_resources": {"num_cpus": 1, "num_gpus": 0.0}}


class SimulatedSites:
    """Hands each simulated node its own site's loader (by ``partition-id``)."""

    def __init__(self, loaders):
        self.loaders = loaders

    def __call__(self, context):
        return self.loaders[int(context.node_config["partition-id"])]()


@contextmanager
def _flower_output(verbose):
    """Silence Flower's log below errors unless ``verbose``; restore it after."""
    logger = logging.getLogger("flwr")
    level = logger.level
    if not verbose:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            # Ray's notice about a future default, raised when it starts
            warnings.filterwarnings(
                "ignore",
                message="Tip: In future versions of Ray",
                category=FutureWarning,
            )
            yield
    finally:
        logger.setLevel(level)


def _check_count(value, name):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}.")


def federated_fit(
    estimator,
    sites,
    *,
    n_rounds,
    local_epochs=1,
    fraction_train=1.0,
    strategy=None,
    backend_config=None,
):
    """Train ``estimator`` across sites whose rows never leave them (Flower).

    Each site is one Flower ``ClientApp`` node of a local simulation; a
    ``ServerApp`` coordinates them. Before training every site sends, per
    task, the weight, mean and standard deviation of its labels (counts,
    sums and sums of squares in another form); the server merges them into
    the target scaling all sites use, so targets are standardised as by a
    fit on the pooled rows. Then, for ``n_rounds`` rounds, every site trains
    ``local_epochs`` epochs from the current global weights with the
    estimator's own training loop (its optimiser, batch size, loss and
    penalty) on its share of the pooled objective, and sends its weights
    back: a site holding ``n_st`` of task ``t``'s ``n_t`` labels and ``n_s``
    of the ``n`` rows weighs its mean loss of task ``t`` by
    ``w_t * (n_st / n_t) * (n / n_s)`` (``w_t`` from ``task_weighting``,
    equal or fixed; a learnt strategy runs unchanged at each site). The server averages
    the shared trunk weighted by the sites' rows, and each task's head
    weighted by the sites' labelled rows for that task, so a head is averaged
    only over the sites that label its task (FedPer when each site owns its
    tasks). Sites that fail in a round are left out of that round.

    Parameters
    ----------
    estimator : MultiTaskRegressor
        With ``sharing="hard"`` and ``early_stopping=False``. It is fitted
        in place, from fresh weights, as ``fit`` would fit it, and returned.
    sites : list
        One entry per site: a pair ``(X_s, Y_s)`` with the same features and
        task columns at every site (NaN where a site does not label a task
        or a row), or a picklable callable with no argument that returns such
        a pair and is only called where the site's client runs.
    n_rounds : int
        Rounds of federated training.
    local_epochs : int, default=1
        Epochs each site trains per round.
    fraction_train : float, default=1.0
        Share of the sites asked to train in each round (at least one).
    strategy : callable or None, default=None
        ``strategy(base)`` returns the Flower strategy to run around the
        :class:`MultiTaskFedAvg` ``base``: for instance Flower's
        ``DifferentialPrivacyServerSideFixedClipping(base, ...)``.
    backend_config : dict or None, default=None
        Flower's simulation backend configuration. The default gives each
        site one CPU and no GPU.

    Returns
    -------
    estimator : MultiTaskRegressor
        The estimator passed, fitted: ``predict``, ``score``,
        :func:`sklearn_mtl.save` and transfer work as after ``fit``.
        ``history_`` has a row per round (``train_loss``,
        ``train_task_loss``, ``sites``, ``failures``, ``bytes_to_sites``,
        ``bytes_from_sites``, ``dur``) and ``n_iter_`` is ``n_rounds``.

    Raises
    ------
    ValueError
        If ``sites`` is empty, a site is empty or malformed, the sites differ
        in their features or task columns, a task is labelled at no site, or
        the estimator's settings cannot be trained across sites.

    See Also
    --------
    sklearn_mtl.federated.make_client_app : The site's app, for a deployment.
    sklearn_mtl.federated.make_server_app : The server's app, for a deployment.

    Notes
    -----
    The row-weighted average of the sites' objectives is the pooled
    objective, for any pattern of labels. So with ``n_rounds=1``,
    ``local_epochs=1``, a batch that holds all of a site's rows, plain SGD
    (``optimizer=torch.optim.SGD``) and equal or fixed task weights, the
    trunk's update equals the pooled full-batch step exactly. Each head's
    update equals it when every site labelling the task holds the same
    share of its labels as of the rows (for instance when every row is
    labelled for every task); otherwise each labelling site's part of the
    head's step is scaled by ``(n_st / n_t) * (n / n_s)``, its share of the
    task's labels over its share of the rows, because the head is averaged
    only over the sites that label it. Over several steps, federated
    training approximates the pooled fit.

    The simulation runs on Flower's Ray backend: each site is a worker
    process, and the server receives weights and the counts above, never
    rows. Weights can still reveal something of the data they were trained
    on; ``strategy`` can add Flower's differential privacy.

    Examples
    --------
    >>> from sklearn_mtl import MultiTaskRegressor
    >>> from sklearn_mtl.datasets import make_multitask_regression
    >>> from sklearn_mtl.federated import federated_fit
    >>> X, Y = make_multitask_regression(n_samples=90, n_tasks=2, random_state=0)
    >>> sites = [(X[i::3], Y[i::3]) for i in range(3)]
    >>> model = federated_fit(
    ...     MultiTaskRegressor(hidden_layer_sizes=(8,), random_state=0),
    ...     sites, n_rounds=2, local_epochs=1)  # doctest: +SKIP
    >>> model.predict(X[:2]).shape  # doctest: +SKIP
    (2, 2)
    """
    check_federated_estimator(estimator)
    _check_count(n_rounds, "n_rounds")
    _check_count(local_epochs, "local_epochs")
    if not isinstance(fraction_train, Real) or not 0 < fraction_train <= 1:
        raise ValueError(f"fraction_train must be in (0, 1], got {fraction_train!r}.")
    if isinstance(sites, tuple) and len(sites) == 2 and not callable(sites[0]):
        raise ValueError(
            "sites must be a list of (X, Y) pairs, one per site; got one pair. "
            "Wrap it in a list for a single site."
        )
    sites = list(sites)
    if not sites:
        raise ValueError("sites is empty: federated training needs at least one site.")
    names = [f"site {i}" for i in range(len(sites))]
    with tempfile.TemporaryDirectory(prefix="sklearn_mtl_sites_") as folder:
        loaders, descriptions = [], []
        for i, site in enumerate(sites):
            if callable(site):  # read only on the site's client
                loaders.append(site)
                continue
            data = read_site(estimator, site, names[i])
            descriptions.append(describe_site(data))
            loaders.append(SavedSite.write(data, os.path.join(folder, f"{i}.npz")))
        if len(descriptions) == len(sites):  # the same checks as the server's
            agree_on_sites(descriptions, names, estimator.standardize_targets)
        client = make_client_app(estimator, SimulatedSites(loaders))
        server = make_server_app(
            estimator,
            n_rounds=n_rounds,
            local_epochs=local_epochs,
            fraction_train=fraction_train,
            min_sites=len(sites),
            strategy=strategy,
        )
        with _flower_output(estimator.verbose):
            run_simulation(
                server_app=server,
                client_app=client,
                num_supernodes=len(sites),
                backend_config=dict(backend_config or DEFAULT_BACKEND_CONFIG),
            )
    return estimator
