"""Loaders of real multi-task, multi-target and transfer regression data.

The files are read from the data home (see :func:`get_data_home`) and checked
against the sha256 checksums below (copied from each data set's README) before
they are parsed; :func:`download_dataset` fetches them.
"""

import csv
import gzip
import io
from types import MappingProxyType

import numpy as np
from sklearn.utils import Bunch

from ._home import _DataFile, _read_verified, _Upstream

__all__ = [
    "MULAN_DATASETS",
    "load_california_housing",
    "load_mulan",
    "load_parkinsons_telemonitoring",
    "load_school",
    "load_wine_quality",
]

# ---------------------------------------------------------------------------
# Mulan multi-target regression benchmark
# ---------------------------------------------------------------------------

#: name -> (file in ``<data_home>/<name>/``, number of targets, sha256 of the
#: file). The last ``n_targets`` ARFF attributes are the targets.
MULAN_DATASETS = MappingProxyType(
    {
        "andro": (
            "andro.arff",
            6,
            "08f0e2757b2a7635136ac58ea76c4e801ffeb0a81116b29e6ac169228c8aa132",
        ),
        "atp1d": (
            "atp1d.arff.gz",
            6,
            "f5cb3253d8d2f09babe6c19419f4c9cdbdecf752001d120b42d2033a148d5b5d",
        ),
        "atp7d": (
            "atp7d.arff",
            6,
            "77d59efdf4a6329c71c854684de7409d0d61d3bebccd6821ae268c1620c95b2d",
        ),
        "edm": (
            "edm.arff",
            2,
            "37777374030f592a53cbcf597ae0aa6105238a1c696dd04ccb229be982f6bc5b",
        ),
        "enb": (
            "enb.arff",
            2,
            "8277d9094ccda6da2cd1c2b79c90ca201fa3695e75aca173ffc43138dcab0071",
        ),
        "jura": (
            "jura.arff",
            3,
            "78ce7655f49073e3622ef7ba25657b3900a2b279ba3d48cb82e353e56bac3d2a",
        ),
        "oes10": (
            "oes10.arff",
            16,
            "37f9fa429f6f2ece2cdfd08e84649971e61ee0b4e75d66166c082bacf3d36251",
        ),
        "oes97": (
            "oes97.arff",
            16,
            "aee74aa656c709f797f45d817c41996be94c2e924c0f1e7ad315fb7e2f1a9498",
        ),
        "osales": (
            "osales.arff",
            12,
            "c9c656c7e0131ad1c3f427cea7828f2ed315ec80da6d6f43c05b40b87257efe5",
        ),
        "scpf": (
            "scpf.arff",
            3,
            "f7d3c7b134c0e5ddff56a7900371cb44328f9b7f550203c4a556929203ea81e9",
        ),
        "sf1": (
            "sf1.arff",
            3,
            "8f78e64aca64f7c0c7ba4d9b2f114feb2a6f72e6116e87d7dab94e7cab426d93",
        ),
        "sf2": (
            "sf2.arff",
            3,
            "2c1ac60f3e612b0e0bc9884ffe98a205ce07ca83f3f89c019220fde350396795",
        ),
        "slump": (
            "slump.arff",
            3,
            "3a9a9eba416b06c7668153b44073a0e165afbfc9e526d53b174e5f97a707ca6c",
        ),
        "wq": (
            "wq.arff",
            14,
            "4a0906b4a51bf52c986790ddaf261ba51faa3da9cffe823badabd88d38d252fe",
        ),
        "rf1": (
            "rf1.arff.gz",
            8,
            "5266bb550dcb054b52433448688d5398ce384d0ab4167fa987b8c76fe0b2e578",
        ),
        "scm20d": (
            "scm20d.arff.gz",
            16,
            "517d1d84519ecd86fb3f7cf5d5723e4c8fdf77fa5cbd36c3ae6d6754d4ac512a",
        ),
    }
)

_MULAN_REPO = "tsoumakas/mulan"
_MULAN_COMMIT = "43f6389095ad71984264db4387a8074b22bc7d4a"
_PCP_REPO = "Zhendong-Wang/Probabilistic-Conformal-Prediction"

# Where each Mulan file comes from (git blob SHA-1 of the upstream, uncompressed
# file, from the data set's README).
_MULAN_UPSTREAM = {
    name: _Upstream(_MULAN_REPO, _MULAN_COMMIT, f"data/multi-target/{name}.arff", blob)
    for name, blob in {
        "andro": "01f9e1871b6be20fccbb2d4ad43a2b1dc4095020",
        "atp1d": "9ce922d1daf2acad0a0ad7a3d70870486d65e75b",
        "atp7d": "cad2d63a81f99ed04e4bfba41daabc29353e14b8",
        "edm": "8faba7dd6c3fae30ea0a68fa345d4ea6ecb82a09",
        "enb": "bbcbce7293370c99c1369b16a9e2cce93fcc443e",
        "jura": "8c09f3a03d226daaea82630f4c3094feb14901d6",
        "oes10": "dc2991d2a435b808f1c698f96dcb18ab8260f164",
        "oes97": "64a122291f1af06ae55e4bced1e6374e039debba",
        "osales": "48bc72fbd3bc9d64b7fb4866634581a72e479910",
        "scpf": "c862c5abeb491add747276a58cb862d4d1b33094",
        "sf1": "0a530e713597269ef4eeb8296a697d2bffd5209c",
        "sf2": "2f3a9e6bb1a77148f01b4d29f3e97ca10315eccd",
        "slump": "35c18e9833f7d528887d95ce4734c2c37f8d0bd3",
        "wq": "2dbc3ee32d87a1618721b86a1ef9857516cbb970",
    }.items()
}
_MULAN_UPSTREAM["rf1"] = _Upstream(
    _PCP_REPO,
    "54a31cbfe0c87182cbc4351f1d12a59a65452a40",
    "data/rf1.arff",
    "a5dddb96e60ab166d15a680d733b3ff08a8b9b34",
)
_MULAN_UPSTREAM["scm20d"] = _Upstream(
    _PCP_REPO,
    "e6f505beaf07f208cb496f85ac91fd37482677c6",
    "data/scm20d.arff",
    "915d077523f89eab7336bfee8680aeb1d63cd134",
)

_MTR_CITATION = (
    "E. Spyromitros-Xioufis, G. Tsoumakas, W. Groves, I. Vlahavas, "
    '"Multi-Target Regression via Input Space Expansion: Treating Targets as '
    'Inputs", Machine Learning 104(1):55-98, 2016.'
)

# name -> (one-line description, source citation or None); every set also
# cites _MTR_CITATION (the benchmark collection).
_MULAN_INFO = {
    "andro": (
        "Sea-water quality (Thermaikos Gulf, Andromeda project): 6 water-quality "
        "variables over 5 time windows; targets are the 6 variables in the next "
        "window.",
        'E.V. Hatzikos et al., "An empirical study on sea water quality '
        'prediction", Knowledge-Based Systems, 2008.',
    ),
    "atp1d": (
        "Airline ticket price: next-day minimum price for 6 carriers/price "
        "types, from 411 features of a departure/observation-date pair.",
        None,
    ),
    "atp7d": (
        "Airline ticket price: minimum price over the next 7 days for 6 "
        "carriers/price types (same 411 inputs as atp1d).",
        None,
    ),
    "edm": (
        "Electrical discharge machining: predict the two control actions "
        "(DFlow, DGap) from 16 process statistics.",
        'A. Karalic, I. Bratko, "First Order Regression", Machine Learning, 1997.',
    ),
    "enb": (
        "Energy efficiency of buildings (UCI ENB2012): heating load (Y1) and "
        "cooling load (Y2) from 8 building-shape parameters.",
        'A. Tsanas, A. Xifara, "Accurate quantitative estimation of energy '
        "performance of residential buildings using statistical machine "
        'learning tools", Energy and Buildings 49:560-567, 2012.',
    ),
    "jura": (
        "Swiss Jura soil geochemistry: concentrations of Cd, Co, Cu from "
        "location, land use, rock type (one-hot) and 4 other metals "
        "(Cr, Ni, Pb, Zn).",
        'P. Goovaerts, "Geostatistics for Natural Resources Evaluation", Oxford '
        "University Press, 1997.",
    ),
    "oes10": (
        "Occupational Employment Survey 2010 (US BLS): mean employment of 16 "
        "occupation categories per metropolitan area, from 298 other occupation "
        "categories.",
        None,
    ),
    "oes97": (
        "Occupational Employment Survey 1997 (US BLS): as oes10 with 263 input "
        "occupation categories.",
        None,
    ),
    "osales": (
        "Online product sales (Kaggle): monthly sales for the first 12 months "
        "after launch. 10,012 missing input values (NaN); targets complete.",
        "Kaggle competition: Online Product Sales.",
    ),
    "scpf": (
        "See Click Predict Fix (Kaggle): number of views, votes and comments of "
        "311 issues. 9,255 missing input values (NaN); targets complete.",
        "Kaggle competition: See Click Predict Fix.",
    ),
    "sf1": (
        "Solar flare 1 (UCI): counts of C-, M-, X-class flares in 24h from 10 "
        "nominal sunspot-region attributes.",
        "UCI Machine Learning Repository, Solar Flare data set.",
    ),
    "sf2": (
        "Solar flare 2 (UCI): as sf1, second data batch.",
        "UCI Machine Learning Repository, Solar Flare data set.",
    ),
    "slump": (
        "Concrete slump test (UCI): slump, flow and 28-day compressive strength "
        "from 7 mix ingredients.",
        'I-C. Yeh, "Modeling slump flow of concrete using second-order '
        'regressions and artificial neural networks", Cement and Concrete '
        "Composites, 2007.",
    ),
    "wq": (
        "River water quality (Slovenia): relative abundance of 14 bio-indicator "
        "taxa (plants/animals) from 16 physico-chemical measurements.",
        'S. Dzeroski, D. Demsar, J. Grbovic, "Predicting Chemical Parameters of '
        'River Water Quality from Bioindicator Data", Applied Intelligence '
        "13(1):7-17, 2000.",
    ),
    "rf1": (
        "River flow 1: river network flow 48h ahead at 8 sites, from the 8 "
        "sites' recent flows at 8 time lags (64 features). 3,264 missing input "
        "values (NaN); targets complete. This copy comes from "
        "Zhendong-Wang/Probabilistic-Conformal-Prediction (same shape as "
        "Mulan's, not byte-identical).",
        None,
    ),
    "scm20d": (
        "Supply chain management (TAC SCM, 20-day-ahead): mean price of 16 "
        "products 20 days ahead from 61 features. This copy comes from "
        "Zhendong-Wang/Probabilistic-Conformal-Prediction (same shape as "
        "Mulan's, not byte-identical).",
        None,
    ),
}

# ---------------------------------------------------------------------------
# The other data sets: dataset -> key -> _DataFile
# ---------------------------------------------------------------------------

_HOUSING = _DataFile(
    "housing.csv.gz",
    "1e8b4dc2959ea8e50ac06259c611c554030978e4c9ec9efbd289a8fdcf7691eb",
    _Upstream(
        "ageron/handson-ml2",
        "1e2115277b50f6c584cd668fa30e3af309a5b136",
        "datasets/housing/housing.csv",
        "d5e3fa249979387797b225dee7dc2c18e619c42c",
    ),
)
_PARKINSONS = _DataFile(
    "parkinsons_updrs.data",
    "f2c7d5025dec4e92e7feae367a5f7ccf58789a10ac6b54bdf15976c599f9dd39",
    _Upstream(
        "behnazrzf/Parkinson-s_Telemonitoring",
        "f603774b38bfc967f20b4752bec4b6f872917d98",
        "data/parkinsons_updrs.data",
        "30a906e0369dda8c666ad1cb715b68ca9f560741",
    ),
)
_SCHOOL = _DataFile(
    "school.mat",
    "57fb3238fdd03a9aa17276e2ce18d9bbb5d128c3261e794fe6233b58b6909068",
    _Upstream(
        "jiayuzhou/MALSAR",
        "fb9751594983df020ddc4f7e4a40520ee7c37989",
        "data/school.mat",
        "2420f5c1ac617bce7090d7a47d800641e72532f1",
    ),
)
_WINE_RED = _DataFile(
    "winequality-red.csv",
    "4a402cf041b025d4566d954c3b9ba8635a3a8a01e039005d97d6a710278cf05e",
    _Upstream(
        "DensQ42/Wine_Quality_EDA",
        "2024565a5ad8ba160c468225857cef0b44eda0db",
        "winequality-red.csv",
        "9bb4e3cd10475593334526fd8deb9e809800f061",
    ),
)
_WINE_WHITE = _DataFile(
    "winequality-white.csv",
    "76c3f809815c17c07212622f776311faeb31e87610d52c26d87d6e361b169836",
    _Upstream(
        "DensQ42/Wine_Quality_EDA",
        "2024565a5ad8ba160c468225857cef0b44eda0db",
        "winequality-white.csv",
        "3c4d55470dd222c898436b17e93cc157da2f39f6",
    ),
)


def _mulan_file(name):
    filename, _, sha256 = MULAN_DATASETS[name]
    return _DataFile(filename, sha256, _MULAN_UPSTREAM[name])


# dataset name -> the files its loader reads (what download_dataset fetches).
_DATASET_FILES = {
    "california_housing": (_HOUSING,),
    "parkinsons_telemonitoring": (_PARKINSONS,),
    "school": (_SCHOOL,),
    "wine_quality": (_WINE_RED, _WINE_WHITE),
    **{name: (_mulan_file(name),) for name in MULAN_DATASETS},
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _import_pandas():
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is a test dependency
        raise ImportError(
            "as_frame=True needs pandas; install it (pip install pandas) or use "
            "as_frame=False."
        ) from exc
    return pd


def _descr(title, body, citations, license_note):
    lines = [title, "=" * len(title), "", body, "", "Citation", "--------"]
    lines += [f"- {c}" for c in citations]
    lines += ["", f"License: {license_note}"]
    return "\n".join(lines) + "\n"


def _finish(
    *,
    data,
    target,
    feature_names,
    target_names,
    descr,
    as_frame,
    return_X_y,
    groups=None,
    extra=None,
):
    """Build the return value shared by all loaders.

    ``groups`` maps a Bunch field name to a per-row array (group/domain ids):
    it is stored in the Bunch as is and added as a column of ``frame``.
    """
    groups = groups or {}
    feature_names = [str(f) for f in feature_names]
    target_names = [str(t) for t in target_names]
    frame = None
    if as_frame:
        pd = _import_pandas()
        data = pd.DataFrame(data, columns=feature_names)
        target = pd.DataFrame(target, columns=target_names)
        frame = pd.concat(
            [data, target, pd.DataFrame(dict(groups), index=data.index)], axis=1
        )
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        feature_names=feature_names,
        target_names=target_names,
        frame=frame,
        DESCR=descr,
        **groups,
        **(extra or {}),
    )


def _read_csv_rows(text, delimiter=","):
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader)
    rows = [row for row in reader if row]
    return [h.strip() for h in header], rows


# ---------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------


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


def _clean_name(name):
    """Drop the ARFF quoting that some files keep in names (``"'dtd'"``)."""
    return name.strip().strip("\"'").strip()


def load_mulan(name, *, data_home=None, as_frame=False, return_X_y=False):
    """Load a data set of the Mulan multi-target regression benchmark.

    One ``X`` and several target columns per data set (Spyromitros-Xioufis et
    al., 2016). Following Mulan's convention, the last ``n_targets`` ARFF
    attributes are the targets and the others the inputs; ``MULAN_DATASETS``
    gives each set's file, ``n_targets`` and sha256.

    ====== ===== ====== ======= ==============
    name   rows  inputs targets notes
    ====== ===== ====== ======= ==============
    andro  49    30     6
    atp1d  337   411    6
    atp7d  296   411    6
    edm    154   16     2
    enb    768   8      2
    jura   359   15     3
    oes10  403   298    16
    oes97  334   263    16
    osales 639   401    12      NaN inputs
    scpf   1137  23     3       NaN inputs
    sf1    323   10     3       nominal inputs
    sf2    1066  10     3       nominal inputs
    slump  103   7      3
    wq     1060  16     14
    rf1    9125  64     8       NaN inputs
    scm20d 8966  61     16
    ====== ===== ====== ======= ==============

    Missing values (``?`` in the ARFF file) are NaN; all targets are complete.
    The nominal inputs of ``sf1`` and ``sf2`` are **ordinal-encoded**: each
    value is replaced by its 0-based position in the ARFF declaration of the
    attribute (e.g. ``mod_zurich_class`` ``A, B, C, D, E, F, H`` -> 0..6), so
    these sets keep 10 input columns; ``categories`` maps each such column to
    its declared levels (one-hot encode them yourself if the order is
    meaningless to your model). Quotes kept in some attribute names (atp1d,
    atp7d) are removed.

    Reads ``<data_home>/<name>/<file>`` (``.arff`` or gzip-compressed
    ``.arff.gz``).

    Parameters
    ----------
    name : str
        One of ``andro``, ``atp1d``, ``atp7d``, ``edm``, ``enb``, ``jura``,
        ``oes10``, ``oes97``, ``osales``, ``scpf``, ``sf1``, ``sf2``,
        ``slump``, ``wq``, ``rf1``, ``scm20d``.
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
        ``data`` : float ndarray of shape (n_samples, n_inputs) or DataFrame;
        ``target`` : float ndarray of shape (n_samples, n_targets) or
        DataFrame; ``feature_names``, ``target_names`` : list of str;
        ``categories`` : dict, nominal input name -> list of its levels (the
        code of level ``i`` is ``i``), empty for all-numeric sets;
        ``frame`` : DataFrame when ``as_frame`` else None; ``DESCR`` : str.
    (data, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    ValueError
        For an unknown ``name`` (the message lists the valid names), or when
        the file's sha256 checksum is not the expected one.
    FileNotFoundError
        When the file is absent from the data home; the message says which
        file to put where and how to fetch it with :func:`download_dataset`.

    Examples
    --------
    >>> from sklearn_mtl.datasets import MULAN_DATASETS, load_mulan
    >>> MULAN_DATASETS["enb"][:2]
    ('enb.arff', 2)
    >>> X, Y = load_mulan("enb", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, Y.shape  # doctest: +SKIP
    ((768, 8), (768, 2))
    """
    from scipy.io import arff

    if not isinstance(name, str) or name not in MULAN_DATASETS:
        raise ValueError(
            f"Unknown Mulan data set {name!r}; valid names are: "
            f"{', '.join(MULAN_DATASETS)}."
        )
    filename, n_targets, _ = MULAN_DATASETS[name]
    content = _read_verified(name, _mulan_file(name), data_home)
    if filename.endswith(".gz"):
        content = gzip.decompress(content)
    records, meta = arff.loadarff(io.StringIO(content.decode("utf-8")))

    columns, categories = [], {}
    for attr in meta.names():
        kind, levels = meta[attr]
        values = records[attr]
        if kind == "nominal":
            text = values.astype(str)  # nominal values arrive as bytes
            codes = np.full(len(values), np.nan)
            for code, level in enumerate(levels):
                codes[text == level] = code
            categories[_clean_name(attr)] = list(levels)
            columns.append(codes)
        else:
            columns.append(np.asarray(values, dtype=np.float64))
    table = np.column_stack(columns)
    names = [_clean_name(n) for n in meta.names()]
    description, source = _MULAN_INFO[name]
    n_inputs = len(names) - n_targets
    descr = _descr(
        f"{name} (Mulan multi-target regression benchmark)",
        f"{description} {table.shape[0]} rows, {n_inputs} inputs, {n_targets} "
        f"targets (the last {n_targets} ARFF attributes). Missing inputs are "
        "NaN."
        + (
            " Nominal inputs are ordinal-encoded (0-based position in the ARFF "
            "declaration; levels in `categories`)."
            if categories
            else ""
        ),
        [c for c in (source, _MTR_CITATION) if c],
        "no license stated for the data (the Mulan software is GPL-3.0).",
    )
    return _finish(
        data=table[:, :n_inputs],
        target=table[:, n_inputs:],
        feature_names=names[:n_inputs],
        target_names=names[n_inputs:],
        descr=descr,
        as_frame=as_frame,
        return_X_y=return_X_y,
        extra={"categories": categories},
    )
