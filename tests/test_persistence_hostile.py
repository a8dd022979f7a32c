"""Hostile model archives: each raises ModelFileError, quickly and in bounded memory.

The files are built here from valid ones: crafted zip archives, JSON and
nested models (tampered contents of well-formed files are in
``test_persistence_tampered.py``, which uses the helpers here). One child
process loads them all under an address-space limit and reports, per file,
the exception and the time taken; its peak resident memory bounds what any
of them could allocate.
"""

import bz2
import functools
import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import warnings
import zipfile
import zlib

import numpy as np
import pytest
import safetensors.torch

from sklearn_mtl import ModelFileError, MultiTaskRegressor, TransferEstimator, load
from sklearn_mtl import save as save_model
from sklearn_mtl.datasets import make_multitask_regression

KW = dict(hidden_layer_sizes=(8,), max_epochs=2, random_state=0, device="cpu")
CONFIG, WEIGHTS = "model.json", "weights.safetensors"
# what one hostile file may cost: seconds, and peak resident memory beyond a
# process that has loaded a valid model (MiB)
MAX_SECONDS = 10
MAX_EXTRA_RSS_MIB = 256
BUILDERS = {}


def hostile(name):
    """Register ``build(files) -> bytes`` as the hostile file ``name``."""

    def register(build):
        BUILDERS[name] = build
        return build

    return register


# ---- helpers ----------------------------------------------------------------
def members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_zip(contents, compression=None):
    """Zip ``contents`` (name -> bytes) the way save does, or with ``compression``."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names, on purpose
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in contents:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                stored = name.endswith(WEIGHTS)
                default = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                info.compress_type = (compression or {}).get(name, default)
                archive.writestr(info, data)
    return buffer.getvalue()


def replace(data, **changed):
    """The archive ``data`` with members replaced (``__`` in a name is ``/``)."""
    contents = members(data)
    contents.update({k.replace("__", "/"): v for k, v in changed.items()})
    return write_zip(contents.items())


def edit_config(data, edit, folder=""):
    contents = members(data)
    config = json.loads(contents[folder + CONFIG])
    edit(config)
    contents[folder + CONFIG] = json.dumps(config).encode()
    return write_zip(contents.items())


def edit_text(data, old, new, folder=""):
    contents = members(data)
    text = contents[folder + CONFIG].decode()
    assert old in text
    contents[folder + CONFIG] = text.replace(old, new, 1).encode()
    return write_zip(contents.items())


def edit_weights(data, edit, folder=""):
    contents = members(data)
    tensors = safetensors.torch.load(contents[folder + WEIGHTS])
    edit(tensors)
    contents[folder + WEIGHTS] = safetensors.torch.save(tensors)
    return write_zip(contents.items())


def setter(path, value):
    def edit(config):
        node = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def deleter(path):
    def edit(config):
        node = config
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return edit


def group(config):
    return config["net"]["optimizers"]["optimizer"]["__optimizer_state__"][
        "param_groups"
    ][0]


def random_bits_json(n_items, seed=0):
    """A JSON list of ``n_items`` random 0/1: little entropy, many items."""
    digits = np.random.default_rng(seed).integers(48, 50, n_items, dtype=np.uint8)
    text = np.full(2 * n_items, ord(","), dtype=np.uint8)
    text[0::2] = digits
    return b"[" + text[:-1].tobytes() + b"]"


# ---- archives ---------------------------------------------------------------
SPACES = b"{" + b" " * (64 << 20) + b"}"
# 64 MiB of JSON that parses into 22 million lists
LISTS = b"[" + b"[]," * (22 << 20) + b"[]]"


def _bzip2_block(data):
    """Return the bits of the one block bzip2 makes of ``data``, their count, CRC."""
    stream = bz2.compress(data, 9)
    bits, total = int.from_bytes(stream, "big"), 8 * len(stream)
    for pad in range(8):  # the stream ends: block, end magic, CRC, padding
        if (bits >> (pad + 32)) & (2**48 - 1) == BZIP2_END:
            length = total - pad - 32 - 80
            block = (bits >> (pad + 80)) & ((1 << length) - 1)
            return block, length, (bits >> pad) & 0xFFFFFFFF
    raise AssertionError("not a one-block bzip2 stream")


def bzip2_stream(parts):
    """One bzip2 stream of the blocks of ``parts`` (data, repeats), in order.

    Compressing each distinct block once makes a stream of any size fast.
    """
    value, length, combined = int.from_bytes(b"BZh9", "big"), 32, 0
    for data, repeats in parts:
        block, block_length, crc = _bzip2_block(data)
        for _ in range(repeats):
            value, length = (value << block_length) | block, length + block_length
            combined = (((combined << 1) | (combined >> 31)) & 0xFFFFFFFF) ^ crc
    value, length = (((value << 48) | BZIP2_END) << 32) | combined, length + 80
    pad = -length % 8
    return (value << pad).to_bytes((length + pad) // 8, "big")


def with_raw_member(contents, name, compressed, method, content):
    """Zip ``contents`` plus member ``name``: ``compressed`` bytes with ``method``.

    ``content`` lists the (data, repeats) the member inflates to, for its
    size and CRC.
    """
    stored = {name: zipfile.ZIP_STORED}
    data = bytearray(write_zip([*contents.items(), (name, compressed)], stored))
    crc, size = 0, 0
    for part, repeats in content:
        for _ in range(repeats):
            crc, size = zlib.crc32(part, crc), size + len(part)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        local = archive.getinfo(name).header_offset
    central = data.find(b"PK\x01\x02", data.rfind(compressed))
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central = data.find(b"PK\x01\x02", central + 4)
    for header, fields in ((local, 8), (central, 10)):  # method, time, date, CRC...
        struct.pack_into("<H", data, header + fields, method)
        struct.pack_into("<L", data, header + fields + 6, crc)
        struct.pack_into("<L", data, header + fields + 14, size)
    return bytes(data)


BZIP2_END = 0x177245385090
# 64 MB of JSON parsing into 21 million lists, as (data, repeats)
LIST_BLOCKS = [(b"[" + b"[]," * 249_999, 1), (b"[]," * 250_000, 84), (b"[]]", 1)]


@hostile("bzip2-member")
def _(files):
    contents = members(files["mtr"])
    del contents[CONFIG]
    stream = bzip2_stream(LIST_BLOCKS)
    return with_raw_member(contents, CONFIG, stream, zipfile.ZIP_BZIP2, LIST_BLOCKS)


@hostile("lzma-member")
def _(files):
    contents = {**members(files["mtr"]), CONFIG: LISTS}
    return write_zip(contents.items(), {CONFIG: zipfile.ZIP_LZMA})


@hostile("deflate-bomb")
def _(files):
    return replace(files["mtr"], **{CONFIG: SPACES})


@hostile("deflated-weights")
def _(files):
    contents = members(files["mtr"])
    return write_zip(contents.items(), {WEIGHTS: zipfile.ZIP_DEFLATED})


@hostile("duplicate-member")
def _(files):
    contents = members(files["mtr"])
    other = json.loads(contents[CONFIG])
    other["params"]["lr"] = 0.5
    return write_zip([*contents.items(), (CONFIG, json.dumps(other).encode())])


@hostile("unknown-zip-version")
def _(files):
    data = bytearray(files["mtr"])
    entry = data.find(b"PK\x01\x02")  # first central directory entry
    data[entry + 6] = 0xFF  # the version needed to extract
    return bytes(data)


@hostile("negative-member-offset")
def _(files):
    data = bytearray(files["mtr"])
    end = data.rfind(b"PK\x05\x06")  # end of central directory record
    (offset,) = struct.unpack_from("<L", data, end + 16)
    struct.pack_into("<L", data, end + 16, offset + 4096)  # claims more before
    return bytes(data)


@hostile("too-many-members")
def _(files):
    contents = members(files["mtr"])
    extra = [(f"extra{i}.txt", b"x") for i in range(300)]
    return write_zip([*contents.items(), *extra])


@hostile("unreferenced-member")
def _(files):
    return replace(files["mtr"], payload=b"anything")


# ---- JSON -------------------------------------------------------------------
@hostile("json-list-bomb")
def _(files):
    return replace(files["mtr"], **{CONFIG: LISTS})


@hostile("json-many-items")
def _(files):  # compresses only 10 times, yet holds 8 items per compressed byte
    return replace(files["mtr"], **{CONFIG: random_bits_json(3_000_000)})


@hostile("json-deep")
def _(files):
    return replace(files["mtr"], **{CONFIG: b"[" * 100_000 + b"]" * 100_000})


@hostile("json-huge-integer")
def _(files):
    return edit_config(files["mtr"], setter(["params", "alpha"], 10**4000))


@hostile("json-float-overflow")
def _(files):
    return edit_text(files["mtr"], '"tol": 0.0001', '"tol": 1e4000')


@hostile("json-nan-literal")
def _(files):
    return edit_config(files["mtr"], lambda c: group(c).update(lr=float("nan")))


# ---- nested models ----------------------------------------------------------
@hostile("nested-reference-bomb")
def _(files):
    """Each of 6 levels refers 8 times to the next: 8**6 rebuilds if unchecked.

    One reference is the source; the others are fitted attributes, which a
    model file could once set to nested models.
    """
    contents = members(files["transfer"])
    config = json.loads(contents[CONFIG])
    weights = contents[WEIGHTS]
    folders = ["", *("a/" * depth for depth in range(1, 7))]
    archive = []
    for folder, child in zip(folders, folders[1:], strict=False):
        config["params"]["source"] = {"__model__": child}
        for i in range(7):
            config["fitted"][f"copy{i}_"] = {"__model__": child}
        archive += [(folder + CONFIG, json.dumps(config).encode())]
        archive += [(folder + WEIGHTS, weights)]
    archive += [
        (folders[-1] + CONFIG, contents["source/" + CONFIG]),
        (folders[-1] + WEIGHTS, contents["source/" + WEIGHTS]),
    ]
    return write_zip(archive)


@hostile("nested-folder-referenced-twice")
def _(files):
    edit = setter(["params", "task_weighting"], [{"__model__": "source/"}] * 2)
    return edit_config(files["transfer"], edit)


@hostile("nested-model-outside-params")
def _(files):
    return edit_config(
        files["transfer"], setter(["fitted", "extra_"], {"__model__": "source/"})
    )


# ---- the test ------------------------------------------------------------------
CHILD = textwrap.dedent(
    """
    import json, resource, sys, time, warnings
    from sklearn_mtl import load

    warnings.simplefilter("ignore")
    folder, names = sys.argv[1], sys.argv[2:]
    load(f"{folder}/valid.mtl")  # imports and first-use allocations
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    address_space = pages * resource.getpagesize() + (2 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    for name in names:
        start = time.perf_counter()
        try:
            load(f"{folder}/{name}.mtl")
            outcome, chain, message = "loaded", [], ""
        except BaseException as exc:
            outcome, chain, cause = type(exc).__name__, [], exc.__cause__
            while cause is not None:
                chain.append(type(cause).__name__)
                cause = cause.__cause__
            message = str(exc)[:300]
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(dict(name=name, outcome=outcome, chain=chain,
                              message=message, seconds=seconds,
                              extra_rss_mib=(peak - baseline) / 1024)), flush=True)
    """
)


@pytest.fixture(scope="module")
def files():
    return build_files()


@functools.cache
def build_files():
    """Valid files: a MultiTaskRegressor, a TransferEstimator with its source."""
    X, Y = make_multitask_regression(
        n_samples=60, n_features=4, n_tasks=2, random_state=0
    )
    source = MultiTaskRegressor(**KW).fit(X, Y)
    transfer = TransferEstimator(source=source, strategy="lp_ft", **KW).fit(X, Y[:, 0])
    result = {}
    for name, model in (("mtr", source), ("transfer", transfer)):
        buffer = io.BytesIO()
        save_model(model, buffer)
        result[name] = buffer.getvalue()
    return result


def check_refused_in_bounded_memory(builders, files, tmp_path):
    """Load every file of ``builders`` in a child process; each must be refused."""
    (tmp_path / "valid.mtl").write_bytes(files["mtr"])
    for name, build in builders.items():
        (tmp_path / f"{name}.mtl").write_bytes(build(files))
    command = [sys.executable, "-c", CHILD, str(tmp_path), *builders]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["name"] for r in reports] == list(builders)
    for report in reports:
        assert report["outcome"] == "ModelFileError", report
        assert "MemoryError" not in report["chain"], report
        assert report["seconds"] < MAX_SECONDS, report
    # peak resident memory of the whole run, beyond the valid load's
    assert reports[-1]["extra_rss_mib"] < MAX_EXTRA_RSS_MIB, reports


def test_hostile_archives_are_refused_quickly_in_bounded_memory(files, tmp_path):
    check_refused_in_bounded_memory(BUILDERS, files, tmp_path)


def test_arguments_that_are_not_files_raise_type_error(tmp_path):
    for bad in (None, 42, [b"PK"], object()):
        with pytest.raises(TypeError, match="path or a binary file object"):
            load(bad)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.mtl")


def test_file_objects_with_crafted_offsets_raise_model_file_error(files):
    data = BUILDERS["negative-member-offset"](files)
    with pytest.raises(ModelFileError):
        load(io.BytesIO(data))
    with pytest.raises(ModelFileError):
        load(io.BytesIO(files["mtr"][:30]))
