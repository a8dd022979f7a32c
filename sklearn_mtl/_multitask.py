"""MultiTaskRegressor: a shared trunk and one head per task."""

from numbers import Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, Options, StrOptions

from ._base_regressor import BaseNetworkRegressor
from ._losses import LOSSES, Quantile
from ._shared_trunk import SharedTrunkMixin
from ._tensors import as_cpu_tensor

__all__ = ["MultiTaskRegressor"]


class MultiTaskRegressor(SharedTrunkMixin, BaseNetworkRegressor):
    """Neural multi-task regressor: shared layers, a head per task, missing labels.

    The network is a shared trunk (``hidden_layer_sizes``) followed by one
    head per target column (``head_layer_sizes`` hidden units each, then one
    output). It minimises

    ``sum_t w_t * L_t(theta) + alpha * R(theta)``

    where ``L_t`` is the mean loss over the rows labelled for task ``t`` (NaN
    in ``y`` means "not labelled"), ``w_t`` come from ``task_weighting`` and
    ``R`` is half the squared L2 norm of the weight matrices. Training runs
    through a private skorch net on CUDA when available.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(128, 128)
        Widths of the shared trunk's hidden layers. Empty gives linear heads on
        the raw inputs (one linear model per task).
    head_layer_sizes : array-like of int, default=()
        Hidden widths inside each task's head. Empty gives a linear head.
    activation : {"relu", "tanh", "logistic", "identity", "gelu"}, default="relu"
        Non-linearity of the hidden layers.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    alpha : float or "auto", default="auto"
        Strength of the L2 penalty ``alpha / 2 * sum ||W||^2`` on the weight
        matrices (not the biases). A task's own weights (its head) count
        ``1 / n_tasks``, like its loss, so each head is regularised as in a
        single-task network whatever the number of tasks. ``"auto"``: 1e-3
        when the fit stops early on held-out rows (stopping regularises
        too), else 1e-2. The value used is ``alpha_``. See
        :ref:`adaptive-defaults`.
    task_weighting : str, array-like of shape (n_tasks,) or TaskWeighting, \
            default="equal"
        How task losses combine: a name in
        :data:`sklearn_mtl.weighting.WEIGHTINGS` (``"equal"``: weights
        ``1 / n_tasks``; learnt or gradient-based methods such as
        ``"uncertainty"`` or ``"pcgrad"``), fixed weights (used as given), or
        a :class:`~sklearn_mtl.weighting.TaskWeighting` instance (cloned in
        ``fit``).
    sharing : {"hard", "soft", "mmoe"}, default="hard"
        How the tasks share layers. ``"hard"``: one trunk, a head per task.
        ``"soft"``: a trunk per task, pulled toward the tasks' mean trunk by
        ``sharing_alpha``. ``"mmoe"``: ``n_experts`` shared trunks mixed by a
        softmax gate per task (Ma et al. 2018).
    n_experts : int, default=4
        Number of experts for ``sharing="mmoe"``; ignored otherwise.
    sharing_alpha : float, default=0.3
        Strength of the penalty
        ``sharing_alpha / 2 * mean_t ||W_t - mean_t W||^2`` on each task's own
        weight matrices: the heads (and the soft trunks or the MMoE gates). It
        shrinks the tasks toward one shared model.
    task_affinity : {"gradient_cosine", "lookahead"} or None, default=None
        Record how tasks interact during training, in ``task_affinity_``:
        ``"gradient_cosine"``, the cosine similarity of the tasks' gradients
        on the shared parameters; ``"lookahead"``, the inter-task affinity of
        Fifty et al. (2021), ``1 - L_j(after a step on task i) / L_j(before)``.
        Averaged over all training steps. None computes nothing extra.
    loss : {"squared_error", "huber", "absolute_error", "quantile"}, \
            default="squared_error"
        Per-cell loss. Huber uses ``delta=1`` on the standardised targets.
        ``"quantile"``: each task predicts every one of ``quantiles`` with the
        pinball loss (their mean per cell); :meth:`predict` returns the
        median and :meth:`predict_quantiles` all of them.
    quantiles : array-like of float, default=(0.1, 0.5, 0.9)
        With ``loss="quantile"``: increasing values in (0, 1) that include
        0.5. Ignored otherwise.
    standardize_targets : bool, default=True
        Centre and scale each task on its labelled rows before training;
        predictions are mapped back to the original units.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        Optimiser; ``"sgd"`` uses momentum 0.9.
    lr : float, default=1e-3
        Learning rate.
    batch_size : int or "auto", default="auto"
        Rows per mini-batch; ``"auto"`` is ``min(256, n_samples)``.
    max_epochs : int, default=200
        Maximum number of passes over the data.
    early_stopping : bool or "auto", default="auto"
        True: hold out ``validation_fraction`` of the rows (each task keeps a
        labelled training row), stop when the validation loss has not
        improved by ``tol`` for ``n_iter_no_change`` epochs, and restore the
        best weights. False: stop on the training loss in the same way (the
        last epoch's weights are kept). ``"auto"``: True when the tasks have
        at least 800 labelled rows each (the median over tasks), or at
        least 100 with zero-inflated targets (one value holds 80% of the
        median task's labels); the network kept is then trained on the
        other rows. False otherwise. A
        continued fit (``warm_start``, :meth:`partial_fit`) never stops early
        unless this is True.
    validation_fraction : float, default=0.1
        Share of rows held out when the fit stops early.
    shrinkage : "auto" or False, default="auto"
        ``"auto"``, with ``loss="squared_error"`` and standardised targets:
        when the fit stops early on held-out rows, pull each task's predictions toward
        its training mean by the factor in [0, 1] that minimises their
        squared error on the held-out rows; a task the network predicts
        worse than its mean there is shrunk to the mean. The factors are
        ``shrinkage_``, applied to the tasks' output layers. False: no
        shrinkage. Exact control of the training: set ``alpha`` to a number,
        ``early_stopping`` to a bool and ``shrinkage=False``.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement before stopping; ``np.inf`` never stops
        early.
    tol : float, default=1e-4
        Minimum decrease of the monitored loss that counts as improvement.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when ``torch.cuda.is_available()``, else CPU),
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    predict_dtype : {"float64", "float32"}, default="float64"
        Precision of :meth:`predict`. float64 makes predictions independent of
        how rows are batched (what sklearn's invariance checks ask for); float32
        is about twice as fast on CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout, shuffling and the validation
        split. Torch's global random state is left as it was.
    verbose : int, default=0
        0 prints nothing; 1 shows a progress bar over the epochs on stderr,
        with the training (and validation) loss and the per-task losses; 2 or
        more prints skorch's table, a row per epoch.
    warm_start : bool, default=False
        When True, ``fit`` continues from the current weights instead of
        starting over, as :meth:`partial_fit` does: the target scaling keeps
        adapting to the new rows, changed training settings (``lr``,
        ``alpha``, ``batch_size``, ``tol``, the optimiser, ...) apply, and a
        changed architecture (``hidden_layer_sizes``, ``trunk``, ...) is an
        error.
    trunk : None, torch.nn.Module subclass or instance, default=None
        The shared trunk. None builds the MLP of ``hidden_layer_sizes``. A
        class is instantiated in ``fit`` with the ``trunk__<name>`` arguments
        (skorch's convention: ``trunk__width=64`` is a hyperparameter that
        ``get_params``, ``set_params``, ``clone`` and ``GridSearchCV`` see).
        An instance is deep-copied in ``fit``; the object passed is never
        trained or moved. The trunk maps a batch of ``X`` (float32) to
        ``(batch, n_out)`` features, ``n_out`` found by one forward pass.
        With a custom trunk ``X`` may be any numeric array of shape
        ``(n_samples, ...)`` (images, integer codes for an embedding: convert
        them with ``.long()`` in ``forward``), and ``sharing`` must be
        ``"hard"``.
    callbacks : list of skorch callbacks or (name, callback) pairs, default=None
        Added to the private skorch net after the estimator's own callbacks
        (``stopper``, ``print_log``, which keep their names), e.g.
        ``[LRScheduler("CosineAnnealingLR", T_max=50)]`` or
        ``[Checkpoint(monitor="train_loss_best", dirname="ckpt")]``. They are
        deep-copied in every ``fit``.
    data_parallel : bool, default=False
        Train across the processes of a ``torchrun --nproc_per_node N`` (or
        ``accelerate launch``) run: each process takes its share of every
        mini-batch of ``batch_size`` rows, and per-task losses, gradients and
        history are those of one process. Every process must call ``fit``
        on the same data. See :ref:`data-parallel`.
    **trunk__
        ``trunk__<name>=value`` arguments of a ``trunk`` class.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted skorch net; ``net_.module_`` is the
        :class:`~sklearn_mtl.modules.MultiTaskModule`.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` had string column names.
    n_tasks_ : int
        Number of tasks (columns of ``y``).
    task_names_ : ndarray of shape (`n_tasks_`,)
        Column names of a DataFrame ``y``, else ``task_0, task_1, ...``.
    history_ : skorch.history.History
        Per epoch: ``train_loss``, ``train_task_loss`` (one value per task),
        ``valid_loss`` and ``valid_task_loss`` with early stopping,
        ``task_weights``, ``dur``.
    n_iter_ : int
        Number of epochs trained.
    alpha_ : float
        The ``alpha`` the network was trained with (chosen by the fit when
        ``alpha="auto"``).
    shrinkage_ : ndarray of shape (`n_tasks_`,)
        Per task, the factor in [0, 1] its predictions' deviations from the
        training mean were multiplied by (1: none).
    task_affinity_ : ndarray of shape (`n_tasks_`, `n_tasks_`)
        With ``task_affinity`` set: entry ``[i, j]`` is how training task
        ``i`` helps task ``j`` (see ``task_affinity``); NaN for two tasks that
        never shared a labelled mini-batch.

    See Also
    --------
    TransferEstimator : Fine-tune a fitted trunk on a new task.
    sklearn.neural_network.MLPRegressor : Single network, no missing labels.

    Examples
    --------
    >>> from sklearn_mtl import MultiTaskRegressor
    >>> from sklearn_mtl.datasets import make_multitask_regression
    >>> X, Y = make_multitask_regression(n_samples=200, n_tasks=3,
    ...                                  missing_rate=0.3, random_state=0)
    >>> model = MultiTaskRegressor(max_epochs=20, random_state=0).fit(X, Y)
    >>> model.predict(X[:2]).shape
    (2, 3)
    """

    _architecture_params = (
        *BaseNetworkRegressor._architecture_params,
        *SharedTrunkMixin._architecture_params,
        "_quantile_outputs",  # None, or the quantiles that shape the heads
    )

    _parameter_constraints: dict = {
        **BaseNetworkRegressor._parameter_constraints,
        **SharedTrunkMixin._parameter_constraints,
        "loss": [StrOptions({*LOSSES, "quantile"})],
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "shrinkage": [StrOptions({"auto"}), Options(bool, {False})],
        "quantiles": ["array-like"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(128, 128),
        head_layer_sizes=(),
        activation="relu",
        dropout=0.0,
        alpha="auto",
        task_weighting="equal",
        sharing="hard",
        n_experts=4,
        sharing_alpha=0.3,
        task_affinity=None,
        loss="squared_error",
        quantiles=(0.1, 0.5, 0.9),
        standardize_targets=True,
        optimizer="adam",
        lr=1e-3,
        batch_size="auto",
        max_epochs=200,
        early_stopping="auto",
        validation_fraction=0.1,
        shrinkage="auto",
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
        self.task_weighting = task_weighting
        self.sharing = sharing
        self.n_experts = n_experts
        self.sharing_alpha = sharing_alpha
        self.task_affinity = task_affinity
        self.loss = loss
        self.quantiles = quantiles
        self.standardize_targets = standardize_targets
        self.optimizer = optimizer
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shrinkage = shrinkage
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

    # ---- quantile regression -------------------------------------------
    @property
    def _quantile_outputs(self):
        """The quantiles each task predicts with ``loss="quantile"``, else None."""
        if self.loss != "quantile":
            return None
        return tuple(float(q) for q in np.ravel(self.quantiles))

    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        if self.loss != "quantile":
            return
        q = np.asarray(self.quantiles, dtype=float)
        if not (
            q.ndim == 1
            and q.size
            and np.all((q > 0) & (q < 1))
            and np.all(np.diff(q) > 0)
            and np.any(q == 0.5)
        ):
            raise ValueError(
                f"quantiles must be a 1-D list of increasing values in (0, 1) that "
                f"include 0.5 "
                f"(the median, which predict returns); got {self.quantiles!r}."
            )

    def _task_losses(self, n_tasks):
        if self.loss == "quantile":
            return [Quantile(self._quantile_outputs)] * n_tasks
        return super()._task_losses(n_tasks)

    def _predict_standardized(
        self, X, check_finite=True, affine=None, check_rows=False
    ):
        if self.loss != "quantile":
            return super()._predict_standardized(X, check_finite, affine, check_rows)
        # every quantile is checked: the median of a sorted row can be finite
        # while another quantile is NaN
        out = super()._predict_standardized(X, check_rows=check_rows)
        if out is None:  # a chunk of X not finite as converted
            return None
        q = self._quantile_outputs
        # sorted per row: quantiles never cross (monotone rearrangement)
        out = np.sort(out.reshape(len(out), -1, len(q)), axis=-1)[..., q.index(0.5)]
        if affine is not None:  # one value per task: the median's columns
            scale, shift = map(as_cpu_tensor, affine)
            torch.from_numpy(out).mul_(scale).add_(shift)
        return out

    def predict_quantiles(self, X):
        """Predict each task's ``quantiles`` (needs ``loss="quantile"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        quantiles : ndarray of shape (n_samples, n_tasks, n_quantiles)
            In target units, in the order of ``quantiles``; ``(n_samples,
            n_quantiles)`` for a model fitted on a 1-D ``y``. Each row's
            quantiles are sorted, so they never cross (the monotone
            rearrangement of Chernozhukov et al. 2010); column
            ``quantiles.index(0.5)`` is :meth:`predict`.
        """
        self._check_fitted()
        if self.loss != "quantile":
            raise AttributeError(
                "predict_quantiles needs a model fitted with loss='quantile'."
            )
        X = self._validate_X(X, reset=False)
        raw = BaseNetworkRegressor._predict_standardized(self, X)
        out = np.sort(raw.reshape(len(raw), self.n_tasks_, -1), axis=-1)
        out = out * self._target_scale[:, None] + self._target_mean[:, None]
        return out[:, 0] if self._y_is_1d else out
