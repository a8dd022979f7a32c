"""Save fitted estimators to files that are safe to load, and load them.

:func:`save` writes a fitted :class:`~sklearn_mtl.MultiTaskRegressor` or
:class:`~sklearn_mtl.TransferEstimator` as a zip archive of a JSON config
(hyperparameters, fitted attributes, history) and safetensors weights (the
network, the optimizer and task-weighting state). :func:`load` rebuilds the
estimator from it without unpickling anything: classes are named from
allowlists (a custom trunk only from the classes the caller passes in
``trusted``), the network the hyperparameters describe is checked against the
weights before it is built, every read is bounded, and a damaged or crafted
file raises :class:`ModelFileError`. A scikit-learn pipeline, search or
target transformer holding the estimators is saved whole, its scikit-learn
parts through skops.
"""

from ._errors import ModelFileError
from ._load import load
from ._save import save

__all__ = ["ModelFileError", "load", "save"]
