"""The site's side: a Flower ``ClientApp`` that keeps the rows where they are.

It answers two kinds of message. A query: read and validate the site's rows,
reply with :func:`~sklearn_mtl.federated._sites.describe_site` (counts,
shapes, names, per-task label moments; or the validation error). A train
message: load the global weights, train ``local-epochs`` epochs on the
site's share of the pooled objective (see
:func:`~sklearn_mtl.federated._model.site_task_weights`) with the
estimator's own training loop, reply with the new weights and the rows
behind them (all rows, labelled rows per task).
"""

from types import SimpleNamespace

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from sklearn.base import clone

from .._checks import resolve_device
from ._model import build_net, local_data, site_task_weights, train_locally
from ._sites import describe_site, read_site

__all__ = ["make_client_app"]

PARTITION_KEY = "partition-id"


def site_id(context):
    """Return the site's number: its ``partition-id``, else its node id."""
    value = context.node_config.get(PARTITION_KEY)
    return int(value) if value is not None else int(context.node_id % 2**31)


def round_seed(seed, server_round, site):
    """Return the seed of one site's local training in one round."""
    sequence = np.random.SeedSequence([int(seed), int(server_round), int(site)])
    return int(sequence.generate_state(1)[0] & 0x7FFFFFFF)


def make_client_app(estimator, load_site):
    """Return the Flower ``ClientApp`` that trains ``estimator``'s net at a site.

    Parameters
    ----------
    estimator : MultiTaskRegressor
        Supplies the hyperparameters (cloned; never fitted here).
    load_site : callable
        ``load_site(context)`` runs on the site and returns its ``(X, Y)``
        (``Y`` with NaN where a row is not labelled for a task); ``context``
        is the Flower ``Context`` of the node (``context.node_config`` holds
        e.g. the node's ``partition-id`` or a data path). It is called for
        every message, so it should read from the site's own storage.

    Returns
    -------
    app : flwr.clientapp.ClientApp
        Run it in Flower's simulation, or by a SuperNode per site with
        ``flwr run``.
    """
    estimator = clone(estimator).set_params(verbose=0)
    app = ClientApp()

    def read(context):
        return read_site(estimator, load_site(context), f"site {site_id(context)}")

    @app.query()
    def describe(message, context):
        try:
            description = describe_site(read(context))
        except (ValueError, TypeError) as error:
            description = {"error": str(error)}
        description["site"] = site_id(context)
        return Message(
            RecordDict({"site": ConfigRecord(description)}), reply_to=message
        )

    @app.train()
    def train(message, context):
        config = message.content["config"]
        plan = SimpleNamespace(
            input_shape=tuple(config["input-shape"]),
            n_tasks=len(config["task-names"]),
            task_names=np.asarray(config["task-names"], dtype=object),
            mean=np.asarray(config["target-mean"], dtype=float),
            scale=np.asarray(config["target-scale"], dtype=float),
        )
        data = read(context)
        if tuple(data.X.shape[1:]) != plan.input_shape:
            raise ValueError(
                f"site {site_id(context)} has samples of shape {data.X.shape[1:]}, "
                f"but the federation trains on {plan.input_shape}."
            )
        site = site_id(context)
        labelled = (~np.isnan(data.Y)).sum(axis=0)
        weights = site_task_weights(
            estimator,
            labelled,
            len(data.X),
            config["total-task-rows"],
            config["total-rows"],
        )
        local = estimator if weights is None else clone(estimator)
        if weights is not None:
            local.set_params(task_weighting=weights)
        device = resolve_device(estimator.device)
        seed = round_seed(config["seed"], config["server-round"], site)
        net = build_net(local, plan, len(data.X), device, seed, data.X[:2])
        arrays = message.content["arrays"]
        net.module_.load_state_dict(arrays.to_torch_state_dict())
        train_locally(
            net, local_data(data, plan, device), config["local-epochs"], seed, device
        )
        state = {k: v.detach().cpu() for k, v in net.module_.state_dict().items()}
        metrics = MetricRecord(
            {
                "num-examples": len(data.X),
                "task-rows": [float(n) for n in labelled],
                "train-loss": float(net.history[-1, "train_loss"]),
                "task-loss": [float(v) for v in net.history[-1, "train_task_loss"]],
                "site": site,
            }
        )
        return Message(
            RecordDict({"arrays": ArrayRecord(state), "metrics": metrics}),
            reply_to=message,
        )

    return app
