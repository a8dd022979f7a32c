#!/usr/bin/env bash
# Set-up and entry points. Needs only python3 (>= 3.10) with pip and venv.
#   ./run.sh demo    multi-task vs one model per task on synthetic data with missing labels
#   ./run.sh test    the full test suite (what CI runs)
set -euo pipefail
cd "$(dirname "$0")"
VENV=${SKLEARN_MTL_VENV:-.venv}

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".$1"
}

case "${1:-}" in
    demo)
        ensure_venv ""
        "$VENV/bin/python" examples/demo_multitask_vs_independent.py "${@:2}"
        ;;
    test)
        ensure_venv "[test,docs]"
        export SKLEARN_MTL_DATA=${SKLEARN_MTL_DATA:-$(cd .. && pwd)/shared/datasets}
        "$VENV/bin/python" -m pytest "${@:2}"
        ;;
    *)
        echo "usage: ./run.sh {demo|test} [args...]" >&2
        exit 2
        ;;
esac
