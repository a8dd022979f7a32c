"""Multi-task and transfer learning regressors for scikit-learn, on PyTorch."""

from . import datasets
from ._multitask import MultiTaskRegressor
from ._transfer import TransferEstimator
from ._validation import stack_tasks
from .exceptions import TrainingDivergedError

__version__ = "0.1.0.dev0"

__all__ = [
    "MultiTaskRegressor",
    "TransferEstimator",
    "TrainingDivergedError",
    "datasets",
    "stack_tasks",
]
