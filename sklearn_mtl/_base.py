"""The private base every estimator shares: knobs, validation, device, fit/predict."""

from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions
from sklearn.utils.validation import (
    check_is_fitted,
    validate_data,
)
from skorch.utils import noop

from ._adaptive import AdaptiveFitMixin, stops_early
from ._callbacks import BestWeightsEarlyStopping
from ._checks import (
    check_layer_sizes,
    check_training_weights,
    is_plain_array_as_fitted,
    loss_of_zero,
    mask_aware_split,
    resolve_device,
)
from ._distributed import shared_random_state, start_data_parallel
from ._inference import inference_forward
from ._losses import LOSSES, Regression, TaskLossCriterion, output_columns
from ._net import MultiTaskNet
from ._penalties import L2Penalty
from ._progress import EpochProgressBar, write_message
from ._rng import seeded_global_rng
from ._scaling import TargetMoments, rescale_task_outputs, scale_from
from ._tensors import (
    EVAL_CHUNK_ROWS,
    SplitData,
    TensorData,
    as_cpu_tensor,
    eval_in_chunks,
)
from ._trunk import PREFIX, TrunkParamsMixin, check_callbacks
from ._validation import check_multitask_y
from ._warm import (
    architecture_of,
    carry_training_state,
    check_same_architecture,
    record_group_settings,
)
from .modules import seed_dropout
from .weighting import WEIGHTINGS, TaskWeighting, resolve_weighting

OPTIMIZERS = {
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
    "sgd": (torch.optim.SGD, {"momentum": 0.9}),
}
PREDICT_DTYPES = {"float64": torch.float64, "float32": torch.float32}
# rows per forward pass of predict at float64; at float32 twice as many, so a
# chunk's activations take the same memory at either precision
PREDICT_CHUNK_ROWS = EVAL_CHUNK_ROWS


class BaseNetwork(AdaptiveFitMixin, TrunkParamsMixin, BaseEstimator, metaclass=ABCMeta):
    """Fit skeleton shared by every estimator of the package.

    Subclasses define ``__init__`` (their full list of hyperparameters) and
    :meth:`_build_module`; they may override :meth:`_build_penalty` and
    :meth:`_net_kwargs`; a classifier overrides :meth:`_check_targets`,
    :meth:`_task_losses` and :meth:`_cell_factors`. Everything else
    (validation, target scaling, the masked loss, device placement, early
    stopping, seeding and batched float64 inference) lives here once.
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
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device],
        "predict_dtype": [StrOptions(set(PREDICT_DTYPES))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "trunk": [None, type, torch.nn.Module],
        "callbacks": [None, list],
        "data_parallel": ["boolean"],
    }

    # hyperparameters that shape the network: a warm start cannot change them
    _architecture_params = (
        "trunk",
        "head_layer_sizes",
        "activation",
        "dropout",
        "standardize_targets",
    )

    # ---- hooks for subclasses ----------------------------------------------
    @abstractmethod
    def _build_module(self, n_features, n_tasks, example=None):
        """Return a fresh ``torch.nn.Module`` mapping features to task outputs.

        ``example`` holds a few rows of ``X`` (None when the model is rebuilt
        from a file: zeros of the fitted input shape stand in).
        """

    def _build_penalty(self, module):
        """Return ``penalty(module)`` added to the training loss, or None."""
        alpha = self._penalty_alpha()
        return L2Penalty(alpha) if alpha > 0 else None

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

    def _epochs_to_train(self, net, epochs, first, incremental):
        """Return how many gradient epochs to run for a request of ``epochs``."""
        return epochs

    def _after_first_training(self, net):
        """Adjust a new net once its gradient epochs are done (no-op here)."""

    def _check_targets(self, y, n_samples, first, incremental):
        """Return ``(Y, is_1d, task_names)``: float targets, NaN where unlabelled."""
        return check_multitask_y(
            y, n_samples=n_samples, allow_unlabelled_tasks=incremental or not first
        )

    def _task_losses(self, n_tasks):
        """Return one :class:`~sklearn_mtl._losses.TaskLoss` per task."""
        return [Regression(self.loss)] * n_tasks

    def _cell_factors(self, Y, sample_weight, task_names):
        """Per-cell factors of the loss weights besides ``sample_weight`` (1 here)."""
        return 1.0

    def _n_outputs(self, n_tasks):
        """Return the number of raw outputs of the network for ``n_tasks`` tasks."""
        return output_columns(self._task_losses(n_tasks))[1]

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
        calls must have the same features and tasks. A chunk may lack some
        tasks (all NaN in their columns). Each task's target scaling keeps
        adapting to the labels seen so far, the output layer being rescaled
        so that predictions are unchanged by it. Training settings changed
        with ``set_params`` (``lr``, ``alpha``, ``batch_size``, ``tol``, the
        optimiser, ...) apply; a changed architecture is a ``ValueError``. A
        call that raises leaves the model as it was.

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

    def _check_fitted(self):
        """``check_is_fitted``, at a fiftieth of its cost on a fitted model.

        ``check_is_fitted`` costs about 2.5 µs a call (a tenth of a small
        network's one-row ``predict``); its error is raised where not fitted.
        """
        if not self.__sklearn_is_fitted__():
            check_is_fitted(self)

    # ---- training ----------------------------------------------------------
    def _fit(self, X, y, sample_weight, epochs, incremental):
        """Train; a call that raises leaves the estimator as it was before it.

        Every input is validated, and a continued net is trained as a new
        object, before any fitted attribute changes. The exception is the
        user's interrupt (``KeyboardInterrupt``) of a model's very first fit:
        the epochs completed so far are kept, as skorch does, and the
        interrupt propagates.
        """
        fitted = hasattr(self, "net_")
        first = not fitted or not (incremental or self.warm_start)
        before = dict(vars(self))
        try:
            self._train(X, y, sample_weight, epochs, first, incremental)
        except KeyboardInterrupt:
            if fitted or not hasattr(self, "net_"):
                _restore(self, before)
            raise
        except BaseException:
            _restore(self, before)
            raise
        return self

    def _train(self, X, y, sample_weight, epochs, first, incremental):
        self._check_hyperparameters()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        X = self._validate_X(X, reset=first)
        Y, is_1d, task_names = self._check_targets(y, X.shape[0], first, incremental)
        if not first:
            if Y.shape[1] != self.n_tasks_:
                raise ValueError(
                    f"y has {Y.shape[1]} task(s), but this estimator was fitted on "
                    f"{self.n_tasks_}; use fit with warm_start=False to start over."
                )
            check_same_architecture(self, getattr(self, "_architecture", None))
        sample_weight = check_training_weights(sample_weight, X, Y)
        device = resolve_device(self.device) if first else self.net_.device
        parallel, device = start_data_parallel(self, device)
        rng = shared_random_state(self.random_state, parallel)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        moments = TargetMoments.of(Y, sample_weight)
        if first:
            self._prepare_for_data(X, Y, sample_weight)
        else:
            moments = self._target_moments().merge(moments)
        mean, scale = (
            scale_from(moments)
            if getattr(self, "standardize_targets", True)  # classifiers have none
            else (np.zeros(Y.shape[1]), np.ones(Y.shape[1]))
        )
        losses = self._task_losses(Y.shape[1])
        standardized = np.array([loss.standardize for loss in losses])
        mean, scale = (
            np.where(standardized, mean, 0.0),
            np.where(standardized, scale, 1.0),
        )
        labelled = ~np.isnan(Y)
        Z = np.where(labelled, (Y - mean) / np.where(scale > 0, scale, 1.0), 0.0)
        # the loss is a weighted mean per task: only relative weights matter
        cell_weights = np.where(labelled, sample_weight[:, None], 0.0)
        cell_weights *= self._cell_factors(Y, sample_weight, task_names)
        cell_weights /= cell_weights.max()
        devices = [torch.device(device).index or 0] if device.startswith("cuda") else []

        def tensors(rows):
            return TensorData(
                *(
                    torch.tensor(
                        np.ascontiguousarray(a[rows]),  # X[::-1] has negative strides
                        dtype=torch.float32,
                        device=device,
                    )
                    for a in (X, Z, cell_weights)
                )
            )

        def train_net(train, valid, epochs, stop_early):
            """Build a net, train it on the ``train`` rows; return it."""
            data = SplitData(tensors(train), None if valid is None else tensors(valid))
            with seeded_global_rng(seed, devices, hold=True):
                net = self._make_net(
                    X.shape[1],
                    Y.shape[1],
                    len(data.train),
                    device,
                    seed,
                    task_names,
                    X[:2],
                    stop_early=stop_early,
                )
                net.initialize()
            net.data_parallel = parallel
            record_group_settings(net)
            seed_dropout(net.module_, seed, device)
            if first:
                self._initialize_from_data(
                    net, X[train], Z[train], cell_weights[train], (mean, scale)
                )
            else:
                carry_training_state(net, self.net_)
                widths = [loss.n_outputs for loss in losses]  # per output column
                rescale_task_outputs(
                    net.module_.heads,
                    (
                        np.repeat(self._target_mean, widths),
                        np.repeat(self._target_scale, widths),
                    ),
                    (np.repeat(mean, widths), np.repeat(scale, widths)),
                )
            if parallel is not None:  # the same starting weights on every process
                parallel.broadcast_module(net.module_)
            net.loss_reference = loss_of_zero(
                net.criterion_, data.train, output_columns(losses)[1]
            )
            epochs = self._epochs_to_train(net, epochs, first, incremental)
            try:
                if epochs > 0:
                    # the package's own random draws in training come from
                    # generators of the fit; a user module's from the global one
                    with seeded_global_rng(seed, devices):
                        net.partial_fit(data, epochs=epochs)
            except KeyboardInterrupt:
                if first and len(net.history):
                    # the user's interrupt: keep the epochs done
                    self._set_fitted(net, Y, is_1d, task_names, moments, (mean, scale))
                    self._architecture = architecture_of(self)
                raise
            if first:
                self._after_first_training(net)
            return net

        if first:
            net = self._fit_with_validation(
                train_net, X, Y, Z, cell_weights, rng, epochs
            )
        else:  # a continued fit keeps the alpha and shrinkage the first chose
            train, valid, stop_early = (
                slice(None),
                None,
                stops_early(self.early_stopping),
            )
            if stop_early:
                train, valid = mask_aware_split(labelled, self.validation_fraction, rng)
            net = train_net(train, valid, epochs, stop_early)
        if first:
            self._architecture = architecture_of(self)
        else:
            is_1d, task_names = self._y_is_1d, self.task_names_
        self._set_fitted(net, Y, is_1d, task_names, moments, (mean, scale))

    def _set_fitted(self, net, Y, is_1d, task_names, moments, scaling):
        self.net_, self.n_tasks_, self.task_names_ = net, Y.shape[1], task_names
        self._y_is_1d, (self._target_mean, self._target_scale) = is_1d, scaling
        self._target_weight, self._target_std = moments.weight, moments.std

    def _accepts_nd_input(self):
        """Whether ``X`` may have more than 2 dimensions (a custom trunk's input)."""
        return self._custom_trunk()

    def _validate_X(self, X, reset):
        """Validate ``X``: 2-D for the MLP, ``(n_samples, ...)`` for a custom trunk."""
        if not reset and is_plain_array_as_fitted(self, X):
            return X  # what validate_data would return, at a fraction of its cost
        fitted_shape = getattr(self, "_input_shape", None)
        if not reset and fitted_shape is not None and len(fitted_shape) > 1:
            shape = tuple(np.shape(X)[1:])
            if shape != tuple(fitted_shape):
                raise ValueError(
                    f"X has samples of shape {shape}, but {type(self).__name__} was "
                    f"fitted on samples of shape {tuple(fitted_shape)}."
                )
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            allow_nd=self._accepts_nd_input(),
        )
        if X.ndim < 2:
            raise ValueError(f"X must have at least 2 dimensions, got shape {X.shape}.")
        if reset:
            self._input_shape = tuple(X.shape[1:])
        elif tuple(X.shape[1:]) != tuple(getattr(self, "_input_shape", X.shape[1:])):
            raise ValueError(
                f"X has samples of shape {tuple(X.shape[1:])}, but "
                f"{type(self).__name__} was fitted on samples of shape "
                f"{tuple(self._input_shape)}."
            )
        return X

    def _target_moments(self):
        """Return the running per-task moments of the targets seen so far."""
        weight = getattr(self, "_target_weight", None)
        if weight is None:  # a model loaded from an older file: keep its scaling
            weight = np.full(self.n_tasks_, np.inf)
        std = getattr(self, "_target_std", self._target_scale)
        return TargetMoments(weight, self._target_mean, std)

    def _check_hyperparameters(self):
        """Check what ``_parameter_constraints`` cannot; raise ValueError if off."""
        check_layer_sizes(self.head_layer_sizes, "head_layer_sizes")
        if PREFIX in vars(self):
            raise ValueError(
                "A trunk argument needs a name: trunk__<name>=value, e.g. "
                "trunk__channels=8."
            )
        if self._trunk_params() and not self._custom_trunk():
            raise ValueError(
                f"{sorted(k for k in vars(self) if k.startswith(PREFIX))} are "
                "arguments of a custom trunk, but trunk=None (the built-in MLP "
                "takes hidden_layer_sizes). Set trunk=YourModule."
            )

    def _make_net(
        self,
        n_features,
        n_tasks,
        n_train,
        device,
        seed,
        task_names=None,
        example=None,
        stop_early=False,
    ):
        weighting = resolve_weighting(self.task_weighting).initialize(n_tasks, device)
        optimizer, optimizer_defaults = (
            OPTIMIZERS[self.optimizer]
            if isinstance(self.optimizer, str)
            else (self.optimizer, {})
        )
        batch_size = min(256, n_train) if self.batch_size == "auto" else self.batch_size
        criterion, criterion_kwargs = self._criterion(n_tasks)
        callbacks = [
            ("stopper", self._make_stopper(stop_early)),
            *self._extra_callbacks(),
            *check_callbacks(self.callbacks),
        ]
        kwargs = {f"optimizer__{k}": v for k, v in optimizer_defaults.items()}
        kwargs.update(criterion_kwargs)
        if self.verbose == 1:  # a bar over epochs instead of skorch's table
            kwargs["callbacks__print_log"] = EpochProgressBar(task_names=task_names)
        elif not self.verbose:
            kwargs["callbacks__print_log"] = None  # skip its per-batch hooks
        kwargs.update(self._net_kwargs())
        module = self._build_module(n_features, n_tasks, example)
        return MultiTaskNet(
            module=module,
            criterion=criterion,
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

    def _criterion(self, n_tasks):
        """Return the criterion class and its arguments (element-wise losses).

        Tasks that are all one regression loss use torch's own loss (the
        fastest path); anything else a :class:`TaskLossCriterion`.
        """
        losses = self._task_losses(n_tasks)
        if all(type(loss) is Regression for loss in losses) and len(set(losses)) == 1:
            return LOSSES[losses[0].loss], {"criterion__reduction": "none"}
        return TaskLossCriterion, {
            "criterion__task_losses": tuple(losses),
            "criterion__reduction": "none",
        }

    def _make_stopper(self, stop_early=False):
        """Early stopping on the validation loss, else on the training loss."""
        return BestWeightsEarlyStopping(
            monitor="valid_loss" if stop_early else "train_loss",
            patience=self.n_iter_no_change,
            threshold=self.tol,
            threshold_mode="abs",
            load_best=stop_early,
            sink={0: noop, 1: write_message}.get(self.verbose, print),
        )

    # ---- prediction --------------------------------------------------------
    def _predict_standardized(
        self, X, check_finite=True, affine=None, check_rows=False
    ):
        """Run the module on ``X`` in chunks; float64 unless asked otherwise.

        Non-finite outputs raise unless ``check_finite=False`` (for a caller
        that checks them later and calls again to raise this error).
        ``check_rows`` sums each chunk of ``X`` as it is converted and returns
        None at one whose sum is not finite (see :func:`eval_in_chunks`).
        ``affine``, ``(scale, shift)`` float64 ndarrays with one value per
        output column, puts the output in those units: folded into the last
        layer of the default network's copy
        (:meth:`~sklearn_mtl._inference._DirectForward.in_target_units`), else
        applied as the output is converted (see :func:`eval_in_chunks`).
        """
        dtype = PREDICT_DTYPES[self.predict_dtype]
        module = inference_forward(self.net_.module_, dtype)
        if affine is not None:
            in_units = getattr(module, "in_target_units", None)
            folded = None if in_units is None else in_units(*affine)
            if folded is None:
                affine = tuple(map(as_cpu_tensor, affine))
            else:
                module, affine = folded, None
        rows = PREDICT_CHUNK_ROWS * torch.float64.itemsize // dtype.itemsize
        out = eval_in_chunks(
            module, X, self.net_.device, dtype, rows, affine, check_rows
        )
        if out is not None and check_finite and not np.all(np.isfinite(out)):
            raise ValueError(
                "The network produced non-finite predictions; the inputs may be far "
                "outside the training range (scale X, e.g. with StandardScaler)."
            )
        return out


def _restore(estimator, state):
    """Put back the attributes ``estimator`` had (a failed call changes nothing)."""
    vars(estimator).clear()
    vars(estimator).update(state)
