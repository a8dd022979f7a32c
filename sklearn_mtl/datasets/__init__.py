"""Data sets: synthetic multi-task generators and loaders of real data."""

from ._synthetic import make_multitask_regression

__all__ = ["make_multitask_regression"]
