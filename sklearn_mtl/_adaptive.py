"""Settings chosen from the training data: ``alpha``, stopping and shrinkage.

With ``alpha="auto"``, ``early_stopping="auto"`` and ``shrinkage="auto"``
(the defaults of :class:`~sklearn_mtl.MultiTaskRegressor`) the training
data decide how the network is regularised, as
``HistGradientBoostingRegressor`` decides whether to stop early:

- when the tasks have at least ``HOLDOUT_MIN_ROWS`` labelled rows each (the
  median over tasks), ``validation_fraction`` of the rows are held out and
  training stops when their loss stops improving, keeping the best epoch's
  weights; the weight penalty is then the weaker ``STOPPED_ALPHA``, since
  stopping regularises (a smooth target trains long, a noisy one stops
  within a few epochs). Each task's predictions are then pulled toward its
  training mean by the factor in ``[0, 1]`` that minimises their squared
  error on the held-out rows (a task the network predicts worse than its
  mean there is shrunk to the mean), applied to the task's output layer;
- with fewer, a tenth of them is too few to stop on: the penalty is the
  stronger ``FALLBACK_ALPHA`` and training stops on the training loss, with
  no shrinkage.

How these values were measured on the Mulan sets, and what was tried and
left out (an ``alpha`` ladder on the held-out rows, stopping and shrinking
on small sets), is in ``benchmarks/README.md``.
"""

from typing import NamedTuple

import numpy as np

from ._checks import mask_aware_split

__all__ = ["FALLBACK_ALPHA", "STOPPED_ALPHA", "plan_validation", "shrinkage_factors"]

FALLBACK_ALPHA = 1e-2  # the fixed default of earlier versions
STOPPED_ALPHA = 1e-3
HOLDOUT_MIN_ROWS = 800


class Plan(NamedTuple):
    """How a first fit trains: rows held out (or None), alpha, stopping."""

    split: tuple | None
    alpha: float
    stop_early: bool


def plan_validation(labelled, *, alpha, early_stopping, fraction, rng):
    """Return the :class:`Plan` of a first fit on the ``labelled`` cells."""
    # labels per task, not rows: 139 tasks of 80 labels each (School) hold
    # out 8 per task, too few to stop each head on
    n_labels = float(np.median(labelled.sum(axis=0)))
    stop = early_stopping is True or (
        early_stopping == "auto" and n_labels >= HOLDOUT_MIN_ROWS
    )
    if alpha == "auto":
        alpha = STOPPED_ALPHA if stop else FALLBACK_ALPHA
    if not stop:
        return Plan(None, alpha, False)
    return Plan(mask_aware_split(labelled, fraction, rng), alpha, True)


def shrinkage_factors(Z, P, W):
    """Per task, the factor in [0, 1] for ``P`` that best fits ``Z``.

    ``Z`` are standardised held-out targets, ``P`` the network's standardised
    predictions of them and ``W`` the cell weights (0 where unlabelled). The
    least-squares factor of ``s * P`` for ``Z`` is ``<Z, P>_W / <P, P>_W``;
    it is clipped to ``[0, 1]``: predictions are only ever pulled toward the
    training mean (0 in standardised units), never pushed away from it. A
    task without held-out labels keeps a factor of 1.
    """
    num = (W * Z * P).sum(axis=0)
    den = (W * P * P).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(den > 0, num / den, 1.0)
    return np.clip(factor, 0.0, 1.0)
