"""Checks and preparations of a fit's settings and training data."""

from numbers import Integral

import numpy as np
import torch
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "check_layer_sizes",
    "check_training_weights",
    "is_plain_array_as_fitted",
    "loss_of_zero",
    "mask_aware_split",
    "resolve_device",
    "sum_is_finite",
]

# from this many values torch's sum beats NumPy's isfinite, even on one thread
# (about 3x at 10,000 x 64: one vectorised pass split over torch's threads, and
# no mask); below it NumPy's isfinite costs less than either sum (1.2 µs
# against 2.3 for NumPy's sum in np.errstate at 640 values, 9 against 12 at
# 65,536) and is exact
TORCH_SUM_VALUES = 2**16


def resolve_device(device):
    """Turn the ``device`` hyperparameter into a torch device string.

    ``"auto"`` is CUDA when ``torch.cuda.is_available()``, else CPU. Anything
    else (a string or a ``torch.device``) must name a device type torch knows
    and that is present.
    """
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(
            f"Unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"device={device!r} was requested, but torch.backends.mps.is_available() "
            "is False on this machine. Use device='auto' or 'cpu'."
        )
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
    starved = np.flatnonzero(
        ~Y_labelled[train].any(axis=0) & Y_labelled[valid].any(axis=0)
    )
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


def check_training_weights(sample_weight, X, Y):
    """Validate ``sample_weight`` for training; return it as float64.

    Training runs in float32 on the weights divided by their largest value
    (the per-task weighted means do not depend on their scale), so a weight
    is an error where that ratio underflows float32, and so is a task whose
    labelled rows all weigh 0.
    """
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    top = sample_weight.max()
    if top <= 0:
        raise ValueError("sample_weight is 0 for every row: there is nothing to fit.")
    with np.errstate(over="ignore"):
        total = sample_weight.sum()
    if not np.isfinite(total):
        raise ValueError(
            f"sample_weight sums to more than float64 can hold (largest weight "
            f"{top:.3g}); divide it by a constant: the fit depends only on the "
            "weights' ratios."
        )
    smallest = sample_weight[sample_weight > 0].min()
    if smallest / top < np.finfo(np.float32).tiny:
        raise ValueError(
            f"sample_weight spans {top:.3g} / {smallest:.3g} between its largest "
            "and smallest positive values, more than float32 training can "
            "represent (a ratio of about 1e38). Set the smallest weights to 0 or "
            "raise them."
        )
    labelled = ~np.isnan(Y)
    unweighed = labelled.any(axis=0) & ~(labelled & (sample_weight[:, None] > 0)).any(
        axis=0
    )
    if unweighed.any():
        raise ValueError(
            f"sample_weight is 0 on every labelled row of task(s) "
            f"{np.flatnonzero(unweighed).tolist()}; such a task has nothing to "
            "learn from."
        )
    return sample_weight


def loss_of_zero(criterion, data, n_outputs=None):
    """Per-task weighted mean loss of raw outputs 0 on ``data`` (a TensorData).

    ``n_outputs`` is the network's output width (default: one per task).
    """
    with torch.no_grad():
        shape = (len(data.Y), data.Y.shape[1] if n_outputs is None else n_outputs)
        zeros = torch.zeros(shape, dtype=data.Y.dtype, device=data.Y.device)
        elementwise = criterion(zeros, data.Y)
        sums = (elementwise * data.cell_weights).sum(dim=0)
        counts = data.cell_weights.sum(dim=0)
    return (sums / counts.clamp_min(1e-30)).double().cpu().numpy()


def is_plain_array_as_fitted(estimator, X, finite=True):
    """Whether ``X`` passes ``validate_data`` unchanged, checked the cheap way.

    A float ndarray of the fitted shape, for an estimator fitted without
    feature names, whose sum is finite (so no NaN or infinity; a sum that
    overflows sends ``X`` to ``validate_data``, which looks at each value).
    Anything else takes the full validation and its errors. ``finite=False``
    leaves out the sum, for a caller that checks the values itself.
    """
    return (
        type(X) is np.ndarray
        and X.dtype in (np.float64, np.float32)
        and X.ndim == 2
        and X.shape[0] > 0
        and X.shape[1] == getattr(estimator, "n_features_in_", None)
        and not hasattr(estimator, "feature_names_in_")
        and tuple(X.shape[1:]) == tuple(getattr(estimator, "_input_shape", ()))
        and (not finite or sum_is_finite(X))
    )


def sum_is_finite(array):
    """Whether a float ndarray has no NaN or infinity; False may be a false alarm.

    Below ``TORCH_SUM_VALUES`` values, NumPy's ``isfinite``, which is exact.
    From there on a sum, one pass and no mask (torch's, or NumPy's on a view
    torch cannot take), so a sum that overflows reads as not finite: a caller
    must look at each value before it rejects anything.
    """
    if array.size < TORCH_SUM_VALUES:
        return bool(np.isfinite(array).all())
    if (
        array.flags.writeable  # torch warns on a read-only array
        and min(array.strides, default=0) >= 0  # and cannot view negative ones
    ):
        return bool(torch.from_numpy(array).sum().isfinite())
    with np.errstate(over="ignore", invalid="ignore"):  # an answer, not a warning
        return bool(np.isfinite(array.sum()))
