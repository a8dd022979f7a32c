"""MultiTaskClassifier: a shared trunk and one classification head per task."""

import warnings

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    _num_samples,
)

from ._base import BaseNetwork
from ._labels import (
    check_label_columns,
    class_weights_of,
    encode_labels,
)
from ._losses import Binary, Multiclass, Regression, output_columns
from ._shared_trunk import SharedTrunkMixin
from .metrics import masked_r2_score

__all__ = ["MultiTaskClassifier"]


def _declared(classes, n_tasks, one_task):
    """``partial_fit``'s ``classes``, as a list of sorted arrays (None kept)."""
    per_task = [classes] if one_task else list(classes)
    if len(per_task) != n_tasks or any(
        c is not None and np.ndim(c) != 1 for c in per_task
    ):
        raise ValueError(
            f"classes must give the classes of each of the {n_tasks} "
            f"{'task' if n_tasks == 1 else 'tasks'} of y: "
            + (
                "one array of labels"
                if one_task
                else f"a list of {n_tasks} arrays (None for a task whose classes "
                "the first chunk shows)"
            )
            + f"; got {classes!r:.200}."
        )
    return [None if c is None else np.unique(np.asarray(c)) for c in per_task]


def _single_task(estimator):
    """``decision_function`` exists before fit and for a model of one task."""
    return not hasattr(estimator, "net_") or estimator._y_is_1d


class LabelledTasksMixin:
    """Targets that hold class labels (and, for mixed tasks, real values).

    Fitted state: ``_classes``, the sorted classes of every task (None for a
    regression task). A classification task has one logit when it has two
    classes (:class:`Binary`) and one logit per class otherwise
    (:class:`Multiclass`); a regression task one output.
    """

    def _task_kinds(self, columns=None):
        """Return ``"classification"`` or ``"regression"`` for each task.

        ``columns`` are the label columns of a first fit; None: the fitted
        tasks' kinds.
        """
        n_tasks = self.n_tasks_ if columns is None else len(columns)
        return ["classification"] * n_tasks

    # ---- targets -----------------------------------------------------------
    def _check_targets(self, y, n_samples, first, incremental):
        columns, is_1d, names = check_label_columns(y, n_samples=n_samples)
        if not first and len(columns) != self.n_tasks_:
            raise ValueError(
                f"y has {len(columns)} task(s), but this estimator was fitted on "
                f"{self.n_tasks_}; use fit with warm_start=False to start over."
            )
        kinds = self._task_kinds(columns if first else None)
        known = None if first else self._classes
        if first and getattr(self, "_declared_classes", None) is not None:
            known = self._declared_classes
        codes, classes = encode_labels(
            columns,
            names,
            known,
            allow_unlabelled_tasks=incremental or not first,
            kinds=kinds,
        )
        if first:
            self._classes = classes
            self._set_classes(classes, is_1d, codes)
        return codes, is_1d, names

    def _set_classes(self, classes, is_1d, codes):
        """Set the public fitted attributes that describe the classes."""
        self.classes_ = classes[0] if is_1d else list(classes)

    def _class_loss(self, t):
        n_classes = len(self._classes[t])
        return Binary() if n_classes == 2 else Multiclass(n_classes)

    def _task_losses(self, n_tasks):
        return [
            Regression(self.loss) if classes is None else self._class_loss(t)
            for t, classes in enumerate(self._classes)
        ]

    def _cell_factors(self, Y, sample_weight, task_names):
        return class_weights_of(
            self.class_weight, self._classes, Y, sample_weight, task_names
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on ``X, y``, starting from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Class labels; NaN or None marks unlabelled cells.
        classes : array-like or list of array-like, default=None
            Every class of each task (an array for a 1-D ``y``, else one per
            task, None for a task whose classes the first chunk shows), needed
            on the first call when a chunk may lack some classes; None takes
            the classes of the first chunk. Ignored after the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights.

        Returns
        -------
        self : object
            The estimator.
        """
        self._declared_classes = None
        if classes is not None and not hasattr(self, "net_"):
            columns, one_task, _ = check_label_columns(y)
            self._declared_classes = _declared(classes, len(columns), one_task)
        try:
            return self._fit(X, y, sample_weight, epochs=1, incremental=True)
        finally:
            del self._declared_classes

    def _raw_outputs(self, X):
        """Validate ``X``; return each task's block of raw outputs (float64)."""
        self._check_fitted()
        X = self._validate_X(X, reset=False)
        raw = self._predict_standardized(X)
        losses = self._task_losses(self.n_tasks_)
        starts, _ = output_columns(losses)
        return [
            raw[:, start : start + loss.n_outputs]
            for start, loss in zip(starts, losses, strict=True)
        ]

    def _predicted_codes(self, blocks):
        """Each task's predicted class index (a regression task's raw output)."""
        return [
            raw[:, 0]
            if classes is None
            else (raw[:, 0] > 0).astype(int)
            if len(classes) == 2
            else np.argmax(raw, axis=1)
            for classes, raw in zip(self._classes, blocks, strict=True)
        ]

    def _per_task(self, values):
        return values[0] if self._y_is_1d else values

    def _probabilities(self, X, log=False):
        blocks = self._raw_outputs(X)
        out = []
        for loss, raw in zip(self._task_losses(self.n_tasks_), blocks, strict=True):
            if not loss.is_classifier:
                out.append(None)
            else:
                out.append(type(loss).log_proba(raw) if log else type(loss).proba(raw))
        return self._per_task(out)

    def _mean_task_score(self, X, y, sample_weight):
        """Uniform mean over tasks of each task's score on its labelled rows.

        Accuracy for a classification task, R^2 for a regression task; a task
        with no labelled row (of positive weight) in ``y`` is left out with a
        ``UserWarning``.
        """
        self._check_fitted()
        columns, _, names = check_label_columns(y, n_samples=_num_samples(X))
        if len(columns) != self.n_tasks_:
            raise ValueError(
                f"y has {len(columns)} task(s), but this estimator was fitted on "
                f"{self.n_tasks_}."
            )
        codes, _ = encode_labels(
            columns,
            names,
            self._classes,
            allow_unlabelled_tasks=True,
            allow_empty_rows=True,
            kinds=self._task_kinds(),
        )
        weights = _check_sample_weight(sample_weight, codes, dtype=np.float64)
        predicted = self._predicted_codes(self._raw_outputs(X))
        scores = []
        for t, pred in enumerate(predicted):
            labelled = ~np.isnan(codes[:, t]) & (weights > 0)
            if not labelled.any():
                warnings.warn(
                    f"Task {names[t]!r} has no labelled row in y; it is left out of "
                    "the score.",
                    UserWarning,
                    stacklevel=3,
                )
                continue
            truth, w = codes[labelled, t], weights[labelled]
            if self._classes[t] is None:  # a regression task, in target units
                value = pred[labelled] * self._target_scale[t] + self._target_mean[t]
                scores.append(masked_r2_score(truth, value, sample_weight=w))
            else:
                scores.append(np.average(pred[labelled] == truth, weights=w))
        if not scores:
            raise ValueError("y has no labelled row for any task; nothing to score.")
        return float(np.mean(scores))


class ClassificationTasksMixin(ClassifierMixin, LabelledTasksMixin):
    """Labels in, labels and probabilities out: a classifier over the base."""

    def predict_proba(self, X):
        """Probability of each class, per task.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : list of ndarray of shape (n_samples, n_classes_t)
            One array per task, columns in the order of its ``classes_``
            (sklearn's multi-output convention); a single array for a model
            fitted on a 1-D ``y``. Rows sum to 1.
        """
        return self._probabilities(X)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed without underflow.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        log_proba : list of ndarray of shape (n_samples, n_classes_t)
            One array per task; a single array for a 1-D ``y``.
        """
        return self._probabilities(X, log=True)

    @available_if(_single_task)
    def decision_function(self, X):
        """Raw scores of a model fitted on one task (a 1-D ``y``).

        Only single-task models have it: sklearn's multi-output tools read a
        ``decision_function`` as one ``(n_samples, n_outputs)`` array over a
        single ``classes_`` array, which tasks with their own classes do not
        have. Use :meth:`predict_proba` with several tasks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The logit of ``classes_[1]`` for two classes, else one logit per
            class.
        """
        (raw,) = self._raw_outputs(X)
        return raw[:, 0] if raw.shape[1] == 1 and len(self._classes[0]) == 2 else raw

    def predict(self, X):
        """Predict the class of each task.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
            Labels from each task's ``classes_``; 1-D for a model fitted on a
            1-D ``y``. Tasks whose classes have different dtypes give an
            object array.
        """
        codes = self._predicted_codes(self._raw_outputs(X))
        labels = [c[i] for c, i in zip(self._classes, codes, strict=True)]
        if self._y_is_1d:
            return labels[0]
        kinds = {c.dtype for c in self._classes}
        dtype = kinds.pop() if len(kinds) == 1 else object
        out = np.empty((len(labels[0]), len(labels)), dtype=dtype)
        for t, column in enumerate(labels):
            out[:, t] = column
        return out

    def score(self, X, y, sample_weight=None):
        """Accuracy per task on its labelled rows, averaged uniformly over tasks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            True labels; NaN or None cells are left out of their task's score.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights.

        Returns
        -------
        score : float
            Mean over tasks of the (weighted) accuracy. A task with no
            labelled row in ``y`` is left out with a ``UserWarning``.

        Raises
        ------
        ValueError
            If ``y`` holds a label a task was not fitted on, no task has a
            labelled row, or ``y`` has another number of tasks.
        """
        return self._mean_task_score(X, y, sample_weight)


class MultiTaskClassifier(ClassificationTasksMixin, SharedTrunkMixin, BaseNetwork):
    """Neural multi-task classifier: shared layers, a head per task, missing labels.

    The classification sibling of :class:`~sklearn_mtl.MultiTaskRegressor`:
    the same trunk, sharing schemes, task weighting, missing labels, devices
    and persistence. Each column of ``y`` is a task with its own classes; a
    binary task gets one logit (binary cross-entropy), a task of ``K > 2``
    classes ``K`` logits (softmax cross-entropy). The objective is

    ``sum_t w_t * L_t(theta) + alpha * R(theta)``

    where ``L_t`` is task ``t``'s mean cross-entropy over its labelled rows
    (NaN or None in ``y`` means "not labelled"), weighted by ``class_weight``
    and ``sample_weight``.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(128, 128)
        Widths of the shared trunk's hidden layers.
    head_layer_sizes : array-like of int, default=()
        Hidden widths inside each head; each output (a class's logit) gets its
        own. Empty gives linear heads.
    activation : {"relu", "tanh", "logistic", "identity", "gelu"}, default="relu"
        Non-linearity of the hidden layers.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    alpha : float, default=1e-2
        Strength of the L2 penalty on the weight matrices (a head's weights
        count ``1 / n_outputs``).
    class_weight : None, "balanced", dict or list of dict, default=None
        Weights of the classes in each task's loss. ``"balanced"`` weighs
        class ``c`` of task ``t`` by ``n_t / (n_classes_t * n_t,c)`` on that
        task's labelled rows (sklearn's rule, sample weights included); a dict
        ``{class: weight}`` for a single task; a list with a dict (or None,
        or ``"balanced"``) per task. With ``partial_fit``, ``"balanced"`` uses
        each chunk's counts.
    task_weighting : str, array-like of shape (n_tasks,) or TaskWeighting, \
            default="equal"
        How task losses combine (see :class:`~sklearn_mtl.MultiTaskRegressor`).
    sharing : {"hard", "soft", "mmoe"}, default="hard"
        How the tasks share layers (see :class:`~sklearn_mtl.MultiTaskRegressor`).
    n_experts : int, default=4
        Number of experts for ``sharing="mmoe"``.
    sharing_alpha : float, default=0.3
        Strength of the pull of each output's own weights toward their mean.
    task_affinity : {"gradient_cosine", "lookahead"} or None, default=None
        Record how the tasks' training steps interact, in ``task_affinity_``.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        Optimiser; ``"sgd"`` uses momentum 0.9.
    lr : float, default=1e-3
        Learning rate.
    batch_size : int or "auto", default="auto"
        Rows per mini-batch; ``"auto"`` is ``min(256, n_samples)``.
    max_epochs : int, default=200
        Maximum number of passes over the data.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when the validation
        loss stops improving and restore the best weights; when False, stop
        on the training loss.
    validation_fraction : float, default=0.1
        Share of rows held out when ``early_stopping=True``.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement before stopping.
    tol : float, default=1e-4
        Minimum decrease of the monitored loss that counts as improvement.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``...
    predict_dtype : {"float64", "float32"}, default="float64"
        Precision of the forward pass at prediction.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, dropout, shuffling and the validation split.
    verbose : int, default=0
        0 prints nothing, 1 a progress bar, 2 or more skorch's table.
    warm_start : bool, default=False
        When True, ``fit`` continues from the current weights (the classes
        stay those of the first fit).
    trunk : None, torch.nn.Module subclass or instance, default=None
        Your own shared trunk (see :class:`~sklearn_mtl.MultiTaskRegressor`).
    callbacks : list of skorch callbacks, default=None
        Added to the private skorch net.
    data_parallel : bool, default=False
        Train across the processes of a ``torchrun`` run, as in
        :class:`MultiTaskRegressor`.
    **trunk__
        ``trunk__<name>=value`` arguments of a ``trunk`` class.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        The sorted classes of each task; a single array for a 1-D ``y``.
    net_ : skorch.NeuralNet
        The fitted skorch net.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` had string column names.
    n_tasks_ : int
        Number of tasks (columns of ``y``).
    task_names_ : ndarray of shape (`n_tasks_`,)
        Column names of a DataFrame ``y``, else ``task_0, task_1, ...``.
    history_ : skorch.history.History
        Losses per epoch, per task (the tasks' cross-entropies).
    n_iter_ : int
        Number of epochs trained.

    See Also
    --------
    MultiTaskRegressor : The same network for real-valued targets.
    sklearn.neural_network.MLPClassifier : One network, no missing labels.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl import MultiTaskClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> Y = np.column_stack([X[:, 0] > 0, np.digitize(X[:, 1], [-0.5, 0.5])])
    >>> Y = Y.astype(object)
    >>> Y[:50, 1] = None  # not labelled
    >>> model = MultiTaskClassifier(max_epochs=30, random_state=0).fit(X, Y)
    >>> [c.tolist() for c in model.classes_]
    [[0, 1], [0, 1, 2]]
    >>> [p.shape for p in model.predict_proba(X[:3])]
    [(3, 2), (3, 3)]
    """

    _architecture_params = (
        *BaseNetwork._architecture_params,
        *SharedTrunkMixin._architecture_params,
    )

    _parameter_constraints: dict = {
        **{
            k: v
            for k, v in BaseNetwork._parameter_constraints.items()
            if k not in ("loss", "standardize_targets")
        },
        **SharedTrunkMixin._parameter_constraints,
        "class_weight": [None, dict, list, StrOptions({"balanced"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(128, 128),
        head_layer_sizes=(),
        activation="relu",
        dropout=0.0,
        alpha=1e-2,
        class_weight=None,
        task_weighting="equal",
        sharing="hard",
        n_experts=4,
        sharing_alpha=0.3,
        task_affinity=None,
        optimizer="adam",
        lr=1e-3,
        batch_size="auto",
        max_epochs=200,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        device="auto",
        predict_dtype="float64",
        random_state=None,
        verbose=0,
        warm_start=False,
        trunk=None,
        callbacks=None,
        data_parallel=False,
        **trunk__,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.head_layer_sizes = head_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.alpha = alpha
        self.class_weight = class_weight
        self.task_weighting = task_weighting
        self.sharing = sharing
        self.n_experts = n_experts
        self.sharing_alpha = sharing_alpha
        self.task_affinity = task_affinity
        self.optimizer = optimizer
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.predict_dtype = predict_dtype
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.trunk = trunk
        self.callbacks = callbacks
        self.data_parallel = data_parallel
        self._set_trunk_params(trunk__)
