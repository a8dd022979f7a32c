"""One site's data: reading it on the site, and what the site tells the server.

A site's rows are read and validated only where the site's client runs. What
leaves the site before training is its :func:`describe_site` record: the
number of rows, the input shape, the feature and task names and, per task,
the weight, mean and standard deviation of its labels (equivalent to the
count, sum and sum of squares). :func:`agree_on_sites` checks that the
sites' records fit together and merges the label moments into the target
scaling every site then uses.
"""

import numpy as np
from sklearn.base import clone

from .._scaling import TargetMoments, scale_from
from .._validation import check_multitask_y

MOMENT_KEYS = ("task-weight", "task-mean", "task-std")

__all__ = ["SiteData", "SavedSite", "agree_on_sites", "describe_site", "read_site"]


class SiteData:
    """A site's validated rows: ``X``, float ``Y`` (NaN where unlabelled), names."""

    def __init__(self, X, Y, is_1d, task_names, feature_names):
        self.X, self.Y, self.is_1d = X, Y, is_1d
        self.task_names, self.feature_names = task_names, feature_names


def read_site(estimator, site, name):
    """Validate one site's ``(X, Y)`` as the estimator's ``fit`` would.

    Parameters
    ----------
    estimator : MultiTaskRegressor
        Only read (a clone validates ``X``).
    site : tuple (X, Y) or SiteData
        The site's rows.
    name : str
        How messages name the site (e.g. ``"site 2"``).

    Returns
    -------
    SiteData
    """
    if isinstance(site, SiteData):
        return site
    if not isinstance(site, (tuple, list)) or len(site) != 2:
        raise ValueError(
            f"{name} must be a pair (X, Y) of one site's inputs and targets, or a "
            f"callable returning one; got {type(site).__name__}."
        )
    X, y = site
    if y is None:
        raise ValueError(f"{name} has no targets: Y is None.")
    if len(X) == 0 or len(y) == 0:
        raise ValueError(f"{name} is empty (0 rows); every site needs rows.")
    probe = clone(estimator)
    try:
        X = probe._validate_X(X, reset=True)
        Y, is_1d, task_names = check_multitask_y(
            y, n_samples=X.shape[0], allow_unlabelled_tasks=True
        )
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from error
    feature_names = getattr(probe, "feature_names_in_", None)
    return SiteData(X, Y, is_1d, task_names, feature_names)


class SavedSite:
    """Loads a site's validated rows from its own ``.npz`` file on the client.

    Parameters
    ----------
    path : str
        File written by :meth:`write`.
    """

    def __init__(self, path):
        self.path = path

    @classmethod
    def write(cls, data, path):
        """Write ``data`` (a :class:`SiteData`) to ``path``; return its loader."""
        names = {
            "task_names": np.asarray(data.task_names, dtype=str),
            "feature_names": np.asarray(
                [] if data.feature_names is None else data.feature_names, dtype=str
            ),
        }
        np.savez(path, X=data.X, Y=data.Y, is_1d=data.is_1d, **names)
        return cls(path)

    def __call__(self):
        """Return the site's :class:`SiteData`."""
        with np.load(self.path, allow_pickle=False) as f:
            features = f["feature_names"].astype(object)
            return SiteData(
                f["X"],
                f["Y"],
                bool(f["is_1d"]),
                f["task_names"].astype(object),
                features if len(features) else None,
            )


def describe_site(data):
    """Return what a site tells the server before training (no rows).

    A dict of plain values: ``n-rows``, ``input-shape``, ``is-1d``,
    ``task-names``, ``feature-names`` (empty without names), and the
    per-task label moments ``task-weight``, ``task-mean``, ``task-std``.
    """
    moments = TargetMoments.of(data.Y, np.ones(len(data.Y)))
    return {
        "n-rows": int(data.X.shape[0]),
        "input-shape": [int(d) for d in data.X.shape[1:]],
        "is-1d": bool(data.is_1d),
        "task-names": [str(t) for t in data.task_names],
        "feature-names": [] if data.feature_names is None else list(data.feature_names),
        "task-weight": moments.weight.tolist(),
        "task-mean": moments.mean.tolist(),
        "task-std": moments.std.tolist(),
    }


class SiteAgreement:
    """What every site shares: shapes, names and the merged target moments."""

    def __init__(self, descriptions, standardize):
        first = descriptions[0]
        self.n_sites = len(descriptions)
        self.input_shape = tuple(first["input-shape"])
        self.is_1d = first["is-1d"]
        self.task_names = np.asarray(first["task-names"], dtype=object)
        names = first["feature-names"]
        self.feature_names = np.asarray(names, dtype=object) if names else None
        self.n_tasks = len(self.task_names)
        self.rows = np.array([d["n-rows"] for d in descriptions])
        moments = None
        for d in descriptions:
            site = TargetMoments(*(np.asarray(d[k], dtype=float) for k in MOMENT_KEYS))
            moments = site if moments is None else moments.merge(site)
        self.moments = moments
        self.task_rows = np.array([d["task-weight"] for d in descriptions])
        if standardize:
            self.mean, self.scale = scale_from(moments)
        else:
            self.mean, self.scale = np.zeros(self.n_tasks), np.ones(self.n_tasks)


def agree_on_sites(descriptions, names, standardize=True):
    """Check that the sites fit together; return their :class:`SiteAgreement`.

    Parameters
    ----------
    descriptions : list of dict
        :func:`describe_site` of each site.
    names : list of str
        How messages name each site.
    standardize : bool, default=True
        Whether the targets are standardised (else mean 0, scale 1).

    Raises
    ------
    ValueError
        If no site is given, a site is empty, or the sites differ in their
        input shape, number of task columns, task or feature names, or in
        whether ``Y`` is 1-D; or a task is labelled at no site.
    """
    if not descriptions:
        raise ValueError("sites is empty: federated training needs at least one site.")
    first, name0 = descriptions[0], names[0]
    for d, name in zip(descriptions, names, strict=True):
        if d["n-rows"] == 0:
            raise ValueError(f"{name} is empty (0 rows); every site needs rows.")
    checks = [
        ("input-shape", "number of features", tuple),
        ("task-names", "number of task columns", len),
        ("task-names", "task names", tuple),
        ("feature-names", "feature names", tuple),
        ("is-1d", "target dimensions (1-D y)", bool),
    ]
    for key, what, view in checks:
        for d, name in zip(descriptions[1:], names[1:], strict=True):
            if view(d[key]) != view(first[key]):
                raise ValueError(
                    f"The sites must have the same {what}: {name} has "
                    f"{_shown(view(d[key]))}, but {name0} has "
                    f"{_shown(view(first[key]))}."
                )
    agreement = SiteAgreement(descriptions, standardize)
    unlabelled = np.flatnonzero(agreement.moments.weight <= 0)
    if unlabelled.size:
        shown = ", ".join(repr(agreement.task_names[t]) for t in unlabelled[:10])
        raise ValueError(
            f"Task(s) {shown} are labelled at no site: a task needs at least one "
            "labelled row somewhere. Drop the column or add labels."
        )
    return agreement


def _shown(value):
    if isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], int):
        return value[0]
    if isinstance(value, tuple) and len(value) > 6:
        return f"{list(value[:6])[:-1]} ... ({len(value)} names)"
    return value
