"""School: MultiTaskRegressor with its defaults against the classic anchors.

139 schools as 139 tasks (``load_school(as_multitask=True)``: the NaN-masked
139-column Y). Per split (seeds 0..n-1), each school's students are split
75% / 25% (``train_test_split(stratify=school)``); inputs are standardised
on the training students. Scored by the explained variance of all test
students' exam scores (each student predicted by his or her school's task).

- ``MultiTaskRegressor(random_state=0)``: defaults, on the 139-column Y;
- one ``RidgeCV`` per school (alphas ``logspace(-2, 3, 11)``);
- a pooled ``Ridge(alpha=1)`` on all students with the school one-hot
  encoded: a shared slope, one intercept per school;
- ``MultiTaskRegressor(random_state=0)`` on raw (unscaled) inputs, for
  reference.

    python benchmarks/bench_school.py --splits 10

Writes ``benchmarks/results/school.md``.
"""

import argparse
import os
import time
from pathlib import Path

OPENBLAS_CORETYPE = os.environ.get("OPENBLAS_CORETYPE")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.linear_model import Ridge, RidgeCV  # noqa: E402
from sklearn.metrics import explained_variance_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from sklearn_mtl import MultiTaskRegressor  # noqa: E402
from sklearn_mtl.datasets import load_school  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "school.md"
MODELS = [
    "MultiTaskRegressor() (defaults)",
    "one RidgeCV per school",
    "pooled Ridge + school one-hot",
    "MultiTaskRegressor(), unscaled X",
]


def one_split(X, Y, task, seed):
    score = Y[np.arange(len(Y)), task]
    train, test = train_test_split(
        np.arange(len(X)), test_size=0.25, stratify=task, random_state=seed
    )
    scaler = StandardScaler().fit(X[train])
    X_tr, X_te = scaler.transform(X[train]), scaler.transform(X[test])
    rows = np.arange(len(test))
    preds, seconds = {}, {}

    start = time.perf_counter()
    mtr = MultiTaskRegressor(random_state=0).fit(X_tr, Y[train])
    seconds[MODELS[0]] = time.perf_counter() - start
    preds[MODELS[0]] = mtr.predict(X_te)[rows, task[test]]

    start = time.perf_counter()
    per_school = np.empty(len(test))
    for t in range(Y.shape[1]):
        a, b = task[train] == t, task[test] == t
        ridge = RidgeCV(alphas=np.logspace(-2, 3, 11)).fit(X_tr[a], score[train][a])
        per_school[b] = ridge.predict(X_te[b])
    seconds[MODELS[1]] = time.perf_counter() - start
    preds[MODELS[1]] = per_school

    start = time.perf_counter()
    onehot = OneHotEncoder().fit(task[train, None])

    def with_school(X_part, idx):
        return np.hstack([X_part, onehot.transform(task[idx, None]).toarray()])

    pooled = Ridge(alpha=1.0).fit(with_school(X_tr, train), score[train])
    preds[MODELS[2]] = pooled.predict(with_school(X_te, test))
    seconds[MODELS[2]] = time.perf_counter() - start

    start = time.perf_counter()
    raw = MultiTaskRegressor(random_state=0).fit(X[train], Y[train])
    seconds[MODELS[3]] = time.perf_counter() - start
    preds[MODELS[3]] = raw.predict(X[test])[rows, task[test]]
    return (
        {m: explained_variance_score(score[test], p) for m, p in preds.items()},
        seconds,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_school(as_multitask=True)
    X, Y, task = data.data, data.target, data.task
    ev = {m: [] for m in MODELS}
    sec = {m: [] for m in MODELS}
    start = time.perf_counter()
    for seed in range(args.splits):
        scores, seconds = one_split(X, Y, task, seed)
        for m in MODELS:
            ev[m].append(scores[m])
            sec[m].append(seconds[m])
        print(f"split {seed}: " + ", ".join(f"{m} {scores[m]:.4f}" for m in MODELS))
    wins = {
        m: int(np.sum(np.array(ev[MODELS[0]]) > np.array(ev[m]))) for m in MODELS[1:3]
    }
    lines = [
        f"## School: explained variance of the test students ({args.splits} splits)",
        "",
        "| model | mean | std | min | max | fit seconds (median) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in MODELS:
        v = np.array(ev[m])
        lines.append(
            f"| {m} | {v.mean():.4f} | {v.std():.4f} | {v.min():.4f} | "
            f"{v.max():.4f} | {np.median(sec[m]):.1f} |"
        )
    lines += [
        "",
        f"`MultiTaskRegressor()` beats one RidgeCV per school in "
        f"{wins[MODELS[1]]} of {args.splits} splits and the pooled Ridge in "
        f"{wins[MODELS[2]]} of {args.splits}.",
        "",
        f"One torch thread; OPENBLAS_CORETYPE "
        f"{'set to ' + OPENBLAS_CORETYPE if OPENBLAS_CORETYPE else 'not set'}. "
        f"Command: `python benchmarks/bench_school.py --splits {args.splits}` "
        f"({(time.perf_counter() - start) / 60:.0f} min).",
        "",
    ]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
