"""Loaders of real data (sklearn_mtl.datasets: _real, _mulan, _files, _home).

The data come from the shared data home (``SKLEARN_MTL_DATA``, else
``<repo>/../shared/datasets``); tests that need it skip when it is absent.
Downloads are tested against a local HTTP server only.
"""

import gzip
import hashlib
import os
import re
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from sklearn_mtl.datasets import (
    MULAN_DATASETS,
    _home,
    download_dataset,
    get_data_home,
    load_california_housing,
    load_mulan,
    load_parkinsons_telemonitoring,
    load_school,
    load_wine_quality,
)
from sklearn_mtl.datasets._files import _DATASET_FILES

DATA_HOME = Path(
    os.environ.get("SKLEARN_MTL_DATA")
    or Path(__file__).parents[2] / "shared" / "datasets"
)

# name -> (rows, inputs, targets, missing inputs), from INDEX.md and the READMEs.
MULAN_SHAPES = {
    "andro": (49, 30, 6, 0),
    "atp1d": (337, 411, 6, 0),
    "atp7d": (296, 411, 6, 0),
    "edm": (154, 16, 2, 0),
    "enb": (768, 8, 2, 0),
    "jura": (359, 15, 3, 0),
    "oes10": (403, 298, 16, 0),
    "oes97": (334, 263, 16, 0),
    "osales": (639, 401, 12, 10012),
    "scpf": (1137, 23, 3, 9255),
    "sf1": (323, 10, 3, 0),
    "sf2": (1066, 10, 3, 0),
    "slump": (103, 7, 3, 0),
    "wq": (1060, 16, 14, 0),
    "rf1": (9125, 64, 8, 3264),
    "scm20d": (8966, 61, 16, 0),
}

PARKINSONS_FEATURES = [
    "age", "sex", "test_time",
    "Jitter(%)", "Jitter(Abs)", "Jitter:RAP", "Jitter:PPQ5", "Jitter:DDP",
    "Shimmer", "Shimmer(dB)", "Shimmer:APQ3", "Shimmer:APQ5", "Shimmer:APQ11",
    "Shimmer:DDA", "NHR", "HNR", "RPDE", "DFA", "PPE",
]  # fmt: skip

WINE_FEATURES = [
    "fixed acidity", "volatile acidity", "citric acid", "residual sugar",
    "chlorides", "free sulfur dioxide", "total sulfur dioxide", "density", "pH",
    "sulphates", "alcohol",
]  # fmt: skip

# loader, the group field, the file a missing-file error must name.
LOADERS = {
    "california_housing": (load_california_housing, "region", "housing.csv.gz"),
    "parkinsons_telemonitoring": (
        load_parkinsons_telemonitoring,
        "subject",
        "parkinsons_updrs.data",
    ),
    "school": (load_school, "task", "school.mat"),
    "wine_quality": (load_wine_quality, "domain", "winequality-red.csv"),
    "mulan_enb": (partial(load_mulan, "enb"), None, "enb.arff"),
}


@pytest.fixture(scope="module")
def data_home():
    if not DATA_HOME.is_dir():
        pytest.skip(
            f"real data sets not found at {DATA_HOME} (set SKLEARN_MTL_DATA to a "
            "folder laid out like shared/datasets)"
        )
    return DATA_HOME


# --------------------------------------------------------------------------
# data home resolution
# --------------------------------------------------------------------------


def test_get_data_home_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SKLEARN_MTL_DATA", raising=False)
    assert get_data_home() == tmp_path / "home" / "sklearn_mtl_data"
    monkeypatch.setenv("SKLEARN_MTL_DATA", "")  # empty counts as unset
    assert get_data_home() == tmp_path / "home" / "sklearn_mtl_data"
    monkeypatch.setenv("SKLEARN_MTL_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home("~/x") == tmp_path / "home" / "x"
    assert not (tmp_path / "env").exists()  # nothing is created


def test_loaders_read_the_env_var(monkeypatch, data_home):
    monkeypatch.setenv("SKLEARN_MTL_DATA", str(data_home))
    X, Y = load_mulan("andro", return_X_y=True)
    assert X.shape == (49, 30) and Y.shape == (49, 6)


# --------------------------------------------------------------------------
# the loaders, against the READMEs
# --------------------------------------------------------------------------


def test_california_housing(data_home):
    b = load_california_housing(data_home=data_home)
    assert b.data.shape == (20640, 8) and b.target.shape == (20640, 1)
    assert b.data.dtype == np.float64 and b.target.dtype == np.float64
    assert b.feature_names == [
        "longitude", "latitude", "housing_median_age", "total_rooms",
        "total_bedrooms", "population", "households", "median_income",
    ]  # fmt: skip
    assert b.target_names == ["median_house_value"]
    nan_per_column = np.isnan(b.data).sum(axis=0)
    assert nan_per_column[b.feature_names.index("total_bedrooms")] == 207
    assert nan_per_column.sum() == 207
    assert b.target.min() == 14999 and b.target.max() == 500001
    assert (b.target == 500001).sum() == 965
    assert b.region.shape == (20640,) and b.region.dtype.kind == "U"
    regions, counts = np.unique(b.region, return_counts=True)
    assert dict(zip(regions.tolist(), counts.tolist(), strict=True)) == {
        "<1H OCEAN": 9136,
        "INLAND": 6551,
        "NEAR OCEAN": 2658,
        "NEAR BAY": 2290,
        "ISLAND": 5,
    }
    assert b.target[b.region == "INLAND"].mean() == pytest.approx(124805, abs=1)
    assert b.frame is None
    assert "NaN" in b.DESCR and "Pace" in b.DESCR


def test_parkinsons_telemonitoring(data_home):
    b = load_parkinsons_telemonitoring(data_home=data_home)
    assert b.data.shape == (5875, 19) and b.target.shape == (5875, 2)
    assert b.feature_names == PARKINSONS_FEATURES
    assert b.target_names == ["motor_UPDRS", "total_UPDRS"]
    assert not np.isnan(b.data).any() and not np.isnan(b.target).any()
    assert b.subject.dtype.kind == "i" and b.subject.shape == (5875,)
    subjects, counts = np.unique(b.subject, return_counts=True)
    np.testing.assert_array_equal(subjects, np.arange(1, 43))
    assert counts.min() == 101 and counts.max() == 168
    np.testing.assert_allclose(b.target.mean(axis=0), [21.296, 29.019], atol=1e-3)
    assert set(np.unique(b.data[:, 1])) == {0.0, 1.0}  # sex
    assert "Tsanas" in b.DESCR


def test_school(data_home):
    b = load_school(data_home=data_home)
    assert b.data.shape == (15362, 27) and b.target.shape == (15362, 1)
    assert b.feature_names == [f"x{i}" for i in range(27)]
    assert b.target_names == ["exam_score"]
    assert b.task.dtype.kind == "i" and b.task.shape == (15362,)
    tasks, counts = np.unique(b.task, return_counts=True)
    np.testing.assert_array_equal(tasks, np.arange(139))
    assert counts.min() == 22 and counts.max() == 251 and np.median(counts) == 103
    assert np.all(np.diff(b.task) >= 0)  # rows ordered by school
    assert b.target.min() == 1 and b.target.max() == 70
    assert b.target.mean() == pytest.approx(20.60, abs=0.01)
    assert "Goldstein" in b.DESCR and "Argyriou" in b.DESCR


def test_school_as_multitask(data_home):
    b = load_school(data_home=data_home)
    m = load_school(data_home=data_home, as_multitask=True)
    np.testing.assert_array_equal(m.data, b.data)
    np.testing.assert_array_equal(m.task, b.task)
    assert m.target.shape == (15362, 139)
    assert m.target_names == [f"school_{t}" for t in range(139)]
    labelled = ~np.isnan(m.target)
    assert (labelled.sum(axis=1) == 1).all()
    np.testing.assert_array_equal(np.argmax(labelled, axis=1), b.task)
    np.testing.assert_array_equal(m.target[labelled], b.target.ravel())


def test_school_as_multitask_matches_stack_tasks(data_home):
    from sklearn_mtl import stack_tasks

    b = load_school(data_home=data_home)
    X, Y = stack_tasks(
        [(b.data[b.task == t], b.target[b.task == t, 0]) for t in range(139)]
    )
    X2, Y2 = load_school(data_home=data_home, as_multitask=True, return_X_y=True)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(Y2, Y)


def test_school_as_multitask_feeds_multitask_regressor(data_home):
    from sklearn_mtl import MultiTaskRegressor

    X, Y = load_school(data_home=data_home, as_multitask=True, return_X_y=True)
    task = load_school(data_home=data_home).task
    # first 3 students of every school: small, yet every task has labels
    keep = np.concatenate([np.flatnonzero(task == t)[:3] for t in range(139)])
    model = MultiTaskRegressor(
        hidden_layer_sizes=(8,), max_epochs=2, device="cpu", random_state=0
    )
    model.fit(X[keep], Y[keep])
    assert model.predict(X[:5]).shape == (5, 139)


def test_wine_quality(data_home):
    b = load_wine_quality(data_home=data_home)
    assert b.data.shape == (6497, 11) and b.target.shape == (6497, 1)
    assert b.feature_names == WINE_FEATURES
    assert b.target_names == ["quality"]
    assert b.domain.dtype.kind == "U"
    assert (b.domain[:1599] == "red").all() and (b.domain[1599:] == "white").all()
    red, white = b.target[b.domain == "red"], b.target[b.domain == "white"]
    assert (red.min(), red.max(), white.min(), white.max()) == (3, 8, 3, 9)
    assert red.mean() == pytest.approx(5.636, abs=1e-3)
    assert white.mean() == pytest.approx(5.878, abs=1e-3)
    assert "Cortez" in b.DESCR


@pytest.mark.parametrize("name", list(MULAN_SHAPES))
def test_mulan_shapes(data_home, name):
    rows, n_inputs, n_targets, n_missing = MULAN_SHAPES[name]
    assert MULAN_DATASETS[name][1] == n_targets
    b = load_mulan(name, data_home=data_home)
    assert b.data.shape == (rows, n_inputs)
    assert b.target.shape == (rows, n_targets)
    assert b.data.dtype == np.float64 and b.target.dtype == np.float64
    assert len(b.feature_names) == n_inputs and len(b.target_names) == n_targets
    assert len(set(b.feature_names + b.target_names)) == n_inputs + n_targets
    assert np.isnan(b.data).sum() == n_missing
    assert not np.isnan(b.target).any()
    assert name in b.DESCR and "Spyromitros-Xioufis" in b.DESCR


def test_mulan_names_follow_readmes(data_home):
    enb = load_mulan("enb", data_home=data_home)
    assert enb.feature_names == [
        "Relative_compactness", "X1", "X3", "X4", "X5", "X6", "X7", "X8"
    ]  # fmt: skip
    assert enb.target_names == ["Y1", "Y2"]
    slump = load_mulan("slump", data_home=data_home)
    assert slump.target_names == ["SLUMP_cm", "FLOW_cm", "Compressive_Strength_Mpa"]
    atp = load_mulan("atp1d", data_home=data_home)
    assert atp.feature_names[:3] == ["departwb", "departdaytype", "fetchdays"]
    assert atp.target_names[0] == "LBL+ALLminpA+fut_001"
    atp7 = load_mulan("atp7d", data_home=data_home)
    assert atp7.feature_names == atp.feature_names
    assert enb.categories == {}


@pytest.mark.parametrize("name", ["sf1", "sf2"])
def test_mulan_nominal_inputs_are_ordinal_codes(data_home, name):
    b = load_mulan(name, data_home=data_home)
    assert list(b.categories) == b.feature_names  # all 10 inputs are nominal
    assert b.categories["mod_zurich_class"] == ["A", "B", "C", "D", "E", "F", "H"]
    for j, feature in enumerate(b.feature_names):
        codes = b.data[:, j]
        assert np.array_equal(codes, np.round(codes))
        assert codes.min() >= 0 and codes.max() < len(b.categories[feature])
    assert "ordinal" in b.DESCR


def test_mulan_unknown_name():
    with pytest.raises(ValueError, match=r"Unknown Mulan data set 'nope'.*andro.*"):
        load_mulan("nope")
    with pytest.raises(ValueError, match=r"valid names are: .*scm20d"):
        load_mulan("rf2")


# --------------------------------------------------------------------------
# as_frame, return_X_y, group ids: every loader
# --------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(LOADERS))
def test_return_X_y(data_home, key):
    loader, _, _ = LOADERS[key]
    bunch = loader(data_home=data_home)
    X, Y = loader(data_home=data_home, return_X_y=True)
    assert isinstance(X, np.ndarray) and isinstance(Y, np.ndarray)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(Y, bunch.target)
    assert Y.ndim == 2 and Y.shape[1] == len(bunch.target_names)


@pytest.mark.parametrize("key", list(LOADERS))
def test_as_frame(data_home, key):
    pd = pytest.importorskip("pandas")
    loader, group, _ = LOADERS[key]
    bunch = loader(data_home=data_home)
    framed = loader(data_home=data_home, as_frame=True)
    assert isinstance(framed.data, pd.DataFrame)
    assert isinstance(framed.target, pd.DataFrame)
    assert list(framed.data.columns) == bunch.feature_names
    assert list(framed.target.columns) == bunch.target_names
    np.testing.assert_array_equal(framed.data.to_numpy(), bunch.data)
    np.testing.assert_array_equal(framed.target.to_numpy(), bunch.target)
    expected_columns = bunch.feature_names + bunch.target_names
    if group is not None:
        expected_columns.append(group)
        np.testing.assert_array_equal(framed[group], bunch[group])
        np.testing.assert_array_equal(framed.frame[group].to_numpy(), bunch[group])
    assert list(framed.frame.columns) == expected_columns
    assert len(framed.frame) == len(bunch.data)
    X, Y = loader(data_home=data_home, as_frame=True, return_X_y=True)
    assert isinstance(X, pd.DataFrame) and isinstance(Y, pd.DataFrame)
    assert list(Y.columns) == bunch.target_names


def test_school_as_frame_multitask(data_home):
    pytest.importorskip("pandas")
    b = load_school(data_home=data_home, as_frame=True, as_multitask=True)
    assert b.target.shape == (15362, 139)
    assert b.frame.shape == (15362, 27 + 139 + 1)
    assert b.target["school_0"].notna().sum() == (b.task == 0).sum()


# --------------------------------------------------------------------------
# missing and corrupt files
# --------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(LOADERS))
def test_missing_file_names_the_path(tmp_path, key):
    loader, _, filename = LOADERS[key]
    folder = "enb" if key == "mulan_enb" else key
    expected = tmp_path / folder / filename
    with pytest.raises(FileNotFoundError, match=re.escape(str(expected))) as info:
        loader(data_home=tmp_path)
    message = str(info.value)
    assert "download_dataset" in message and "data_home argument" in message


def test_missing_file_says_where_the_data_home_came_from(monkeypatch, tmp_path):
    monkeypatch.setenv("SKLEARN_MTL_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="SKLEARN_MTL_DATA environment"):
        load_mulan("andro")


def _corrupt_copy(src, dest):
    dest.parent.mkdir(parents=True, exist_ok=True)
    content = bytearray(src.read_bytes())
    content[-2] ^= 1  # flip one bit near the end
    dest.write_bytes(bytes(content))


@pytest.mark.parametrize(
    "loader, name, filename",
    [
        (partial(load_mulan, "andro"), "andro", "andro.arff"),
        (load_school, "school", "school.mat"),
        (load_wine_quality, "wine_quality", "winequality-white.csv"),
    ],
)
def test_checksum_mismatch(data_home, tmp_path, loader, name, filename):
    shutil.copytree(data_home / name, tmp_path / name)
    _corrupt_copy(data_home / name / filename, tmp_path / name / filename)
    expected = next(f.sha256 for f in _DATASET_FILES[name] if f.filename == filename)
    pattern = (
        rf"Checksum mismatch for .*{re.escape(filename)}: expected sha256 "
        rf"{expected}, got [0-9a-f]{{64}}"
    )
    with pytest.raises(ValueError, match=pattern):
        loader(data_home=tmp_path)


# --------------------------------------------------------------------------
# the checksum constants agree with the READMEs' git blobs
# --------------------------------------------------------------------------


def test_upstream_git_blobs_match_stored_files(data_home):
    for name, files in _DATASET_FILES.items():
        for data_file in files:
            content = (data_home / name / data_file.filename).read_bytes()
            assert hashlib.sha256(content).hexdigest() == data_file.sha256
            if data_file.filename.endswith(".gz"):
                content = gzip.decompress(content)
            assert _home._git_blob_sha1(content) == data_file.upstream.git_blob, (
                name,
                data_file.filename,
            )


# --------------------------------------------------------------------------
# download_dataset, against a local HTTP server
# --------------------------------------------------------------------------


@pytest.fixture
def http_server(tmp_path, monkeypatch):
    """Serve ``tmp_path / "served"`` on 127.0.0.1; yield (root, url, requests)."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    root = tmp_path / "served"
    root.mkdir()
    requests = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/mirror", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_download_dataset_from_mirror(data_home, tmp_path, http_server):
    root, url, requests = http_server
    shutil.copytree(data_home / "andro", root / "mirror" / "andro")
    home = tmp_path / "home"
    paths = download_dataset("andro", data_home=home, base_url=url)
    target = home / "andro" / "andro.arff"
    assert paths == [target]
    assert target.read_bytes() == (data_home / "andro" / "andro.arff").read_bytes()
    assert requests == ["/mirror/andro/andro.arff"]
    assert [p.name for p in (home / "andro").iterdir()] == ["andro.arff"]
    X, Y = load_mulan("andro", data_home=home, return_X_y=True)
    assert X.shape == (49, 30) and Y.shape == (49, 6)
    # a verified file is kept, not fetched again
    assert download_dataset("andro", data_home=home, base_url=url + "/") == paths
    assert len(requests) == 1


def test_download_dataset_rejects_wrong_content(data_home, tmp_path, http_server):
    root, url, requests = http_server
    _corrupt_copy(data_home / "andro" / "andro.arff", root / "mirror/andro/andro.arff")
    home = tmp_path / "home"
    expected = MULAN_DATASETS["andro"][2]
    pattern = (
        r"Checksum mismatch for andro\.arff downloaded from "
        rf"{re.escape(url)}/andro/andro\.arff: expected sha256 {expected}, "
        r"got [0-9a-f]{64}"
    )
    with pytest.raises(ValueError, match=pattern):
        download_dataset("andro", data_home=home, base_url=url)
    assert requests == ["/mirror/andro/andro.arff"]
    assert list((home / "andro").iterdir()) == []  # no corrupt or partial file


def test_download_dataset_replaces_a_corrupt_file(data_home, tmp_path, http_server):
    root, url, _ = http_server
    shutil.copytree(data_home / "andro", root / "mirror" / "andro")
    home = tmp_path / "home"
    _corrupt_copy(data_home / "andro" / "andro.arff", home / "andro" / "andro.arff")
    with pytest.raises(ValueError, match="Checksum mismatch"):
        load_mulan("andro", data_home=home)
    download_dataset("andro", data_home=home, base_url=url)
    assert load_mulan("andro", data_home=home).data.shape == (49, 30)


def test_download_dataset_http_error(tmp_path, http_server):
    _, url, _ = http_server
    with pytest.raises(OSError, match=r"Could not download .*/mirror/edm/edm\.arff"):
        download_dataset("edm", data_home=tmp_path / "home", base_url=url)
    assert list((tmp_path / "home" / "edm").iterdir()) == []


def test_download_dataset_from_pinned_upstream(
    data_home, tmp_path, http_server, monkeypatch
):
    # The default source is raw.githubusercontent.com/<repo>/<commit>/<path>;
    # point it at the local server, serving atp1d.arff uncompressed as GitHub
    # does: the stored .gz must be rebuilt byte for byte.
    root, url, requests = http_server
    monkeypatch.setattr(_home, "GITHUB_RAW_URL", url)
    upstream = _DATASET_FILES["atp1d"][0].upstream
    served = root / "mirror" / upstream.repo / upstream.commit / upstream.path
    served.parent.mkdir(parents=True)
    served.write_bytes(
        gzip.decompress((data_home / "atp1d/atp1d.arff.gz").read_bytes())
    )
    home = tmp_path / "home"
    (path,) = download_dataset("atp1d", data_home=home)
    assert path == home / "atp1d" / "atp1d.arff.gz"
    assert path.read_bytes() == (data_home / "atp1d" / "atp1d.arff.gz").read_bytes()
    assert load_mulan("atp1d", data_home=home).data.shape == (337, 411)
    # upstream content that is not the README's git blob is refused
    served.write_bytes(served.read_bytes() + b"\n")
    with pytest.raises(
        ValueError, match=rf"expected git blob sha1 {upstream.git_blob}"
    ):
        download_dataset("atp1d", data_home=tmp_path / "other")
    assert list((tmp_path / "other" / "atp1d").iterdir()) == []


def test_download_dataset_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown data set 'nope'.*school"):
        download_dataset("nope", data_home=tmp_path)
    with pytest.raises(ValueError, match="base_url must be an http"):
        download_dataset("andro", data_home=tmp_path, base_url="ftp://example.org")
    assert not (tmp_path / "andro").exists()


def test_every_loader_has_a_download_entry():
    assert set(_DATASET_FILES) == set(MULAN_DATASETS) | {
        "california_housing",
        "parkinsons_telemonitoring",
        "school",
        "wine_quality",
    }
