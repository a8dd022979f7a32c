"""Limit torch's threads on the workers of a Dask cluster.

A search or cross-validation on a Dask cluster (joblib's ``"dask"`` backend)
trains one candidate per worker thread. torch's CPU kernels use their own pool
of threads on top of that; :class:`TorchThreads` sizes that pool on every
worker, so that the fits running at once do not oversubscribe the cores.

``distributed`` (``pip install "dask[distributed]"``) is optional: this module
imports without it, and only a cluster needs it.
"""

from numbers import Integral

import torch
from sklearn.utils import check_scalar
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # no cluster without distributed: nothing registers a plugin
    WorkerPlugin = object

__all__ = ["TorchThreads", "limit_torch_threads"]


class TorchThreads(WorkerPlugin):
    """Dask worker plugin that sets torch's number of CPU threads on each worker.

    Register it with ``client.register_plugin(TorchThreads(n_threads))``, or
    with :func:`limit_torch_threads`. Each worker runs :meth:`setup` when the
    plugin is registered, and workers that join the cluster later run it when
    they start. Registering it again (same :attr:`name`) replaces it.

    Parameters
    ----------
    n_threads : int, default=1
        Threads of torch's intra-op pool on each worker process, as
        ``torch.set_num_threads``. A worker with ``threads_per_worker``
        threads then runs up to ``threads_per_worker * n_threads`` threads of
        torch at once.

    Attributes
    ----------
    name : str
        Name of the plugin on the cluster.

    See Also
    --------
    limit_torch_threads : Register this plugin on a client's workers.

    Notes
    -----
    torch keeps its thread count per thread of a process: a worker thread
    that has already run torch code keeps the count it started with. Register
    the plugin before the first computation on the cluster; to change the
    count later, register it again and restart the workers
    (``client.restart()``). The inter-op pool
    (``torch.set_num_interop_threads``) is set to ``n_threads`` too when it
    has not started yet; torch cannot resize it once it has.

    Examples
    --------
    Each worker calls ``setup`` when the plugin reaches it:

    >>> import torch
    >>> from sklearn_mtl.parallel import TorchThreads
    >>> TorchThreads(n_threads=1).setup(worker=None)
    >>> torch.get_num_threads()
    1
    """

    name = "sklearn-mtl-torch-threads"

    def __init__(self, n_threads=1):
        check_scalar(n_threads, "n_threads", target_type=Integral, min_val=1)
        self.n_threads = int(n_threads)

    def setup(self, worker):
        """Set torch's intra-op (and, if still possible, inter-op) threads.

        Parameters
        ----------
        worker : distributed.Worker
            The worker the plugin is attached to (not used).
        """
        torch.set_num_threads(self.n_threads)
        if torch.get_num_interop_threads() != self.n_threads:
            try:
                torch.set_num_interop_threads(self.n_threads)
            except RuntimeError:  # the inter-op pool has started: torch keeps it
                pass


@validate_params(
    {
        "client": [HasMethods(["register_plugin"])],
        "n_threads": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def limit_torch_threads(client, n_threads=1):
    """Give torch ``n_threads`` CPU threads on every worker of a Dask cluster.

    Registers a :class:`TorchThreads` plugin on ``client``: the workers now
    in the cluster apply it at once, workers that join later when they start.
    Call it before the first computation (see :class:`TorchThreads`).

    Parameters
    ----------
    client : distributed.Client
        Client of the cluster.
    n_threads : int, default=1
        Threads of torch's intra-op pool on each worker process.

    See Also
    --------
    TorchThreads : The worker plugin registered.

    Examples
    --------
    >>> import torch
    >>> from distributed import Client, LocalCluster
    >>> from sklearn_mtl.parallel import limit_torch_threads
    >>> cluster = LocalCluster(n_workers=1, processes=False, dashboard_address=None)
    >>> client = Client(cluster)
    >>> limit_torch_threads(client, n_threads=1)
    >>> list(client.run(torch.get_num_threads).values())
    [1]
    >>> client.close()
    >>> cluster.close()
    """
    client.register_plugin(TorchThreads(n_threads))
