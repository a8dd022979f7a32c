"""MixedTaskEstimator: regression and classification tasks on one shared trunk."""

import numpy as np
from sklearn.utils._param_validation import StrOptions

from ._base import BaseNetwork
from ._classifier import LabelledTasksMixin
from ._labels import missing_mask
from ._losses import LOSSES, Binary, Multiclass
from ._shared_trunk import SharedTrunkMixin

__all__ = ["MixedTaskEstimator"]

TASK_TYPES = ("regression", "classification")


def _infer_kind(column):
    """``"regression"`` for real numbers, ``"classification"`` for other labels."""
    values = column[~missing_mask(column)]
    if values.dtype.kind == "f":
        return "regression"
    if values.dtype.kind == "O" and all(
        isinstance(v, (float, np.floating)) for v in values
    ):
        return "regression"
    return "classification"


class MixedTaskEstimator(LabelledTasksMixin, SharedTrunkMixin, BaseNetwork):
    """Regression and classification tasks in one network with a shared trunk.

    Each column of ``y`` is a task: a regression task (real values; a
    standardised target, ``loss`` per cell, one output) or a classification
    task (labels; one logit for two classes, one per class otherwise, the
    cross-entropy). NaN or None marks a cell that is not labelled. The
    objective is ``sum_t w_t * L_t / s_t + alpha * R``.

    **Comparable scales.** Before weighting, each task's loss is divided by
    ``s_t``, the loss of predicting without features: the variance of a
    standardised regression target is 1 (so ``s_t = 1``); for a
    classification task ``s_t`` is the entropy of its class frequencies on
    the first fit's labelled rows, weighted by ``sample_weight`` (the
    cross-entropy of predicting those frequencies). Every task's loss then
    starts near 1, and the weights of ``task_weighting`` mean the same for
    both kinds; ``"uncertainty"``
    learns them further (Kendall et al. 2018).

    Parameters
    ----------
    task_types : "auto" or list of {"regression", "classification"}, \
            default="auto"
        The type of each task (column of ``y``). ``"auto"``: a column of
        floats is a regression task, a column of ints, bools or strings a
        classification task.
    hidden_layer_sizes : array-like of int, default=(128, 128)
        Widths of the shared trunk's hidden layers.
    head_layer_sizes : array-like of int, default=()
        Hidden widths inside each output's head.
    activation : {"relu", "tanh", "logistic", "identity", "gelu"}, default="relu"
        Non-linearity of the hidden layers.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    alpha : float, default=1e-2
        Strength of the L2 penalty on the weight matrices.
    loss : {"squared_error", "huber", "absolute_error"}, default="squared_error"
        Per-cell loss of the regression tasks.
    class_weight : None, "balanced" or list, default=None
        Class weights of the classification tasks, as in
        :class:`~sklearn_mtl.MultiTaskClassifier` (None entries for the
        regression tasks in a list).
    task_weighting : str, array-like or TaskWeighting, default="equal"
        How the (scaled) task losses combine.
    sharing : {"hard", "soft", "mmoe"}, default="hard"
        How the tasks share layers.
    n_experts : int, default=4
        Number of experts for ``sharing="mmoe"``.
    sharing_alpha : float, default=0.3
        Strength of the pull of each output's own weights toward their mean.
    task_affinity : {"gradient_cosine", "lookahead"} or None, default=None
        Record how the tasks' training steps interact.
    standardize_targets : bool, default=True
        Centre and scale each regression task on its labelled rows.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        Optimiser.
    lr : float, default=1e-3
        Learning rate.
    batch_size : int or "auto", default="auto"
        Rows per mini-batch; ``"auto"`` is ``min(256, n_samples)``.
    max_epochs : int, default=200
        Maximum number of passes over the data.
    early_stopping : bool, default=False
        Stop on a held-out validation loss and restore the best weights.
    validation_fraction : float, default=0.1
        Share of rows held out when ``early_stopping=True``.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement before stopping.
    tol : float, default=1e-4
        Minimum decrease of the monitored loss that counts as improvement.
    device : str or torch.device, default="auto"
        Training device.
    predict_dtype : {"float64", "float32"}, default="float64"
        Precision of the forward pass at prediction.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, dropout, shuffling and the validation split.
    verbose : int, default=0
        0 prints nothing, 1 a progress bar, 2 or more skorch's table.
    warm_start : bool, default=False
        When True, ``fit`` continues from the current weights.
    trunk : None, torch.nn.Module subclass or instance, default=None
        Your own shared trunk.
    callbacks : list of skorch callbacks, default=None
        Added to the private skorch net.
    data_parallel : bool, default=False
        Train across the processes of a ``torchrun`` run, as in
        :class:`MultiTaskRegressor`.
    **trunk__
        ``trunk__<name>=value`` arguments of a ``trunk`` class.

    Attributes
    ----------
    task_types_ : list of str
        The type of each task.
    classes_ : list
        The sorted classes of each classification task; None for a
        regression task.
    loss_scales_ : ndarray of shape (n_tasks,)
        ``s_t``: what each task's loss is divided by.
    net_, n_features_in_, feature_names_in_, n_tasks_, task_names_, \
history_, n_iter_
        As for :class:`~sklearn_mtl.MultiTaskRegressor`.

    See Also
    --------
    MultiTaskRegressor : Every task a regression task.
    MultiTaskClassifier : Every task a classification task.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl import MixedTaskEstimator
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> Y = np.empty((300, 2), dtype=object)
    >>> Y[:, 0] = X[:, 0] + 0.1 * rng.normal(size=300)      # a real value
    >>> Y[:, 1] = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")  # a label
    >>> model = MixedTaskEstimator(max_epochs=30, random_state=0).fit(X, Y)
    >>> model.task_types_
    ['regression', 'classification']
    >>> model.predict(X[:2]).shape
    (2, 2)
    """

    _architecture_params = (
        *BaseNetwork._architecture_params,
        *SharedTrunkMixin._architecture_params,
        "task_types",
    )

    _parameter_constraints: dict = {
        **BaseNetwork._parameter_constraints,
        **SharedTrunkMixin._parameter_constraints,
        "task_types": [StrOptions({"auto"}), list, tuple],
        "loss": [StrOptions(set(LOSSES))],
        "class_weight": [None, list, tuple, StrOptions({"balanced"})],
    }

    def __init__(
        self,
        task_types="auto",
        hidden_layer_sizes=(128, 128),
        head_layer_sizes=(),
        activation="relu",
        dropout=0.0,
        alpha=1e-2,
        loss="squared_error",
        class_weight=None,
        task_weighting="equal",
        sharing="hard",
        n_experts=4,
        sharing_alpha=0.3,
        task_affinity=None,
        standardize_targets=True,
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
        self.task_types = task_types
        self.hidden_layer_sizes = hidden_layer_sizes
        self.head_layer_sizes = head_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.alpha = alpha
        self.loss = loss
        self.class_weight = class_weight
        self.task_weighting = task_weighting
        self.sharing = sharing
        self.n_experts = n_experts
        self.sharing_alpha = sharing_alpha
        self.task_affinity = task_affinity
        self.standardize_targets = standardize_targets
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

    # ---- task types ----------------------------------------------------------
    def _task_kinds(self, columns=None):
        if columns is None:
            return self.task_types_
        if isinstance(self.task_types, str):
            return [_infer_kind(column) for column in columns]
        kinds = list(self.task_types)
        if len(kinds) != len(columns):
            raise ValueError(
                f"task_types has {len(kinds)} entries but y has {len(columns)} "
                "task(s); give one type per column of y."
            )
        unknown = [k for k in kinds if k not in TASK_TYPES]
        if unknown:
            raise ValueError(
                f"task_types entries must be in {TASK_TYPES}; got {unknown[:3]}."
            )
        return kinds

    def _set_classes(self, classes, is_1d, codes):
        # a regression task is the one without classes
        self.task_types_ = [
            "regression" if c is None else "classification" for c in classes
        ]
        self.classes_ = list(classes)

    def _prepare_for_data(self, X, Y, sample_weight):
        """Set ``loss_scales_``: the entropy of each task's class frequencies."""
        super()._prepare_for_data(X, Y, sample_weight)
        scales = np.ones(Y.shape[1])
        for t, task_classes in enumerate(self._classes):
            labelled = ~np.isnan(Y[:, t])
            if task_classes is None or not labelled.any():
                continue
            counts = np.bincount(
                Y[labelled, t].astype(int),
                sample_weight[labelled],
                minlength=len(task_classes),
            )
            p = counts[counts > 0] / counts.sum()
            entropy = -np.sum(p * np.log(p))
            scales[t] = entropy if entropy > 1e-12 else 1.0
        self.loss_scales_ = scales

    def _class_loss(self, t):
        n_classes, scale = len(self._classes[t]), self.loss_scales_[t]
        return Binary(scale) if n_classes == 2 else Multiclass(n_classes, scale)

    # ---- prediction ----------------------------------------------------------
    def predict(self, X):
        """Predict every task: values for regression tasks, labels otherwise.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_tasks)
            Column ``t`` holds floats (in the target's units) for a regression
            task and labels from ``classes_[t]`` for a classification task;
            1-D for a model fitted on a 1-D ``y``. The array has the columns'
            common dtype when they share one (float64 when every task is a
            regression task), else dtype object.
        """
        codes = self._predicted_codes(self._raw_outputs(X))
        columns = [
            column * self._target_scale[t] + self._target_mean[t]
            if classes is None
            else classes[column]
            for t, (classes, column) in enumerate(
                zip(self._classes, codes, strict=True)
            )
        ]
        if self._y_is_1d:
            return columns[0]
        dtypes = {column.dtype for column in columns}
        dtype = dtypes.pop() if len(dtypes) == 1 else object
        out = np.empty((len(columns[0]), len(columns)), dtype=dtype)
        for t, column in enumerate(columns):
            out[:, t] = column
        return out

    def predict_proba(self, X):
        """Class probabilities of the classification tasks.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : list
            One entry per task: an ``(n_samples, n_classes_t)`` array for a
            classification task (rows sum to 1), None for a regression task.
        """
        return self._probabilities(X)

    def score(self, X, y, sample_weight=None):
        """Mean over tasks of R^2 (regression tasks) and accuracy (the others).

        Each task is scored on its labelled rows; a task with no labelled row
        in ``y`` is left out with a ``UserWarning``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples, n_tasks)
            True targets; NaN or None cells are left out.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights.

        Returns
        -------
        score : float
            The uniform mean of the per-task scores.
        """
        return self._mean_task_score(X, y, sample_weight)
