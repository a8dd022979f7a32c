#!/usr/bin/env bash
# On a machine with a CUDA GPU: the `cuda` tests, then the speed benchmark on the GPU.
# Takes under 5 minutes. Needs torch with CUDA, scikit-learn, skorch, pytest and
# hypothesis importable by $PYTHON (default python3); the package is used from this
# checkout. Paste the printed table into benchmarks/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$PYTHON" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device visible to torch"
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PY
timeout 150 "$PYTHON" -m pytest -m cuda tests/test_cuda.py -v -p no:cacheprovider \
    -o addopts="" -W "ignore::DeprecationWarning"
timeout 140 "$PYTHON" benchmarks/bench_speed.py --device cuda --repeats 3 --skip-slow
