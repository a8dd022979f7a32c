"""Accuracy on the Mulan multi-target regression sets: MultiTaskRegressor vs sklearn.

Protocol, per data set (``load_mulan``, data home ``SKLEARN_MTL_DATA``):

- ``KFold(5, shuffle=True, random_state=0)`` (3 folds with ``--quick``);
- inputs: ``SimpleImputer(strategy="median")`` then ``StandardScaler``, in a
  ``Pipeline`` fitted on each training fold;
- metric: aRRMSE (Mulan's definition): per target
  ``sqrt(sum (y - y_hat)^2 / sum (y - mean_train(y))^2)`` with the TRAINING
  fold's mean of that target, averaged over targets; mean over folds. Lower is
  better; 1.0 is "predict the training mean".

Models (all single-threaded by default, see ``--threads``):

- ``RidgeCV()``;
- ``RandomForestRegressor(n_estimators=100, n_jobs=1, random_state=0)``;
- ``MLPRegressor(max_iter=500, random_state=0)`` on standardised targets
  (``TransformedTargetRegressor(transformer=StandardScaler())``);
- ``MultiOutputRegressor(HistGradientBoostingRegressor(random_state=0))``;
- ``MultiTaskRegressor(random_state=0)`` with its defaults (``MTR``), and
  with the fixed settings that were the defaults before they adapted to the
  data (``MTR-fixed``: ``alpha=1e-2``, ``early_stopping=False``,
  ``shrinkage=False``);
- the strongest tabular anchors, from the benchmark-only extra
  (``pip install ".[bench]"``): ``XGBRegressor(tree_method="hist",
  multi_strategy="multi_output_tree")`` (``XGB``), ``CatBoostRegressor(
  loss_function="MultiRMSE")`` (``CatBoost``, only on sets with fewer than
  ``CATBOOST_MAX_FEATURES`` inputs, where it is affordable) and pytabkit's
  ``RealMLP_TD_Regressor()`` with its tuned defaults (``RealMLP``), each
  seeded 0 and on ``--threads`` threads; a missing package skips its column;
- ``MultiTaskRegressor(random_state=0)`` tuned by ``GridSearchCV`` inside each
  training fold (inner ``KFold(3, shuffle=True, random_state=0)``, scored by
  -aRRMSE with the inner test fold's mean), over the 8 candidates of
  ``GRID``. The grid is skipped on a set when its estimated cost
  (``GRID_COST_FACTOR`` x the defaults' measured fit time) exceeds
  ``--grid-budget`` seconds; the output says so.

    python benchmarks/bench_mulan.py --quick --skip-grid   # small sets, 3 folds
    python benchmarks/bench_mulan.py                       # all 16 sets, grid
    python benchmarks/bench_mulan.py --datasets enb slump  # some sets
    python benchmarks/bench_mulan.py --models MTR          # rerun one column

Prints a markdown table and writes it to ``benchmarks/results/mulan.md``
(rewritten after every data set, so a cut run leaves its rows). Every score
and fit time also goes to ``benchmarks/results/mulan.json``; a run with
``--models`` replaces those models' entries there and renders the table from
every model stored (``--fresh`` starts the file over).
"""

import argparse
import json
import os
import shlex
import sys
import time
import warnings
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
import torch  # noqa: E402
from scipy.stats import rankdata  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import RidgeCV  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402
from sklearn.multioutput import MultiOutputRegressor  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_mtl import MultiTaskRegressor  # noqa: E402
from sklearn_mtl.datasets import MULAN_DATASETS, load_mulan  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "mulan.md"
CATBOOST_MAX_FEATURES = 100
# the defaults before they adapted to the data, written out
FIXED = {"alpha": 1e-2, "early_stopping": False, "shrinkage": False}
QUICK_MAX_ROWS = 1200
GRID = {
    "model__alpha": [1e-4, 1e-2],
    "model__hidden_layer_sizes": [(128, 128), (64,)],
    "model__early_stopping": [False, True],
}
# Inner fits of the grid: 8 candidates x 3 folds on 2/3 of the rows, plus the
# refit (~17 default fits if all cost the same); (64,) and early stopping are
# cheaper. Measured over the 16 sets: 8x to 33x the defaults, median ~13x.
GRID_COST_FACTOR = 12

MODELS = [
    "RidgeCV",
    "RF",
    "MLP",
    "HGB",
    "XGB",
    "CatBoost",
    "RealMLP",
    "MTR-fixed",
    "MTR",
    "MTR-grid",
]
ANCHORS = {"XGB": "xgboost", "CatBoost": "catboost", "RealMLP": "pytabkit"}


def make_model(name, threads=1):
    """Return an unfitted estimator (the step after imputer and scaler)."""
    if name == "XGB":
        from xgboost import XGBRegressor

        return XGBRegressor(
            tree_method="hist",
            multi_strategy="multi_output_tree",
            n_jobs=threads,
            random_state=0,
        )
    if name == "CatBoost":
        from catboost import CatBoostRegressor

        return CatBoostRegressor(
            loss_function="MultiRMSE",
            thread_count=threads,
            random_seed=0,
            verbose=0,
            allow_writing_files=False,
        )
    if name == "RealMLP":
        from pytabkit import RealMLP_TD_Regressor

        return RealMLP_TD_Regressor(
            device="cpu", random_state=0, n_threads=threads, verbosity=0
        )
    if name == "MTR-fixed":
        return MultiTaskRegressor(random_state=0, **FIXED)
    if name == "RidgeCV":
        return RidgeCV()
    if name == "RF":
        return RandomForestRegressor(n_estimators=100, n_jobs=1, random_state=0)
    if name == "MLP":
        return TransformedTargetRegressor(
            regressor=MLPRegressor(max_iter=500, random_state=0),
            transformer=StandardScaler(),
        )
    if name == "HGB":
        return MultiOutputRegressor(HistGradientBoostingRegressor(random_state=0))
    if name in ("MTR", "MTR-grid"):
        return MultiTaskRegressor(random_state=0)
    raise ValueError(name)


def make_pipeline(name, threads=1):
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            ("model", make_model(name, threads)),
        ]
    )


def arrmse(Y_true, Y_pred, train_mean):
    """Mulan's aRRMSE: mean over targets of sqrt(SSE / SS about train_mean)."""
    sse = ((Y_true - Y_pred) ** 2).sum(axis=0)
    sst = ((Y_true - train_mean) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rrmse = np.sqrt(sse / sst)
    rrmse[sst == 0] = np.nan  # undefined: test targets all equal the train mean
    return float(np.nanmean(rrmse))


def neg_arrmse_scorer(estimator, X, Y):
    """Inner-CV scorer: -aRRMSE with the inner test fold's own mean."""
    return -arrmse(Y, estimator.predict(X), Y.mean(axis=0))


def fit_one(name, X_train, Y_train, threads=1):
    """Fit model ``name``; return (fitted, grid best params or None)."""
    pipe = make_pipeline(name, threads)
    if name != "MTR-grid":
        return pipe.fit(X_train, Y_train), None
    search = GridSearchCV(
        pipe,
        GRID,
        cv=KFold(3, shuffle=True, random_state=0),
        scoring=neg_arrmse_scorer,
        n_jobs=1,
        error_score=np.nan,
    )
    search.fit(X_train, Y_train)
    best = {k.removeprefix("model__"): v for k, v in search.best_params_.items()}
    return search.best_estimator_, best


def run_dataset(name, X, Y, models, n_folds, grid_budget, log, threads=1):
    """Cross-validate ``models`` on one set; return a dict of results."""
    folds = list(KFold(n_folds, shuffle=True, random_state=0).split(X))
    if X.shape[1] >= CATBOOST_MAX_FEATURES and "CatBoost" in models:
        log(f"  CatBoost left out: {X.shape[1]} >= {CATBOOST_MAX_FEATURES} inputs")
        models = [m for m in models if m != "CatBoost"]
    scores = {m: [] for m in models}
    seconds = {m: 0.0 for m in models}
    grid_choices, skipped = [], None
    for m in models:
        base = next((b for b in ("MTR-fixed", "MTR") if b in seconds), None)
        if m == "MTR-grid" and base is not None:
            estimate = GRID_COST_FACTOR * seconds[base]
            if estimate > grid_budget:
                skipped = (
                    f"grid skipped on {name}: estimated {estimate / 60:.0f} min "
                    f"({GRID_COST_FACTOR} x {base}'s {seconds[base]:.0f}"
                    f" s) > --grid-budget {grid_budget / 60:.0f} min"
                )
                log(f"  {skipped}")
                scores.pop(m)
                seconds.pop(m)
                continue
        for train, test in folds:
            start = time.perf_counter()
            try:
                fitted, best = fit_one(m, X[train], Y[train], threads)
            except Exception as exc:  # keep the run going; report the failure
                log(f"  {m}: {type(exc).__name__}: {exc}")
                scores[m].append(np.nan)
                continue
            finally:
                seconds[m] += time.perf_counter() - start
            Y_pred = fitted.predict(X[test]).reshape(Y[test].shape)
            scores[m].append(arrmse(Y[test], Y_pred, Y[train].mean(axis=0)))
            if best is not None:
                grid_choices.append(best)
            del fitted
        log(f"  {m:<20} aRRMSE {np.mean(scores[m]):.4f}  fit {seconds[m]:7.1f} s")
    return {
        "shape": X.shape + (Y.shape[1],),
        "score": {m: float(np.mean(s)) for m, s in scores.items()},
        "seconds": seconds,
        "grid_choices": grid_choices,
        "skipped": skipped,
    }


def fmt_choice(best):
    sizes = "-".join(str(s) for s in best["hidden_layer_sizes"])
    es = "ES" if best["early_stopping"] else "noES"
    return f"a={best['alpha']:g},{sizes},{es}"


def versions():
    """Return the versions of the anchor packages that are installed."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in ("scikit-learn", *ANCHORS.values()):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            pass
    return ", ".join(found)


def installed(model):
    """Whether the package an anchor needs is importable."""
    from importlib.util import find_spec

    return model not in ANCHORS or find_spec(ANCHORS[model]) is not None


def rank_table(results, models, shown):
    """Lines: the models' mean rank over the sets where every one of them ran.

    ``shown`` holds the tables already in the report (a repeat is left out).
    """
    sets = [n for n, r in results.items() if all(m in r["score"] for m in models)]
    key = (tuple(models), tuple(sets))
    if not sets or len(models) < 2 or key in shown:
        return []
    shown.add(key)
    ranks = np.array([rankdata([results[n]["score"][m] for m in models]) for n in sets])
    return [
        f"Mean rank over the {len(sets)} set(s) where all of these ran "
        f"(1 = best, ties averaged): {', '.join(sets)}",
        "",
        "| " + " | ".join(models) + " |",
        "| " + " | ".join(["---:"] * len(models)) + " |",
        "| " + " | ".join(f"{r:.2f}" for r in ranks.mean(axis=0)) + " |",
        "",
    ]


def head_to_head(results, models):
    """Lines: MTR against each anchor set by set, and sets worse than the mean."""
    if "MTR" not in models:
        return []
    lines = ["", "MTR head to head (sets where both ran: MTR better / worse):", ""]
    for other in (m for m in models if m != "MTR"):
        pairs = [
            (r["score"]["MTR"], r["score"][other])
            for r in results.values()
            if "MTR" in r["score"] and other in r["score"]
        ]
        wins = sum(a < b for a, b in pairs)
        losses = sum(a > b for a, b in pairs)
        lines.append(f"- vs {other}: {wins} / {losses} of {len(pairs)}")
    worse = [
        f"{name} ({r['score']['MTR']:.3f})"
        for name, r in results.items()
        if r["score"].get("MTR", 0) >= 1
        and any(v < 1 for m, v in r["score"].items() if m != "MTR")
    ]
    lines += [
        "",
        "Sets where MTR is not better than the training mean (aRRMSE >= 1) "
        "while some model is: " + (", ".join(worse) if worse else "none") + ".",
    ]
    return lines


def render(results, models, args, command, elapsed, done):
    """Return the markdown report of ``results`` (data set -> dict)."""
    n_folds = 3 if args.quick else 5
    lines = [
        "# Mulan multi-target regression: aRRMSE (lower is better)",
        "",
        "```bash",
        command,
        "```",
        "",
    ]
    if not done:
        lines += [f"**Partial: {len(results)} data set(s) done so far.**", ""]
    lines += [
        f"{n_folds}-fold CV (`KFold({n_folds}, shuffle=True, random_state=0)`); "
        "median imputation + StandardScaler fitted per training fold; aRRMSE = "
        "mean over targets of sqrt(SSE / sum of squared deviations from the "
        "training fold's target mean), averaged over folds. Best per row in "
        "bold. Fit seconds are summed over the folds (for the grid: the inner "
        "search and the refit).",
        "",
        f"Threads: {args.threads} (torch and BLAS/OpenMP); torch "
        f"{torch.__version__}, MultiTaskRegressor device "
        f"{'cuda' if torch.cuda.is_available() else 'cpu'}. Shared 2-core "
        "machine: the seconds are noisy, compare them within a row.",
        "",
        "Models: RidgeCV = `RidgeCV()`; RF = `RandomForestRegressor(n_estimators="
        "100, n_jobs=1, random_state=0)`; MLP = `MLPRegressor(max_iter=500, "
        "random_state=0)` in `TransformedTargetRegressor(transformer="
        "StandardScaler())`; HGB = `MultiOutputRegressor("
        "HistGradientBoostingRegressor(random_state=0))`; XGB = "
        '`XGBRegressor(tree_method="hist", multi_strategy='
        '"multi_output_tree", random_state=0)`; CatBoost = '
        '`CatBoostRegressor(loss_function="MultiRMSE", random_seed=0)` '
        f"(sets with fewer than {CATBOOST_MAX_FEATURES} inputs); RealMLP = "
        "pytabkit's `RealMLP_TD_Regressor(random_state=0)` (its tuned "
        "defaults); MTR-fixed = `MultiTaskRegressor(random_state=0, "
        + ", ".join(f"{k}={v!r}" for k, v in FIXED.items())
        + ")` (the fixed defaults of earlier versions); MTR = "
        "`MultiTaskRegressor(random_state=0)` (defaults); MTR-grid = "
        "MultiTaskRegressor tuned per training fold (below). Columns ending in "
        "` s`: fit seconds summed over folds; versions: " + versions() + ".",
        "",
    ]
    head = ["data set", "n x d x t"] + models + [f"{m} s" for m in models]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("| --- | --- | " + " | ".join(["---:"] * 2 * len(models)) + " |")
    for name, r in results.items():
        vals = [r["score"].get(m, np.nan) for m in models]
        best = np.nanmin(vals)
        cells = []
        for m, v in zip(models, vals, strict=True):
            if np.isnan(v):
                cells.append("n/a" if m in r["score"] else "skipped")
            elif v == best:
                cells.append(f"**{v:.4f}**")
            else:
                cells.append(f"{v:.4f}")
        secs = [f"{r['seconds'][m]:.1f}" if m in r["seconds"] else "-" for m in models]
        n, d, t = r["shape"]
        lines.append(f"| {name} | {n} x {d} x {t} | " + " | ".join(cells + secs) + " |")

    lines += [""]
    shown = set()
    partial = [m for m in models if all(m in r["score"] for r in results.values())]
    # the anchors against the defaults (MTR-fixed ties MTR on many sets)
    ours = [m for m in models if m != "MTR-fixed"]
    subsets = (ours, [m for m in ours if m != "CatBoost"], models, partial)
    for subset in subsets:
        lines += rank_table(results, subset, shown)
    lines += head_to_head(results, models)
    if "MTR-grid" in models:
        lines += [
            "",
            "MTR-grid: `GridSearchCV` in each training fold, inner "
            "`KFold(3, shuffle=True, random_state=0)`, scored by -aRRMSE, over "
            "8 candidates: alpha in [1e-4, 1e-2] x hidden_layer_sizes in "
            "[(128, 128), (64,)] x early_stopping in [False, True] (other "
            "parameters at their defaults, random_state=0). Chosen per outer "
            "fold:",
            "",
        ]
        for name, r in results.items():
            if r["grid_choices"]:
                chosen = "; ".join(fmt_choice(b) for b in r["grid_choices"])
                lines.append(f"- {name}: {chosen}")
            if r["skipped"]:
                lines.append(f"- {r['skipped']}.")
    lines += [
        "",
        "OPENBLAS_CORETYPE: "
        + (f"set to {OPENBLAS_CORETYPE!r}." if OPENBLAS_CORETYPE else "not set."),
        "",
        f"Total wall time: {elapsed / 60:.1f} min"
        + ("." if args.models != [] else " (the table only: no model was run)."),
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=list(MULAN_DATASETS),
        choices=list(MULAN_DATASETS),
        metavar="NAME",
        help="Mulan sets to run (default: all 16)",
    )
    parser.add_argument(
        "--skip-grid", action="store_true", help="leave out the tuned variant"
    )
    parser.add_argument(
        "--models",
        nargs="*",
        choices=MODELS,
        metavar="MODEL",
        help="models to run (default: all; none: only render the table); the "
        "others are read from the JSON file of earlier runs",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="ignore the results of earlier runs"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"3 folds, only the sets with fewer than {QUICK_MAX_ROWS} rows",
    )
    parser.add_argument(
        "--grid-budget",
        type=float,
        default=900.0,
        help="skip the grid on a set whose estimated grid time exceeds this "
        "many seconds (default 900)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch and BLAS threads (default 1)"
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="markdown file to write"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    command = "SKLEARN_MTL_DATA={} {} {}".format(
        shlex.quote(os.environ.get("SKLEARN_MTL_DATA", "")),
        ".venv/bin/python benchmarks/bench_mulan.py",
        shlex.join(sys.argv[1:]),
    ).rstrip()

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    to_run = [
        m for m in args.models or MODELS if not (args.skip_grid and m == "MTR-grid")
    ]
    for m in [m for m in to_run if not installed(m)]:
        log(f"{m} left out: {ANCHORS[m]} is not installed (pip install '.[bench]')")
        to_run.remove(m)
    n_folds = 3 if args.quick else 5
    args.output.parent.mkdir(parents=True, exist_ok=True)
    store = args.output.with_suffix(".json")
    stored = {}
    if store.exists() and not args.fresh:
        stored = json.loads(store.read_text())
        if stored.get("n_folds") != n_folds:
            stored = {}
    results = stored.get("results", {})

    t0 = time.perf_counter()
    for name in args.datasets:
        X, Y = load_mulan(name, return_X_y=True)
        if args.quick and X.shape[0] >= QUICK_MAX_ROWS:
            log(f"{name}: {X.shape[0]} rows, left out by --quick")
            continue
        log(f"{name}: {X.shape[0]} x {X.shape[1]} x {Y.shape[1]}")
        new = run_dataset(
            name, X, Y, to_run, n_folds, args.grid_budget, log, args.threads
        )
        old = results.get(name, {"score": {}, "seconds": {}})
        for key in ("score", "seconds"):
            new[key] = {**old[key], **new[key]}
        if "MTR-grid" not in to_run:
            new["grid_choices"] = old.get("grid_choices", [])
            new["skipped"] = old.get("skipped")
        results[name] = new
        del X, Y
        store.write_text(json.dumps({"n_folds": n_folds, "results": results}))
        models = [m for m in MODELS if any(m in r["score"] for r in results.values())]
        report = render(
            results, models, args, command, time.perf_counter() - t0, done=False
        )
        args.output.write_text(report)
    models = [m for m in MODELS if any(m in r["score"] for r in results.values())]
    report = render(results, models, args, command, time.perf_counter() - t0, True)
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
