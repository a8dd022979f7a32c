"""Transfer on real data: TransferEstimator strategies against four baselines.

For each target size k, k labelled target rows are drawn (several seeds), the
rest of the target domain is the test set, and every method is scored by R^2
(uniform over targets) and by mean absolute error (MAE, averaged over
targets) on it:

- source only: the pretrained source model, unchanged;
- target only: ``MultiTaskRegressor()`` with defaults, on the k rows, and
  ``RidgeCV()`` on the k rows ("target only Ridge");
- pooled: ``MultiTaskRegressor`` (the source's settings) on source + k rows;
- naive fine-tune: every weight fine-tuned from a new head, ``lr=1e-3``;
- ``TransferEstimator(source=source)`` with defaults (``strategy="auto"``),
  and each strategy with its defaults.

Data sets (from ``SKLEARN_MTL_DATA``):

- California housing: source = INLAND and <1H OCEAN districts, target =
  NEAR BAY and NEAR OCEAN; k = 20, 50, 200.
- Parkinson's telemonitoring: each held-out patient is a target domain, the
  source is pretrained on the other 41 patients; k = 5, 10, 25 recordings
  (two targets, motor and total UPDRS).

    python benchmarks/bench_transfer.py            # both, about 15 min on 2 cores
    python benchmarks/bench_transfer.py --quick    # one seed, fewer patients
    python benchmarks/bench_transfer.py --methods pooled "TransferEstimator default"
    python benchmarks/bench_transfer.py --only california --source-per-seed
    python benchmarks/bench_transfer.py --only california --seeds 10   # 10 draws
    python benchmarks/bench_transfer.py --only california --source-max-epochs 40
"""

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.linear_model import RidgeCV
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.preprocessing import StandardScaler

from sklearn_mtl import MultiTaskRegressor, TransferEstimator
from sklearn_mtl.datasets import load_california_housing, load_parkinsons_telemonitoring

SOURCE = dict(early_stopping=True, max_epochs=100, random_state=0)
METHODS = [
    "source only",
    "target only",
    "target only Ridge",
    "pooled",
    "naive fine-tune",
    "TransferEstimator default",
    "linear_probe",
    "lp_ft",
    "gradual_unfreezing",
    "l2_sp",
]


def fit_method(name, source, X_src, Y_src, X_k, Y_k, seed, pooled_epochs):
    """Return a fitted model (or the source) for method ``name``."""
    if name == "source only":
        return source
    if name == "target only":
        return MultiTaskRegressor(random_state=seed).fit(X_k, Y_k)
    if name == "target only Ridge":
        return RidgeCV().fit(X_k, Y_k)
    if name == "pooled":
        params = {**SOURCE, "random_state": seed, "max_epochs": pooled_epochs}
        return MultiTaskRegressor(**params).fit(
            np.vstack([X_src, X_k]), np.vstack([Y_src, Y_k])
        )
    if name == "naive fine-tune":
        return TransferEstimator(
            source=source, strategy="fine_tune", lr=1e-3, random_state=seed
        ).fit(X_k, Y_k)
    if name == "TransferEstimator default":
        return TransferEstimator(source=source, random_state=seed).fit(X_k, Y_k)
    return TransferEstimator(source=source, strategy=name, random_state=seed).fit(
        X_k, Y_k
    )


def evaluate(
    source, X_src, Y_src, X_tgt, Y_tgt, ks, seeds, scores, pooled_epochs, methods
):
    """Add R^2 and MAE of every method, k and seed to ``scores[metric]``.

    ``source`` is one fitted model, or a dict of them by seed (each seed's
    draw then transfers from the source trained with that seed).
    """
    sources = source
    for k in ks:
        for seed in seeds:
            source = sources[seed] if isinstance(sources, dict) else sources
            order = np.random.RandomState(seed).permutation(len(X_tgt))
            train, test = order[:k], order[k:]
            for name in methods:
                model = fit_method(
                    name, source, X_src, Y_src, X_tgt[train], Y_tgt[train], seed,
                    pooled_epochs,
                )
                pred = model.predict(X_tgt[test]).reshape(len(test), -1)
                for metric, score in (
                    ("R^2", r2_score(Y_tgt[test], pred)),
                    ("MAE", mean_absolute_error(Y_tgt[test], pred)),
                ):
                    scores.setdefault(metric, {}).setdefault((k, name), []).append(
                        score
                    )


def report(title, scores, ks):
    for metric, table in scores.items():
        print(f"\n### {title}: {metric}\n")
        print("| method | " + " | ".join(f"k = {k}" for k in ks) + " |")
        print("| --- | " + " | ".join("---:" for _ in ks) + " |")
        pick = min if metric == "MAE" else max
        methods = [m for m in METHODS if (ks[0], m) in table]
        best = {k: pick(methods, key=lambda m: np.mean(table[(k, m)])) for k in ks}
        for name in methods:
            cells = []
            for k in ks:
                values = table[(k, name)]
                cell = f"{np.mean(values):.3f} ± {np.std(values):.3f}"
                cells.append(f"**{cell}**" if best[k] == name else cell)
            print(f"| {name} | " + " | ".join(cells) + " |")
        n = len(next(iter(table.values())))
        print(
            f"\nmean ± std of test {metric} over {n} runs per cell; best per "
            "column in bold."
        )


def california(seeds, methods, source_per_seed=False):
    data = load_california_housing()
    X, y = data.data, data.target.reshape(-1, 1)
    source_rows = np.isin(data.region, ["INLAND", "<1H OCEAN"])
    target_rows = np.isin(data.region, ["NEAR BAY", "NEAR OCEAN"])
    fill = np.nanmedian(X[source_rows], axis=0)
    X = np.where(np.isnan(X), fill, X)  # 207 missing total_bedrooms
    X = StandardScaler().fit(X[source_rows]).transform(X)
    start = time.perf_counter()
    if source_per_seed:  # the source's seed varies with the draw, as pooled's
        source = {
            seed: MultiTaskRegressor(**{**SOURCE, "random_state": seed}).fit(
                X[source_rows], y[source_rows]
            )
            for seed in seeds
        }
        epochs = [model.n_iter_ for model in source.values()]
    else:
        source = MultiTaskRegressor(**SOURCE).fit(X[source_rows], y[source_rows])
        epochs = source.n_iter_
    print(f"California source: {source_rows.sum()} rows, {epochs} epochs, "
          f"{time.perf_counter() - start:.0f} s")
    scores, ks = {}, (20, 50, 200)
    evaluate(source, X[source_rows], y[source_rows], X[target_rows], y[target_rows],
             ks, seeds, scores, pooled_epochs=40, methods=methods)
    report("California housing: NEAR BAY + NEAR OCEAN from INLAND + <1H OCEAN",
           scores, ks)


def parkinsons(patients, seeds, methods):
    data = load_parkinsons_telemonitoring()
    scores, ks = {}, (5, 10, 25)
    for patient in patients:
        target_rows = data.subject == patient
        source_rows = ~target_rows
        scaler = StandardScaler().fit(data.data[source_rows])
        X, Y = scaler.transform(data.data), data.target
        source = MultiTaskRegressor(**SOURCE).fit(X[source_rows], Y[source_rows])
        evaluate(source, X[source_rows], Y[source_rows], X[target_rows],
                 Y[target_rows], ks, seeds, scores, pooled_epochs=40,
                 methods=methods)
        print(f"Parkinson's patient {patient}: {target_rows.sum()} recordings done",
              flush=True)
    title = f"Parkinson's telemonitoring: held-out patients {list(patients)}"
    report(title, scores, ks)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["california", "parkinsons"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--seeds", type=int, default=3, help="draws of the k rows per k (and patient)"
    )
    parser.add_argument(
        "--methods", nargs="+", choices=METHODS, help="run only these methods"
    )
    parser.add_argument(
        "--source-max-epochs",
        type=int,
        default=SOURCE["max_epochs"],
        help="epoch budget of the sources (early stopping keeps the best epoch)",
    )
    parser.add_argument(
        "--source-per-seed",
        action="store_true",
        help="California: one source per seed (random_state=seed), so that the "
        "source's seed varies with the draw as the pooled model's does",
    )
    args = parser.parse_args()
    methods = [m for m in METHODS if args.methods is None or m in args.methods]
    torch.set_num_threads(args.threads)
    SOURCE["max_epochs"] = args.source_max_epochs
    seeds = range(1) if args.quick else range(args.seeds)
    patients = (1, 22) if args.quick else (1, 8, 15, 22, 29, 36)
    warnings.simplefilter("ignore")
    if args.only in (None, "california"):
        california(seeds, methods, args.source_per_seed)
    if args.only in (None, "parkinsons"):
        parkinsons(patients, seeds, methods)


if __name__ == "__main__":
    main()
