"""Data sets: synthetic multi-task generators and loaders of real data."""

from ._files import MULAN_DATASETS
from ._home import download_dataset, get_data_home
from ._mulan import load_mulan
from ._real import (
    load_california_housing,
    load_parkinsons_telemonitoring,
    load_school,
    load_wine_quality,
)
from ._synthetic import make_multitask_regression

__all__ = [
    "MULAN_DATASETS",
    "download_dataset",
    "get_data_home",
    "load_california_housing",
    "load_mulan",
    "load_parkinsons_telemonitoring",
    "load_school",
    "load_wine_quality",
    "make_multitask_regression",
]
