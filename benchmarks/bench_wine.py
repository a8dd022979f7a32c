"""Wine: one network for a class, a grade and a score, against one model per task.

Wine Quality, red and white together (``load_wine_quality``, data home
``SKLEARN_MTL_DATA``): 6,497 rows, the 11 physicochemical inputs, three tasks
on the same rows:

- ``colour``: binary, ``"red"`` (1,599) or ``"white"`` (4,898);
- ``quality``: the quality score 3..9 as a float, a regression task;
- ``grade``: the quality as 4 classes, rare scores merged: ``"low"`` (3 and 4),
  ``"5"``, ``"6"``, ``"high"`` (7, 8 and 9).

Protocol: ``KFold(5, shuffle=True, random_state=0)`` (the same 5 folds for
every model; 2 folds with ``--quick``). Metrics on the test fold: accuracy and
log-loss for ``colour`` and ``grade``, R^2 for ``quality``; fit seconds per
fold (median over folds). Means over folds, +- the standard deviation.

Models (defaults of each, no tuning; networks in a
``Pipeline(StandardScaler(), model)`` fitted per training fold):

- ``MixedTaskEstimator(task_types=[classification, regression,
  classification])``: one network on all three tasks;
- single-task networks with the same trunk and epochs:
  ``MultiTaskClassifier`` on ``colour``, ``MultiTaskClassifier`` on ``grade``,
  ``MultiTaskRegressor`` on ``quality``;
- ``HistGradientBoostingClassifier`` on ``colour`` and on ``grade``,
  ``HistGradientBoostingRegressor`` on ``quality`` (``random_state=0``);
- ``RandomForestClassifier(random_state=0)`` fitted natively multi-output on
  ``colour`` and ``grade`` together, and ``RandomForestRegressor(
  random_state=0)`` on ``quality``.

Second scenario (``masked``): in each training fold, 50% of the labels of each
task are hidden independently at random (``default_rng(fold)``); the test fold
keeps all its labels. The mixed network trains on every row with at least
one label (the hidden cells set to None; about 87.5% of the rows: it
refuses rows with no label at all); every single-task model on the rows
where its task is labelled; the multi-output random forest on the rows
where both its tasks are labelled (about 25%).

The networks run at most ``--epochs`` epochs (default 200, the estimators'
default; with their defaults they stop earlier, once the training loss has
not improved by 1e-4 for 10 epochs: "epochs run" in the tables). Before the
timed fits, one untimed 1-epoch fit of each network kind on 217 rows pays
torch's one-time start-up cost.

    python benchmarks/bench_wine.py --quick   # smoke run: 2 folds, 3 epochs,
                                              # 20 trees / boosting rounds
    python benchmarks/bench_wine.py           # 5 folds (~1.5-2 min)

Prints markdown tables; writes them to ``benchmarks/results/wine.md`` and the
per-fold numbers to ``benchmarks/results/wine.json`` (not with ``--quick``
unless ``--output`` is given). ``--no-stop`` (a diagnostic, not the
defaults): the networks run all ``--epochs`` epochs instead of stopping once
the training loss stalls; writes ``wine_no_stop.md`` and ``.json``.

    python benchmarks/bench_wine.py --no-stop   # ~3.5-5 min
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path


def _set_threads_from_argv():
    """Cap BLAS/OpenMP threads before numpy is imported (``--threads``)."""
    n = "1"
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            n = sys.argv[i + 1]
        elif arg.startswith("--threads="):
            n = arg.split("=", 1)[1]
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, n)


# Read before anything may touch it; the script never sets it.
OPENBLAS_CORETYPE = os.environ.get("OPENBLAS_CORETYPE")
_set_threads_from_argv()

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.metrics import accuracy_score, log_loss, r2_score  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_mtl import (  # noqa: E402
    MixedTaskEstimator,
    MultiTaskClassifier,
    MultiTaskRegressor,
)
from sklearn_mtl.datasets import load_wine_quality  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = ["colour", "quality", "grade"]  # columns of Y, in this order
TASK_TYPES = ["classification", "regression", "classification"]
CLASSIFICATION = ["colour", "grade"]
MASK_RATE = 0.5
# model name -> tasks it predicts
MODELS = {
    "mixed network (3 tasks)": TASKS,
    "single-task net: colour": ["colour"],
    "single-task net: quality": ["quality"],
    "single-task net: grade": ["grade"],
    "HGB: colour": ["colour"],
    "HGB: quality": ["quality"],
    "HGB: grade": ["grade"],
    "RF multi-output: colour + grade": ["colour", "grade"],
    "RF regressor: quality": ["quality"],
}
SCENARIOS = ["full", "masked"]


def grade_of(quality):
    """Merge the rare scores: <= 4 -> "low", 5, 6, >= 7 -> "high"."""
    q = quality.astype(int)
    out = q.astype(str).astype(object)
    out[q <= 4] = "low"
    out[q >= 7] = "high"
    return out


def load():
    wine = load_wine_quality()
    quality = wine.target[:, 0].astype(float)
    Y = np.empty((len(quality), 3), dtype=object)
    Y[:, 0] = wine.domain.astype(object)
    Y[:, 1] = quality
    Y[:, 2] = grade_of(quality)
    return wine.data, Y


def make_model(name, epochs, quick, no_stop=False):
    net = {"max_epochs": epochs, "random_state": 0}
    if no_stop:  # run every epoch: no stop on the training loss
        net["n_iter_no_change"] = np.inf
    trees = {"max_iter": 20} if quick else {}
    forest = {"n_estimators": 20} if quick else {}
    if name.startswith("mixed"):
        return make_pipeline(
            StandardScaler(), MixedTaskEstimator(task_types=TASK_TYPES, **net)
        )
    if name == "single-task net: quality":
        return make_pipeline(StandardScaler(), MultiTaskRegressor(**net))
    if name.startswith("single-task net"):
        return make_pipeline(StandardScaler(), MultiTaskClassifier(**net))
    if name == "HGB: quality":
        return HistGradientBoostingRegressor(random_state=0, **trees)
    if name.startswith("HGB"):
        return HistGradientBoostingClassifier(random_state=0, **trees)
    if name.startswith("RF multi-output"):
        return RandomForestClassifier(random_state=0, n_jobs=1, **forest)
    if name.startswith("RF regressor"):
        return RandomForestRegressor(random_state=0, n_jobs=1, **forest)
    raise ValueError(name)


def labelled(column):
    return np.array([v is not None for v in column])


def score_task(task, y_true, pred, proba, classes):
    if task == "quality":
        return {"r2": r2_score(y_true.astype(float), pred.astype(float))}
    return {
        "accuracy": accuracy_score(y_true.astype(str), pred.astype(str)),
        "log_loss": log_loss(y_true.astype(str), proba, labels=classes.astype(str)),
    }


def fit_and_score(name, X_tr, Y_tr, X_te, Y_te, epochs, quick, no_stop=False):
    """Fit one model on the training rows it can use; score its tasks."""
    tasks = MODELS[name]
    cols = [TASKS.index(t) for t in tasks]
    model = make_model(name, epochs, quick, no_stop)
    if name.startswith("mixed"):
        # hidden cells stay None; rows with no label at all are refused
        rows = np.any([labelled(Y_tr[:, c]) for c in cols], axis=0)
        target = Y_tr[rows]
    else:
        rows = np.all([labelled(Y_tr[:, c]) for c in cols], axis=0)
        target = Y_tr[rows][:, cols]
        if len(cols) == 1:
            target = target[:, 0]
        if tasks == ["quality"]:
            target = target.astype(float)
        else:
            target = target.astype(str)
    start = time.perf_counter()
    model.fit(X_tr[rows], target)
    seconds = time.perf_counter() - start
    pred = np.asarray(model.predict(X_te), dtype=object)
    if pred.ndim == 1:
        pred = pred[:, None]
    # column c of the prediction (and entry c of predict_proba, classes_):
    # the task's column in Y for the mixed network, its position otherwise
    out_cols = cols if name.startswith("mixed") else list(range(len(tasks)))
    probas, classes = [None] * len(TASKS), [None] * len(TASKS)
    if tasks != ["quality"]:
        final = model[-1] if hasattr(model, "steps") else model
        probas = model.predict_proba(X_te)
        classes = final.classes_
        if not isinstance(probas, list):  # one task: a single array
            probas, classes = [probas], [np.asarray(classes)]
    scores = {}
    for task, c in zip(tasks, out_cols, strict=True):
        y_true = Y_te[:, TASKS.index(task)]
        s = score_task(task, y_true, pred[:, c], probas[c], classes[c])
        for metric, v in s.items():
            scores[f"{task} {metric}"] = float(v)
    final = model[-1] if hasattr(model, "steps") else model
    epochs_run = getattr(final, "n_iter_", None) if "net" in name else None
    return scores, seconds, int(rows.sum()), epochs_run


def hide(Y, rng):
    """Hide MASK_RATE of each task's labels, independently across tasks."""
    Y = Y.copy()
    mask = rng.random(Y.shape) < MASK_RATE
    Y[mask] = None
    return Y


METRICS = [
    ("colour accuracy", "colour acc"),
    ("colour log_loss", "colour log-loss"),
    ("grade accuracy", "grade acc"),
    ("grade log_loss", "grade log-loss"),
    ("quality r2", "quality R^2"),
]


def cell(values, digits=3):
    v = np.asarray(values)
    if v.size == 0:
        return ""
    return f"{v.mean():.{digits}f} +- {v.std():.{digits}f}"


def table(results, scenario):
    res = results[scenario]
    head = ["model"] + [label for _, label in METRICS]
    head += ["fit s (median)", "rows", "epochs run"]
    lines = [
        "| " + " | ".join(head) + " |",
        "| --- | " + " | ".join(["---:"] * (len(head) - 1)) + " |",
    ]
    for name in MODELS:
        r = res[name]
        cells = [cell(r["scores"].get(key, [])) for key, _ in METRICS]
        ran = [e for e in r["epochs_run"] if e is not None]
        ran = f"{min(ran)}-{max(ran)}" if ran else ""
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {np.median(r['seconds']):.2f} | {int(np.median(r['rows'])):,}"
            + f" | {ran} |"
        )
    return lines


PAIRS = [
    ("colour accuracy", "single-task net: colour", "HGB: colour"),
    ("colour log_loss", "single-task net: colour", "HGB: colour"),
    ("grade accuracy", "single-task net: grade", "HGB: grade"),
    ("grade log_loss", "single-task net: grade", "HGB: grade"),
    ("quality r2", "single-task net: quality", "HGB: quality"),
]


def gain_table(results):
    """Mixed minus single-task net (and minus HGB), paired by fold."""
    head = [
        "metric",
        "mixed - single net, full",
        "mixed - single net, 50% hidden",
        "mixed - HGB, full",
        "mixed - HGB, 50% hidden",
        "mixed: 50% hidden - full",
        "single net: 50% hidden - full",
        "HGB: 50% hidden - full",
    ]
    lines = [
        "| " + " | ".join(head) + " |",
        "| --- | " + " | ".join(["---:"] * (len(head) - 1)) + " |",
    ]
    mixed = "mixed network (3 tasks)"
    for key, single, hgb in PAIRS:

        def get(scenario, model, key=key):
            return np.asarray(results[scenario][model]["scores"][key])

        cells = [
            cell(get("full", mixed) - get("full", single)),
            cell(get("masked", mixed) - get("masked", single)),
            cell(get("full", mixed) - get("full", hgb)),
            cell(get("masked", mixed) - get("masked", hgb)),
            cell(get("masked", mixed) - get("full", mixed)),
            cell(get("masked", single) - get("full", single)),
            cell(get("masked", hgb) - get("full", hgb)),
        ]
        label = dict(METRICS)[key]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 folds, 3 epochs")
    parser.add_argument("--folds", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch and BLAS threads (default 1)"
    )
    parser.add_argument(
        "--no-stop",
        action="store_true",
        help="networks run all epochs (n_iter_no_change=inf); writes wine_no_stop.*",
    )
    parser.add_argument("--output", default=None, help="folder for wine.md/.json")
    args = parser.parse_args()
    folds = args.folds or (2 if args.quick else 5)
    epochs = args.epochs or (3 if args.quick else 200)
    torch.set_num_threads(args.threads)
    env = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="minutes"
        ),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "torch_threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "OPENBLAS_CORETYPE": OPENBLAS_CORETYPE,
        "cpus": os.cpu_count(),
    }
    print(
        f"torch {env['torch']}, sklearn {env['sklearn']}, "
        f"{env['torch_threads']} torch thread(s), OMP_NUM_THREADS="
        f"{env['OMP_NUM_THREADS']}, OPENBLAS_CORETYPE "
        f"{'set to ' + OPENBLAS_CORETYPE if OPENBLAS_CORETYPE else 'not set'}, "
        f"{env['cpus']} CPUs",
        flush=True,
    )
    X, Y = load()
    grades, counts = np.unique(Y[:, 2].astype(str), return_counts=True)
    grade_counts = {str(g): int(c) for g, c in zip(grades, counts, strict=True)}
    print(f"{X.shape[0]} rows x {X.shape[1]} inputs; grade counts {grade_counts}")
    command = "python benchmarks/bench_wine.py" + " ".join([""] + sys.argv[1:]).rstrip()
    results = {
        s: {
            m: {"scores": {}, "seconds": [], "rows": [], "epochs_run": []}
            for m in MODELS
        }
        for s in SCENARIOS
    }
    start_all = time.perf_counter()
    for name in MODELS:  # untimed warm-up: torch's one-time start-up cost
        if "net" in name:
            fit_and_score(name, X[::30], Y[::30], X[1::60], Y[1::60], 1, args.quick)
    cv = KFold(folds, shuffle=True, random_state=0)
    for fold, (train, test) in enumerate(cv.split(X)):
        for scenario in SCENARIOS:
            Y_tr = Y[train]
            if scenario == "masked":
                Y_tr = hide(Y_tr, np.random.default_rng(fold))
            for name in MODELS:
                scores, seconds, n_rows, n_iter = fit_and_score(
                    name,
                    X[train],
                    Y_tr,
                    X[test],
                    Y[test],
                    epochs,
                    args.quick,
                    args.no_stop,
                )
                r = results[scenario][name]
                for k, v in scores.items():
                    r["scores"].setdefault(k, []).append(v)
                r["seconds"].append(seconds)
                r["rows"].append(n_rows)
                r["epochs_run"].append(n_iter)
                print(
                    f"fold {fold} {scenario:6s} {name:32s} {seconds:6.1f} s "
                    + (f"{n_iter:3d} epochs " if n_iter else "")
                    + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()),
                    flush=True,
                )
    minutes = (time.perf_counter() - start_all) / 60
    lines = [
        f"## Wine: {folds}-fold CV, all networks {epochs} epochs"
        + (" (no stop on the training loss)" if args.no_stop else ""),
        "",
        f"`KFold({folds}, shuffle=True, random_state=0)`, the same folds for "
        "every model; means over folds +- std. Grade: low = quality 3-4, "
        "high = 7-9; counts "
        + ", ".join(f"{g}: {c:,}" for g, c in grade_counts.items())
        + ". Rows: training rows the model was fitted on (median over folds). "
        "Epochs run: fewest-most over folds (at most "
        f"{epochs}; by default the networks stop once the training loss has not "
        "improved by tol=1e-4 for 10 epochs).",
        "",
        "### All labels",
        "",
        *table(results, "full"),
        "",
        f"### {MASK_RATE:.0%} of each task's training labels hidden",
        "",
        *table(results, "masked"),
        "",
        "### Paired differences (by fold): accuracy and R^2 higher is better, "
        "log-loss lower is better",
        "",
        *gain_table(results),
        "",
        f"torch {env['torch']}, sklearn {env['sklearn']}, "
        f"{env['torch_threads']} torch thread(s), BLAS/OpenMP threads "
        f"{env['OMP_NUM_THREADS']}, OPENBLAS_CORETYPE "
        f"{'set to ' + OPENBLAS_CORETYPE if OPENBLAS_CORETYPE else 'not set'}. "
        f"Command: `{command}` ({minutes:.1f} min).",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.quick and args.output is None:
        return
    out = Path(args.output) if args.output else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    stem = "wine_no_stop" if args.no_stop else "wine"
    (out / f"{stem}.md").write_text(report)
    raw = {
        "command": command,
        "environment": env,
        "folds": folds,
        "epochs": epochs,
        "no_stop": args.no_stop,
        "mask_rate": MASK_RATE,
        "grade_counts": grade_counts,
        "minutes": minutes,
        "results": results,
    }
    (out / f"{stem}.json").write_text(json.dumps(raw, indent=1) + "\n")


if __name__ == "__main__":
    main()
