"""Guards against negative transfer: the K-fold strategy choice and the scratch check.

``strategy="auto"`` picks the linear probe (or its averaged fine-tune), a
full fine-tune or scratch by their K-fold error on the target rows, and
keeps a source that explains most of what the rows show;
``compare_with_scratch=True`` also trains
the source trunk's architecture from scratch and keeps it only when it is
clearly better on held-out rows.
"""

import copy

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import KFold
from sklearn.utils import check_random_state

from ._adaptive import FALLBACK_ALPHA
from ._checks import mask_aware_split
from ._rng import seeded_global_rng
from ._scaling import TargetMoments
from ._sources import resolve_source

__all__ = [
    "GUARD_FOLDS",
    "MIN_ROWS_TO_COMPARE",
    "SCRATCH_ALPHA",
    "SCRATCH_EPOCHS_FACTOR",
    "SOURCE_MARGIN",
    "NegativeTransferGuards",
    "check_reinitializable",
    "reinitialized_copy",
]

GUARD_FOLDS = 5
MIN_ROWS_TO_COMPARE = 4
# strategy="auto" trains its scratch network as MultiTaskRegressor trains one
# on a few rows: random weights need more steps than a fine-tune from the
# source's (200 epochs by default, against 100), and a stronger penalty than
# the fine-tune's alpha (which the source's weights back up): at least this
SCRATCH_EPOCHS_FACTOR = 2
SCRATCH_ALPHA = FALLBACK_ALPHA
# strategy="auto" keeps the averaged fine-tune of a source that explains
# most of what the rows show unless another candidate beats it by more than
# this many standard errors (twice the one that scratch needs over a choice
# that keeps the source's features): on 20 California rows scratch beat it
# by 1.05 and tested at R^2 0.06 against its 0.66; on 50 images of digits a
# CNN from scratch beat it by 2.8 and 3.1 and tested at about 0.8 against 0.6
SOURCE_MARGIN = 2


class NegativeTransferGuards:
    """The two guards of :class:`~sklearn_mtl.TransferEstimator`, as methods."""

    def _guard_against_negative_transfer(self, X, Y, sample_weight):
        """Pick the probe, a full fine-tune or a fresh start by K-fold error.

        The probe keeps a good source safe on a handful of rows; a full
        fine-tune from a new head (at ``lr`` or 1e-3) can learn the target
        when the source's features do not fit it; and when they mislead it,
        the source trunk's architecture trained from scratch ("scratch": every
        layer re-initialised by its ``reset_parameters``, trained as the
        fine-tune for ``SCRATCH_EPOCHS_FACTOR`` times ``max_epochs`` with an
        L2 penalty of at least ``SCRATCH_ALPHA``) learns the target without
        them. Each candidate is scored by its mean squared error (per task,
        in units of the task's standard deviation) on held-out target rows.
        The better of the probe and the fine-tune is chosen (ties go to the
        probe), and the probe is kept when there are too few rows to hold any
        out. Scratch, which throws the source away, must beat that choice by
        more than one standard error of the paired per-cell difference (the
        rule of :meth:`_compare_with_scratch`): on a few dozen rows one badly
        predicted row can make either look better. A trunk that cannot be
        re-initialised has no scratch candidate. A scratch choice switches
        the source to the re-initialised trunk (``kept_ == "scratch"``).

        With averaging on (``fine_tuned_share``, the regressor's default) the
        probe's candidate is ``"lp_ft"`` averaged with its probe, as the
        final fit would be, and :meth:`_keeps_a_helpful_source` may keep
        it whatever the others score: a source that explains most of what
        the rows can show is not thrown away unless the rows clearly say so
        (on 20 California rows a fine-tune and scratch once scored 0.35 and
        0.28 against its 0.43, the mean 1.19, and tested at R^2 0.08 and
        0.06 against its 0.66). Otherwise the rules above choose.
        """
        if len(X) < MIN_ROWS_TO_COMPARE:
            return "linear_probe"
        folds = [
            (train, test)
            for train, test in KFold(
                min(GUARD_FOLDS, len(X)), shuffle=True, random_state=0
            ).split(X)
            if (~np.isnan(Y[train])).any(axis=0).all()  # every task can train
        ]
        if not folds:
            return "linear_probe"
        # the probe, or (fine_tuned_share "auto" or below 1) the probe
        # fine-tuned and averaged with it as the final fit would average it
        probe = (
            "linear_probe" if self._fine_tuned_share("lp_ft", Y) is None else "lp_ft"
        )
        candidates = {
            probe: {"strategy": probe},
            "fine_tune": {"strategy": "fine_tune"},
        }
        scratch_trunk = self._scratch_trunk()
        if scratch_trunk is not None:
            candidates["scratch"] = {
                "source": scratch_trunk,
                "strategy": "fine_tune",
                "trunk_lr_scale": 1.0,
                **self._scratch_settings(),
            }
        spread = _task_spread(Y)
        errors, cells = {}, {}
        for name, params in candidates.items():
            squared, weight = [], []
            for train, test in folds:
                fold_params = params
                if name == "lp_ft":  # the share of the rows it learns from
                    fold_share = self._fine_tuned_share("lp_ft", Y[train])
                    fold_params = {**params, "fine_tuned_share": fold_share}
                model = clone(self).set_params(
                    **fold_params,
                    compare_with_scratch=False,
                    verbose=0,
                    warm_start=False,
                )
                _prepare_inner(self, model)
                model.fit(X[train], Y[train], sample_weight=sample_weight[train])
                fold_squared, fold_weight = _held_out_errors(
                    model, X[test], Y[test], sample_weight[test], spread
                )
                squared.append(fold_squared)
                weight.append(fold_weight)
            share = _normalised(np.concatenate(weight))  # the same for each
            cells[name] = np.concatenate(squared)
            errors[name] = float(share @ cells[name])
        order = (probe, "fine_tune")  # ties go to the probe
        choice = min(order, key=lambda name: (errors[name], order.index(name)))
        if "scratch" in cells:
            gain, errors["standard_error"] = _paired_gain(
                share, cells[choice], cells["scratch"]
            )
            if gain > errors["standard_error"]:
                choice = None
        if probe == "lp_ft" and self._keeps_a_helpful_source(
            Y, sample_weight, folds, spread, share, cells, errors
        ):
            choice = probe
        self.strategy_scores_ = errors
        if choice is None:
            self.kept_ = "scratch"
            self._source = resolve_source(scratch_trunk)
            self._trains_as_scratch = True
        return choice

    def _keeps_a_helpful_source(
        self, Y, sample_weight, folds, spread, share, cells, errors
    ):
        """Whether the averaged fine-tune, which keeps the source, must be kept.

        True when it has come more than halfway from the error of predicting
        each task's training mean (``errors["mean"]``) to the best other
        candidate's, and that candidate does not beat it by more than
        ``SOURCE_MARGIN`` standard errors of their paired difference
        (``errors["source_standard_error"]``).
        """
        mean = np.concatenate(
            [
                _mean_errors(Y[train], Y[test], sample_weight[train], spread)
                for train, test in folds
            ]
        )
        errors["mean"] = float(share @ mean)
        best = min((name for name in cells if name != "lp_ft"), key=errors.get)
        gain, errors["source_standard_error"] = _paired_gain(
            share, cells["lp_ft"], cells[best]
        )
        halfway = errors["lp_ft"] < (errors["mean"] + errors[best]) / 2
        return halfway and gain <= SOURCE_MARGIN * errors["source_standard_error"]

    def _scratch_settings(self):
        """``max_epochs`` and ``alpha`` of the network "auto" trains from scratch."""
        return {
            "max_epochs": SCRATCH_EPOCHS_FACTOR * self.max_epochs,
            "alpha": max(self.alpha, SCRATCH_ALPHA),
        }

    def _scratch_trunk(self):
        """Return the source trunk re-initialised from the fit's seed, or None."""
        try:
            check_reinitializable(self._source.trunk)
        except TypeError:
            return None
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return reinitialized_copy(self._source.trunk, int(seed))

    def _compare_with_scratch(self, X, Y, sample_weight):
        """Keep the transfer, or switch to training from scratch if that is better.

        Both candidates train on the same rows and are scored on the same
        held-out cells. A handful of held-out rows gives a noisy comparison,
        so the one-standard-error rule (as in the linear probe) decides: the
        scratch network is kept only when its mean gain over the transfer
        (the paired per-cell difference of squared errors) exceeds one
        standard error of that mean. The final fit then starts from the
        re-initialised trunk with ``strategy_`` None. The scratch network
        trains for ``max_epochs`` with ``alpha`` (with twice the epochs, as
        in ``"auto"``, the check gained 0.046 R^2 on Parkinson's and lost
        0.043 on California in ``benchmarks/bench_transferability.py``).
        """
        rng = check_random_state(self.random_state)
        init_seed = int(rng.randint(np.iinfo(np.int32).max))
        if len(X) < MIN_ROWS_TO_COMPARE:
            return
        try:
            train, valid = mask_aware_split(~np.isnan(Y), self.validation_fraction, rng)
        except ValueError:  # every held-out row is some task's only label
            return
        scratch_trunk = reinitialized_copy(self._source.trunk, init_seed)
        common = dict(compare_with_scratch=False, verbose=0, warm_start=False)
        averaged = {}  # the transfer averaged with its probe, as the final fit
        if self.fine_tuned_share_ is not None:
            averaged = {"fine_tuned_share": self.fine_tuned_share_}
        candidates = {
            "transfer": clone(self).set_params(
                strategy=self._strategy, **averaged, **common
            ),
            "scratch": clone(self).set_params(
                source=scratch_trunk, strategy="fine_tune", trunk_lr_scale=1.0, **common
            ),
        }
        spread = _task_spread(Y)
        squared = {}
        for name, model in candidates.items():
            _prepare_inner(self, model)
            model.fit(X[train], Y[train], sample_weight=sample_weight[train])
            squared[name], weight = _held_out_errors(
                model, X[valid], Y[valid], sample_weight[valid], spread
            )
        share = _normalised(weight)
        scores = {name: float(share @ e) for name, e in squared.items()}
        mean_gain, scores["standard_error"] = _paired_gain(
            share, squared["transfer"], squared["scratch"]
        )
        self.guard_scores_ = scores
        if mean_gain > scores["standard_error"]:
            self.kept_ = "scratch"
            self._source = resolve_source(scratch_trunk)
            self._strategy, self.fine_tuned_share_ = None, None


def _task_spread(Y):
    """Return each task's standard deviation on its labelled rows (1 if constant).

    Computed in units of each task's largest ``|y|``, so squares cannot
    overflow.
    """
    unit = np.nanmax(np.abs(Y), axis=0)
    unit = np.where(unit > 0, unit, 1.0)
    spread = np.nanstd(Y / unit, axis=0) * unit
    return np.where((spread > 0) & np.isfinite(spread), spread, 1.0)


def _prepare_inner(estimator, model):
    """Mark a guard's candidate; a classifier's keeps the estimator's classes.

    The guards fit candidates on the class codes ``0 .. K-1`` of the rows of
    ``X``; declaring all of them keeps every candidate's outputs aligned even
    when a fold lacks a class.
    """
    model._inner_fit = True
    classes = getattr(estimator, "_classes", None)
    if classes is not None:
        model._declared_classes = [
            None if c is None else np.arange(len(c), dtype=float) for c in classes
        ]


def _held_out_errors(model, X, Y, sample_weight, spread):
    """Per-cell held-out errors of the labelled cells, and their weights.

    Returns two flat arrays over the labelled cells of ``Y``: the squared
    standardised residual of ``model``'s prediction (in units of ``spread``)
    for a regressor, the cross-entropy of the true class for a classifier
    (``Y`` holding class codes), and the row's weight.
    """
    labelled = ~np.isnan(Y)
    weight = np.broadcast_to(sample_weight[:, None], Y.shape)
    if getattr(model, "_classes", None) is not None:
        proba = model.predict_proba(X)
        proba = [proba] if isinstance(proba, np.ndarray) else proba
        errors = np.zeros(Y.shape)
        for t, p in enumerate(proba):
            rows = labelled[:, t]
            true = p[rows, Y[rows, t].astype(int)]
            errors[rows, t] = -np.log(np.clip(true, 1e-15, None))
        return errors[labelled], weight[labelled]
    pred = model.predict(X).reshape(len(X), -1)
    residual = (pred - Y) / spread
    return residual[labelled] ** 2, weight[labelled]


def _mean_errors(Y_train, Y_test, sample_weight, spread):
    """Held-out squared errors of each task's weighted training mean.

    The labelled cells of ``Y_test`` in the order of :func:`_held_out_errors`,
    in units of ``spread``: the errors of a model that learnt nothing.
    """
    mean = TargetMoments.of(Y_train, sample_weight).mean
    residual = (mean - Y_test) / spread
    return residual[~np.isnan(Y_test)] ** 2


def _paired_gain(share, errors, other_errors):
    """Weighted mean of ``errors - other_errors`` (by ``share``), and its SE."""
    gain = errors - other_errors
    mean = float(share @ gain)
    return mean, float(np.sqrt(share @ (gain - mean) ** 2 / max(len(gain) - 1, 1)))


def _normalised(weights):
    """Weights scaled to sum to 1 (uniform when they are all 0)."""
    total = weights.sum()
    return weights / total if total > 0 else np.full(len(weights), 1 / len(weights))


def check_reinitializable(trunk):
    """Raise a TypeError if some parameter of ``trunk`` has no initialiser.

    Every submodule that owns parameters must have a ``reset_parameters``
    method (as torch's layers do).
    """
    for name, module in trunk.named_modules():
        own = any(True for _ in module.parameters(recurse=False))
        if own and not callable(getattr(module, "reset_parameters", None)):
            raise TypeError(
                "compare_with_scratch=True re-initialises the source trunk, but its "
                f"submodule {name or '(root)'!r} ({type(module).__name__}) has "
                "parameters and no reset_parameters() method. Add one, or compare "
                "with TransferEstimator(source=None) yourself."
            )


def reinitialized_copy(trunk, seed):
    """Return a CPU copy of ``trunk`` with every layer re-initialised from ``seed``.

    Each submodule's own ``reset_parameters`` draws the new weights, so the
    copy has the trunk's architecture and the initialisation a network
    trained from scratch would get.
    """
    check_reinitializable(trunk)
    copy_ = copy.deepcopy(trunk).cpu()
    with seeded_global_rng(seed, [], hold=True):
        for module in copy_.modules():
            if callable(getattr(module, "reset_parameters", None)):
                module.reset_parameters()
    return copy_
