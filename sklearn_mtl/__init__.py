"""Multi-task and transfer learning regressors for scikit-learn, on PyTorch."""

from . import datasets, metrics, model_selection
from ._grouping import suggest_task_groups
from ._multitask import MultiTaskRegressor
from ._transfer import TransferEstimator
from ._validation import stack_tasks
from .exceptions import TrainingDivergedError
from .persistence import ModelFileError, load, save
from .transferability import rank_sources, transferability_score

__version__ = "0.1.0.dev0"

__all__ = [
    "ModelFileError",
    "MultiTaskRegressor",
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
