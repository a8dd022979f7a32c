"""Seeding torch's global generators for a fit, and restoring them after."""

import threading
from contextlib import contextmanager

import torch

__all__ = ["seeded_global_rng"]

# building a network draws its initial weights from torch's global generator:
# fits in several threads build one at a time, each from its own seed, and no
# fit reseeds or restores the global generator while another one builds
_GLOBAL_RNG_LOCK = threading.Lock()


@contextmanager
def seeded_global_rng(seed, devices, hold=False):
    """Seed torch's global generators with ``seed``; restore them afterwards.

    Like ``torch.random.fork_rng`` followed by ``torch.manual_seed``, but the
    seeding and the restoring happen under a lock, and with ``hold=True``
    the lock is held throughout (for drawing initial weights).
    """
    _GLOBAL_RNG_LOCK.acquire()
    try:
        cpu_state = torch.get_rng_state()
        cuda_states = [torch.cuda.get_rng_state(d) for d in devices]
        torch.manual_seed(seed)
    finally:
        if not hold:
            _GLOBAL_RNG_LOCK.release()
    try:
        yield
    finally:
        if not hold:
            _GLOBAL_RNG_LOCK.acquire()
        try:
            torch.set_rng_state(cpu_state)
            for device, state in zip(devices, cuda_states, strict=True):
                torch.cuda.set_rng_state(state, device)
        finally:
            _GLOBAL_RNG_LOCK.release()
