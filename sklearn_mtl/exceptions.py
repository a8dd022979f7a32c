"""Exceptions raised by sklearn_mtl."""

__all__ = ["TrainingDivergedError"]


class TrainingDivergedError(ValueError):
    """The training loss became NaN or infinite.

    A subclass of :class:`ValueError`, so code that guards a fit against bad
    input catches it too. The message says in which epoch it happened and
    what to change (usually a lower ``lr``).
    """
