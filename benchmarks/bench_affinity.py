"""Train tasks in the groups task affinity suggests: all together, grouped, apart.

On Mulan multi-target sets, per outer fold of ``KFold(5, shuffle=True,
random_state=0)`` (inputs median-imputed and standardised on the training
fold):

1. ``MultiTaskRegressor(task_affinity=kind)`` is fitted on the training fold
   (defaults otherwise) and ``suggest_task_groups`` proposes ``k`` groups;
2. one ``MultiTaskRegressor()`` per suggested group, on that group's targets;
3. the same number of groups drawn at random (same sizes) as a control;
4. one ``MultiTaskRegressor()`` for all targets, and one per target.

Scored by aRRMSE (Mulan's definition, lower is better) on the test fold.

    python benchmarks/bench_affinity.py                        # wq, oes10, atp1d
    python benchmarks/bench_affinity.py --datasets wq --groups 2 3

Writes ``benchmarks/results/affinity.md``.
"""

import argparse
import os
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_mtl import MultiTaskRegressor, suggest_task_groups  # noqa: E402
from sklearn_mtl.datasets import load_mulan  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "affinity.md"


def arrmse(Y_true, Y_pred, train_mean):
    sse = ((Y_true - Y_pred) ** 2).sum(axis=0)
    sst = ((Y_true - train_mean) ** 2).sum(axis=0)
    return float(np.mean(np.sqrt(sse / sst)))


def fit_groups(groups, X_tr, Y_tr, X_te):
    """Predict every target with one default model per group of targets."""
    pred = np.empty((len(X_te), Y_tr.shape[1]))
    for group in groups:
        model = MultiTaskRegressor(random_state=0).fit(X_tr, Y_tr[:, group])
        pred[:, group] = model.predict(X_te).reshape(len(X_te), -1)
    return pred


def run(name, kind, group_counts, log):
    X, Y = load_mulan(name, return_X_y=True)
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    n_tasks = Y.shape[1]
    rng = np.random.RandomState(0)
    scores, chosen = {}, {}
    for fold, (train, test) in enumerate(
        KFold(5, shuffle=True, random_state=0).split(X)
    ):
        prep = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        X_tr, X_te = prep.fit_transform(X[train]), prep.transform(X[test])
        Y_tr, mean = Y[train], Y[train].mean(axis=0)

        def record(
            label, groups, Y_tr=Y_tr, X_tr=X_tr, X_te=X_te, test=test, mean=mean
        ):
            pred = fit_groups(groups, X_tr, Y_tr, X_te)
            scores.setdefault(label, []).append(arrmse(Y[test], pred, mean))

        record("one model, all targets", [np.arange(n_tasks)])
        record("one model per target", [[t] for t in range(n_tasks)])
        probe = MultiTaskRegressor(task_affinity=kind, random_state=0)
        probe.fit(X_tr, Y_tr)
        for k in group_counts:
            groups = suggest_task_groups(probe.task_affinity_, k)
            chosen.setdefault(k, []).append([g.tolist() for g in groups])
            record(f"{k} suggested groups", groups)
            sizes = [len(g) for g in groups]
            order = rng.permutation(n_tasks)
            random_groups = np.split(order, np.cumsum(sizes)[:-1])
            record(f"{k} random groups (same sizes)", random_groups)
        log(
            f"{name} fold {fold}: "
            + ", ".join(f"{k} {v[-1]:.4f}" for k, v in scores.items())
        )
    return scores, chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["wq", "oes10", "atp1d"])
    parser.add_argument("--groups", nargs="+", type=int, default=[2, 3])
    parser.add_argument(
        "--kind", default="lookahead", choices=["lookahead", "gradient_cosine"]
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    lines = [
        "## Task grouping from task affinity (aRRMSE, 5-fold CV, lower is better)",
        "",
        f'Affinity: `task_affinity="{args.kind}"` on each training fold; every '
        "model is `MultiTaskRegressor(random_state=0)` with defaults.",
        "",
    ]
    for name in args.datasets:
        scores, chosen = run(name, args.kind, args.groups, print)
        lines += [f"### {name}", "", "| training | aRRMSE |", "| --- | ---: |"]
        best = min(np.mean(v) for v in scores.values())
        for label, values in scores.items():
            text = f"{np.mean(values):.4f}"
            if np.mean(values) == best:
                text = f"**{text}**"
            lines.append(f"| {label} | {text} |")
        lines.append("")
        for k, per_fold in chosen.items():
            lines.append(f"Suggested {k} groups, fold 0: {per_fold[0]}")
        lines.append("")
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text("\n".join(lines))
    lines += [
        "One torch thread. Command: `python benchmarks/bench_affinity.py "
        f"--datasets {' '.join(args.datasets)} --groups "
        f"{' '.join(map(str, args.groups))} --kind {args.kind}` "
        f"({(time.perf_counter() - start) / 60:.0f} min).",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
