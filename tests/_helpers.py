"""Functions shared by several test modules."""

import hashlib
import os
import subprocess
import sys

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
