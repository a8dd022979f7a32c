"""TransferClassifier: a pretrained trunk, a new classification head, fine-tuning."""

from sklearn.utils._param_validation import StrOptions

from ._base import BaseNetwork
from ._classifier import ClassificationTasksMixin
from ._transfer_base import TransferMixin

__all__ = ["TransferClassifier"]


class TransferClassifier(ClassificationTasksMixin, TransferMixin, BaseNetwork):
    """Fine-tune a pretrained trunk on a new classification target.

    The classification sibling of :class:`~sklearn_mtl.TransferEstimator`:
    the same sources (a fitted regressor, classifier or transfer model of this
    package, a skorch net, a trunk module, or None to train from scratch),
    the same ``strategy`` choices and guards, and ``y`` of class labels as in
    :class:`~sklearn_mtl.MultiTaskClassifier` (one column per task, NaN or
    None where unlabelled). The new head has one logit per binary task and one
    per class otherwise.

    The *linear probe* becomes a logistic regression of each task on the
    trunk's (standardised) features, its strength ``C`` chosen by stratified
    5-fold log-loss (``LogisticRegressionCV``; fewer folds when a class has
    fewer than 5 rows). ``strategy="auto"`` and ``compare_with_scratch``
    compare candidates by held-out cross-entropy instead of squared error.

    Parameters
    ----------
    source : estimator, skorch net, torch.nn.Module or None, default=None
        The pretrained model (see :class:`~sklearn_mtl.TransferEstimator`).
        A source fitted on regression or on other classes gives its trunk;
        its head is never reused.
    strategy : {"auto", "linear_probe", "fine_tune", "lp_ft", \
            "gradual_unfreezing", "l2_sp"}, default="auto"
        How to fine-tune (see :class:`~sklearn_mtl.TransferEstimator`).
    compare_with_scratch : bool, default=False
        Also train the same network from scratch on most rows and keep it
        when its held-out cross-entropy is lower by more than one standard
        error.
    hidden_layer_sizes : array-like of int, default=(128, 128)
        Trunk widths when ``source=None``.
    head_layer_sizes : array-like of int, default=()
        Hidden widths of each new head output.
    activation : {"relu", "tanh", "logistic", "identity", "gelu"}, default="relu"
        Non-linearity of the new layers.
    dropout : float, default=0.0
        Dropout after the new hidden layers.
    alpha : float, default=1e-4
        L2 penalty on the weight matrices that train; at least 1e-2 for the
        network ``strategy="auto"`` trains from scratch (as
        :class:`~sklearn_mtl.TransferEstimator`'s, which trains for twice
        ``max_epochs``).
    class_weight : None, "balanced", dict or list of dict, default=None
        Class weights, as in :class:`~sklearn_mtl.MultiTaskClassifier`; the
        probe uses them too.
    source_alpha : float, default=1e-2
        L2-SP pull toward the source's weights (``strategy="l2_sp"``).
    input_adapter : bool, default=False
        Learn a linear map from the target's features to the source's inputs.
    trunk_lr_scale : float, default=1.0
        The transferred layers train at ``lr * trunk_lr_scale``.
    lr_decay : float, default=2.6
        Learning-rate divisor per layer of depth (gradual unfreezing).
    unfreeze_every : int, default=1
        Epochs between unfreezing two trunk layers (gradual unfreezing).
    task_weighting : str, array-like or TaskWeighting, default="equal"
        How the task losses combine.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        Optimiser.
    lr : float or None, default=None
        Learning rate; None: 1e-4 when fine-tuning a probed head, else 1e-3.
    batch_size : int or "auto", default="auto"
        Rows per mini-batch.
    max_epochs : int, default=100
        Maximum number of passes over the data; twice that for the network
        ``strategy="auto"`` trains from scratch.
    early_stopping : bool, default=False
        Stop on a held-out validation loss and restore the best weights.
    validation_fraction : float, default=0.1
        Share of rows held out for early stopping and the scratch guard.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement before stopping.
    tol : float, default=1e-4
        Minimum decrease of the monitored loss that counts as improvement.
    device : str or torch.device, default="auto"
        Training device.
    predict_dtype : {"float64", "float32"}, default="float64"
        Precision of the forward pass at prediction.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, dropout, shuffling and the splits.
    verbose : int, default=0
        0 prints nothing, 1 a progress bar, 2 or more skorch's table.
    warm_start : bool, default=False
        When True, ``fit`` continues from the current weights.
    trunk : None, torch.nn.Module subclass or instance, default=None
        Your own trunk when ``source=None``.
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
        The sorted classes of each task; one array for a 1-D ``y``.
    strategy_ : str or None
        The strategy that ran (None when training from scratch).
    strategy_scores_ : dict or None
        Held-out cross-entropies of the candidates of ``strategy="auto"``,
        and the standard error scratch's gain must exceed.
    probe_alphas_ : ndarray of shape (n_tasks,) or None
        ``1 / C`` of each task's logistic probe.
    kept_, guard_scores_ : str, dict or None
        Whether the network starts from the source or from scratch (chosen by
        ``strategy="auto"`` or ``compare_with_scratch``), and the scores
        ``compare_with_scratch`` compared.
    net_, n_features_in_, feature_names_in_, n_tasks_, task_names_, \
history_, n_iter_
        As for :class:`~sklearn_mtl.MultiTaskClassifier`.

    See Also
    --------
    TransferEstimator : The same for regression targets.
    MultiTaskClassifier : Train a classifier from scratch.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_mtl import MultiTaskRegressor, TransferClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 5))
    >>> source = MultiTaskRegressor(max_epochs=20, random_state=0)
    >>> source = source.fit(X, X[:, :2] @ [[1.0, 0.5], [-1.0, 2.0]])
    >>> y = np.where(X[:, 0] > X[:, 1], "up", "down")
    >>> model = TransferClassifier(source=source, random_state=0).fit(X[:40], y[:40])
    >>> model.classes_.tolist()
    ['down', 'up']
    >>> sorted(model.strategy_scores_)  # held-out cross-entropy of each
    ['fine_tune', 'linear_probe', 'scratch', 'standard_error']
    """

    _architecture_params = (
        *BaseNetwork._architecture_params,
        *TransferMixin._architecture_params,
    )

    _parameter_constraints: dict = {
        **{
            k: v
            for k, v in BaseNetwork._parameter_constraints.items()
            if k not in ("loss", "standardize_targets")
        },
        **TransferMixin._parameter_constraints,
        "class_weight": [None, dict, list, StrOptions({"balanced"})],
    }

    def __init__(
        self,
        source=None,
        strategy="auto",
        compare_with_scratch=False,
        hidden_layer_sizes=(128, 128),
        head_layer_sizes=(),
        activation="relu",
        dropout=0.0,
        alpha=1e-4,
        class_weight=None,
        source_alpha=1e-2,
        input_adapter=False,
        trunk_lr_scale=1.0,
        lr_decay=2.6,
        unfreeze_every=1,
        task_weighting="equal",
        optimizer="adam",
        lr=None,
        batch_size="auto",
        max_epochs=100,
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
        self.source = source
        self.strategy = strategy
        self.compare_with_scratch = compare_with_scratch
        self.hidden_layer_sizes = hidden_layer_sizes
        self.head_layer_sizes = head_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.alpha = alpha
        self.class_weight = class_weight
        self.source_alpha = source_alpha
        self.input_adapter = input_adapter
        self.trunk_lr_scale = trunk_lr_scale
        self.lr_decay = lr_decay
        self.unfreeze_every = unfreeze_every
        self.task_weighting = task_weighting
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
