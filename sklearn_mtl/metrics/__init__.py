"""Metrics and scorers for targets with unlabelled (NaN) cells.

NaN in ``y_true`` means "not labelled": each task is scored on the rows where
it is labelled, then the tasks are averaged. :func:`get_scorer` turns the
metrics into scorers for sklearn's model selection and inspection tools.
"""

from ._regression import (
    masked_mean_absolute_error,
    masked_mean_squared_error,
    masked_r2_score,
    masked_root_mean_squared_error,
)
from ._scorer import get_scorer, get_scorer_names

__all__ = [
    "get_scorer",
    "get_scorer_names",
    "masked_mean_absolute_error",
    "masked_mean_squared_error",
    "masked_r2_score",
    "masked_root_mean_squared_error",
]
