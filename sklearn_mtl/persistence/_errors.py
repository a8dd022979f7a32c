"""The error a model file that cannot be loaded raises."""

__all__ = ["ModelFileError"]


class ModelFileError(ValueError):
    """A file is not a model written by :func:`sklearn_mtl.save`, or is damaged.

    Raised by :func:`sklearn_mtl.load` for a file that is not a model at all,
    a truncated or altered one, one that names a class outside the allowed
    ones, or one written by a newer version of sklearn-mtl. Nothing in the
    file has been executed when it is raised. A subclass of
    :class:`ValueError`.
    """
