"""School across sites: federated training against pooling and going alone.

The 139 schools are split at random into ``--sites`` groups (each school's
students in one site). Per split (seeds 0..n-1), as in ``bench_school.py``:
each school's students 75% / 25% train / test, inputs standardised on the
training students, Y the NaN-masked 139-column School target, scored by
the explained variance of all test students' exam scores.

- federated: ``federated_fit(MultiTaskRegressor(...), sites, n_rounds=R,
  local_epochs=E)`` in Flower's simulation (each site a ClientApp);
- centralised: the same estimator fitted on the pooled training rows
  (``max_epochs=R * E``: the same passes over the data);
- each site alone: the same estimator fitted on its own students and
  schools only, each test student predicted by his or her site's model;
- pooled Ridge with the school one-hot (the anchor of ``bench_school.py``).

Every school belongs to exactly one site, so every head is trained at one
site only (FedPer) and the trunk is shared. Reports the explained
variance, the rounds, the bytes sent per round (weights to the sites and
back) and wall times.

    python benchmarks/bench_federated.py --splits 10
    python benchmarks/bench_federated.py --sites 139 --splits 1

Writes ``benchmarks/results/federated_<sites>.md``.
"""

import argparse
import os
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.metrics import explained_variance_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from sklearn_mtl import MultiTaskRegressor  # noqa: E402
from sklearn_mtl.datasets import load_school  # noqa: E402
from sklearn_mtl.federated import federated_fit  # noqa: E402

RESULTS = Path(__file__).parent / "results"
MODELS = [
    "federated",
    "centralised",
    "each site alone",
    "pooled Ridge + school one-hot",
]


def one_split(X, Y, task, seed, args):
    score = Y[np.arange(len(Y)), task]
    train, test = train_test_split(
        np.arange(len(X)), test_size=0.25, stratify=task, random_state=seed
    )
    scaler = StandardScaler().fit(X[train])
    X_tr, X_te = scaler.transform(X[train]), scaler.transform(X[test])
    Y_tr, task_tr, task_te = Y[train], task[train], task[test]
    rng = np.random.default_rng(seed)
    groups = np.array_split(rng.permutation(Y.shape[1]), args.sites)
    site_of = np.empty(Y.shape[1], dtype=int)
    for s, schools in enumerate(groups):
        site_of[schools] = s
    estimator = MultiTaskRegressor(
        hidden_layer_sizes=tuple(args.hidden),
        max_epochs=args.rounds * args.local_epochs,
        random_state=0,
    )
    preds, seconds = {}, {}
    rows = np.arange(len(test))

    sites = [
        (X_tr[site_of[task_tr] == s], Y_tr[site_of[task_tr] == s])
        for s in range(args.sites)
    ]
    start = time.perf_counter()
    federated = federated_fit(
        clone(estimator), sites, n_rounds=args.rounds, local_epochs=args.local_epochs
    )
    seconds[MODELS[0]] = time.perf_counter() - start
    preds[MODELS[0]] = federated.predict(X_te)[rows, task_te]
    history = federated.history_
    sent = np.median(
        [row["bytes_to_sites"] + row["bytes_from_sites"] for row in history]
    )

    start = time.perf_counter()
    central = clone(estimator).fit(X_tr, Y_tr)
    seconds[MODELS[1]] = time.perf_counter() - start
    preds[MODELS[1]] = central.predict(X_te)[rows, task_te]

    start = time.perf_counter()
    alone = np.empty(len(test))
    site_wins = 0
    for s, schools in enumerate(groups):
        a, b = site_of[task_tr] == s, site_of[task_te] == s
        columns = np.full(Y.shape[1], -1)
        columns[schools] = np.arange(len(schools))
        model = clone(estimator).fit(X_tr[a], Y_tr[a][:, schools])
        alone[b] = model.predict(X_te[b]).reshape(b.sum(), -1)[
            np.arange(b.sum()), columns[task_te[b]]
        ]
        site_wins += explained_variance_score(
            score[test][b], preds[MODELS[0]][b]
        ) > explained_variance_score(score[test][b], alone[b])
    seconds[MODELS[2]] = time.perf_counter() - start
    preds[MODELS[2]] = alone

    start = time.perf_counter()
    onehot = OneHotEncoder().fit(task_tr[:, None])
    pooled = Ridge(alpha=1.0).fit(
        np.hstack([X_tr, onehot.transform(task_tr[:, None]).toarray()]), score[train]
    )
    preds[MODELS[3]] = pooled.predict(
        np.hstack([X_te, onehot.transform(task_te[:, None]).toarray()])
    )
    seconds[MODELS[3]] = time.perf_counter() - start
    scores = {m: explained_variance_score(score[test], p) for m, p in preds.items()}
    return scores, seconds, {"sent": sent, "rounds": len(history), "wins": site_wins}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--local-epochs", type=int, default=2)
    parser.add_argument("--hidden", type=int, nargs="*", default=[128, 128])
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_school(as_multitask=True)
    X, Y, task = data.data, data.target, data.task
    ev = {m: [] for m in MODELS}
    sec = {m: [] for m in MODELS}
    extra = []
    start = time.perf_counter()
    for seed in range(args.splits):
        scores, seconds, info = one_split(X, Y, task, seed, args)
        for m in MODELS:
            ev[m].append(scores[m])
            sec[m].append(seconds[m])
        extra.append(info)
        print(f"split {seed}: " + ", ".join(f"{m} {scores[m]:.4f}" for m in MODELS))
    lines = [
        f"## School across {args.sites} sites: explained variance of the test "
        f"students ({args.splits} split{'s' if args.splits > 1 else ''})",
        "",
        f"`MultiTaskRegressor(hidden_layer_sizes={tuple(args.hidden)}, "
        f"random_state=0)`; federated: {args.rounds} rounds x "
        f"{args.local_epochs} local epochs; the others `max_epochs="
        f"{args.rounds * args.local_epochs}`.",
        "",
        "| model | mean | std | min | max | wall seconds (median) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in MODELS:
        v = np.array(ev[m])
        lines.append(
            f"| {m} | {v.mean():.4f} | {v.std():.4f} | {v.min():.4f} | "
            f"{v.max():.4f} | {np.median(sec[m]):.1f} |"
        )
    gap = np.array(ev[MODELS[1]]) - np.array(ev[MODELS[0]])
    sent = np.median([e["sent"] for e in extra])
    lines += [
        "",
        f"Centralised minus federated: {gap.mean():+.4f} on average (largest "
        f"{gap.max():+.4f}). Federated beats the site's own model on its test "
        f"students at {np.mean([e['wins'] for e in extra]):.1f} of {args.sites} "
        f"sites on average. Rounds: {extra[0]['rounds']}; bytes sent per round "
        f"(weights to every site and back): {sent / 1e6:.2f} MB "
        f"({sent / (2 * args.sites) / 1e3:.0f} kB each way per site).",
        "",
        "One torch thread per process; each simulated site one Ray worker of one "
        f"CPU. Command: `python benchmarks/bench_federated.py --sites {args.sites} "
        f"--splits {args.splits} --rounds {args.rounds} --local-epochs "
        f"{args.local_epochs}` ({(time.perf_counter() - start) / 60:.0f} min).",
        "",
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"federated_{args.sites}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
