"""Transferability scores against the truth: do they rank sources as fine-tuning does?

For one target, several candidate sources are pretrained (different regions
or patient groups, sizes, widths, and one trained on shuffled labels). For
each draw of k labelled target rows (the rest of the target is the test set):

- every source is scored on the k rows by ``transferability_score``
  (LogME, and the linear probe's leave-one-out R^2), without fine-tuning;
- every source is fine-tuned on the k rows, ``TransferEstimator(source,
  strategy="lp_ft")``, and its test R^2 is the truth; the closed-form
  ``strategy="linear_probe"`` is a second truth;
- Spearman's rho and Kendall's tau (``scipy.stats``) between the scores and
  the test R^2 over the candidates, and the regret of picking the top-scored
  source (best test R^2 minus the top-scored source's).

The negative-transfer guard is measured on the same draws (at one k per data
set): ``lp_ft`` with ``compare_with_scratch=True`` against ``lp_ft`` alone and
against a network of the same widths trained from scratch on the k rows.

Data sets (from ``SKLEARN_MTL_DATA``), with the splits of
``bench_transfer.py``:

- California housing, target NEAR OCEAN (k = 50, 200); 9 candidate sources.
- Parkinson's telemonitoring, targets = held-out patients (k = 25 recordings,
  motor and total UPDRS); 8 candidate sources per patient, from the other 41.

    python benchmarks/bench_transferability.py            # about 10 min, 1 thread
    python benchmarks/bench_transferability.py --quick    # one seed, one patient
"""

import argparse
import time
import warnings

import numpy as np
import torch
from scipy.stats import kendalltau, spearmanr
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler

from sklearn_mtl import MultiTaskRegressor, TransferEstimator, rank_sources
from sklearn_mtl.datasets import load_california_housing, load_parkinsons_telemonitoring

SOURCE = dict(early_stopping=True, max_epochs=100, random_state=0)
DEFAULT_WIDTHS = (128, 128)
SCORES = ("logme", "linear_probe")
TRUTHS = ("lp_ft", "linear_probe")
SHUFFLED = "shuffled labels"


def pretrain(specs, X, Y):
    """Fit one source per ``(name, rows, widths, shuffle)`` spec."""
    sources = {}
    for name, rows, widths, shuffle in specs:
        targets = Y[rows]
        if shuffle:
            targets = targets[np.random.RandomState(0).permutation(len(targets))]
        start = time.perf_counter()
        model = MultiTaskRegressor(hidden_layer_sizes=widths, **SOURCE)
        sources[name] = model.fit(X[rows], targets)
        print(
            f"  source {name!r}: {len(targets)} rows, {model.n_iter_} epochs, "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
    return sources


def test_r2(model, X, Y):
    return r2_score(Y, model.predict(X).reshape(len(Y), -1))


def evaluate(sources, widths, X, Y, k, seed, guard_fraction=None):
    """Scores and test R^2 of every source on one draw of k target rows.

    With ``guard_fraction``, also the guarded fit (holding out that share)
    and the from-scratch baseline.
    """
    order = np.random.RandomState(seed).permutation(len(X))
    train, test = order[:k], order[k:]
    result = {"names": list(sources)}
    for method in SCORES:
        scores = rank_sources(sources, X[train], Y[train], method=method).scores
        result[method] = np.array([scores[name] for name in sources])
    for strategy in TRUTHS:
        result[f"r2 {strategy}"] = np.array(
            [
                test_r2(
                    TransferEstimator(
                        source=source, strategy=strategy, random_state=seed
                    ).fit(X[train], Y[train]),
                    X[test],
                    Y[test],
                )
                for source in sources.values()
            ]
        )
    if guard_fraction is not None:
        guarded, kept, scratch = [], [], []
        for name, source in sources.items():
            model = TransferEstimator(
                source=source,
                strategy="lp_ft",
                compare_with_scratch=True,
                validation_fraction=guard_fraction,
                random_state=seed,
            ).fit(X[train], Y[train])
            guarded.append(test_r2(model, X[test], Y[test]))
            kept.append(model.kept_)
            baseline = TransferEstimator(
                hidden_layer_sizes=widths[name], random_state=seed
            ).fit(X[train], Y[train])
            scratch.append(test_r2(baseline, X[test], Y[test]))
        result["r2 guarded"], result["kept"] = np.array(guarded), kept
        result["guard fraction"] = guard_fraction
        result["r2 scratch"] = np.array(scratch)
    return result


def correlations(score, truth):
    rho = spearmanr(score, truth).statistic
    tau = kendalltau(score, truth).statistic
    regret = truth.max() - truth[np.argmax(score)]
    return rho, tau, regret


def summarise(title, runs):
    """Print the rank-correlation table and the per-source means."""
    print(f"\n### {title}\n")
    print(
        "| score | truth (test R^2) | candidates | Spearman rho | Kendall tau | "
        "regret of the top-scored |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: |")
    names = runs[0]["names"]
    plausible = np.array([SHUFFLED not in name for name in names])
    for method in SCORES:
        for truth in TRUTHS:
            for label, keep in (("all", slice(None)), ("without shuffled", plausible)):
                stats = np.array(
                    [
                        correlations(run[method][keep], run[f"r2 {truth}"][keep])
                        for run in runs
                    ]
                )
                cells = [
                    f"{np.nanmean(col):.2f} ± {np.nanstd(col):.2f}" for col in stats.T
                ]
                print(f"| {method} | {truth} | {label} | " + " | ".join(cells) + " |")
    print(f"\nmean ± std over {len(runs)} draws (target x seed).\n")
    print("| source | LogME | probe LOO R^2 | R^2 lp_ft | R^2 linear_probe |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for i, name in enumerate(names):
        cells = [
            np.mean([run[key][i] for run in runs])
            for key in ("logme", "linear_probe", "r2 lp_ft", "r2 linear_probe")
        ]
        print(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    print("\nmeans over the draws.")


def summarise_guard(title, runs):
    runs = [run for run in runs if "r2 guarded" in run]
    if not runs:
        return
    print(f"\n### Negative-transfer guard: {title}\n")
    lp_ft = np.concatenate([run["r2 lp_ft"] for run in runs])
    scratch = np.concatenate([run["r2 scratch"] for run in runs])
    guarded = np.concatenate([run["r2 guarded"] for run in runs])
    kept = np.concatenate([run["kept"] for run in runs])
    better = np.maximum(lp_ft, scratch)
    print("| model | mean test R^2 | median | worst |")
    print("| --- | ---: | ---: | ---: |")
    for label, values in (
        ("lp_ft", lp_ft),
        ("from scratch, same widths", scratch),
        (
            "lp_ft, compare_with_scratch=True, "
            f"validation_fraction={runs[0]['guard fraction']}",
            guarded,
        ),
        ("oracle: better of the two on the test set", better),
    ):
        print(
            f"| {label} | {values.mean():.3f} | {np.median(values):.3f} | "
            f"{values.min():.3f} |"
        )
    chose_better = np.where(kept == "scratch", scratch >= lp_ft, lp_ft >= scratch)
    print(
        f"\n{len(kept)} fits (source x draw); the guard kept scratch in "
        f"{(kept == 'scratch').sum()}, and kept the one with the better test "
        f"R^2 in {chose_better.sum()}."
    )


def california(seeds, ks, guard_k, guard_fraction):
    data = load_california_housing()
    X, y = data.data, data.target.reshape(-1, 1)
    region = data.region
    target = region == "NEAR OCEAN"
    fill = np.nanmedian(X[~target], axis=0)
    X = np.where(np.isnan(X), fill, X)  # 207 missing total_bedrooms
    X = StandardScaler().fit(X[~target]).transform(X)
    ocean, inland = region == "<1H OCEAN", region == "INLAND"
    ocean_rows = np.flatnonzero(ocean)
    subsample = np.random.RandomState(0).permutation(ocean_rows)
    both = ocean | inland
    specs = [
        ("<1H OCEAN + INLAND", both, DEFAULT_WIDTHS, False),
        ("<1H OCEAN", ocean, DEFAULT_WIDTHS, False),
        ("INLAND", inland, DEFAULT_WIDTHS, False),
        ("NEAR BAY", region == "NEAR BAY", DEFAULT_WIDTHS, False),
        ("<1H OCEAN, 300 rows", subsample[:300], DEFAULT_WIDTHS, False),
        ("<1H OCEAN, 2000 rows", subsample[:2000], DEFAULT_WIDTHS, False),
        ("<1H OCEAN + INLAND, width (16,)", both, (16,), False),
        ("<1H OCEAN + INLAND, width (32, 32)", both, (32, 32), False),
        (f"<1H OCEAN, {SHUFFLED}", ocean, DEFAULT_WIDTHS, True),
    ]
    print("California housing, target NEAR OCEAN:", flush=True)
    sources = pretrain(specs, X, y)
    widths = {name: w for name, _, w, _ in specs}
    for k in ks:
        runs = [
            evaluate(
                sources,
                widths,
                X[target],
                y[target],
                k,
                seed,
                guard_fraction if k == guard_k else None,
            )
            for seed in seeds
        ]
        summarise(f"California housing, target NEAR OCEAN, k = {k}", runs)
        summarise_guard(f"California, k = {k}", runs)


def parkinsons(patients, seeds, k, guard_fraction):
    data = load_parkinsons_telemonitoring()
    subjects = np.unique(data.subject)
    sex = {s: data.data[data.subject == s, 1][0] for s in subjects}
    age = {s: data.data[data.subject == s, 0][0] for s in subjects}
    runs = []
    for patient in patients:
        target = data.subject == patient
        X = StandardScaler().fit(data.data[~target]).transform(data.data)
        Y = data.target
        others = [s for s in subjects if s != patient]
        by_age = sorted(others, key=lambda s: abs(age[s] - age[patient]))
        rng = np.random.RandomState(patient)

        def rows(group):
            return np.isin(data.subject, group)

        specs = [
            ("all 41 others", ~target, DEFAULT_WIDTHS, False),
            (
                "same sex",
                rows([s for s in others if sex[s] == sex[patient]]),
                DEFAULT_WIDTHS,
                False,
            ),
            (
                "other sex",
                rows([s for s in others if sex[s] != sex[patient]]),
                DEFAULT_WIDTHS,
                False,
            ),
            ("10 closest in age", rows(by_age[:10]), DEFAULT_WIDTHS, False),
            ("10 farthest in age", rows(by_age[-10:]), DEFAULT_WIDTHS, False),
            (
                "5 random others",
                rows(rng.choice(others, 5, replace=False)),
                DEFAULT_WIDTHS,
                False,
            ),
            ("all 41 others, width (16,)", ~target, (16,), False),
            (f"all 41 others, {SHUFFLED}", ~target, DEFAULT_WIDTHS, True),
        ]
        print(f"Parkinson's, target patient {patient}:", flush=True)
        sources = pretrain(specs, X, Y)
        widths = {name: w for name, _, w, _ in specs}
        runs += [
            evaluate(sources, widths, X[target], Y[target], k, seed, guard_fraction)
            for seed in seeds
        ]
    summarise(f"Parkinson's telemonitoring, patients {list(patients)}, k = {k}", runs)
    summarise_guard(f"Parkinson's, k = {k}", runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["california", "parkinsons"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        help="held-out share of the compare_with_scratch guard",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = range(1) if args.quick else range(3)
    patients = (1,) if args.quick else (1, 15, 29)
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    if args.only in (None, "california"):
        california(seeds, (50, 200), 50, args.validation_fraction)
    if args.only in (None, "parkinsons"):
        parkinsons(patients, seeds, 25, args.validation_fraction)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
