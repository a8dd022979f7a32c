"""Functions shared by several test modules."""

import hashlib
import io
import os
import pickle
import subprocess
import sys

import torch

# run first in every script: the interpreter must not see a GPU
NO_CUDA_CHECK = "import torch\nassert not torch.cuda.is_available()\n"


def run_without_cuda(script):
    """Run ``script`` in a fresh interpreter that sees no GPU; fail on error."""
    result = subprocess.run(
        [sys.executable, "-c", NO_CUDA_CHECK + script],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result


def weights_hash(module):
    """SHA-256 of a torch module's state dict: names and raw tensor bytes."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def parameters_pickled_raw(obj):
    """Module parameters that ``pickle.dumps(obj)`` writes outside skorch's blob.

    skorch pickles a net's ``module_``, ``optimizer_`` and ``criterion_``
    into a blob that it loads with a device map, so a CUDA-trained net loads
    on a CPU-only machine. A parameter pickled anywhere else keeps its device
    and cannot be loaded there.
    """
    found = []

    class Finder(pickle.Pickler):
        def reducer_override(self, value):
            if isinstance(value, torch.nn.Parameter):
                found.append(tuple(value.shape))
            return NotImplemented

    Finder(io.BytesIO()).dump(obj)
    return found


class SmallCNN(torch.nn.Module):
    """A user's trunk for (n, 1, 8, 8) images: (n, channels * 9) features."""

    def __init__(self, channels=4, dropout=0.0):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Conv2d(1, channels, 3, stride=2),
            torch.nn.ReLU(),
            torch.nn.Dropout(dropout),
            torch.nn.Flatten(),
        )

    def forward(self, x):
        return self.layers(x)


class CodeEmbedding(torch.nn.Module):
    """A user's trunk: column 0 holds integer codes, the others are numeric."""

    def __init__(self, n_codes=10, dim=3):
        super().__init__()
        self.embedding = torch.nn.Embedding(n_codes, dim)

    def forward(self, x):
        return torch.cat([self.embedding(x[:, 0].long()), x[:, 1:]], dim=1)
