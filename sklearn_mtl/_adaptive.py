"""Settings chosen from the training data: ``alpha``, stopping and shrinkage.

With ``alpha="auto"``, ``early_stopping="auto"`` and ``shrinkage="auto"``
(the defaults of :class:`~sklearn_mtl.MultiTaskRegressor`) the training
data decide how the network is regularised, as
``HistGradientBoostingRegressor`` decides whether to stop early:

- when the tasks have at least ``HOLDOUT_MIN_ROWS`` labelled rows each (the
  median over tasks), ``validation_fraction`` of the rows are held out and
  training stops when their loss stops improving, keeping the best epoch's
  weights. Stopping regularises (a smooth target trains long, a noisy one
  stops within a few epochs), so the weight penalty is the weaker
  ``STOPPED_ALPHA``. Each task's predictions are then pulled toward its
  training mean by the factor in ``[0, 1]`` that minimises their squared
  error on the held-out rows (a task the network predicts worse than its
  mean there is shrunk to the mean), applied to the task's output layer;
  the same holds from ``ZERO_INFLATED_MIN_ROWS`` labels per task when the
  targets are zero-inflated (for the median task, one value holds at least
  ``ZERO_INFLATED_SHARE`` of the labels, as counts of rare events do): the
  signal then lives in a few rows, which a network trained to the end of
  its training loss fits, and the held-out shrinkage is the guard;
- otherwise a tenth of the rows is too few to stop on: the penalty is the
  stronger ``FALLBACK_ALPHA`` and training stops on the training loss, with
  no shrinkage.

How these values were measured on the Mulan sets, and what was tried and
left out (an ``alpha`` ladder on the held-out rows, stopping and shrinking
on small sets), is in ``benchmarks/README.md``.
"""

from typing import NamedTuple

import numpy as np

from ._checks import mask_aware_split
from ._scaling import rescale_task_outputs
from ._tensors import eval_in_chunks

__all__ = [
    "AdaptiveFitMixin",
    "FALLBACK_ALPHA",
    "STOPPED_ALPHA",
    "fixed_alpha",
    "plan_validation",
    "shrinkage_factors",
    "stops_early",
]

FALLBACK_ALPHA = 1e-2  # the fixed default of earlier versions
STOPPED_ALPHA = 1e-3
HOLDOUT_MIN_ROWS = 800
# zero-inflated targets: most labels one value (counts of rare events)
ZERO_INFLATED_SHARE = 0.8
ZERO_INFLATED_MIN_ROWS = 100


class Plan(NamedTuple):
    """How a first fit trains: the rows it stops on (None: none) and alpha."""

    split: tuple | None
    alpha: float


def plan_validation(Y, *, alpha, early_stopping, fraction, rng):
    """Return the :class:`Plan` of a first fit on ``Y`` (NaN: unlabelled)."""
    labelled = ~np.isnan(Y)
    # labels per task, not rows: 139 tasks of 80 labels each (School) hold
    # out 8 per task, too few to stop each head on
    n_labels = float(np.median(labelled.sum(axis=0)))
    if isinstance(early_stopping, str):  # "auto"
        stop = n_labels >= HOLDOUT_MIN_ROWS or (
            n_labels >= ZERO_INFLATED_MIN_ROWS and _mostly_one_value(Y)
        )
    else:  # a bool or a numpy bool
        stop = bool(early_stopping)
    if not stop:
        return Plan(None, fixed_alpha(alpha))
    alpha = STOPPED_ALPHA if alpha == "auto" else alpha
    return Plan(mask_aware_split(labelled, fraction, rng), alpha)


def fixed_alpha(alpha):
    """Return the ``alpha`` of a fit that holds no rows out ("auto": 1e-2)."""
    return FALLBACK_ALPHA if alpha == "auto" else alpha


def stops_early(early_stopping):
    """Whether ``early_stopping`` is a true bool (``"auto"`` is decided later)."""
    return not isinstance(early_stopping, str) and bool(early_stopping)


def _mostly_one_value(Y):
    """Whether, for the median task, one value holds most of its labels."""
    shares = []
    for column in Y.T:
        values = column[~np.isnan(column)]
        counts = np.unique(values, return_counts=True)[1]
        shares.append(counts.max() / len(values) if len(values) else 0.0)
    return float(np.median(shares)) >= ZERO_INFLATED_SHARE


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


class AdaptiveFitMixin:
    """How an estimator's first fit applies its :class:`Plan` (see above).

    Used by the fit skeleton (``BaseNetwork._train``), which hands over a
    ``train_net(train, valid, epochs, stop_early)`` that builds and trains
    one net on the given rows.
    """

    def _fit_with_validation(self, train_net, X, Y, Z, cell_weights, rng, epochs):
        """Train the first net with the alpha, stopping and shrinkage asked for.

        See :mod:`sklearn_mtl._adaptive`; a fixed ``alpha`` with
        ``early_stopping=False`` trains one net on every row, as before.
        """
        plan = plan_validation(
            Y,
            alpha=self.alpha,
            # a single epoch (partial_fit) has nothing to stop unless asked
            early_stopping=self.early_stopping
            if epochs > 1
            else stops_early(self.early_stopping),
            fraction=self.validation_fraction,
            rng=rng,
        )
        self.alpha_ = plan.alpha  # the penalty of the net being built
        if plan.split is None:
            net = train_net(slice(None), None, epochs, False)
            self._set_shrinkage(net, None, Z.shape[1])
            return net
        train, valid = plan.split
        net = train_net(train, valid, epochs, True)
        held_out = None
        if self._shrinks():  # the kept (best) weights' held-out predictions
            pred = eval_in_chunks(net.module_, X[valid], net.device)
            held_out = (Z[valid], pred, cell_weights[valid])
        self._set_shrinkage(net, held_out, Z.shape[1])
        return net

    def _shrinks(self):
        """Whether this fit pulls predictions toward the mean (see shrinkage)."""
        return (
            getattr(self, "shrinkage", False) == "auto"
            and getattr(self, "loss", None) == "squared_error"
            and getattr(self, "standardize_targets", False)
        )

    def _set_shrinkage(self, net, held_out, n_tasks):
        """Scale each task's output layer by its factor fitted on ``held_out``."""
        if not hasattr(self, "shrinkage"):
            return
        factors = np.ones(n_tasks)
        if held_out is not None:
            factors = shrinkage_factors(*held_out)
            rescale_task_outputs(
                net.module_.heads,
                (np.zeros_like(factors), factors),
                (np.zeros_like(factors), np.ones_like(factors)),
            )
        self.shrinkage_ = factors

    def _penalty_alpha(self):
        """Return the ``alpha`` of the net being built (the fit's when "auto")."""
        if self.alpha == "auto":
            return getattr(self, "alpha_", FALLBACK_ALPHA)
        return self.alpha
