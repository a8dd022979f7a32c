"""Frozen copies of a fitted module for prediction, one per precision.

``predict`` never runs the training module itself: switching a shared
module between train and eval mode is not safe while other threads predict,
and a float64 prediction needs a float64 copy of the weights. A copy in eval
mode is made once per module and precision and reused until the module's
parameters or buffers change (torch counts in-place changes of a tensor in
its ``_version``), so repeated calls cost no copy and threads share it
read-only. A change made through a tensor's ``.data`` bypasses that count;
change weights under ``torch.no_grad()`` (or with ``load_state_dict``).
"""

import copy
import threading
import weakref
from itertools import chain

__all__ = ["inference_module"]

_COPIES = weakref.WeakKeyDictionary()  # module -> {dtype: (version key, copy)}
_LOCK = threading.Lock()


def _version_key(module):
    return tuple(
        (id(tensor), tensor._version)
        for tensor in chain(module.parameters(), module.buffers())
    )


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
    key = _version_key(module)
    with _LOCK:
        cached = _COPIES.get(module, {}).get(dtype)
    if cached is not None and cached[0] == key:
        return cached[1]
    frozen = copy.deepcopy(module).to(dtype).eval().requires_grad_(False)
    with _LOCK:
        _COPIES.setdefault(module, {})[dtype] = (key, frozen)
    return frozen
