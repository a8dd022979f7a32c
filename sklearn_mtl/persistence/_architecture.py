"""Check the network a config describes against its weights, allocating nothing.

The estimator's own ``_make_net`` builds the net on PyTorch's ``meta``
device, where tensors have shapes and dtypes but no memory. Its module's
parameters and buffers must be the tensors the weights file's header lists
(names, shapes, dtypes), and everything else it would allocate must stay
within the size of the weights, so a file claiming a huge network is refused
before the network is built for real. A custom trunk is built there too,
from the trusted class and its saved arguments; the width of its output is
read from the heads' weights in the header, as a trunk's ``forward`` may not
run on the meta device.
"""

import copy
import dataclasses
from contextlib import contextmanager

import torch

from .._base import check_layer_sizes
from .._trunk import build_trunk
from ._errors import ModelFileError
from ._limits import SAFETENSORS_DTYPES

__all__ = ["check_architecture"]

# bytes a described net may allocate beyond twice its weights (the task
# statistics and weighting state, a few floats per task)
ALLOCATION_ALLOWANCE = 2**20
TORCH_DTYPES = {
    getattr(torch, name): code
    for name, code in (
        ("bool", "BOOL"),
        ("uint8", "U8"),
        ("int8", "I8"),
        ("int16", "I16"),
        ("int32", "I32"),
        ("int64", "I64"),
        ("float16", "F16"),
        ("bfloat16", "BF16"),
        ("float32", "F32"),
        ("float64", "F64"),
    )
}


def check_architecture(estimator, saved_net, header):
    """Raise unless the net ``estimator`` builds matches the weights' header.

    Parameters
    ----------
    estimator : MultiTaskRegressor or TransferEstimator
        With its hyperparameters and fitted attributes set and checked.
    saved_net : dict
        The ``net`` entry of the config (its module state names the tensors).
    header : dict of str to TensorInfo
        The weights file's header.
    """
    layers = len(check_layer_sizes(estimator.head_layer_sizes, "head_layer_sizes"))
    if _builds_mlp(estimator):  # the trunk is built here too
        hidden = check_layer_sizes(estimator.hidden_layer_sizes, "hidden_layer_sizes")
        layers += len(hidden)
    if layers > len(header):
        raise ModelFileError(
            f"The config describes {layers} layers; the weights file holds only "
            f"{len(header)} tensors."
        )
    saved = _module_refs(saved_net)
    net = _meta_net(estimator, _head_width(estimator, saved, header))
    expected = net.module_.state_dict()
    missing, extra = set(expected) - set(saved), set(saved) - set(expected)
    if missing or extra:
        raise ModelFileError(
            "net.module: the saved tensors do not match the network the "
            f"hyperparameters build (missing {sorted(missing)[:5]}, unexpected "
            f"{sorted(extra)[:5]})."
        )
    for name, tensor in expected.items():
        info = header.get(saved[name]) if isinstance(saved[name], str) else None
        if info is None:
            continue  # the decoder reports a reference to a missing tensor
        want = (tuple(tensor.shape), TORCH_DTYPES.get(tensor.dtype))
        if (info.shape, info.dtype) != want:
            raise ModelFileError(
                f"net.module.{name} has shape {list(info.shape)} and dtype "
                f"{info.dtype} in the weights file, but the network the "
                f"hyperparameters build needs {list(want[0])} and {want[1]}; the "
                "file was altered or is damaged."
            )
    budget = 2 * sum(info.nbytes for info in header.values()) + ALLOCATION_ALLOWANCE
    needed = _allocated_bytes(net)
    if needed > budget:
        raise ModelFileError(
            f"The network the config describes needs {needed} bytes, more than its "
            f"weights file can fill ({budget}); the file was altered."
        )


def _builds_mlp(estimator):
    return getattr(estimator, "_source", None) is None and not estimator._custom_trunk()


def _head_width(estimator, saved, header):
    """Return the trunk output width the heads read, for a custom trunk (else None).

    A custom trunk's width is found by running it, which its code may not
    support on the meta device; the heads' first weight holds the width, so
    it is read from the weights file's header instead. The real build that
    follows runs the trunk and must produce this width.
    """
    if getattr(estimator, "_source", None) is not None or not estimator._custom_trunk():
        return None
    for name in ("heads.output.weight", "heads.weights.0"):
        info = header.get(saved.get(name)) if isinstance(saved.get(name), str) else None
        if info is not None and len(info.shape) >= 2:
            return info.shape[1]
    raise ModelFileError(
        "The weights file holds no head weight to read the trunk's output width "
        "from; the file was altered or is damaged."
    )


def _module_refs(saved_net):
    """Return ``{parameter name: tensor name}`` of the saved module state."""
    try:
        state = saved_net["modules"]["module"]["__module_state__"]
        return {
            name: ref["__tensor__"] if isinstance(ref, dict) else None
            for name, ref in state.items()
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise ModelFileError(
            "The config's net holds no module state (net.modules.module)."
        ) from exc


@contextmanager
def _meta_source(estimator):
    """Give a TransferEstimator a source trunk on the meta device meanwhile."""
    source = getattr(estimator, "_source", None)
    if source is None:
        yield
        return
    trunk = source.trunk
    memo = {
        id(t): torch.nn.Parameter(
            torch.empty_like(t, device="meta"), requires_grad=t.requires_grad
        )
        if isinstance(t, torch.nn.Parameter)
        else torch.empty_like(t, device="meta")
        for t in (*trunk.parameters(), *trunk.buffers())
    }
    estimator._source = dataclasses.replace(source, trunk=copy.deepcopy(trunk, memo))
    try:
        yield
    finally:
        estimator._source = source


@contextmanager
def _trunk_width(estimator, width):
    """Have a custom trunk report ``width`` instead of running it, meanwhile."""
    if width is None:
        yield
        return

    def user_trunk(example):
        return build_trunk(estimator.trunk, estimator._trunk_params()), width

    estimator._user_trunk = user_trunk  # shadows the method on this instance
    try:
        yield
    finally:
        del estimator._user_trunk


def _meta_net(estimator, width=None):
    """Build ``estimator``'s initialised net on the meta device.

    ``width`` is a custom trunk's output width (None: found as ``fit`` does).
    """
    n_features, n_tasks = estimator.n_features_in_, estimator.n_tasks_
    with (
        _meta_source(estimator),
        _trunk_width(estimator, width),
        torch.random.fork_rng(devices=[]),
        torch.device("meta"),
    ):
        net = estimator._make_net(n_features, n_tasks, 1, "meta", 0)
        net.initialize()
    return net


def _allocated_bytes(net):
    """Bytes of the tensors a net holds in its modules and stateful parts."""
    seen, total = set(), 0

    def add(tensor):
        nonlocal total
        if id(tensor) not in seen:
            seen.add(id(tensor))
            total += tensor.numel() * SAFETENSORS_DTYPES.get(
                TORCH_DTYPES.get(tensor.dtype), 8
            )

    for name in (*net._modules, *net._criteria):
        for tensor in getattr(net, f"{name}_").state_dict().values():
            add(tensor)
    for part in (net.task_weighting, getattr(net, "affinity_", None)):
        for value in vars(part).values() if part is not None else ():
            if torch.is_tensor(value):
                add(value)
    for value in getattr(net, "_task_stats", {}).values():
        add(value)
    return total
