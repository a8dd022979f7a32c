"""Frozen copies of a fitted module for prediction, one per precision.

``predict`` never runs the training module itself: switching a shared
module between train and eval mode is not safe while other threads predict,
and a float64 prediction needs a float64 copy of the weights. A copy in eval
mode is made once per module and precision and reused until the module's
parameters or buffers change (torch counts in-place changes of a tensor in
its ``_version``), so repeated calls cost no copy and threads share it
read-only. A change made through a tensor's ``.data`` bypasses that count;
change weights under ``torch.no_grad()`` (or with ``load_state_dict``).

The check runs on every ``predict``, so it reads each submodule's own
tensors and children from a list of the submodules kept with the copy
instead of walking the tree with ``module.parameters()`` (a few µs
against about 11 on a two-layer network): a tensor or child replaced
anywhere in the tree changes an identity in its parent's entry, and the
copy and the list are made again.
"""

import copy
import threading
import weakref

__all__ = ["inference_module"]

# module -> {dtype: (its submodules, version key, tensors kept alive, copy)};
# the submodules leave out the module itself, which would keep its entry alive
_COPIES = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _version_key(module, submodules):
    """Identity and in-place version of every tensor, identity of every child."""
    key = []
    for sub in (module, *submodules):
        for tensors in (sub._parameters, sub._buffers):
            for tensor in tensors.values():
                key.append(id(tensor))  # the tensors are kept alive: ids stay unique
                if tensor is not None:
                    key.append(tensor._version)
        key.extend(map(id, sub._modules.values()))
    return key


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
    with _LOCK:
        cached = _COPIES.get(module, {}).get(dtype)
    if cached is not None and cached[1] == _version_key(module, cached[0]):
        return cached[3]
    submodules = tuple(module.modules())[1:]
    key = _version_key(module, submodules)
    tensors = (*module.parameters(), *module.buffers())
    frozen = copy.deepcopy(module).to(dtype).eval().requires_grad_(False)
    with _LOCK:
        _COPIES.setdefault(module, {})[dtype] = (submodules, key, tensors, frozen)
    return frozen
