"""Cross-validation splitters for targets with unlabelled (NaN) cells."""

from ._split import MultiTaskKFold

__all__ = ["MultiTaskKFold"]
