"""Loader of the Mulan multi-target regression benchmark sets."""

import gzip
import io

import numpy as np

from ._bunch import _descr, _finish
from ._files import MULAN_DATASETS, _mulan_file
from ._home import _read_verified

__all__ = ["load_mulan"]

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
