"""Frozen copies of a fitted module for prediction, one per precision.

``predict`` never runs the training module itself: switching a shared
module between train and eval mode is not safe while other threads predict,
and a float64 prediction needs a float64 copy of the weights. A copy in eval
mode is made once per module and precision and reused until the module's
parameters or buffers change (torch counts in-place changes of a tensor in
its ``_version``), so repeated calls cost no copy and threads share it
read-only. A change made through a tensor's ``.data`` bypasses that count;
change weights under ``torch.no_grad()`` (or with ``load_state_dict``).

The check runs on every ``predict``, so it reads the tree's parameter,
buffer and child dictionaries from a list kept with the copy, in one flat
pass, instead of walking the tree with ``module.parameters()`` (about 1.5 µs
against 11 on a two-layer network): a tensor or child replaced or added
anywhere in the tree changes the identities read from its parent's
dictionaries, and the copy and the list are made again.

Calling a module costs about 2 µs of hook checks and dispatch in
``Module.__call__``, more than a small network's arithmetic on a few rows
(11 of 16 µs for one row through a 16-unit trunk). Where the copy is this
package's default network, a :class:`MultiTaskModule` of ``nn.Sequential``
layers torch runs as plain functions (``Linear``, ``ReLU``, ``Tanh``,
``Sigmoid``, ``GELU``, ``Identity``, ``Dropout`` in eval mode) and linear
heads, :func:`inference_forward` calls those functions on the copy's tensors
directly: the same calls ``forward`` makes, without the module calls around
them. Anything else, a 3-D input, a hook on any module, or a module compiled
with ``Module.compile``, runs through the module itself. ``predict``'s
target scale (and, in float64, mean) are folded into the heads' weights
(:meth:`_DirectForward.in_target_units`), so the output comes out of the
last layer as float64 in the units of y, with no pass over it afterwards.
"""

import copy
import threading
import weakref

import torch
import torch.nn.functional as F
from torch import nn

from .modules import MultiTaskModule, TaskHeadsModule

__all__ = ["inference_forward", "inference_module"]

# the layers whose forward in eval mode is one torch function of the input
_FUNCTIONS = {nn.ReLU: torch.relu, nn.Tanh: torch.tanh, nn.Sigmoid: torch.sigmoid}
_HOOKS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_compiled_call_impl",  # set by Module.compile
)
# a hook registered for every module (torch.nn.modules.module's); where a torch
# release lacks the test, every call takes the module
_global_hooks = getattr(torch.nn.modules.module, "_has_any_global_hook", lambda: True)

# module -> {dtype: (the tree's dictionaries, its tensors, its submodules,
# version key, copy, the copy's forward)}; the submodules leave out the module
# itself, which would keep its entry alive
_COPIES = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _tree(module):
    """Return the tree's dictionaries, their tensors, and the submodules.

    The dictionaries are each module's ``_parameters``, ``_buffers`` and
    ``_modules``.
    """
    modules = tuple(module.modules())
    dicts = tuple(
        d for sub in modules for d in (sub._parameters, sub._buffers, sub._modules)
    )
    tensors = tuple(
        tensor
        for sub in modules
        for d in (sub._parameters, sub._buffers)
        for tensor in d.values()
        if tensor is not None
    )
    return dicts, tensors, modules[1:]


def _version_key(dicts, tensors):
    """Identity of every entry of ``dicts``, in-place version of each tensor.

    The entry keeps the tensors and submodules it was made from alive, so an
    object replaced in a dictionary cannot hand its id to its replacement.
    """
    return [id(value) for d in dicts for value in d.values()], [
        tensor._version for tensor in tensors
    ]


def inference_module(module, dtype):
    """Return an eval-mode copy of ``module`` in ``dtype``, made once and reused.

    Parameters
    ----------
    module : torch.nn.Module
        The fitted module; never modified.
    dtype : torch.dtype
        Precision of the copy.

    Returns
    -------
    module : torch.nn.Module
        A copy in eval mode with gradients off. It must not be modified.
    """
    return _cached(module, dtype)[4]


def inference_forward(module, dtype):
    """Return a callable that runs :func:`inference_module`'s copy on a batch.

    The copy's layers called as torch functions where the copy is this
    package's default network (see the module's docstring), else the copy.
    It must not be modified.
    """
    return _cached(module, dtype)[5]


def _cached(module, dtype):
    with _LOCK:
        cached = _COPIES.get(module, {}).get(dtype)
    if cached is not None and cached[3] == _version_key(*cached[:2]):
        return cached
    tree = _tree(module)
    key = _version_key(*tree[:2])
    frozen = copy.deepcopy(module).to(dtype).eval().requires_grad_(False)
    calls = _calls(frozen) if not any(map(_has_hooks, frozen.modules())) else None
    forward = (
        frozen if calls is None else _DirectForward(frozen, calls, frozen.heads.output)
    )
    entry = (*tree, key, frozen, forward)
    with _LOCK:
        _COPIES.setdefault(module, {})[dtype] = entry
    return entry


def _has_hooks(layer):
    return any(getattr(layer, name, None) for name in _HOOKS)


def _calls(layer):
    """``layer``'s eval-mode forward of a 2-D batch as torch calls, or None."""
    kind = type(layer)
    if kind is nn.Linear:
        return [_linear(layer.weight, layer.bias)]
    if kind in _FUNCTIONS:
        return [_FUNCTIONS[kind]]
    if kind is nn.GELU:
        return [lambda x, a=layer.approximate: F.gelu(x, approximate=a)]
    if kind is nn.Identity or isinstance(layer, nn.Dropout):
        return []  # in eval mode the input itself (nn.Dropout and SeededDropout)
    if kind is nn.Sequential:
        parts = [_calls(child) for child in layer]
        return None if None in parts else [call for part in parts for call in part]
    if kind is MultiTaskModule:
        trunk, heads = _calls(layer.trunk), _calls(layer.heads)
        return None if trunk is None or heads is None else trunk + heads
    if kind is TaskHeadsModule and layer.output_tasks is None:
        return None if layer.output is None else _calls(layer.output)
    return None


def _linear(weight, bias):
    """Return ``F.linear`` with these weights, as a function of the input."""
    return lambda x: F.linear(x, weight, bias)


def _shifted(call, shift):
    """Return ``call`` followed by adding ``shift`` (in the wider precision)."""
    return lambda x: torch.add(call(x), shift)


class _DirectForward:
    """A frozen copy's forward as its layers' torch calls (see the module).

    Its last call is the heads' linear layer, ``head``. Every call returns a
    new tensor (``returns_new``) that nothing else holds, and records no
    autograd graph (``records_no_graph``).
    """

    training = False  # as the copy: eval_in_chunks never switches it
    returns_new = True
    # the copy's tensors need no gradient, so no autograd graph is recorded
    # without torch.inference_mode; eval_in_chunks leaves it out (about 1 µs)
    records_no_graph = True

    def __init__(self, module, calls, head, fallback=None):
        self.module, self.calls, self.head = module, tuple(calls), head
        self.fallback = module if fallback is None else fallback
        self._in_units = None  # (scale, shift, forward) of in_target_units

    def __call__(self, x):
        if x.dim() != 2 or _global_hooks():
            return self.fallback(x)
        for call in self.calls:
            x = call(x)
        return x

    def in_target_units(self, scale, shift):
        """Return this forward giving float64 ``output * scale + shift``.

        ``scale`` and ``shift`` are float64 ndarrays with one value per
        output, told apart by identity (the estimator replaces its arrays,
        never changes them in place); the forward is made once per pair and
        kept until the next. The scale is folded into the heads' layer (its
        weights and bias times ``scale``), and so is the shift in a float64
        copy; a float32 copy adds the shift in float64 as the output becomes
        float64, so a large mean keeps float64's resolution. Each output
        then differs from the product and sum after the layer by a rounding
        of the copy's precision (relative 1e-16 in float64, 1e-7 in
        float32). None where the heads have another number of outputs.
        """
        cached = self._in_units
        if cached is not None and cached[0] is scale and cached[1] is shift:
            return cached[2]
        weight, bias = self.head.weight, self.head.bias
        if len(scale) != len(weight):
            return None
        scale_ = torch.as_tensor(scale, dtype=torch.float64, device=weight.device)
        shift_ = torch.as_tensor(shift, dtype=torch.float64, device=weight.device)
        if weight.dtype == torch.float64:
            bias = shift_ if bias is None else bias * scale_ + shift_
            units = _linear(weight * scale_[:, None], bias)
        else:
            dtype = weight.dtype
            weight = (weight.double() * scale_[:, None]).to(dtype)
            bias = None if bias is None else (bias.double() * scale_).to(dtype)
            units = _shifted(_linear(weight, bias), shift_)
        forward = _DirectForward(
            self.module,
            (*self.calls[:-1], units),
            None,
            fallback=lambda x: self.module(x).mul(scale_).add_(shift_),
        )
        self._in_units = (scale, shift, forward)
        return forward
