"""What every transfer estimator does: copy a trunk, attach a head, fine-tune."""

import copy
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import Interval, StrOptions
from skorch.callbacks import Freezer, Unfreezer
from torch import nn

from ._checks import check_layer_sizes
from ._penalties import L2SPPenalty
from ._probe import fit_linear_probe, fit_logistic_probe
from ._sources import check_feature_names, linear_adapter, resolve_source
from ._tensors import eval_in_chunks
from ._transfer_guards import NegativeTransferGuards, check_reinitializable
from ._trunk import output_width
from .modules import MultiTaskModule, TaskHeadsModule, make_mlp

__all__ = ["FROM_PROBE", "MIN_ROWS_TO_FINE_TUNE", "STRATEGIES", "TransferMixin"]

STRATEGIES = ("linear_probe", "fine_tune", "lp_ft", "gradual_unfreezing", "l2_sp")
# the strategies whose gradient phase starts from the linear probe: their
# fine-tuned weights can be averaged with the probe's (WiSE-FT)
FROM_PROBE = ("lp_ft", "gradual_unfreezing", "l2_sp")
# below this many labelled rows in its smallest task, strategy="auto" compares
# the probe with a full fine-tune by K-fold error; from it on, it runs lp_ft.
# It is also the weight, in target rows, that the probe (the source) gets
# when "auto" averages it with its fine-tune (TransferMixin._fine_tuned_share)
MIN_ROWS_TO_FINE_TUNE = 100


def _fewest_labels(Y):
    """Return the number of labelled rows of ``Y``'s least labelled task."""
    return int((~np.isnan(Y)).sum(axis=0).min())


class TransferMixin(NegativeTransferGuards):
    """The transfer machinery shared by the regressor and the classifier.

    Source resolution, the new head, the strategies, the linear probe and the
    guards of :class:`~sklearn_mtl.TransferEstimator` and
    :class:`~sklearn_mtl.TransferClassifier`.
    """

    _architecture_params = (
        "hidden_layer_sizes",
        "strategy",
        "input_adapter",
        "compare_with_scratch",
    )

    _parameter_constraints: dict = {
        "source": [None, object],
        "strategy": [StrOptions({"auto", *STRATEGIES})],
        "compare_with_scratch": ["boolean"],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "source_alpha": [Interval(Real, 0, None, closed="left")],
        "input_adapter": ["boolean"],
        "trunk_lr_scale": [Interval(Real, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither"), None],
        "lr_decay": [Interval(Real, 1, None, closed="left")],
        "unfreeze_every": [Interval(Integral, 1, None, closed="left")],
    }

    def __sklearn_clone__(self):
        """Clone every hyperparameter except ``source``, which is kept by reference.

        Pretraining is paid once: ``clone``, ``GridSearchCV`` and
        ``cross_validate`` reuse the fitted source in every fold.
        """
        params = self.get_params(deep=False)
        source = params.pop("source")
        return type(self)(
            source=source, **{k: clone(v, safe=False) for k, v in params.items()}
        )

    def get_params(self, deep=True):
        """Get this estimator's hyperparameters; ``source`` is one opaque value.

        The source's own hyperparameters are not listed (no ``source__*``):
        changing them would alter the fitted source in place without refitting
        it. To compare sources, search over ``source`` itself, each one in a
        :class:`sklearn.frozen.FrozenEstimator` (a search clones the values
        of its grid; a frozen estimator's clone is itself).

        Parameters
        ----------
        deep : bool, default=True
            Ignored for ``source``; kept for scikit-learn's signature.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return super().get_params(deep=False)

    def set_params(self, **params):
        """Set hyperparameters; ``source__*`` is refused with the reason.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : TransferEstimator
            The estimator.
        """
        nested = sorted(key for key in params if key.startswith("source__"))
        if nested:
            raise ValueError(
                f"Cannot set {', '.join(nested)}: {type(self).__name__} never refits "
                "its source, so changing the source's hyperparameters would "
                "alter the fitted source in place and every candidate would "
                "transfer the same weights. To compare sources, fit each one and "
                "search over source itself, frozen so that the search does not "
                "clone it: param_grid={'source': [FrozenEstimator(a), "
                "FrozenEstimator(b)]} (from sklearn.frozen)."
            )
        return super().set_params(**params)

    def __getstate__(self):
        # ``_source`` points into the source's modules for the length of a fit
        # (every fit resolves it again). Pickled, it would carry the source's
        # weights a second time, outside the device mapping that lets a
        # CUDA-trained model load on a machine without a GPU.
        state = dict(super().__getstate__())  # may be self.__dict__ itself
        state.pop("_source", None)
        state.pop("_probe_state", None)  # the probe's weights, during a fit
        return state

    # ---- hooks of the shared fit skeleton ------------------------------------
    def _check_hyperparameters(self):
        super()._check_hyperparameters()
        check_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")
        self._source = None if self.source is None else resolve_source(self.source)

    def _build_module(self, n_features, n_tasks, example=None):
        source = self._source
        if source is None and self._custom_trunk():
            trunk, width = self._user_trunk(example)
        elif source is None:
            hidden = check_layer_sizes(self.hidden_layer_sizes, "hidden_layer_sizes")
            trunk = make_mlp(n_features, hidden, self.activation, self.dropout)
            width = trunk.out_features
        else:
            trunk = copy.deepcopy(source.trunk).float()
            example = self._example_input(example)
            expected = source.n_features
            if self.input_adapter:
                trunk = nn.Sequential(linear_adapter(example, expected), trunk)
            elif expected is not None and example.ndim == 2 and expected != n_features:
                raise ValueError(
                    f"X has {n_features} features, but the source trunk expects "
                    f"{expected}. Select the source's feature columns, or set "
                    "input_adapter=True to learn a linear map in front of the trunk."
                )
            width = output_width(trunk, example, owner="source trunk")
        head = check_layer_sizes(self.head_layer_sizes, "head_layer_sizes")
        n_outputs = self._n_outputs(n_tasks)
        heads = TaskHeadsModule(width, n_outputs, head, self.activation, self.dropout)
        return MultiTaskModule(trunk, heads)

    def _accepts_nd_input(self):
        # a source module may read images or other N-d samples; a source
        # estimator fitted on rows of a table reads only those
        if self.source is None:
            return self._custom_trunk()
        shape = getattr(getattr(self, "_source", None), "input_shape", None)
        return shape is None or len(shape) > 1

    def _prepare_for_data(self, X, Y, sample_weight):
        """Resolve ``strategy="auto"``, then run the scratch guard if asked."""
        self._check_feature_names()
        if self.compare_with_scratch and self._source is not None:
            check_reinitializable(self._source.trunk)  # before any costly fit
        strategy, self.strategy_scores_ = self.strategy, None
        self.kept_ = "transfer" if self._source is not None else "scratch"
        self.guard_scores_ = None
        self._trains_as_scratch = False  # "auto"'s guard sets it
        if self._source is None:
            strategy = None
        elif strategy == "auto":
            if _fewest_labels(Y) >= MIN_ROWS_TO_FINE_TUNE:
                strategy = "lp_ft"
            else:
                strategy = self._guard_against_negative_transfer(X, Y, sample_weight)
        self._strategy = strategy
        self.fine_tuned_share_ = self._fine_tuned_share(strategy, Y)
        if self.compare_with_scratch and self.kept_ == "transfer":
            self._compare_with_scratch(X, Y, sample_weight)

    def _fine_tuned_share(self, strategy, Y):
        """Return the fine-tune's share in the weights averaged with the probe's.

        None where nothing is averaged: a strategy that does not start from
        the linear probe, a head with hidden layers (its probe trains by
        gradient from random weights), a share of 1, or ``"auto"`` with a
        strategy named by the user (``"auto"`` averages only what
        ``strategy="auto"`` chose). The classifier has no such parameter.
        ``"auto"`` gives ``n / (n + MIN_ROWS_TO_FINE_TUNE)`` for ``n`` labelled
        rows of the least labelled task: the probe, which holds the source,
        counts as that many target rows (a sixth at 20 rows, a third at 50,
        two thirds at 200).
        """
        share = getattr(self, "fine_tuned_share", 1.0)
        if (
            strategy not in FROM_PROBE
            or share == 1.0
            or check_layer_sizes(self.head_layer_sizes, "head_layer_sizes")
            or (share == "auto" and self.strategy != "auto")
        ):
            return None
        if share == "auto":
            n = _fewest_labels(Y)
            return n / (n + MIN_ROWS_TO_FINE_TUNE)
        return float(share)

    def _after_first_training(self, net):
        """Average the fine-tuned weights with the probe's (WiSE-FT).

        Each floating-point parameter and buffer becomes ``probe + share *
        (fine_tuned - probe)``, ``share`` being ``fine_tuned_share_``
        (Wortsman et al. 2022). The history keeps the fine-tune's losses.
        """
        probe, self._probe_state = getattr(self, "_probe_state", None), None
        if probe is None:
            return
        with torch.no_grad():
            for name, value in net.module_.state_dict().items():
                if value.is_floating_point():
                    start = probe[name].to(value.device)
                    value.copy_(torch.lerp(start, value, self.fine_tuned_share_))

    def _check_feature_names(self):
        if getattr(self, "_inner_fit", False):  # the guards' fits on X's rows
            return
        check_feature_names(
            self._source, getattr(self, "feature_names_in_", None), self.input_adapter
        )

    def _learning_rate(self):
        if self.lr is not None:
            return self.lr
        # small steps when fine-tuning a probed model; a new head or network
        # that trains from random weights gets MultiTaskRegressor's 1e-3
        return (
            1e-4 if self._strategy in ("lp_ft", "gradual_unfreezing", "l2_sp") else 1e-3
        )

    def _source_prefix(self):
        """Parameter-name prefix of the transferred (source) layers."""
        return "trunk.1." if self.input_adapter else "trunk."

    def _initialize_from_data(self, net, X, Z, cell_weights, target_scaling):
        """Set a linear head to the closed-form or cross-validated probe.

        Ridge (shrunk toward the source's head) for regression tasks, logistic
        regression for classification tasks.
        """
        self.strategy_, self.probe_alphas_ = self._strategy, None
        self._probe_state = None
        heads = net.module_.heads
        if self._strategy in (None, "fine_tune") or heads.output is None:
            return
        features = eval_in_chunks(net.module_.trunk, X, net.device)
        if not np.all(np.isfinite(features)):
            raise ValueError(
                "The source trunk gives non-finite features for X: its values "
                f"(up to {max(X.max(), -X.min()):.3g} in magnitude) overflow "
                "float32 inside the network. Scale X the way the source's inputs "
                "were scaled (e.g. with sklearn's StandardScaler)."
            )
        if getattr(self, "_classes", None) is not None:  # classification tasks
            weight, bias, self.probe_alphas_ = fit_logistic_probe(
                features, Z, cell_weights, self._task_losses(Z.shape[1])
            )
        else:
            prior_weight, prior_bias = self._prior_head(heads.n_tasks, *target_scaling)
            weight, bias, self.probe_alphas_ = fit_linear_probe(
                features, Z, cell_weights, prior_weight, prior_bias
            )
        with torch.no_grad():
            heads.output.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
            heads.output.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        if self.fine_tuned_share_ is not None:  # kept for _after_first_training
            self._probe_state = {
                name: value.detach().clone()
                for name, value in net.module_.state_dict().items()
            }

    def _prior_head(self, n_tasks, mean, scale):
        """Return the source's linear head in the target's standardised units.

        Only when the source has linear heads for as many tasks as the target
        and the trunk sees the inputs the source saw (no adapter).
        """
        source = self._source
        if (
            source.head is None
            or source.head.out_features != n_tasks
            or self.input_adapter
        ):
            return None, None
        constant = scale == 0
        scale = np.where(constant, 1.0, scale)
        weight = source.head.weight.detach().double().cpu().numpy()
        bias = source.head.bias.detach().double().cpu().numpy()
        # the source predicts m_s + s_s * (F w + b) in original units
        weight = weight * (source.target_scale / scale)[:, None]
        bias = (source.target_mean + source.target_scale * bias - mean) / scale
        # a constant task trains on zeros: shrink its head toward zero; so is
        # a task whose units are so far from the source's that the prior
        # would not fit in float32
        with np.errstate(over="ignore", invalid="ignore"):
            far = ~(np.all(np.abs(weight) < 1e30, axis=1) & (np.abs(bias) < 1e30))
        weight[constant | far], bias[constant | far] = 0.0, 0.0
        return weight, bias

    def _epochs_to_train(self, net, epochs, first, incremental):
        # a continued probe (partial_fit, warm start) trains its head by
        # gradient with the trunk frozen
        closed_form = (
            first
            and self._strategy == "linear_probe"
            and net.module_.heads.output is not None
            and not self.input_adapter  # a new adapter must train
        )
        if closed_form:
            return 0
        if first and not incremental and self._trains_as_scratch:
            return self._scratch_settings()["max_epochs"]  # fit asks max_epochs
        return epochs

    def _penalty_alpha(self):
        if getattr(self, "_trains_as_scratch", False):  # set by "auto"
            return self._scratch_settings()["alpha"]
        return super()._penalty_alpha()

    def _extra_callbacks(self):
        if self._strategy in (None, "fine_tune", "lp_ft", "l2_sp"):
            return []
        prefix = self._source_prefix()
        callbacks = [("freeze_source", Freezer(f"{prefix}*"))]
        if self._strategy == "gradual_unfreezing":
            for depth, name in enumerate(self._source_layers_top_down(), start=1):
                at = 1 + depth * self.unfreeze_every
                callbacks.append(
                    (f"unfreeze_{name}", Unfreezer(f"{prefix}{name}.*", at=at))
                )
        return callbacks

    def _net_kwargs(self):
        """Discriminative learning rates as skorch optimizer param groups."""
        if self._strategy is None:  # from scratch: one learning rate
            return {}
        prefix = self._source_prefix()
        trunk_lr = self._learning_rate() * self.trunk_lr_scale
        if self._strategy == "gradual_unfreezing":
            groups = [
                (f"{prefix}{name}.*", {"lr": trunk_lr / self.lr_decay**depth})
                for depth, name in enumerate(self._source_layers_top_down(), start=1)
            ]
        elif self.trunk_lr_scale != 1.0:
            groups = [(f"{prefix}*", {"lr": trunk_lr})]
        else:
            return {}
        return {"optimizer__param_groups": groups}

    def _build_penalty(self, module):
        if self._strategy != "l2_sp":
            return super()._build_penalty(module)
        prefix = self._source_prefix()
        reference = {
            name: p for name, p in module.named_parameters() if name.startswith(prefix)
        }
        return L2SPPenalty(self.alpha, self.source_alpha, reference)

    def _source_layers_top_down(self):
        """Names of the source trunk's children that hold parameters, top first."""
        names = [
            name
            for name, child in self._source.trunk.named_children()
            if any(True for _ in child.parameters())
        ]
        return names[::-1]
