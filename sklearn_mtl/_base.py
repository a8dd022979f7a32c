"""The private base both estimators share: knobs, validation, device, fit/predict."""

import copy
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)
from skorch.callbacks import EarlyStopping
from skorch.utils import noop

from ._net import EVAL_CHUNK_ROWS, MultiTaskNet, SplitData, TensorData, eval_in_chunks
from ._penalties import L2Penalty
from ._progress import EpochProgressBar, write_message
from ._validation import check_multitask_y, masked_r2_score
from .weighting import WEIGHTINGS, TaskWeighting, resolve_weighting

OPTIMIZERS = {
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
    "sgd": (torch.optim.SGD, {"momentum": 0.9}),
}
LOSSES = {
    "squared_error": torch.nn.MSELoss,
    "huber": torch.nn.HuberLoss,
    "absolute_error": torch.nn.L1Loss,
}
PREDICT_DTYPES = {"float64": torch.float64, "float32": torch.float32}
PREDICT_CHUNK_ROWS = EVAL_CHUNK_ROWS


def resolve_device(device):
    """Turn the ``device`` hyperparameter into a torch device string.

    ``"auto"`` is CUDA when ``torch.cuda.is_available()``, else CPU. Anything
    else must name a device type torch knows and that is present.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(
            f"Unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested, but torch.cuda.is_available() is "
            "False on this machine. Use device='auto' (CUDA when present) or 'cpu'."
        )
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} was requested, but only "
            f"{torch.cuda.device_count()} CUDA device(s) are present."
        )
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"Unsupported device type {resolved.type!r} in {device!r}.")
    return str(resolved)


def check_layer_sizes(sizes, name):
    """Return ``sizes`` as a tuple of positive ints, or raise a ValueError."""
    if isinstance(sizes, Integral):
        sizes = (sizes,)
    sizes = tuple(sizes)
    if not all(isinstance(s, Integral) and s > 0 for s in sizes):
        raise ValueError(f"{name} must hold positive integers, got {sizes}.")
    return tuple(int(s) for s in sizes)


def mask_aware_split(Y_labelled, fraction, rng):
    """Split rows into train/validation so each task keeps a labelled train row.

    Parameters
    ----------
    Y_labelled : ndarray of bool, shape (n_samples, n_tasks)
        Which cells are labelled.
    fraction : float
        Share of rows to hold out.
    rng : numpy.random.RandomState
        Source of the row order.

    Returns
    -------
    train, valid : ndarray of int
        Row indices.
    """
    n = len(Y_labelled)
    n_valid = int(np.ceil(fraction * n))
    if n_valid < 1 or n - n_valid < 1:
        raise ValueError(
            f"early_stopping needs at least 2 samples to hold out a validation "
            f"split (validation_fraction={fraction}), got {n}."
        )
    order = rng.permutation(n)
    valid, train = order[:n_valid], order[n_valid:]
    starved = np.flatnonzero(~Y_labelled[train].any(axis=0))
    if starved.size:
        give_back = [valid[Y_labelled[valid, t]][0] for t in starved]
        give_back = np.unique(give_back)
        valid = np.setdiff1d(valid, give_back)
        train = np.concatenate([train, give_back])
    if valid.size == 0:
        raise ValueError(
            "early_stopping could not hold out a validation split: every held-out "
            "row was needed to keep each task labelled in training. Add rows or "
            "set early_stopping=False."
        )
    return train, valid


class BaseNetworkRegressor(RegressorMixin, BaseEstimator, metaclass=ABCMeta):
    """Fit/predict skeleton shared by the multi-task and transfer estimators.

    Subclasses define ``__init__`` (their full list of hyperparameters) and
    :meth:`_build_module`; they may override :meth:`_build_penalty` and
    :meth:`_net_kwargs`. Everything else (validation, target scaling, the
    masked loss, device placement, early stopping, seeding and batched
    float64 prediction) lives here once.
    """

    _parameter_constraints: dict = {
        "head_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"relu", "tanh", "logistic", "identity", "gelu"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "task_weighting": [StrOptions(set(WEIGHTINGS)), "array-like", TaskWeighting],
        "loss": [StrOptions(set(LOSSES))],
        "standardize_targets": ["boolean"],
        "optimizer": [StrOptions(set(OPTIMIZERS)), HasMethods(["step", "zero_grad"])],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "predict_dtype": [StrOptions(set(PREDICT_DTYPES))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    # ---- hooks for subclasses ----------------------------------------------
    @abstractmethod
    def _build_module(self, n_features, n_tasks):
        """Return a fresh ``torch.nn.Module`` mapping features to task outputs."""

    def _build_penalty(self, module):
        """Return ``penalty(module)`` added to the training loss, or None."""
        return L2Penalty(self.alpha) if self.alpha > 0 else None

    def _net_kwargs(self):
        """Extra keyword arguments for the skorch net (e.g. param groups)."""
        return {}

    def _learning_rate(self):
        """Return the learning rate of the head (and, by default, every layer)."""
        return self.lr

    def _extra_callbacks(self):
        """Extra ``(name, callback)`` pairs for the skorch net."""
        return []

    def _initialize_from_data(self, net, X, Z, cell_weights, target_scaling):
        """Adjust a freshly initialised net using the training rows (no-op here).

        ``Z`` are the standardised targets (0 where unlabelled),
        ``cell_weights`` the sample weights masked by the labels and
        ``target_scaling`` the ``(mean, scale)`` pair of this fit.
        """

    def _prepare_for_data(self, X, Y, sample_weight):
        """Settle data-dependent choices before a new net is built (no-op here)."""

    def _epochs_to_train(self, net, epochs):
        """Return how many gradient epochs to run for a request of ``epochs``."""
        return epochs

    # ---- public API --------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network on ``X`` and the (possibly NaN-masked) targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs. Numeric, finite; sparse input is rejected.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets; NaN marks a cell not labelled for that task.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights, applied inside each task's mean loss.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, epochs=self.max_epochs, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on ``X, y``, starting from the current weights.

        The first call initialises the network as :meth:`fit` does; later
        calls must have the same features and tasks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Targets; NaN marks unlabelled cells.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights.

        Returns
        -------
        self : object
            The estimator.
        """
        return self._fit(X, y, sample_weight, epochs=1, incremental=True)

    def predict(self, X):
        """Predict every task for ``X``, in bounded batches.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
            float64 predictions in the original target units; 1-D when the
            estimator was fitted on a 1-D ``y``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        Y = self._predict_standardized(X)
        Y *= self._target_scale  # in place: no second (n_samples, n_tasks) array
        Y += self._target_mean
        if not np.all(np.isfinite(Y)):
            raise ValueError(
                "The predictions overflow float64 in the units of the target y; "
                "rescale y (e.g. divide it by a power of ten) and fit again."
            )
        return Y.ravel() if self._y_is_1d else Y

    def score(self, X, y, sample_weight=None):
        """R^2 per task on its labelled rows, averaged uniformly over tasks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            True targets; NaN cells are left out of their task's score.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        score : float
            Mean over tasks of R^2.
        """
        Y = check_array(
            y,
            ensure_2d=False,
            dtype=np.float64,
            ensure_all_finite="allow-nan",
            input_name="y",
        )
        return masked_r2_score(Y, self.predict(X), sample_weight)

    @property
    def history_(self):
        """Skorch ``History`` of the training: losses per epoch, per task."""
        check_is_fitted(self)
        return self.net_.history

    @property
    def n_iter_(self):
        """Number of epochs trained so far."""
        check_is_fitted(self)
        return len(self.net_.history)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "net_")

    # ---- training ----------------------------------------------------------
    def _fit(self, X, y, sample_weight, epochs, incremental):
        fitted = hasattr(self, "net_")
        first = not fitted or not (incremental or self.warm_start)
        self._check_hyperparameters()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        X = validate_data(self, X, reset=first, dtype=[np.float64, np.float32])
        Y, is_1d, task_names = check_multitask_y(y, n_samples=X.shape[0])
        if not first and Y.shape[1] != self.n_tasks_:
            raise ValueError(
                f"y has {Y.shape[1]} task(s), but this estimator was fitted on "
                f"{self.n_tasks_}; use fit with warm_start=False to start over."
            )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        device = resolve_device(self.device) if first else self.net_.device
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        if first:
            self._prepare_for_data(X, Y, sample_weight)
            mean, scale = self._target_scaling(Y, sample_weight)
        else:
            mean, scale = self._target_mean, self._target_scale

        labelled = ~np.isnan(Y)
        Z = np.where(labelled, (Y - mean) / np.where(scale > 0, scale, 1.0), 0.0)
        cell_weights = np.where(labelled, sample_weight[:, None], 0.0)
        train, valid = slice(None), None  # a slice: no copy of X without a split
        if self.early_stopping:
            train, valid = mask_aware_split(labelled, self.validation_fraction, rng)

        def tensors(rows):
            return TensorData(
                *(
                    torch.tensor(a[rows], dtype=torch.float32, device=device)
                    for a in (X, Z, cell_weights)
                )
            )

        data = SplitData(tensors(train), None if valid is None else tensors(valid))
        devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            if first:
                n_train = len(data.train)
                net = self._make_net(
                    X.shape[1], Y.shape[1], n_train, device, seed, task_names
                )
                net.initialize()
                self._initialize_from_data(
                    net, X[train], Z[train], cell_weights[train], (mean, scale)
                )
            else:
                net = self.net_
            epochs = self._epochs_to_train(net, epochs)
            if epochs > 0:
                net.partial_fit(data, epochs=epochs)
        if first:
            self.net_, self.n_tasks_, self.task_names_ = net, Y.shape[1], task_names
            self._y_is_1d, self._target_mean, self._target_scale = is_1d, mean, scale
        return self

    def _check_hyperparameters(self):
        """Check what ``_parameter_constraints`` cannot; raise ValueError if off."""
        check_layer_sizes(self.head_layer_sizes, "head_layer_sizes")

    def _target_scaling(self, Y, sample_weight):
        """Per-task weighted mean and std of the labelled targets.

        A task whose labelled targets are constant gets scale 0: it trains on
        zeros and is predicted as exactly that constant.
        """
        mean, scale = np.zeros(Y.shape[1]), np.ones(Y.shape[1])
        if not self.standardize_targets:
            return mean, scale
        for t in range(Y.shape[1]):
            rows = ~np.isnan(Y[:, t])
            w = sample_weight[rows]
            w = w / w.max() if w.max() > 0 else np.ones_like(w)
            # in units of the largest |y|, so the squares cannot overflow
            unit = np.max(np.abs(Y[rows, t]))
            unit = unit if unit > 0 else 1.0
            y = Y[rows, t] / unit
            mean_t = np.average(y, weights=w)
            std = np.sqrt(np.average((y - mean_t) ** 2, weights=w))
            mean[t] = mean_t * unit
            with np.errstate(over="ignore"):  # 1 / a subnormal unit is inf
                varies = std > 1e-12 * max(1.0 / unit, abs(mean_t))
            scale[t] = std * unit if varies else 0.0
        return mean, scale

    def _make_net(self, n_features, n_tasks, n_train, device, seed, task_names=None):
        weighting = resolve_weighting(self.task_weighting).initialize(n_tasks, device)
        optimizer, optimizer_defaults = (
            OPTIMIZERS[self.optimizer]
            if isinstance(self.optimizer, str)
            else (self.optimizer, {})
        )
        batch_size = min(256, n_train) if self.batch_size == "auto" else self.batch_size
        criterion_kwargs = {"criterion__reduction": "none"}
        callbacks = [("stopper", self._make_stopper()), *self._extra_callbacks()]
        kwargs = {f"optimizer__{k}": v for k, v in optimizer_defaults.items()}
        kwargs.update(criterion_kwargs)
        if self.verbose == 1:  # a bar over epochs instead of skorch's table
            kwargs["callbacks__print_log"] = EpochProgressBar(task_names=task_names)
        elif not self.verbose:
            kwargs["callbacks__print_log"] = None  # skip its per-batch hooks
        kwargs.update(self._net_kwargs())
        module = self._build_module(n_features, n_tasks)
        return MultiTaskNet(
            module=module,
            criterion=LOSSES[self.loss],
            optimizer=optimizer,
            lr=self._learning_rate(),
            max_epochs=self.max_epochs,
            batch_size=batch_size,
            train_split=None,
            callbacks=callbacks,
            device=device,
            verbose=self.verbose,
            task_weighting=weighting,
            penalty=self._build_penalty(module),
            shuffle_generator=torch.Generator().manual_seed(seed),
            **kwargs,
        )

    def _make_stopper(self):
        """Early stopping on the validation loss, else on the training loss."""
        return EarlyStopping(
            monitor="valid_loss" if self.early_stopping else "train_loss",
            patience=self.n_iter_no_change,
            threshold=self.tol,
            threshold_mode="abs",
            load_best=self.early_stopping,
            sink={0: noop, 1: write_message}.get(self.verbose, print),
        )

    # ---- prediction --------------------------------------------------------
    def _predict_standardized(self, X):
        """Run the module on ``X`` in chunks; float64 unless asked otherwise."""
        dtype = PREDICT_DTYPES[self.predict_dtype]
        module = self.net_.module_
        if dtype != torch.float32:
            module = copy.deepcopy(module).to(dtype)
        out = eval_in_chunks(module, X, self.net_.device, dtype, PREDICT_CHUNK_ROWS)
        if not np.all(np.isfinite(out)):
            raise ValueError(
                "The network produced non-finite predictions; the inputs may be far "
                "outside the training range (scale X, e.g. with StandardScaler)."
            )
        return out
