"""Gradient task weighting with many tasks: seconds per epoch and peak memory.

School-like data: 15,362 rows x 27 features (the size of the School data
set), every row labelled for exactly one task drawn uniformly at random, the
targets from ``make_multitask_regression``. Each configuration
``MultiTaskRegressor(task_weighting=w, max_epochs=E, random_state=0)`` (all
other parameters at their defaults: a 128-128 trunk, batch 256, Adam) is
fitted in a fresh subprocess with one torch thread, so its peak memory is its
own.

Reported per configuration: seconds per epoch (the median of skorch's epoch
durations; with ``--repeats``, the median over the runs, which cycle through
the methods so that a slow spell of the machine is shared), peak resident
memory of the process (``VmHWM``, polled while it
runs), the resident memory just before ``fit`` (imports and data), and the
difference, which is what training added (medians over the runs). A run
still going after ``--cap`` seconds is stopped; its row gives the cap and the
peak seen.

    python benchmarks/bench_weighting_scale.py                    # 139 and 1000
    python benchmarks/bench_weighting_scale.py --tasks 139 --epochs 1 --cap 180
    PYTHONPATH=/path/to/other/checkout python benchmarks/bench_weighting_scale.py

Writes ``benchmarks/results/weighting_scale.md`` (``--output`` to change).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
METHODS = ["equal", "pcgrad", "gradnorm", "mgda"]

CHILD = r"""
import json, resource, statistics, sys, time
import numpy as np
import torch
torch.set_num_threads(1)
import sklearn_mtl
from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl.datasets import make_multitask_regression

n_tasks, method, epochs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
n_samples = 15362
X, Y = make_multitask_regression(
    n_samples=n_samples, n_features=27, n_tasks=n_tasks, random_state=0
)
task = np.random.default_rng(0).integers(0, n_tasks, size=n_samples)
rows = np.arange(n_samples)
masked = np.full_like(Y, np.nan)
masked[rows, task] = Y[rows, task]
del Y
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"before_fit_mib": rss(), "package": sklearn_mtl.__file__}))
sys.stdout.flush()
model = MultiTaskRegressor(task_weighting=method, max_epochs=epochs, random_state=0)
start = time.perf_counter()
model.fit(X, masked)
wall = time.perf_counter() - start
losses = model.history_[:, "train_loss"]
print(json.dumps({
    "s_per_epoch": statistics.median(model.history_[:, "dur"]),
    "wall_s": wall,
    "epochs": len(model.history_),
    "first_loss": losses[0],
    "last_loss": losses[-1],
    "peak_mib": rss(),
}))
"""


def peak_rss_mib(pid):
    """Return the process's peak resident memory so far (``VmHWM``), in MiB."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def run(n_tasks, method, epochs, cap):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(n_tasks), method, str(epochs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    start, peak, capped = time.perf_counter(), 0.0, False
    while proc.poll() is None:
        peak = max(peak, peak_rss_mib(proc.pid) or 0.0)
        if time.perf_counter() - start > cap:
            capped = True
            proc.kill()
            break
        time.sleep(0.1)
    out, err = proc.communicate()
    reports = {}
    for line in out.splitlines():
        if line.startswith("{"):
            reports.update(json.loads(line))
    if not capped and proc.returncode != 0:
        raise RuntimeError(f"{method} at {n_tasks} tasks failed:\n{err[-2000:]}")
    reports["peak_mib"] = max(peak, reports.get("peak_mib", 0.0))
    reports["capped"] = capped
    return reports


def summarise(reports):
    """Return the medians of the runs of one configuration (capped if any was)."""
    out = {"capped": any(r["capped"] for r in reports)}
    for key in ("s_per_epoch", "first_loss", "last_loss", "peak_mib", "before_fit_mib"):
        values = [r[key] for r in reports if key in r]
        if values:
            out[key] = statistics.median(values)
    out["package"] = reports[0].get("package", "")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[139, 1000])
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--cap", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS / "weighting_scale.md")
    args = parser.parse_args()
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')!r}, 1 torch thread")
    lines = [
        f"{args.epochs} epoch(s) per run, {args.repeats} run(s) per row, cap "
        f"{args.cap:.0f} s per run, 1 torch thread, "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')!r}",
        "",
        "| tasks | method | s / epoch | time x equal | peak MiB | peak x equal "
        "| before fit MiB | fit adds MiB | added x equal | loss first -> last |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for n_tasks in args.tasks:
        runs = {method: [] for method in args.methods}
        for _ in range(args.repeats):
            for method in args.methods:
                runs[method].append(run(n_tasks, method, args.epochs, args.cap))
        base = None
        for method in args.methods:
            r = summarise(runs[method])
            added = r["peak_mib"] - r.get("before_fit_mib", float("nan"))
            if r["capped"]:
                speed, loss = f"> {args.cap / args.epochs:.0f} (capped)", "-"
            else:
                speed = f"{r['s_per_epoch']:.2f}"
                loss = f"{r['first_loss']:.3f} -> {r['last_loss']:.3f}"
            if method == "equal" and not r["capped"]:
                base = (r["s_per_epoch"], r["peak_mib"], added)
            ratio = peak_ratio = added_ratio = "-"
            if base is not None and not r["capped"]:
                ratio = f"{r['s_per_epoch'] / base[0]:.2f}x"
            if base is not None:
                peak_ratio = f"{r['peak_mib'] / base[1]:.2f}x"
                added_ratio = f"{added / base[2]:.2f}x"
            before = r.get("before_fit_mib", float("nan"))
            line = (
                f"| {n_tasks} | {method} | {speed} | {ratio} | {r['peak_mib']:.0f} "
                f"| {peak_ratio} | {before:.0f} | {added:.0f} | {added_ratio} "
                f"| {loss} |"
            )
            print(line, flush=True)
            lines.append(line)
    lines.append("")
    lines.append(f"package: {Path(r['package']).parent}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
