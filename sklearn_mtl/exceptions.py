"""Exceptions raised by sklearn_mtl."""

__all__ = ["TrainingDivergedError"]


class TrainingDivergedError(ValueError):
    """The training loss diverged.

    It became NaN or infinite, or a task's loss exceeded a million times the
    larger of 1 and its loss of predicting 0 on the standardised targets.

    A subclass of :class:`ValueError`, so code that guards a fit against bad
    input catches it too. The message says in which epoch it happened and
    what to change (usually a lower ``lr``).
    """
