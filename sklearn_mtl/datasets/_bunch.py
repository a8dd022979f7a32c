"""Shared pieces of the loaders: the returned Bunch and small readers."""

import csv
import io

from sklearn.utils import Bunch


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
