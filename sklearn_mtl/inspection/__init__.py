"""Plots of fitted estimators: training curves and task affinity.

The displays follow scikit-learn's ``*Display`` objects: build one from a
fitted estimator with ``from_estimator`` (or from arrays with the
constructor), then ``plot`` draws it. They need matplotlib
(``pip install matplotlib``), imported only when drawing.
"""

from ._affinity_display import TaskAffinityDisplay
from ._history_display import TrainingHistoryDisplay

__all__ = ["TaskAffinityDisplay", "TrainingHistoryDisplay"]
