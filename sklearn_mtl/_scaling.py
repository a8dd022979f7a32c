"""Per-task target standardisation that keeps adapting while tasks are seen.

``fit`` standardises each task on its labelled rows. ``partial_fit`` (and a
warm-start ``fit``) merges each new chunk's moments into the running ones
(Chan et al.'s pairwise update) and rescales the task's output layer so that
the model's predictions in the original units are unchanged by the new
scaling; training then goes on in the new units. A task that was constant, or
not labelled at all, in the first chunk is therefore not frozen.
"""

import numpy as np
import torch

__all__ = ["TargetMoments", "rescale_task_outputs", "scale_from"]

# a task whose standard deviation is at most this share of its mean's
# magnitude is constant: it trains on zeros and predicts its mean
CONSTANT_RTOL = 1e-12


class TargetMoments:
    """Per-task label weight, weighted mean and standard deviation.

    Parameters
    ----------
    weight, mean, std : ndarray of shape (n_tasks,)
        Sum of the sample weights of each task's labelled rows, and the
        weighted mean and standard deviation of its targets (0 for a task
        with no label yet).
    """

    def __init__(self, weight, mean, std):
        self.weight, self.mean, self.std = weight, mean, std

    @classmethod
    def of(cls, Y, sample_weight):
        """Moments of the labelled cells of ``Y`` (NaN is "not labelled").

        Computed in units of each task's largest ``|y|``, so squares cannot
        overflow float64.
        """
        n_tasks = Y.shape[1]
        weight, mean, std = np.zeros(n_tasks), np.zeros(n_tasks), np.zeros(n_tasks)
        columns = np.ascontiguousarray(Y.T)  # each task's targets in one run
        for t, column in enumerate(columns):
            rows = ~np.isnan(column)
            labelled = rows.all()  # then the column as it is: the same values
            w = sample_weight if labelled else sample_weight[rows]
            if not rows.any() or w.sum() <= 0:
                continue
            weight[t] = w.sum()
            w = w / w.max()
            values = column if labelled else column[rows]
            unit = np.max(np.abs(values))
            unit = unit if unit > 0 else 1.0
            y = values / unit
            mean_t = np.average(y, weights=w)
            mean[t] = mean_t * unit
            std[t] = np.sqrt(np.average((y - mean_t) ** 2, weights=w)) * unit
        return cls(weight, mean, std)

    def merge(self, other):
        """Return the moments of both sets of rows together."""
        total = self.weight + other.weight
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, other.weight / total, 0.0)
        keep = 1.0 - share
        mean = keep * self.mean + share * other.mean
        # in units of the largest moment, so the squares cannot overflow
        unit = np.maximum.reduce(
            [self.std, other.std, np.abs(self.mean), np.abs(other.mean)]
        )
        unit = np.where(unit > 0, unit, 1.0)
        gap = self.mean / unit - other.mean / unit
        variance = (
            keep * (self.std / unit) ** 2
            + share * (other.std / unit) ** 2
            + keep * share * gap**2
        )
        return TargetMoments(total, mean, np.sqrt(variance) * unit)


def scale_from(moments):
    """Return the per-task ``(mean, scale)`` used to standardise the targets.

    A task with no label yet gets mean 0 and scale 1; a constant task gets
    scale 0 (it trains on zeros and is predicted as its mean). Constant means
    a standard deviation of at most ``1e-12`` times the mean's magnitude: a
    relative rule, so targets of any magnitude that vary are learnt.
    """
    unseen = moments.weight <= 0
    varies = moments.std > CONSTANT_RTOL * np.abs(moments.mean)
    scale = np.where(unseen, 1.0, np.where(varies, moments.std, 0.0))
    return np.where(unseen, 0.0, moments.mean), scale


def rescale_task_outputs(heads, old, new):
    """Change the output layer so predictions keep their value in target units.

    A task predicts ``mean + scale * out``. For the new ``(mean', scale')``
    its output becomes ``out' = (scale / scale') * out + (mean - mean') /
    scale'``, applied exactly to the last layer's weights and bias. Tasks
    whose new scale is 0 (still constant) are left as they are.

    Parameters
    ----------
    heads : TaskHeadsModule
        The per-task heads of the network.
    old, new : tuple of ndarray
        ``(mean, scale)`` before and after.
    """
    (old_mean, old_scale), (new_mean, new_scale) = old, new
    safe = np.where(new_scale > 0, new_scale, 1.0)
    factor = np.where(new_scale > 0, old_scale / safe, 1.0)
    shift = np.where(new_scale > 0, (old_mean - new_mean) / safe, 0.0)
    if np.all(factor == 1.0) and np.all(shift == 0.0):
        return
    if heads.output is not None:
        weight, bias = heads.output.weight, heads.output.bias  # (T, d), (T,)
    else:
        weight, bias = heads.weights[-1], heads.biases[-1]  # (T, d, 1), (T, 1, 1)
    with torch.no_grad():
        f = torch.as_tensor(factor, dtype=torch.float64, device=weight.device)
        s = torch.as_tensor(shift, dtype=torch.float64, device=weight.device)
        shape = (-1,) + (1,) * (weight.dim() - 1)
        weight.copy_((weight.double() * f.view(shape)).to(weight.dtype))
        shape = (-1,) + (1,) * (bias.dim() - 1)
        bias.copy_((bias.double() * f.view(shape) + s.view(shape)).to(bias.dtype))
