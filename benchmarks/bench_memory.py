"""Peak memory of ``MultiTaskRegressor.predict`` on 2,000,000 rows.

The estimator predicts in chunks of ``sklearn_mtl._base.PREDICT_CHUNK_ROWS``
rows (twice as many in float32), so its working memory should not grow with
the number of rows. This script measures it against a naive full-batch torch
forward of the same module on the same rows (the thing chunking avoids).

A ``MultiTaskRegressor`` (8 tasks, default 128-128 trunk) is fitted on a small
sample, then every method runs in a fresh process on the same
``rows x features`` float64 input, with one torch thread. Each process reports:

- ``RSS peak``: resident memory sampled every millisecond by a thread
  (psutil) during the call, minus the resident memory just before it;
- ``ru_maxrss``: the kernel's high-water mark for the process, minus the same
  baseline (it also covers the set-up, so it bounds the call from above);
- ``numpy peak``: ``tracemalloc``'s peak over the call, which sees numpy's
  allocations but not torch's.

Each is also given as *extra* memory: the peak minus the output array (the
input exists before the call and is in the baseline).

    python benchmarks/bench_memory.py                  # 2,000,000 x 32, 8 tasks
    python benchmarks/bench_memory.py --rows 200000    # a quick smoke run
    python benchmarks/bench_memory.py --output benchmarks/results/memory.md
"""

import argparse
import copy
import gc
import json
import os
import pickle
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc

import numpy as np
import psutil
import sklearn
import torch

from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl._base import PREDICT_CHUNK_ROWS

MIB = 2**20


def predict_float64(model, X):
    return model.predict(X)


def predict_float32(model, X):
    return model.set_params(predict_dtype="float32").predict(X)


def naive_forward(dtype):
    """A full-batch forward of the fitted module, unscaled like ``predict``."""

    def forward(model, X):
        module = model.net_.module_
        if dtype == torch.float64:
            module = copy.deepcopy(module).double()
        module.eval()
        with torch.inference_mode():
            Z = module(torch.as_tensor(X, dtype=dtype)).double().numpy()
        return Z * model._target_scale + model._target_mean

    return forward


METHODS = {
    "MultiTaskRegressor.predict (float64, default)": predict_float64,
    "MultiTaskRegressor.predict (predict_dtype='float32')": predict_float32,
    "naive full-batch forward, float64": naive_forward(torch.float64),
    "naive full-batch forward, float32": naive_forward(torch.float32),
}


class RssSampler:
    """Highest resident set size seen by a thread polling every ``interval`` s."""

    def __init__(self, interval=0.001):
        self.process = psutil.Process()
        self.interval = interval
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def measure(method, model_path, rows, features, seed):
    """Run one method on fresh input in this process; return its numbers."""
    torch.set_num_threads(1)
    with open(model_path, "rb") as f:
        model = pickle.load(f)
    X = np.random.default_rng(seed).standard_normal((rows, features))
    predict = METHODS[method]
    predict(model, X[:64])  # warm-up: one-off allocations are not per-row cost
    gc.collect()
    baseline = psutil.Process().memory_info().rss
    tracemalloc.start()
    start = time.perf_counter()
    with RssSampler() as sampler:
        out = predict(model, X)
    seconds = time.perf_counter() - start
    numpy_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB
    assert out.shape == (rows, model.n_tasks_) and np.isfinite(out).all()
    return {
        "method": method,
        "seconds": seconds,
        "input": X.nbytes,
        "output": out.nbytes,
        "rss_peak": sampler.peak - baseline,
        "maxrss": maxrss - baseline,
        "numpy_peak": numpy_peak,
    }


def fit_model(features, tasks, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((20_000, features))
    Y = X @ rng.standard_normal((features, tasks)) + 0.1 * rng.standard_normal(
        (20_000, tasks)
    )
    model = MultiTaskRegressor(
        max_epochs=3,
        alpha=1e-2,
        early_stopping=False,
        shrinkage=False,
        device="cpu",
        random_state=seed,
    )
    return model.fit(X, Y)


def run_all(args):
    torch.set_num_threads(1)
    model = fit_model(args.features, args.tasks, args.seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pkl")
        with open(path, "wb") as f:
            pickle.dump(model, f)
        for method in METHODS:
            command = [
                sys.executable,
                __file__,
                "--child",
                method,
                "--model",
                path,
                "--rows",
                str(args.rows),
                "--features",
                str(args.features),
                "--seed",
                str(args.seed),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(format_row(results[-1]), flush=True)
    return model, results


def format_row(r):
    mib = {k: r[k] / MIB for k in ("rss_peak", "maxrss", "numpy_peak", "output")}
    return (
        f"| {r['method']} | {r['seconds']:.2f} "
        f"| {mib['rss_peak']:.0f} | {mib['rss_peak'] - mib['output']:.0f} "
        f"| {mib['maxrss'] - mib['output']:.0f} "
        f"| {mib['numpy_peak']:.0f} | {mib['numpy_peak'] - mib['output']:.0f} |"
    )


def report(args, model, results):
    r0 = results[0]
    lines = [
        f"# Predict memory on {args.rows:,} rows: chunked vs full batch",
        "",
        "```bash",
        " ".join(["python", "benchmarks/bench_memory.py", *sys.argv[1:]]),
        "```",
        "",
        f"Input: {args.rows:,} x {args.features} float64 ({r0['input'] / MIB:.0f} "
        f"MiB); output: {args.rows:,} x {args.tasks} float64 "
        f"({r0['output'] / MIB:.0f} MiB). Model: `MultiTaskRegressor` with "
        f"hidden_layer_sizes={model.hidden_layer_sizes}, {model.n_tasks_} linear "
        f"heads, fitted for {model.n_iter_} epochs on 20,000 rows; predict "
        f"chunks of `PREDICT_CHUNK_ROWS` = {PREDICT_CHUNK_ROWS:,} rows in float64, "
        f"{2 * PREDICT_CHUNK_ROWS:,} in float32.",
        "",
        f"One torch thread; torch {torch.__version__}, scikit-learn "
        f"{sklearn.__version__}, numpy {np.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPU cores shared with "
        f"other jobs. `OPENBLAS_CORETYPE` was "
        f"**{os.environ.get('OPENBLAS_CORETYPE', 'unset')}**. Each method ran "
        "in a fresh process on the same input.",
        "",
        "Memory in MiB, measured from just before the call (the input is "
        "already resident). *Extra* is the peak minus the output array.",
        "",
        "| method | seconds | RSS peak | RSS extra | ru_maxrss extra "
        "| numpy peak | numpy extra |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(format_row(r) for r in results),
        "",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", help="write the Markdown table to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = measure(args.child, args.model, args.rows, args.features, args.seed)
        print(json.dumps(result))
        return
    model, results = run_all(args)
    text = report(args, model, results)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
