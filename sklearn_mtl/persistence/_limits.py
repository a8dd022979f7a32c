"""Bounds on what a model file may make ``load`` read, parse and allocate.

Every member of the archive is read in chunks while its bytes are counted,
so no limit is checked after the fact. JSON is parsed only once its size and
its number of items are known to be small enough, and its numbers must be
finite and fit in 64 bits. A safetensors header is parsed on its own (its
8-byte little-endian length, then JSON), before any tensor is built.
"""

import gc
import json
import math
import struct

from ._errors import ModelFileError

__all__ = [
    "CHUNK_BYTES",
    "MAX_CONFIG_BYTES",
    "MAX_INFLATION",
    "MAX_JSON_DEPTH",
    "MAX_MEMBERS",
    "MAX_MODELS",
    "SAFETENSORS_DTYPES",
    "TensorInfo",
    "check_member_size",
    "json_item_limit",
    "parse_json",
    "parse_safetensors_header",
]

CHUNK_BYTES = 2**20
# a config is small (the history is the largest part); the cap stops a
# crafted member from inflating without bound
MAX_CONFIG_BYTES = 256 * 2**20
# a deflated member may inflate to this many times its compressed size, plus
# INFLATION_ALLOWANCE (a saved config inflates 4 to 8 times; a zip bomb,
# about 1000 times)
MAX_INFLATION = 50
INFLATION_ALLOWANCE = 2**20
# JSON items (values, containers) allowed per compressed byte of a member,
# on top of JSON_ITEMS_ALLOWANCE: a saved config holds 0.1 to 0.3 items per
# compressed byte; a JSON bomb, hundreds
JSON_ITEMS_PER_BYTE = 2
JSON_ITEMS_ALLOWANCE = 2**19
# how deep JSON containers may nest (a saved config nests about 8 deep)
MAX_JSON_DEPTH = 64
# models in one file: a model, its source, the source's source, ...
MAX_MODELS = 64
# members of one archive: two per model, a few for a pipeline
MAX_MEMBERS = 2 * MAX_MODELS + 4
# what safetensors itself allows for a header
MAX_SAFETENSORS_HEADER = 100 * 2**20
# safetensors dtype name -> bytes per element, for the dtypes a model holds
SAFETENSORS_DTYPES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "I16": 2,
    "I32": 4,
    "I64": 8,
    "F16": 2,
    "BF16": 2,
    "F32": 4,
    "F64": 8,
}
INT64 = 2**63


def check_member_size(size, compressed_size, limit, name):
    """Raise unless ``size`` bytes inflated from ``compressed_size`` are allowed."""
    if limit is not None and size > limit:
        raise ModelFileError(
            f"{name} is larger than {limit} bytes; it is not a member written by "
            "sklearn_mtl.save."
        )
    if size > MAX_INFLATION * compressed_size + INFLATION_ALLOWANCE:
        raise ModelFileError(
            f"{name} inflates to more than {MAX_INFLATION} times its compressed "
            f"size ({compressed_size} bytes); files written by sklearn_mtl.save do "
            "not, zip bombs do."
        )


def json_item_limit(compressed_size):
    """Return how many JSON items a member of ``compressed_size`` bytes may hold."""
    return JSON_ITEMS_ALLOWANCE + JSON_ITEMS_PER_BYTE * compressed_size


def count_json_items(data):
    """Return an upper bound of the values and containers of the JSON ``data``."""
    return data.count(b",") + data.count(b"[") + data.count(b"{") + 1


def _reject_constant(name):
    raise ModelFileError(f"The JSON holds {name}, which standard JSON does not allow.")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ModelFileError(f"The JSON holds the number {text[:40]}, beyond float64.")
    return value


def _int64(text):
    if len(text) > 20:
        raise ModelFileError(f"The JSON holds an integer of {len(text)} digits.")
    value = int(text)
    if not -INT64 <= value < INT64:
        raise ModelFileError(f"The JSON holds the integer {value}, beyond 64 bits.")
    return value


def parse_json(data, max_items, what):
    """Parse JSON ``data`` (bytes) whose size and complexity are bounded.

    Parameters
    ----------
    data : bytes
        UTF-8 JSON.
    max_items : int
        Most values and containers the document may hold.
    what : str
        What the document is, for error messages.

    Returns
    -------
    value : object
        The parsed document: dicts, lists, str, finite float, 64-bit int,
        bool, None.

    Raises
    ------
    ModelFileError
        If the document is not valid JSON, holds too many items, nests too
        deep, or holds NaN, infinity or a number beyond 64 bits.
    """
    items = count_json_items(data)
    if items > max_items:
        raise ModelFileError(
            f"{what} holds about {items} JSON items, more than the {max_items} a "
            "file of this size written by sklearn_mtl.save may hold."
        )
    gc_was_enabled = gc.isenabled()
    gc.disable()  # parsing makes containers only: no cycles for the GC to find
    try:
        value = json.loads(
            data.decode("utf-8"),
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_int64,
        )
    except ModelFileError as exc:
        raise ModelFileError(f"{what}: {exc}") from exc
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(
            f"{what} is not valid JSON; the file is damaged or not a model written "
            f"by sklearn_mtl.save ({exc})."
        ) from exc
    finally:
        if gc_was_enabled:
            gc.enable()
    _check_depth(value, what)
    return value


def _check_depth(value, what):
    level, depth = [value] if isinstance(value, (dict, list)) else [], 1
    while level:
        if depth > MAX_JSON_DEPTH:
            raise ModelFileError(
                f"{what} nests JSON containers more than {MAX_JSON_DEPTH} deep (a "
                "guard against unbounded recursion)."
            )
        children = []
        for node in level:
            items = node.values() if isinstance(node, dict) else node
            children.extend(v for v in items if isinstance(v, (dict, list)))
        level, depth = children, depth + 1


class TensorInfo:
    """What a safetensors header says of one tensor: dtype name, shape, size."""

    def __init__(self, dtype, shape):
        self.dtype, self.shape = dtype, tuple(shape)
        self.numel = math.prod(self.shape)
        self.nbytes = self.numel * SAFETENSORS_DTYPES[dtype]

    def __repr__(self):
        return f"{self.dtype}{list(self.shape)}"


def parse_safetensors_header(data, what):
    """Return ``{name: TensorInfo}`` from the header of safetensors ``data``.

    Only the header is parsed; no tensor is built. The tensors must cover the
    data after the header exactly, in order, without gaps or overlaps.
    """
    if len(data) < 8:
        raise _not_safetensors(what, "it is too short")
    (length,) = struct.unpack("<Q", data[:8])
    if length > min(MAX_SAFETENSORS_HEADER, len(data) - 8):
        raise _not_safetensors(what, f"invalid header length {length}")
    try:
        header = parse_json(
            bytes(data[8 : 8 + length]), json_item_limit(length), "its header"
        )
    except ModelFileError as exc:
        raise _not_safetensors(what, str(exc)) from exc
    if not isinstance(header, dict):
        raise _not_safetensors(what, "its header is not a JSON object")
    header.pop("__metadata__", None)
    tensors, spans = {}, []
    for name, entry in header.items():
        if not (
            isinstance(entry, dict)
            and set(entry) == {"dtype", "shape", "data_offsets"}
            and entry["dtype"] in SAFETENSORS_DTYPES
            and isinstance(entry["shape"], list)
            and all(type(n) is int and n >= 0 for n in entry["shape"])
            and isinstance(entry["data_offsets"], list)
            and len(entry["data_offsets"]) == 2
            and all(type(n) is int and n >= 0 for n in entry["data_offsets"])
        ):
            raise _not_safetensors(
                what,
                f"the header entry of {name!r} is not one sklearn_mtl.save writes "
                "(a dtype of a model's tensors, a shape, data offsets)",
            )
        info = TensorInfo(entry["dtype"], entry["shape"])
        start, stop = entry["data_offsets"]
        if stop - start != info.nbytes:
            raise _not_safetensors(
                what,
                f"tensor {name!r} of shape {list(info.shape)} does not fill its "
                f"{stop - start} bytes",
            )
        tensors[name] = info
        spans.append((start, stop))
    position = 0
    for start, stop in sorted(spans):
        if start != position:
            raise _not_safetensors(what, "the tensors' data overlap or leave gaps")
        position = stop
    if position != len(data) - 8 - length:
        raise _not_safetensors(
            what,
            f"the tensors do not cover its data ({position} of "
            f"{len(data) - 8 - length} bytes)",
        )
    return tensors


def _not_safetensors(what, reason):
    return ModelFileError(
        f"{what} is not a valid safetensors file; the file was altered or is "
        f"damaged ({reason})."
    )
