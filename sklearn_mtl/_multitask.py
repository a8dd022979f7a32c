"""MultiTaskRegressor: a shared trunk and one head per task."""

from numbers import Integral

from sklearn.utils._param_validation import Interval

from ._base import BaseNetworkRegressor, check_layer_sizes
from .modules import MultiTaskModule, TaskHeadsModule, make_mlp

__all__ = ["MultiTaskRegressor"]


class MultiTaskRegressor(BaseNetworkRegressor):
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
    alpha : float, default=1e-4
        Strength of the L2 penalty ``alpha / 2 * sum ||W||^2``.
    task_weighting : "equal", array-like of shape (n_tasks,) or TaskWeighting, \
            default="equal"
        How task losses combine: equal weights ``1 / n_tasks``, fixed weights
        (used as given), or a :class:`~sklearn_mtl.weighting.TaskWeighting`
        instance (cloned in ``fit``).
    loss : {"squared_error", "huber", "absolute_error"}, default="squared_error"
        Per-cell loss. Huber uses ``delta=1`` on the standardised targets.
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
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (each task keeps a
        labelled training row), stop when the validation loss has not improved
        by ``tol`` for ``n_iter_no_change`` epochs, and restore the best
        weights. When False, stop on the training loss in the same way.
    validation_fraction : float, default=0.1
        Share of rows held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    tol : float, default=1e-4
        Minimum decrease of the monitored loss that counts as improvement.
    device : str, default="auto"
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
        0 prints nothing; 1 prints a line per epoch.
    warm_start : bool, default=False
        When True, ``fit`` continues from the current weights and target
        scaling instead of starting over.

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

    _parameter_constraints: dict = {
        **BaseNetworkRegressor._parameter_constraints,
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
    }

    def __init__(
        self,
        hidden_layer_sizes=(128, 128),
        head_layer_sizes=(),
        activation="relu",
        dropout=0.0,
        alpha=1e-4,
        task_weighting="equal",
        loss="squared_error",
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
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.head_layer_sizes = head_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.alpha = alpha
        self.task_weighting = task_weighting
        self.loss = loss
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

    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        check_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")

    def _build_module(self, n_features, n_tasks):
        hidden = check_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")
        head = check_layer_sizes(self.head_layer_sizes, "head_layer_sizes")
        trunk = make_mlp(n_features, hidden, self.activation, self.dropout)
        heads = TaskHeadsModule(
            trunk.out_features, n_tasks, head, self.activation, self.dropout
        )
        return MultiTaskModule(trunk, heads)
