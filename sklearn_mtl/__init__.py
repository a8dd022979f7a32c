"""Multi-task and transfer learning estimators for scikit-learn, on PyTorch."""

from . import datasets, metrics, model_selection
from ._classifier import MultiTaskClassifier
from ._grouping import suggest_task_groups
from ._mixed import MixedTaskEstimator
from ._multitask import MultiTaskRegressor
from ._transfer import TransferEstimator
from ._transfer_classifier import TransferClassifier
from ._validation import stack_tasks
from .exceptions import TrainingDivergedError
from .persistence import ModelFileError, load, save
from .transferability import rank_sources, transferability_score

__version__ = "0.1.0.dev0"

__all__ = [
    "MixedTaskEstimator",
    "ModelFileError",
    "MultiTaskClassifier",
    "MultiTaskRegressor",
    "TransferClassifier",
    "TransferEstimator",
    "TrainingDivergedError",
    "datasets",
    "load",
    "metrics",
    "model_selection",
    "rank_sources",
    "save",
    "stack_tasks",
    "suggest_task_groups",
    "transferability_score",
]
