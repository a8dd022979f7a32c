"""Task weighting x sharing architecture, on real data, against sklearn anchors.

For every data set, each ``MultiTaskRegressor(task_weighting=w, sharing=s,
random_state=0)`` (all other parameters at their defaults) is fitted on the
same splits as the anchors. Reported per cell: accuracy, and its seconds per
epoch relative to equal weighting with the same sharing.

Data sets (data home ``SKLEARN_MTL_DATA``):

- School: 139 schools as 139 tasks (the NaN-masked 139-column Y); per school
  75% train / 25% test (``train_test_split(stratify=school)``, seeds 0..n-1);
  explained variance of all test students' scores.
- Parkinson's telemonitoring: motor and total UPDRS, ``KFold(5,
  shuffle=True, random_state=0)`` over recordings; R^2 averaged over the two
  targets.
- Mulan ``jura`` (3 targets): ``KFold(5, shuffle=True, random_state=0)``;
  R^2 averaged over targets.

Inputs are standardised (``StandardScaler`` fitted on the training part).
Anchors: ``RidgeCV``; ``MLPRegressor(max_iter=500)`` on standardised targets;
one model per task (``RidgeCV`` on each task's labelled rows); on School also
a pooled ``Ridge`` with the school one-hot encoded.

    python benchmarks/bench_weighting.py --datasets school --splits 3
    python benchmarks/bench_weighting.py --datasets parkinsons jura

Writes ``benchmarks/results/weighting_<dataset>.md`` after each data set.
"""

import argparse
import os
import time
import warnings
from pathlib import Path

OPENBLAS_CORETYPE = os.environ.get("OPENBLAS_CORETYPE")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import Ridge, RidgeCV  # noqa: E402
from sklearn.metrics import explained_variance_score, r2_score  # noqa: E402
from sklearn.model_selection import KFold, train_test_split  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from sklearn_mtl import MultiTaskRegressor  # noqa: E402
from sklearn_mtl.datasets import (  # noqa: E402
    load_mulan,
    load_parkinsons_telemonitoring,
    load_school,
)
from sklearn_mtl.weighting import WEIGHTINGS  # noqa: E402

SHARINGS = ["hard", "soft", "mmoe"]
RESULTS = Path(__file__).parent / "results"


def school_splits(n_splits):
    data = load_school(as_multitask=True)
    X, Y, task = data.data, data.target, data.task
    for seed in range(n_splits):
        train, test = train_test_split(
            np.arange(len(X)), test_size=0.25, stratify=task, random_state=seed
        )
        yield X, Y, train, test, {"task": task}


def kfold_splits(X, Y):
    for train, test in KFold(5, shuffle=True, random_state=0).split(X):
        yield X, Y, train, test, {}


def load(name, n_splits):
    if name == "school":
        return school_splits(n_splits)
    if name == "parkinsons":
        data = load_parkinsons_telemonitoring()
        return kfold_splits(data.data, data.target)
    X, Y = load_mulan(name, return_X_y=True)
    return kfold_splits(np.asarray(X, float), np.asarray(Y, float))


def score(name, Y_test, pred, extra, test):
    """Explained variance of each student's own school (School), else mean R^2."""
    if name == "school":
        rows = np.arange(len(test))
        task = extra["task"][test]
        return explained_variance_score(Y_test[rows, task], pred[rows, task])
    return r2_score(Y_test, pred)


def anchors(name, X_tr, Y_tr, X_te, extra, train, test):
    """Predictions of the sklearn anchors, (n_test, n_tasks) each."""
    out = {}
    n_tasks = Y_tr.shape[1]
    per_task = np.zeros((len(X_te), n_tasks))
    for t in range(n_tasks):
        rows = ~np.isnan(Y_tr[:, t])
        per_task[:, t] = (
            RidgeCV(alphas=np.logspace(-2, 3, 11))
            .fit(X_tr[rows], Y_tr[rows, t])
            .predict(X_te)
        )
    out["one RidgeCV per task"] = per_task
    if name == "school":
        task = extra["task"]
        score_tr = Y_tr[np.arange(len(train)), task[train]]
        onehot = OneHotEncoder().fit(task[train, None])

        def with_school(X_part, rows):
            return np.hstack([X_part, onehot.transform(task[rows, None]).toarray()])

        pooled = Ridge(alpha=1.0).fit(with_school(X_tr, train), score_tr)
        out["pooled Ridge + school one-hot"] = np.repeat(
            pooled.predict(with_school(X_te, test))[:, None], n_tasks, axis=1
        )
        return out
    out["RidgeCV"] = RidgeCV().fit(X_tr, Y_tr).predict(X_te)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = TransformedTargetRegressor(
            MLPRegressor(max_iter=500, random_state=0), transformer=StandardScaler()
        )
        out["MLPRegressor"] = mlp.fit(X_tr, Y_tr).predict(X_te)
    return out


def run(name, n_splits, weightings, sharings, log):
    acc, sec_per_epoch = {}, {}
    for X, Y, train, test, extra in load(name, n_splits):
        scaler = StandardScaler().fit(X[train])
        X_tr, X_te = scaler.transform(X[train]), scaler.transform(X[test])
        for model, pred in anchors(
            name, X_tr, Y[train], X_te, extra, train, test
        ).items():
            acc.setdefault(model, []).append(score(name, Y[test], pred, extra, test))
        for sharing in sharings:
            for weighting in weightings:
                start = time.perf_counter()
                mtr = MultiTaskRegressor(
                    task_weighting=weighting, sharing=sharing, random_state=0
                ).fit(X_tr, Y[train])
                seconds = time.perf_counter() - start
                key = (weighting, sharing)
                acc.setdefault(key, []).append(
                    score(name, Y[test], mtr.predict(X_te), extra, test)
                )
                sec_per_epoch.setdefault(key, []).append(seconds / mtr.n_iter_)
                log(
                    f"{name} {sharing:<4} {weighting:<12} {acc[key][-1]:.4f} "
                    f"{seconds / mtr.n_iter_:.3f} s/epoch ({mtr.n_iter_} epochs)"
                )
    return acc, sec_per_epoch


def render(name, acc, sec, weightings, sharings, n_splits, command, minutes):
    metric = "explained variance" if name == "school" else "R^2 (mean over targets)"
    splits = f"{n_splits} splits" if name == "school" else "5 folds"
    lines = [
        f"## {name}: task weighting x sharing ({metric}, mean over {splits})",
        "",
        "Each cell: accuracy (higher is better); in brackets, seconds per epoch "
        "relative to `equal` with the same sharing. Bold: best network cell.",
        "",
        "| task_weighting | " + " | ".join(f"sharing={s}" for s in sharings) + " |",
        "| --- |" + " ---: |" * len(sharings),
    ]
    cells = {k: np.mean(v) for k, v in acc.items() if isinstance(k, tuple)}
    best = max(cells.values())
    for w in weightings:
        row = []
        for s in sharings:
            value = cells[(w, s)]
            ratio = np.median(sec[(w, s)]) / np.median(sec[("equal", s)])
            text = f"{value:.4f}"
            row.append(
                f"{'**' + text + '**' if value == best else text} ({ratio:.2f}x)"
            )
        lines.append(f"| {w} | " + " | ".join(row) + " |")
    lines += ["", "Anchors:", "", "| model | accuracy |", "| --- | ---: |"]
    for k, v in acc.items():
        if not isinstance(k, tuple):
            lines.append(f"| {k} | {np.mean(v):.4f} |")
    equal = {s: np.median(sec[("equal", s)]) for s in sharings}
    lines += [
        "",
        "Seconds per epoch of `equal`: "
        + ", ".join(f"{s} {equal[s]:.3f} s" for s in sharings)
        + f". One torch thread; OPENBLAS_CORETYPE "
        f"{'set to ' + OPENBLAS_CORETYPE if OPENBLAS_CORETYPE else 'not set'}.",
        "",
        f"Command: `{command}` ({minutes:.0f} min).",
        "",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", default=["school", "parkinsons", "jura"]
    )
    parser.add_argument(
        "--splits", type=int, default=10, help="School train/test splits (default 10)"
    )
    parser.add_argument("--weightings", nargs="+", default=list(WEIGHTINGS))
    parser.add_argument("--sharings", nargs="+", default=SHARINGS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    command = "python benchmarks/bench_weighting.py " + " ".join(
        f"--{k} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in vars(args).items()
    )
    RESULTS.mkdir(exist_ok=True)
    for name in args.datasets:
        start = time.perf_counter()
        acc, sec = run(name, args.splits, args.weightings, args.sharings, print)
        text = render(
            name,
            acc,
            sec,
            args.weightings,
            args.sharings,
            args.splits,
            command,
            (time.perf_counter() - start) / 60,
        )
        (RESULTS / f"weighting_{name}.md").write_text(text)
        print(text)


if __name__ == "__main__":
    main()
