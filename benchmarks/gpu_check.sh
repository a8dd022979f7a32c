#!/usr/bin/env bash
# On a machine with a CUDA GPU: the `cuda` tests, then the speed benchmark on the GPU.
# Takes about 5 minutes. Needs torch with CUDA, scikit-learn, skorch, pytest and
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
# the benchmark runs even when a test fails; the script then exits with pytest's status
status=0
timeout 200 "$PYTHON" -m pytest -m cuda -v -p no:cacheprovider \
    tests/test_cuda.py tests/test_persistence.py tests/test_weighting.py \
    -o addopts="" -W "ignore::DeprecationWarning" || status=$?
timeout 200 "$PYTHON" benchmarks/bench_speed.py --device cuda --repeats 3 --skip-slow
exit "$status"
