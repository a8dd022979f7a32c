"""Train one multi-task model across sites whose rows stay at each site.

Built on Flower (``pip install sklearn-mtl[federated]``): each site runs a
``ClientApp`` that trains locally, a ``ServerApp`` aggregates the weights.
:func:`federated_fit` runs both in Flower's local simulation;
:func:`make_client_app` and :func:`make_server_app` are the same apps for a
deployment with one SuperNode per site.
"""

try:
    import flwr  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sklearn_mtl.federated needs Flower: pip install 'sklearn-mtl[federated]' "
        "(or pip install 'flwr[simulation]>=1.42')."
    ) from error

from ._client import make_client_app
from ._fit import federated_fit
from ._server import make_server_app
from ._strategy import MultiTaskFedAvg

__all__ = ["MultiTaskFedAvg", "federated_fit", "make_client_app", "make_server_app"]
