"""Loaders of real multi-task, multi-target and transfer regression data.

The files are read from the data home (see :func:`get_data_home`) and checked
against the sha256 checksums of ``_files.py`` (copied from each data set's
README) before they are parsed; :func:`download_dataset` fetches them.
"""

import gzip
import io

import numpy as np

from ._bunch import _descr, _finish, _read_csv_rows
from ._files import _HOUSING, _PARKINSONS, _SCHOOL, _WINE_RED, _WINE_WHITE
from ._home import _read_verified

__all__ = [
    "load_california_housing",
    "load_parkinsons_telemonitoring",
    "load_school",
    "load_wine_quality",
]


def load_california_housing(*, data_home=None, as_frame=False, return_X_y=False):
    """Load California housing with the ``ocean_proximity`` region per row.

    20,640 census block groups (1990), 8 numeric inputs, target
    ``median_house_value`` (USD, censored at 500,001). The region
    (``ocean_proximity``: ``<1H OCEAN``, ``INLAND``, ``NEAR OCEAN``,
    ``NEAR BAY``, ``ISLAND``) gives natural domains for transfer learning.
    ``total_bedrooms`` has 207 missing values, kept as NaN.

    Reads ``<data_home>/california_housing/housing.csv.gz``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder that holds the data sets; see :func:`get_data_home` (the
        ``SKLEARN_MTL_DATA`` environment variable, else ``~/sklearn_mtl_data``).
    as_frame : bool, default=False
        If True, ``data`` and ``target`` are pandas DataFrames (``target``
        always has named columns) and ``frame`` holds inputs, targets and the
        group column together. Needs pandas.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data`` : ndarray of shape (20640, 8) or DataFrame;
        ``target`` : ndarray of shape (20640, 1) or DataFrame;
        ``feature_names``, ``target_names`` : list of str;
        ``region`` : ndarray of str of shape (20640,), the ``ocean_proximity``
        of each row; ``frame`` : DataFrame when ``as_frame`` else None;
        ``DESCR`` : str.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        When a file is absent from the data home; the message says which file
        to put where and how to fetch it with :func:`download_dataset`.
    ValueError
        When a file's sha256 checksum is not the expected one.

    Examples
    --------
    >>> from sklearn_mtl.datasets import load_california_housing
    >>> housing = load_california_housing()  # doctest: +SKIP
    >>> housing.data.shape, housing.target.shape  # doctest: +SKIP
    ((20640, 8), (20640, 1))
    >>> inland = housing.region == "INLAND"  # doctest: +SKIP
    """
    content = gzip.decompress(_read_verified("california_housing", _HOUSING, data_home))
    header, rows = _read_csv_rows(content.decode("utf-8"))
    table = np.array(rows, dtype=object)
    target_col = header.index("median_house_value")
    region_col = header.index("ocean_proximity")
    feature_cols = [i for i in range(len(header)) if i not in (target_col, region_col)]

    def to_float(values):
        return np.array([float(v) if v != "" else np.nan for v in values])

    data = np.column_stack([to_float(table[:, i]) for i in feature_cols])
    target = to_float(table[:, target_col]).reshape(-1, 1)
    region = table[:, region_col].astype(str)
    descr = _descr(
        "California housing (1990 census block groups, with ocean_proximity)",
        "20,640 rows, 8 numeric inputs (longitude, latitude, housing_median_age, "
        "total_rooms, total_bedrooms, population, households, median_income), "
        "target median_house_value (USD; 965 rows censored at 500001). "
        "total_bedrooms has 207 missing values, kept as NaN (impute before "
        "fitting a model that needs finite inputs). `region` is the "
        "ocean_proximity category of each row (<1H OCEAN 9136, INLAND 6551, "
        "NEAR OCEAN 2658, NEAR BAY 2290, ISLAND 5): domains for transfer "
        "learning. Source: ageron/handson-ml2@1e2115277b, "
        "datasets/housing/housing.csv.",
        [
            'R. K. Pace, R. Barry, "Sparse Spatial Autoregressions", Statistics '
            "& Probability Letters 33(3):291-297, 1997.",
            'A. Geron, "Hands-On Machine Learning with Scikit-Learn, Keras and '
            "TensorFlow\", 2nd ed., O'Reilly, 2019 (this variant).",
        ],
        "handson-ml2 is Apache-2.0; the StatLib data carry no stated license.",
    )
    return _finish(
        data=data,
        target=target,
        feature_names=[header[i] for i in feature_cols],
        target_names=["median_house_value"],
        descr=descr,
        as_frame=as_frame,
        return_X_y=return_X_y,
        groups={"region": region},
    )


_PARKINSONS_DROP = ("subject#", "motor_UPDRS", "total_UPDRS")


def load_parkinsons_telemonitoring(*, data_home=None, as_frame=False, return_X_y=False):
    """Load Parkinson's telemonitoring: voice measures to two UPDRS scores.

    5,875 recordings of 42 subjects. Inputs: ``age``, ``sex``, ``test_time``
    and 16 voice measures (19 columns, file order); targets ``motor_UPDRS``
    and ``total_UPDRS``. The subject of each row is returned separately, for
    per-subject tasks or grouped cross-validation.

    Reads ``<data_home>/parkinsons_telemonitoring/parkinsons_updrs.data``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder that holds the data sets; see :func:`get_data_home` (the
        ``SKLEARN_MTL_DATA`` environment variable, else ``~/sklearn_mtl_data``).
    as_frame : bool, default=False
        If True, ``data`` and ``target`` are pandas DataFrames (``target``
        always has named columns) and ``frame`` holds inputs, targets and the
        group column together. Needs pandas.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data`` : ndarray of shape (5875, 19) or DataFrame;
        ``target`` : ndarray of shape (5875, 2) or DataFrame;
        ``feature_names``, ``target_names`` : list of str;
        ``subject`` : int ndarray of shape (5875,), subject id (1..42);
        ``frame`` : DataFrame when ``as_frame`` else None; ``DESCR`` : str.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        When a file is absent from the data home; the message says which file
        to put where and how to fetch it with :func:`download_dataset`.
    ValueError
        When a file's sha256 checksum is not the expected one.

    Examples
    --------
    >>> from sklearn.model_selection import GroupKFold
    >>> from sklearn_mtl.datasets import load_parkinsons_telemonitoring
    >>> pk = load_parkinsons_telemonitoring()  # doctest: +SKIP
    >>> pk.data.shape, pk.target.shape  # doctest: +SKIP
    ((5875, 19), (5875, 2))
    >>> splits = GroupKFold(5).split(pk.data, groups=pk.subject)  # doctest: +SKIP
    """
    content = _read_verified("parkinsons_telemonitoring", _PARKINSONS, data_home)
    header, rows = _read_csv_rows(content.decode("utf-8"))
    table = np.array(rows, dtype=np.float64)
    feature_cols = [i for i, h in enumerate(header) if h not in _PARKINSONS_DROP]
    target_names = ["motor_UPDRS", "total_UPDRS"]
    target_cols = [header.index(t) for t in target_names]
    subject = table[:, header.index("subject#")].astype(np.int64)
    descr = _descr(
        "Parkinson's Disease Telemonitoring (UCI, Oxford)",
        "5,875 voice recordings of 42 people with early-stage Parkinson's "
        "disease, recorded at home over six months. 19 inputs: age, sex (0/1), "
        "test_time (days since recruitment) and 16 voice measures (Jitter, "
        "Shimmer, NHR, HNR, RPDE, DFA, PPE); targets motor_UPDRS and "
        "total_UPDRS. `subject` is the subject id (1..42) of each row: one task "
        "per subject, or groups for leave-subjects-out evaluation. No missing "
        "values. Source: behnazrzf/Parkinson-s_Telemonitoring@f603774b38.",
        [
            'A. Tsanas, M. A. Little, P. E. McSharry, L. O. Ramig, "Accurate '
            "telemonitoring of Parkinson's disease progression by non-invasive "
            'speech tests", IEEE Trans. Biomedical Engineering 57(4):884-893, '
            "2010.",
        ],
        "not stated in the source repository; the UCI description asks for the "
        "citation above.",
    )
    return _finish(
        data=table[:, feature_cols],
        target=table[:, target_cols],
        feature_names=[header[i] for i in feature_cols],
        target_names=target_names,
        descr=descr,
        as_frame=as_frame,
        return_X_y=return_X_y,
        groups={"subject": subject},
    )


def load_school(
    *, data_home=None, as_frame=False, return_X_y=False, as_multitask=False
):
    """Load the ILEA school data (MALSAR version): one task per school.

    15,362 students of 139 secondary schools; 27 inputs (year, school and
    student attributes, categorical ones one-hot encoded; the file's constant
    bias column is dropped), target the exam score (1..70). Rows are ordered
    by school.

    Reads ``<data_home>/school/school.mat``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder that holds the data sets; see :func:`get_data_home` (the
        ``SKLEARN_MTL_DATA`` environment variable, else ``~/sklearn_mtl_data``).
    as_frame : bool, default=False
        If True, ``data`` and ``target`` are pandas DataFrames (``target``
        always has named columns) and ``frame`` holds inputs, targets and the
        group column together. Needs pandas.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_multitask : bool, default=False
        If False, ``target`` has one column (the exam score) and ``task`` says
        which school each row belongs to. If True, ``target`` has one column
        per school (``school_0`` ... ``school_138``) holding the score on that
        school's rows and NaN elsewhere, the layout
        :class:`~sklearn_mtl.MultiTaskRegressor` trains on (as built by
        :func:`~sklearn_mtl.stack_tasks`).

    Returns
    -------
    data : Bunch
        ``data`` : ndarray of shape (15362, 27) or DataFrame;
        ``target`` : ndarray of shape (15362, 1), or (15362, 139) with
        ``as_multitask``, or DataFrame; ``feature_names`` (``x0`` ...
        ``x26``; the file does not name its columns), ``target_names`` : list
        of str; ``task`` : int ndarray of shape (15362,), the school index
        (0..138) of each row; ``frame`` : DataFrame when ``as_frame`` else
        None; ``DESCR`` : str.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        When a file is absent from the data home; the message says which file
        to put where and how to fetch it with :func:`download_dataset`.
    ValueError
        When a file's sha256 checksum is not the expected one.

    Examples
    --------
    >>> from sklearn_mtl import MultiTaskRegressor
    >>> from sklearn_mtl.datasets import load_school
    >>> X, Y = load_school(return_X_y=True, as_multitask=True)  # doctest: +SKIP
    >>> X.shape, Y.shape  # doctest: +SKIP
    ((15362, 27), (15362, 139))
    >>> model = MultiTaskRegressor().fit(X, Y)  # doctest: +SKIP
    """
    from scipy.io import loadmat

    mat = loadmat(io.BytesIO(_read_verified("school", _SCHOOL, data_home)))
    Xs = [np.asarray(x, dtype=np.float64) for x in mat["X"].ravel()]
    ys = [np.asarray(y, dtype=np.float64).ravel() for y in mat["Y"].ravel()]
    data = np.vstack(Xs)[:, :27]  # column 28 is a constant bias of 1s
    score = np.concatenate(ys)
    task = np.concatenate(
        [np.full(len(y), t, dtype=np.int64) for t, y in enumerate(ys)]
    )
    n_tasks = len(ys)
    if as_multitask:
        target = np.full((len(score), n_tasks), np.nan)
        target[np.arange(len(score)), task] = score
        target_names = [f"school_{t}" for t in range(n_tasks)]
    else:
        target = score.reshape(-1, 1)
        target_names = ["exam_score"]
    descr = _descr(
        "School (ILEA exam scores, MALSAR version)",
        "15,362 students of 139 secondary schools (tasks; 22 to 251 students "
        "each). 27 inputs: year of exam, 4 school attributes (% free school "
        "meals, % VR band 1, school gender, denomination) and 3 student "
        "attributes (gender, VR band, ethnic group), categorical ones one-hot "
        "encoded; the exact column-to-attribute mapping is not documented in "
        "the file, so the columns are named x0..x26. The file's constant "
        "column of 1s (bias) is dropped. Target: exam score (1..70). `task` is "
        "the school index (0..138) of each row. Source: "
        "jiayuzhou/MALSAR@fb97515949, data/school.mat.",
        [
            'H. Goldstein, "Multilevel modelling of survey data", The '
            "Statistician 40:235-244, 1991.",
            'B. Bakker, T. Heskes, "Task clustering and gating for Bayesian '
            'multitask learning", JMLR 4:83-99, 2003.',
            'T. Evgeniou, C. Micchelli, M. Pontil, "Learning multiple tasks with '
            'kernel methods", JMLR 6:615-637, 2005.',
            'A. Argyriou, T. Evgeniou, M. Pontil, "Convex multi-task feature '
            'learning", Machine Learning 73(3):243-272, 2008.',
            'J. Zhou, J. Chen, J. Ye, "MALSAR: Multi-tAsk Learning via '
            'StructurAl Regularization", Arizona State University, 2011.',
        ],
        "no data-specific license stated; the MALSAR repository is GPL-2.0.",
    )
    return _finish(
        data=data,
        target=target,
        feature_names=[f"x{i}" for i in range(data.shape[1])],
        target_names=target_names,
        descr=descr,
        as_frame=as_frame,
        return_X_y=return_X_y,
        groups={"task": task},
    )


def load_wine_quality(*, data_home=None, as_frame=False, return_X_y=False):
    """Load Wine Quality, red and white: two domains of one regression task.

    1,599 red then 4,898 white Vinho Verde wines; 11 physico-chemical inputs,
    target the sensory ``quality`` score (0-10). ``domain`` says which wine
    each row is, for transfer or two-task learning.

    Reads ``winequality-red.csv`` and ``winequality-white.csv`` from
    ``<data_home>/wine_quality/``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder that holds the data sets; see :func:`get_data_home` (the
        ``SKLEARN_MTL_DATA`` environment variable, else ``~/sklearn_mtl_data``).
    as_frame : bool, default=False
        If True, ``data`` and ``target`` are pandas DataFrames (``target``
        always has named columns) and ``frame`` holds inputs, targets and the
        group column together. Needs pandas.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data`` : ndarray of shape (6497, 11) or DataFrame;
        ``target`` : ndarray of shape (6497, 1) or DataFrame;
        ``feature_names``, ``target_names`` : list of str;
        ``domain`` : ndarray of str of shape (6497,), ``"red"`` or
        ``"white"``; ``frame`` : DataFrame when ``as_frame`` else None;
        ``DESCR`` : str.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        When a file is absent from the data home; the message says which file
        to put where and how to fetch it with :func:`download_dataset`.
    ValueError
        When a file's sha256 checksum is not the expected one.

    Examples
    --------
    >>> from sklearn_mtl.datasets import load_wine_quality
    >>> wine = load_wine_quality()  # doctest: +SKIP
    >>> X_red = wine.data[wine.domain == "red"]  # doctest: +SKIP
    >>> X_red.shape  # doctest: +SKIP
    (1599, 11)
    """
    parts, domains, header = [], [], None
    for domain, data_file in (("red", _WINE_RED), ("white", _WINE_WHITE)):
        content = _read_verified("wine_quality", data_file, data_home)
        this_header, rows = _read_csv_rows(content.decode("utf-8"), delimiter=";")
        if header is not None and this_header != header:  # pragma: no cover
            raise ValueError("The red and white wine files have different columns.")
        header = this_header
        parts.append(np.array(rows, dtype=np.float64))
        domains.append(np.full(len(rows), domain))
    table = np.vstack(parts)
    target_col = header.index("quality")
    feature_cols = [i for i in range(len(header)) if i != target_col]
    descr = _descr(
        "Wine Quality (UCI; red and white Vinho Verde)",
        "6,497 wines: 1,599 red then 4,898 white. 11 inputs (fixed acidity, "
        "volatile acidity, citric acid, residual sugar, chlorides, free sulfur "
        "dioxide, total sulfur dioxide, density, pH, sulphates, alcohol), "
        "target quality (integer median of >= 3 expert grades; red 3..8, white "
        "3..9). `domain` is 'red' or 'white' for each row: two related domains "
        "for transfer or multi-task learning. No missing values; duplicate rows "
        "are kept (red 240, white 937). Source: "
        "DensQ42/Wine_Quality_EDA@2024565a5a.",
        [
            'P. Cortez, A. Cerdeira, F. Almeida, T. Matos, J. Reis, "Modeling '
            'wine preferences by data mining from physicochemical properties", '
            "Decision Support Systems 47(4):547-553, 2009.",
        ],
        "not stated in the source repository; UCI asks for the citation above.",
    )
    return _finish(
        data=table[:, feature_cols],
        target=table[:, [target_col]],
        feature_names=[header[i] for i in feature_cols],
        target_names=["quality"],
        descr=descr,
        as_frame=as_frame,
        return_X_y=return_X_y,
        groups={"domain": np.concatenate(domains)},
    )
