"""The model file: a zip archive of JSON configs and safetensors weights.

One model is two members in a folder of the archive: ``model.json`` (format
header, class, hyperparameters, fitted attributes, training state that is not
a tensor, history) and ``weights.safetensors`` (every tensor and numeric
array). A nested model (a transfer source) lives in a subfolder, e.g.
``source/model.json``. Nothing is unpickled and nothing is extracted to disk.
"""

import json
import os
import zipfile
import zlib

import safetensors.torch
import sklearn
import skorch
import torch
from safetensors import SafetensorError

from ._errors import ModelFileError

__all__ = [
    "CONFIG",
    "FORMAT_VERSION",
    "MAX_NESTING",
    "WEIGHTS",
    "ModelArchive",
    "config_bytes",
    "header",
    "weights_bytes",
    "write_archive",
]

FORMAT = "sklearn-mtl-model"
# 1: first version. Raise it when a file of the new layout cannot be read by
# the previous reader; keep reading every older version.
FORMAT_VERSION = 1
CONFIG = "model.json"
# how deep models may nest in one archive (a source of a source of ...)
MAX_NESTING = 8
WEIGHTS = "weights.safetensors"
# a config is small (the history is the largest part); the cap stops a
# crafted member from inflating without bound
MAX_CONFIG_BYTES = 256 * 2**20
# fixed timestamps: the same model gives the same bytes
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_ERRORS = (zipfile.BadZipFile, EOFError, OSError, zlib.error, RuntimeError)


def header():
    """Return the format fields every ``model.json`` starts with."""
    from .. import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "written_by": {
            "sklearn-mtl": __version__,
            "scikit-learn": sklearn.__version__,
            "skorch": skorch.__version__,
            "torch": torch.__version__,
        },
    }


def config_bytes(config):
    """Serialise a config as standard JSON (no NaN literals)."""
    return json.dumps(config, allow_nan=False, indent=1).encode("utf-8")


def weights_bytes(tensors):
    """Serialise tensors as safetensors."""
    return safetensors.torch.save(tensors, metadata={"format": FORMAT})


def write_archive(file, members):
    """Write ``members`` (name -> bytes) as a zip archive to a path or binary file.

    A path is written through a temporary file in the same folder, then
    renamed: an interrupted save leaves an earlier file at ``path`` intact.
    """
    if hasattr(file, "write"):
        _write(file, members)
        return
    path = os.fspath(file)
    partial = f"{path}.{os.getpid()}.partial"
    try:
        with open(partial, "wb") as f:
            _write(f, members)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _write(f, members):
    with zipfile.ZipFile(f, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            # weights are stored as they are, so loading never inflates them
            stored = name.endswith(WEIGHTS)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


class ModelArchive:
    """Read the members of a model file, checking each as it is read.

    Parameters
    ----------
    file : str, path-like or binary file object
        The model file.
    """

    def __init__(self, file):
        path = file if isinstance(file, (str, os.PathLike)) else None
        path = getattr(file, "name", None) if path is None else path
        self.name = "The file" if path is None else f"The file {os.fspath(path)!r}"
        try:
            self._zip = zipfile.ZipFile(file)
        except zipfile.BadZipFile as exc:
            raise ModelFileError(
                f"{self.name} is not a model file written by sklearn_mtl.save (those "
                f"are zip archives), or it is truncated or damaged: {exc}."
            ) from exc

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._zip.close()

    def read_config(self, folder):
        """Return the parsed ``model.json`` of ``folder``, its header checked."""
        info = self._info(folder + CONFIG)
        data = self._read(info, MAX_CONFIG_BYTES)
        try:
            config = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ModelFileError(
                f"{self.name}: {info.filename} is not valid JSON; the file is "
                f"damaged or not a model written by sklearn_mtl.save ({exc})."
            ) from exc
        self._check_header(config, info.filename)
        return config

    def read_weights(self, folder):
        """Return the tensors of ``weights.safetensors`` in ``folder``, on the CPU."""
        info = self._info(folder + WEIGHTS)
        if info.compress_type != zipfile.ZIP_STORED:
            raise ModelFileError(
                f"{self.name}: {info.filename} is compressed; sklearn_mtl.save stores "
                "it uncompressed and load does not inflate it (a guard against "
                "zip bombs). Was the file repacked?"
            )
        data = self._read(info)
        try:
            return safetensors.torch.load(data)
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise ModelFileError(
                f"{self.name}: {info.filename} is not a valid safetensors file; the "
                f"file was altered or is damaged ({exc})."
            ) from exc

    def _info(self, name):
        try:
            return self._zip.getinfo(name)
        except KeyError:
            raise ModelFileError(
                f"{self.name} has no {name}: it is not a model file written by "
                "sklearn_mtl.save, or it is incomplete."
            ) from None

    def _read(self, info, limit=None):
        try:
            with self._zip.open(info) as member:
                data = member.read() if limit is None else member.read(limit + 1)
        except ZIP_ERRORS as exc:
            raise ModelFileError(
                f"{self.name}: {info.filename} cannot be read; the file is damaged "
                f"({exc})."
            ) from exc
        if limit is not None and len(data) > limit:
            raise ModelFileError(
                f"{self.name}: {info.filename} is larger than {limit} bytes; it is "
                "not a model config written by sklearn_mtl.save."
            )
        return data

    def _check_header(self, config, member):
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise ModelFileError(
                f"{self.name} is not a model file written by sklearn_mtl.save: "
                f"{member} does not say 'format': {FORMAT!r}."
            )
        version = config.get("format_version")
        if type(version) is not int or version < 1:
            raise ModelFileError(
                f"{self.name}: {member} has an invalid format_version {version!r}."
            )
        if version > FORMAT_VERSION:
            from .. import __version__

            raise ModelFileError(
                f"{self.name} was written by a newer sklearn-mtl (model file format "
                f"{version}); sklearn-mtl {__version__} reads formats up to "
                f"{FORMAT_VERSION}. Upgrade sklearn-mtl (pip install --upgrade "
                "sklearn-mtl) to load it."
            )
