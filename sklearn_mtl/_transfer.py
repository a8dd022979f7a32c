"""TransferEstimator: copy a pretrained trunk, attach a new head, fine-tune."""

from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions

from ._base_regressor import BaseNetworkRegressor
from ._transfer_base import STRATEGIES, TransferMixin

__all__ = ["STRATEGIES", "TransferEstimator"]


class TransferEstimator(TransferMixin, BaseNetworkRegressor):
    """Fine-tune a pretrained trunk on a new, possibly small, target.

    ``fit`` deep-copies the source's trunk (the source itself is never
    trained), attaches a new head sized for the target's tasks, and trains
    with the chosen ``strategy``. The target may be multi-task with NaN for
    "not labelled", exactly as in :class:`MultiTaskRegressor`.

    The *linear probe* used by several strategies is a ridge regression of each
    target task on the trunk's features, solved in closed form with its
    strength chosen by leave-one-out cross-validation. When the source is one of
    this package's estimators with linear heads and as many tasks as the
    target, the ridge shrinks toward the source's own head rather than toward
    zero, so a handful of target rows cannot pull the model far from a good
    source.

    Parameters
    ----------
    source : estimator, skorch net, torch.nn.Module or None, default=None
        A fitted :class:`MultiTaskRegressor` or ``TransferEstimator`` (or a
        :class:`sklearn.frozen.FrozenEstimator` of one), a fitted skorch
        ``NeuralNet`` (its module's ``.trunk``, or all but the last layer of an
        ``nn.Sequential``), or a trunk module of any kind (a CNN, an
        embedding, a pretrained network mapping a batch of ``X`` to
        ``(batch, n_out)`` features): one forward pass on the target's ``X``
        checks that it reads that shape, and a mismatch is an error that shows
        the shapes. ``None`` trains a new network from scratch: the honest
        baseline. Cloning keeps the source by reference, so a grid search
        never refits it.
    strategy : {"auto", "linear_probe", "fine_tune", "lp_ft", \
            "gradual_unfreezing", "l2_sp"}, default="auto"
        - ``"auto"``: from 100 labelled rows in the target's smallest task
          on, ``"lp_ft"`` averaged with its probe (``fine_tuned_share``).
          Below that, whichever of that averaged ``"lp_ft"`` (the plain
          ``"linear_probe"`` with ``fine_tuned_share=1``), a full
          ``"fine_tune"`` (new head, lr 1e-3 unless set) and the source
          trunk's architecture trained from scratch (every layer
          re-initialised by its ``reset_parameters``, trained for twice
          ``max_epochs`` with ``alpha`` at least 1e-2, as
          :class:`MultiTaskRegressor` trains a network on a few rows;
          ``kept_ == "scratch"``, ``strategy_`` None) has the lower 5-fold
          error on the target rows (a guard against negative transfer; the
          scores are kept in ``strategy_scores_``; ties go to the probe;
          scratch, which drops the source, must beat the better of the other
          two by more than one standard error of the paired per-cell
          difference; a trunk that cannot be re-initialised has no scratch
          candidate). The averaged ``"lp_ft"`` is kept whatever the others
          score when it has come more than halfway from the error of
          predicting each task's training mean to the best other
          candidate's, and that candidate does not beat it by more than two
          standard errors of their paired difference (``"mean"`` and
          ``"source_standard_error"`` in ``strategy_scores_``). Measured on
          real data (``benchmarks/bench_transfer.py``): on a few dozen rows
          the source, averaged with a little fine-tuning, stayed ahead where
          fine-tuning alone made it worse, while a source whose features did
          not fit the target was beaten by learning the target afresh; with
          hundreds of rows fine-tuning gains.
        - ``"linear_probe"``: trunk frozen; a linear head is the closed-form
          probe (a non-linear head trains by gradient with the trunk frozen).
        - ``"fine_tune"``: new randomly initialised head, every layer trains
          (the new ones at ``lr``, the transferred ones at
          ``lr * trunk_lr_scale``).
        - ``"lp_ft"``: linear probe, then every layer trains, as with
          ``"fine_tune"`` (Kumar et al. 2022).
        - ``"gradual_unfreezing"``: linear probe, then the trunk's layers are
          unfrozen one every ``unfreeze_every`` epochs from the top, each with
          learning rate ``lr * trunk_lr_scale / lr_decay**depth`` (Howard &
          Ruder 2018).
        - ``"l2_sp"``: linear probe, then every layer trains with the penalty
          ``source_alpha / 2 * ||w - w_source||^2`` on the transferred weights
          (Li et al. 2018).

        Ignored when ``source=None``.
    compare_with_scratch : bool, default=False
        Guard against negative transfer: hold out ``validation_fraction`` of
        the rows (the same share early stopping holds out), fit on the rest
        both the transfer (the chosen ``strategy``) and the same network
        trained from scratch (the source trunk's architecture with every
        layer re-initialised by its ``reset_parameters``, then trained as with
        ``source=None``), and score both on the held-out rows. The scratch
        network is kept only when its error is lower by more than one standard
        error of the paired difference (a few held-out rows rarely prove a
        source harmful); the kept one is then refit on all rows. It costs
        about three fits. What was kept is in ``kept_``, the two errors in
        ``guard_scores_``. With fewer than 4 rows, or when no row can be held
        out without leaving a task unlabelled, the transfer is kept
        unchecked. Ignored when ``source=None`` or when ``strategy="auto"``
        already chose the scratch network.
    hidden_layer_sizes : array-like of int, default=(128, 128)
        Trunk widths when ``source=None``; ignored otherwise.
    head_layer_sizes : array-like of int, default=()
        Hidden widths of each new task head. Empty gives a linear head.
    activation : {"relu", "tanh", "logistic", "identity", "gelu"}, default="relu"
        Non-linearity of the new layers.
    dropout : float, default=0.0
        Dropout after the new hidden layers.
    alpha : float, default=1e-4
        Strength of the L2 penalty ``alpha / 2 * ||W||^2`` on the weight
        matrices that train. With ``strategy="l2_sp"`` it covers only the new
        layers; the transferred ones are pulled toward the source instead
        (``source_alpha``). The network ``strategy="auto"`` trains from
        scratch gets at least 1e-2 (``MultiTaskRegressor``'s on a few rows):
        with the source's weights gone, nothing else holds it on 5 to 100
        rows (on Parkinson's, with twice the epochs, MAE 1.599 / 1.045 /
        0.478 at 5 / 10 / 25 recordings instead of 1.654 / 1.126 / 0.637).
    source_alpha : float, default=1e-2
        Strength of the L2-SP pull toward the source's weights; used by
        ``strategy="l2_sp"``.
    fine_tuned_share : "auto" or float in [0, 1], default="auto"
        After a strategy that fine-tunes from the linear probe (``"lp_ft"``,
        ``"gradual_unfreezing"``, ``"l2_sp"``), each weight becomes ``probe +
        share * (fine_tuned - probe)``: the fine-tuned network averaged in
        weight space with the probe it started from, which holds the source
        (WiSE-FT, Wortsman et al. 2022). The probe keeps what the source
        knew; the fine-tune, what the target rows taught. ``"auto"`` averages
        only what ``strategy="auto"`` runs, with share ``n / (n + 100)`` for
        ``n`` labelled rows of the least labelled task: the probe counts as
        100 target rows (a sixth for the fine-tune at 20 rows, a third at
        50, two thirds at 200); a strategy named by the user trains as
        named. A float applies to every strategy above; 1 turns averaging
        off. Ignored for ``"linear_probe"``, ``"fine_tune"``, a network
        trained from scratch, and heads with hidden layers. Measured on
        California (``benchmarks/README.md``).
    input_adapter : bool, default=False
        Learn a linear layer from the target's features to the source's input
        width, in front of the trunk (initialised to the identity when the
        widths match). Without it, a feature-count mismatch is an error.
    trunk_lr_scale : float, default=1.0
        The transferred layers train at ``lr * trunk_lr_scale`` (0 keeps them
        exactly as in the source while the rest trains).
    lr_decay : float, default=2.6
        Learning-rate divisor per layer of depth, for
        ``strategy="gradual_unfreezing"``.
    unfreeze_every : int, default=1
        Epochs between unfreezing two trunk layers, for
        ``strategy="gradual_unfreezing"``.
    task_weighting : "equal", array-like or TaskWeighting, default="equal"
        How the target's task losses combine (see :class:`MultiTaskRegressor`).
    loss : {"squared_error", "huber", "absolute_error"}, default="squared_error"
        Per-cell loss.
    standardize_targets : bool, default=True
        Standardise each target task on its labelled rows.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        Optimiser for the gradient phase.
    lr : float or None, default=None
        Learning rate of the gradient phase (the head's, for
        ``"gradual_unfreezing"``). None means 1e-4 for ``"lp_ft"``,
        ``"gradual_unfreezing"`` and ``"l2_sp"`` (small steps from a probed
        model keep the transferred features; measured in
        ``benchmarks/bench_transfer.py``) and 1e-3 where training starts from
        random weights (``"fine_tune"``, a hidden probe head, ``source=None``),
        as in :class:`MultiTaskRegressor`.
    batch_size : int or "auto", default="auto"
        Rows per mini-batch; ``"auto"`` is ``min(256, n_samples)``.
    max_epochs : int, default=100
        Maximum epochs of the gradient phase; twice that for the network
        ``strategy="auto"`` trains from scratch (its candidate, and the fit
        when ``kept_ == "scratch"``): random weights need more steps than a
        fine-tune.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows for early stopping.
    validation_fraction : float, default=0.1
        Share of rows held out when ``early_stopping=True``.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement before stopping; ``np.inf`` never stops
        early.
    tol : float, default=1e-4
        Minimum decrease of the monitored loss that counts as improvement.
    device : str or torch.device, default="auto"
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    predict_dtype : {"float64", "float32"}, default="float64"
        Precision of :meth:`predict`.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and the validation split.
    verbose : int, default=0
        0 prints nothing; 1 shows a progress bar over the epochs on stderr,
        with the training (and validation) loss and the per-task losses; 2 or
        more prints skorch's table, a row per epoch.
    warm_start : bool, default=False
        Continue from the current weights on the next ``fit``, as
        :meth:`partial_fit` does (a fitted linear probe then trains its head
        by gradient, the trunk frozen). Changed training settings apply; a
        changed architecture is an error.
    trunk : None, torch.nn.Module subclass or instance, default=None
        The trunk trained from scratch when ``source=None`` (ignored
        otherwise), as in :class:`MultiTaskRegressor`: None builds the MLP of
        ``hidden_layer_sizes``; a class is built with the ``trunk__<name>``
        arguments; an instance is deep-copied.
    callbacks : list of skorch callbacks or (name, callback) pairs, default=None
        Added to the private skorch net after the estimator's own, as in
        :class:`MultiTaskRegressor`.
    data_parallel : bool, default=False
        Train across the processes of a ``torchrun`` run, as in
        :class:`MultiTaskRegressor`.
    **trunk__
        ``trunk__<name>=value`` arguments of a ``trunk`` class.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted net; ``net_.module_.trunk`` is the (copied) trunk.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when ``X`` had string column names.
    n_tasks_ : int
        Number of target tasks.
    task_names_ : ndarray of shape (`n_tasks_`,)
        Task names.
    strategy_ : str or None
        The strategy used (``"auto"`` resolved); None when the network trained
        from scratch (``source=None``, or ``kept_ == "scratch"``).
    strategy_scores_ : dict or None
        With ``strategy="auto"`` on a small target: the K-fold mean squared
        error (in task standard deviations) of each candidate (``"lp_ft"``
        averaged, or ``"linear_probe"`` with ``fine_tuned_share=1``;
        ``"fine_tune"`` and, when the trunk can be re-initialised,
        ``"scratch"``, with ``"standard_error"``: that of scratch's mean
        gain over the better of the other two); with averaging, also
        ``"mean"`` (predicting each task's training mean) and
        ``"source_standard_error"`` (that of the best other candidate's
        gain over the averaged ``"lp_ft"``).
    kept_ : {"transfer", "scratch"}
        Whether the fitted network starts from the source (``"transfer"``) or
        from random weights (``"scratch"``: ``source=None``, or
        ``strategy="auto"`` or ``compare_with_scratch=True`` found the source
        harmful).
    guard_scores_ : dict or None
        With ``compare_with_scratch=True``: the held-out mean squared error
        (in task standard deviations) of ``"transfer"`` and ``"scratch"``, and
        the ``"standard_error"`` of their difference; scratch was kept when
        ``transfer - scratch > standard_error``. None when no comparison ran.
    fine_tuned_share_ : float or None
        The fine-tune's share in the weights averaged with the probe's (see
        ``fine_tuned_share``); None when nothing was averaged.
        :meth:`partial_fit` and warm-started fits continue from the averaged
        weights and do not average again.
    probe_alphas_ : ndarray of shape (`n_tasks_`,) or None
        Ridge strength the linear probe chose per task (None when no probe ran).
    history_ : skorch.history.History
        Per-epoch losses of the gradient phase.
    n_iter_ : int
        Epochs of the gradient phase (0 for a closed-form linear probe).

    See Also
    --------
    MultiTaskRegressor : Train the source.

    References
    ----------
    Kumar et al. (2022), "Fine-Tuning can Distort Pretrained Features and
    Underperform Out-of-Distribution". Howard & Ruder (2018), "Universal
    Language Model Fine-tuning for Text Classification". Li et al. (2018),
    "Explicit Inductive Bias for Transfer Learning with Convolutional Networks".
    Wortsman et al. (2022), "Robust fine-tuning of zero-shot models".

    Examples
    --------
    >>> from sklearn_mtl import MultiTaskRegressor, TransferEstimator
    >>> from sklearn_mtl.datasets import make_multitask_regression
    >>> X, Y = make_multitask_regression(n_samples=300, n_tasks=3, random_state=0)
    >>> source = MultiTaskRegressor(max_epochs=20, random_state=0).fit(X, Y[:, :2])
    >>> target = TransferEstimator(source=source, random_state=0).fit(X[:20], Y[:20, 2])
    >>> target.predict(X[:3]).shape
    (3,)
    """

    _architecture_params = (
        *BaseNetworkRegressor._architecture_params,
        *TransferMixin._architecture_params,
    )

    _parameter_constraints: dict = {
        **BaseNetworkRegressor._parameter_constraints,
        **TransferMixin._parameter_constraints,
        "fine_tuned_share": [
            StrOptions({"auto"}),
            Interval(Real, 0, 1, closed="both"),
        ],
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
        source_alpha=1e-2,
        fine_tuned_share="auto",
        input_adapter=False,
        trunk_lr_scale=1.0,
        lr_decay=2.6,
        unfreeze_every=1,
        task_weighting="equal",
        loss="squared_error",
        standardize_targets=True,
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
        self.source_alpha = source_alpha
        self.fine_tuned_share = fine_tuned_share
        self.input_adapter = input_adapter
        self.trunk_lr_scale = trunk_lr_scale
        self.lr_decay = lr_decay
        self.unfreeze_every = unfreeze_every
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
        self.trunk = trunk
        self.callbacks = callbacks
        self.data_parallel = data_parallel
        self._set_trunk_params(trunk__)
