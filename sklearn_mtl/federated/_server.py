"""The server's side: a Flower ``ServerApp`` that never sees a row.

Before training it queries every site for its description (counts, shapes,
names, per-task label moments), checks that the sites fit together and
merges the moments into the target scaling. It builds the initial network
from the estimator's seed, runs :class:`MultiTaskFedAvg` (or the strategy
the caller wraps around it) for ``n_rounds`` rounds, and turns the final
weights into the estimator's fitted state.
"""

import time

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, RecordDict
from flwr.serverapp import ServerApp
from sklearn.utils import check_random_state

from ._model import build_net, set_fitted, task_keys
from ._sites import agree_on_sites
from ._strategy import MultiTaskFedAvg

__all__ = ["make_server_app"]


def _wait_for_sites(grid, min_sites, timeout):
    start = time.monotonic()
    while len(nodes := sorted(grid.get_node_ids())) < min_sites:
        if time.monotonic() - start > timeout:
            raise RuntimeError(
                f"Only {len(nodes)} of the {min_sites} sites connected within "
                f"{timeout} seconds."
            )
        time.sleep(0.5)
    return nodes


def query_sites(grid, nodes, timeout):
    """Ask every site for its description; return them ordered by site."""
    messages = [
        Message(RecordDict(), dst_node_id=node, message_type=MessageType.QUERY)
        for node in nodes
    ]
    descriptions = []
    for reply in grid.send_and_receive(messages, timeout=timeout):
        if reply.has_error():
            raise RuntimeError(f"A site could not read its data: {reply.error.reason}")
        descriptions.append(dict(reply.content["site"]))
    if len(descriptions) < len(nodes):
        raise RuntimeError(
            f"Only {len(descriptions)} of {len(nodes)} sites described their data "
            f"within {timeout} seconds."
        )
    descriptions.sort(key=lambda d: d["site"])
    for d in descriptions:
        if "error" in d:
            raise ValueError(d["error"])
    return descriptions


def make_server_app(
    estimator,
    *,
    n_rounds,
    local_epochs=1,
    fraction_train=1.0,
    min_sites=1,
    strategy=None,
    timeout=3600,
    on_fit=None,
):
    """Return the Flower ``ServerApp`` that trains ``estimator`` across sites.

    Parameters
    ----------
    estimator : MultiTaskRegressor
        Supplies the hyperparameters; fitted in place when training ends.
    n_rounds : int
        Rounds of federated training.
    local_epochs : int, default=1
        Epochs each site trains per round.
    fraction_train : float, default=1.0
        Share of the sites asked to train in each round.
    min_sites : int, default=1
        Sites that must be connected before training starts.
    strategy : callable or None, default=None
        ``strategy(base)`` returns the Flower strategy to run, given the
        :class:`MultiTaskFedAvg` ``base`` (e.g. a differential-privacy
        wrapper around it). None runs ``base``.
    timeout : float, default=3600
        Seconds to wait for the sites' replies in each round.
    on_fit : callable or None, default=None
        Called with the fitted estimator (e.g. to save it).

    Returns
    -------
    app : flwr.serverapp.ServerApp
        Run it in Flower's simulation, or on a SuperLink with ``flwr run``;
        it fits ``estimator`` when the last round ends.
    """
    app = ServerApp()

    @app.main()
    def main(grid, context):
        nodes = _wait_for_sites(grid, min_sites, timeout)
        descriptions = query_sites(grid, nodes, timeout)
        agreement = agree_on_sites(
            descriptions,
            [f"site {d['site']}" for d in descriptions],
            estimator.standardize_targets,
        )
        rng = check_random_state(estimator.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))  # as fit draws it
        net = build_net(estimator, agreement, int(agreement.rows.sum()), "cpu", seed)
        base = MultiTaskFedAvg(
            task_keys(net),
            fraction_train=fraction_train,
            min_train_nodes=1,
            min_available_nodes=len(nodes),
        )
        config = ConfigRecord(
            {
                "local-epochs": int(local_epochs),
                "seed": seed,
                "input-shape": [int(d) for d in agreement.input_shape],
                "task-names": [str(t) for t in agreement.task_names],
                "target-mean": [float(v) for v in agreement.mean],
                "target-scale": [float(v) for v in agreement.scale],
                "total-rows": int(agreement.rows.sum()),
                "total-task-rows": [float(v) for v in agreement.moments.weight],
            }
        )
        initial = ArrayRecord(net.module_.state_dict())
        result = (base if strategy is None else strategy(base)).start(
            grid=grid,
            initial_arrays=initial,
            num_rounds=n_rounds,
            timeout=timeout,
            train_config=config,
        )
        final = result.arrays if len(result.arrays) else initial  # no round ran
        state = final.to_torch_state_dict()
        set_fitted(estimator, agreement, state, base.rounds_, seed)
        if on_fit is not None:
            on_fit(estimator)

    return app
