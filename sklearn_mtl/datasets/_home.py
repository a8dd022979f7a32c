"""Where the real data sets live, how their files are checked, and downloading.

Every real data set is a folder of the *data home* named after the data set,
e.g. ``<data_home>/school/school.mat``. The data home is the ``data_home``
argument, else the ``SKLEARN_MTL_DATA`` environment variable, else
``~/sklearn_mtl_data``. Every file is checked against a sha256 checksum that is
part of this package before it is parsed.
"""

import gzip
import hashlib
import io
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath
from typing import NamedTuple

__all__ = ["get_data_home", "download_dataset"]

#: Environment variable that names the data home when ``data_home`` is None.
ENV_VAR = "SKLEARN_MTL_DATA"

#: Where raw files of public GitHub repositories are served from; the default
#: download source (each file pinned to the commit named in its data set's
#: README).
GITHUB_RAW_URL = "https://raw.githubusercontent.com"

_DEFAULT_SUBDIR = "sklearn_mtl_data"
_TIMEOUT_S = 60


class _Upstream(NamedTuple):
    """Where a stored file comes from: a file of a GitHub repository at a commit."""

    repo: str
    commit: str
    path: str
    git_blob: str  # git blob SHA-1 of the upstream (uncompressed) file


class _DataFile(NamedTuple):
    """One file of a data set: its name in the data set's folder, and checks."""

    filename: str
    sha256: str  # of the file as stored in the data home
    upstream: _Upstream


def get_data_home(data_home=None):
    """Return the folder that holds the real data sets.

    The folder is not created.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. When None, the ``SKLEARN_MTL_DATA`` environment
        variable is used if it is set and not empty, else
        ``~/sklearn_mtl_data``. ``~`` is expanded.

    Returns
    -------
    data_home : pathlib.Path
        The data home. Data set ``name`` lives in ``data_home / name``.

    Examples
    --------
    >>> from sklearn_mtl.datasets import get_data_home
    >>> get_data_home("/tmp/my_data").name
    'my_data'
    """
    return Path(_resolve(data_home)[0])


def _resolve(data_home):
    """Return ``(path, where the path came from)`` for error messages."""
    if data_home is not None:
        return Path(data_home).expanduser(), "the data_home argument"
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser(), f"the {ENV_VAR} environment variable"
    return Path.home() / _DEFAULT_SUBDIR, (
        f"the default (~/{_DEFAULT_SUBDIR}; neither data_home nor {ENV_VAR} was set)"
    )


def _sha256(content):
    return hashlib.sha256(content).hexdigest()


def _git_blob_sha1(content):
    header = b"blob %d\0" % len(content)
    return hashlib.sha1(header + content, usedforsecurity=False).hexdigest()


def _check_sha256(content, expected, what, dataset):
    """Raise ValueError when ``content`` does not hash to ``expected``."""
    actual = _sha256(content)
    if actual != expected:
        raise ValueError(
            f"Checksum mismatch for {what}: expected sha256 {expected}, got "
            f"{actual}. The file is corrupt or not the version this loader "
            f"expects; fetch it again with "
            f"sklearn_mtl.datasets.download_dataset({dataset!r}), which replaces it."
        )


def _read_verified(dataset, data_file, data_home=None):
    """Read one file of a data set from the data home and check its sha256.

    The bytes that were checked are returned, so exactly what was verified is
    what gets parsed.
    """
    home, origin = _resolve(data_home)
    path = home / dataset / data_file.filename
    if not path.is_file():
        raise FileNotFoundError(
            f"Data set {dataset!r}: file {data_file.filename!r} was not found at "
            f"{path}. Put {data_file.filename} (sha256 {data_file.sha256}) at "
            f"{path}, for example with "
            f"sklearn_mtl.datasets.download_dataset({dataset!r}, "
            f"data_home={str(home)!r}). The data home {home} came from {origin}; "
            f"pass data_home=... or set {ENV_VAR} to use another folder."
        )
    content = path.read_bytes()
    _check_sha256(content, data_file.sha256, str(path), dataset)
    return content


def _fetch(url):
    """Return the body of an HTTP(S) GET of ``url``."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise ValueError(f"Only http:// and https:// URLs are fetched, got {url!r}.")
    request = urllib.request.Request(url, headers={"User-Agent": "sklearn-mtl"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise OSError(f"Could not download {url}: {exc}") from exc


def _gzip_like_stored(content, name):
    """Gzip ``content`` the way the stored ``*.gz`` files were made.

    Level 9, mtime 0 and the original file name in the header make the result
    byte-identical to the stored file (with the zlib that Python ships).
    """
    buffer = io.BytesIO()
    with gzip.GzipFile(
        filename=name, mode="wb", fileobj=buffer, compresslevel=9, mtime=0
    ) as fh:
        fh.write(content)
    return buffer.getvalue()


def _fetch_upstream(data_file):
    """Fetch a file from its pinned upstream repository; return (bytes, url)."""
    up = data_file.upstream
    url = "/".join(
        [GITHUB_RAW_URL.rstrip("/"), up.repo, up.commit, urllib.parse.quote(up.path)]
    )
    content = _fetch(url)
    actual = _git_blob_sha1(content)
    if actual != up.git_blob:
        raise ValueError(
            f"Checksum mismatch for {url}: expected git blob sha1 {up.git_blob}, "
            f"got {actual}. Nothing was written."
        )
    if data_file.filename.endswith(".gz") and not up.path.endswith(".gz"):
        content = _gzip_like_stored(content, PurePosixPath(up.path).name)
    return content, url


def _write_atomically(path, content):
    """Write ``content`` to ``path`` through a temporary file in the same folder."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download_dataset(name, data_home=None, base_url=None):
    """Download the files of a real data set into the data home and verify them.

    Files already present with the right sha256 are kept. Every downloaded file
    is checked against the sha256 built into this package *before* it is
    written, so a failed or corrupt download leaves nothing behind (writes go
    through a temporary file that is renamed into place).

    Parameters
    ----------
    name : str
        The data set: ``"california_housing"``, ``"parkinsons_telemonitoring"``,
        ``"school"``, ``"wine_quality"`` or a Mulan set (see
        :func:`load_mulan`).
    data_home : str or path-like, default=None
        Where to put the files (in ``data_home / name``); see
        :func:`get_data_home`. Created if needed.
    base_url : str, default=None
        Where to download from. When None, each file comes from the public
        GitHub repository and commit named in the data set's README
        (``https://raw.githubusercontent.com/<repo>/<commit>/<path>``); that
        content is also checked against the README's git blob SHA-1, and the
        files stored gzip-compressed are compressed locally. Otherwise, a
        mirror laid out like the data home: ``<base_url>/<name>/<filename>``
        is fetched as is. Only ``http://`` and ``https://`` URLs are used.

    Returns
    -------
    paths : list of pathlib.Path
        The verified files of the data set in the data home.

    Raises
    ------
    ValueError
        For an unknown ``name``, or when a downloaded file has the wrong
        checksum (the message names the file and both hashes).
    OSError
        When a file cannot be downloaded (the message names the URL).

    Examples
    --------
    >>> from sklearn_mtl.datasets import download_dataset
    >>> download_dataset("school")  # doctest: +SKIP
    [PosixPath('/home/me/sklearn_mtl_data/school/school.mat')]
    """
    from ._files import _DATASET_FILES

    if name not in _DATASET_FILES:
        raise ValueError(
            f"Unknown data set {name!r}; valid names are: "
            f"{', '.join(sorted(_DATASET_FILES))}."
        )
    if base_url is not None and urllib.parse.urlsplit(base_url).scheme not in (
        "http",
        "https",
    ):
        raise ValueError(
            f"base_url must be an http:// or https:// URL, got {base_url!r}."
        )
    folder = get_data_home(data_home) / name
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for data_file in _DATASET_FILES[name]:
        dest = folder / data_file.filename
        if dest.is_file() and _sha256(dest.read_bytes()) == data_file.sha256:
            paths.append(dest)
            continue
        if base_url is None:
            content, url = _fetch_upstream(data_file)
        else:
            url = "/".join(
                [
                    base_url.rstrip("/"),
                    urllib.parse.quote(name),
                    urllib.parse.quote(data_file.filename),
                ]
            )
            content = _fetch(url)
        actual = _sha256(content)
        if actual != data_file.sha256:
            raise ValueError(
                f"Checksum mismatch for {data_file.filename} downloaded from {url}: "
                f"expected sha256 {data_file.sha256}, got {actual}. Nothing was "
                f"written to {dest}."
            )
        _write_atomically(dest, content)
        paths.append(dest)
    return paths
