"""The model file: a zip archive of JSON configs and safetensors weights.

One model is two members in a folder of the archive: ``model.json`` (format
header, class, hyperparameters, fitted attributes, training state that is not
a tensor, history) and ``weights.safetensors`` (every tensor and numeric
array). A nested model (a transfer source) lives in a subfolder, e.g.
``source/model.json``. Nothing is unpickled and nothing is extracted to disk.
"""

import json
import os
import struct
import zipfile
import zlib

import safetensors.torch
import sklearn
import skorch
import torch
from safetensors import SafetensorError

from ._errors import ModelFileError
from ._limits import (
    CHUNK_BYTES,
    MAX_CONFIG_BYTES,
    MAX_MEMBERS,
    check_member_size,
    json_item_limit,
    parse_json,
    parse_safetensors_header,
)

__all__ = [
    "CONFIG",
    "FORMAT_VERSION",
    "MAX_NESTING",
    "WEIGHTS",
    "ModelArchive",
    "config_bytes",
    "header",
    "pipeline_header",
    "weights_bytes",
    "write_archive",
]

FORMAT = "sklearn-mtl-model"
# a file holding a pipeline (see ``_pipeline``); its own format and version
PIPELINE_FORMAT = "sklearn-mtl-pipeline"
PIPELINE_FORMAT_VERSION = 1
# 1: first version. Raise it when a file of the new layout cannot be read by
# the previous reader; keep reading every older version.
FORMAT_VERSION = 1
CONFIG = "model.json"
# how deep models may nest in one archive (a source of a source of ...)
MAX_NESTING = 8
WEIGHTS = "weights.safetensors"
# fixed timestamps: the same model gives the same bytes
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# what zipfile raises for a damaged or crafted archive (NotImplementedError:
# an unknown zip version; ValueError: a negative seek of a file object)
ZIP_ERRORS = (
    zipfile.BadZipFile,
    EOFError,
    OSError,
    zlib.error,
    RuntimeError,
    NotImplementedError,
    ValueError,
    struct.error,
    UnicodeDecodeError,
    OverflowError,
)


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


def pipeline_header():
    """Return the format fields a ``pipeline.json`` starts with."""
    return {
        **header(),
        "format": PIPELINE_FORMAT,
        "format_version": PIPELINE_FORMAT_VERSION,
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

    Only members stored or deflated are read, each in chunks whose bytes are
    counted against the member's limits; a name may occur once.

    Parameters
    ----------
    file : str, path-like or binary file object
        The model file.
    """

    def __init__(self, file):
        path = file if isinstance(file, (str, bytes, os.PathLike)) else None
        path = getattr(file, "name", None) if path is None else path
        self.name = "The file" if path is None else f"The file {os.fsdecode(path)!r}"
        self._read_members = set()
        try:
            self._zip = zipfile.ZipFile(file)
        except ZIP_ERRORS as exc:
            raise ModelFileError(
                f"{self.name} is not a model file written by sklearn_mtl.save (those "
                f"are zip archives), or it is truncated or damaged: {exc}."
            ) from exc
        try:
            self._check_members()
        except ModelFileError:
            self._zip.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._zip.close()

    def _check_members(self):
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ModelFileError(
                f"{self.name} holds {len(infos)} members; a file written by "
                f"sklearn_mtl.save holds at most {MAX_MEMBERS}."
            )
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            twice = sorted({name for name in names if names.count(name) > 1})
            raise ModelFileError(
                f"{self.name} holds the members {twice[:5]} more than once; "
                "sklearn_mtl.save writes each once. The file was altered."
            )
        for info in infos:
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ModelFileError(
                    f"{self.name}: {info.filename} is compressed with method "
                    f"{info.compress_type}; load reads only stored or deflated "
                    "members (what sklearn_mtl.save writes)."
                )
            if info.flag_bits & 0x1:
                raise ModelFileError(f"{self.name}: {info.filename} is encrypted.")

    def has(self, name):
        """Return whether the archive holds the member ``name``."""
        return name in self._zip.NameToInfo

    def unread_members(self):
        """Return the names of the members no ``read_*`` call has read."""
        return sorted(set(self._zip.NameToInfo) - self._read_members)

    def read_config(self, folder):
        """Return the parsed ``model.json`` of ``folder``, its header checked."""
        config = self.read_json(folder + CONFIG)
        self._check_header(config, folder + CONFIG)
        return config

    def read_pipeline_config(self, name):
        """Return the parsed ``pipeline.json``, its header checked."""
        config = self.read_json(name)
        self._check_header(config, name, PIPELINE_FORMAT, PIPELINE_FORMAT_VERSION)
        return config

    def read_json(self, name):
        """Return the parsed JSON member ``name``, its size and items bounded."""
        info = self._info(name)
        data = self.read(name, MAX_CONFIG_BYTES)
        return parse_json(
            data, json_item_limit(info.compress_size), f"{self.name}: {name}"
        )

    def read_weights(self, folder):
        """Return the weights of ``folder``: ``(tensors, header)``, on the CPU.

        ``header`` maps each tensor's name to its :class:`TensorInfo`; it is
        parsed, and checked against the data, before any tensor is built.
        """
        name = folder + WEIGHTS
        info = self._info(name)
        if info.compress_type != zipfile.ZIP_STORED:
            raise ModelFileError(
                f"{self.name}: {name} is compressed; sklearn_mtl.save stores "
                "it uncompressed and load does not inflate it (a guard against "
                "zip bombs). Was the file repacked?"
            )
        data = self.read(name)
        what = f"{self.name}: {name}"
        header = parse_safetensors_header(data, what)
        try:
            tensors = safetensors.torch.load(data)
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise ModelFileError(
                f"{what} is not a valid safetensors file; the file was altered or "
                f"is damaged ({exc})."
            ) from exc
        return tensors, header

    def read(self, name, limit=None):
        """Return the bytes of member ``name``, read in counted chunks.

        Raises a ModelFileError as soon as more than ``limit`` bytes, or more
        than ``MAX_INFLATION`` times the compressed size, have come out.
        """
        info = self._info(name)
        self._read_members.add(name)
        what = f"{self.name}: {name}"
        check_member_size(info.file_size, info.compress_size, limit, what)
        chunks, size = [], 0
        try:
            with self._zip.open(info) as member:
                while chunk := member.read(CHUNK_BYTES):
                    size += len(chunk)
                    check_member_size(size, info.compress_size, limit, what)
                    chunks.append(chunk)
        except ZIP_ERRORS as exc:
            raise ModelFileError(
                f"{what} cannot be read; the file is damaged ({exc})."
            ) from exc
        return b"".join(chunks)

    def _info(self, name):
        try:
            return self._zip.getinfo(name)
        except KeyError:
            raise ModelFileError(
                f"{self.name} has no {name}: it is not a model file written by "
                "sklearn_mtl.save, or it is incomplete."
            ) from None

    def _check_header(self, config, member, fmt=FORMAT, newest=FORMAT_VERSION):
        if not isinstance(config, dict) or config.get("format") != fmt:
            raise ModelFileError(
                f"{self.name} is not a model file written by sklearn_mtl.save: "
                f"{member} does not say 'format': {fmt!r}."
            )
        version = config.get("format_version")
        if type(version) is not int or version < 1:
            raise ModelFileError(
                f"{self.name}: {member} has an invalid format_version {version!r}."
            )
        if version > newest:
            from .. import __version__

            raise ModelFileError(
                f"{self.name} was written by a newer sklearn-mtl (model file format "
                f"{version}); sklearn-mtl {__version__} reads formats up to "
                f"{newest}. Upgrade sklearn-mtl (pip install --upgrade "
                "sklearn-mtl) to load it."
            )
