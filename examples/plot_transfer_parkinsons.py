"""
=====================================================
A new patient: transfer on Parkinson's telemonitoring
=====================================================

The Parkinson's telemonitoring data (Tsanas et al., 2010) has 5,875 voice
recordings of 42 patients, each with two clinical scores (motor and total
UPDRS). A model of a new patient could start from the other patients:

- **source only**: a :class:`~sklearn_mtl.MultiTaskRegressor` trained on the
  other patients, used as it is;
- **transfer**: ``TransferEstimator(source=that model)`` with its default
  strategy, fitted on ``k`` recordings of the new patient;
- **transfer with the scratch guard**: the same with
  ``compare_with_scratch=True``, which also trains a network from scratch on
  part of the ``k`` recordings and keeps it when the held-out rows say the
  source's trunk does harm;
- **from scratch**: ``TransferEstimator(source=None)``, the same kind of
  network trained on those ``k`` recordings only.

Each is scored by :math:`R^2` (mean over the two scores) on the patient's
other recordings, for ``k`` = 5, 10 and 25. To keep the example short, two
patients are held out and each ``k`` is drawn with two seeds; the benchmark
``benchmarks/bench_transfer.py`` runs more of them.

The data set is read from the data home (``SKLEARN_MTL_DATA``, see
:func:`~sklearn_mtl.datasets.get_data_home`); without it, the loader stops the
script with a message that says where to put the file and how to download it.
"""

# %%
# Data
# ----
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import mean_absolute_error
from sklearn.preprocessing import StandardScaler

from sklearn_mtl import MultiTaskRegressor, TransferEstimator
from sklearn_mtl.datasets import load_parkinsons_telemonitoring

data = load_parkinsons_telemonitoring()
X, Y, patient = data.data, data.target, data.subject
print(X.shape, Y.shape, data.target_names, f"{len(np.unique(patient))} patients")

# %%
# Pretrain on the other patients
# ------------------------------
# The two held-out patients are left out of the source entirely, and so is
# their data from the input scaling: the scaler is fitted on the source
# patients only. (A source must be the estimator itself, not a pipeline, so
# the scaling is applied outside it.)
held_out = [1, 22]
source_rows = ~np.isin(patient, held_out)
scaler = StandardScaler().fit(X[source_rows])
X = scaler.transform(X)
source = MultiTaskRegressor(
    hidden_layer_sizes=(64, 64), early_stopping=True, max_epochs=40, random_state=0
).fit(X[source_rows], Y[source_rows])
print(f"source: {source_rows.sum()} recordings, {source.n_iter_} epochs")

# %%
# Adapt to each held-out patient
# ------------------------------
# ``strategy_`` records what ``strategy="auto"`` fitted, and ``kept_``
# whether the guard kept the transfer or switched to the scratch network.
ks, seeds = [5, 10, 25], [0, 1]
methods = ["transfer (default)", "transfer + guard", "from scratch", "source only"]
r2 = {(p, m): np.zeros((len(ks), len(seeds))) for p in held_out for m in methods}
mae = {(p, m): np.zeros((len(ks), len(seeds))) for p in held_out for m in methods}
chosen = {p: [[] for _ in ks] for p in held_out}
for p in held_out:
    X_p, Y_p = X[patient == p], Y[patient == p]
    for j, seed in enumerate(seeds):
        order = np.random.RandomState(seed).permutation(len(X_p))
        for i, k in enumerate(ks):
            train, test = order[:k], order[k:]
            models = {
                "transfer (default)": TransferEstimator(
                    source=source, random_state=seed
                ).fit(X_p[train], Y_p[train]),
                "transfer + guard": TransferEstimator(
                    source=source, compare_with_scratch=True, random_state=seed
                ).fit(X_p[train], Y_p[train]),
                # MultiTaskRegressor's epoch budget: TransferEstimator's own
                # is meant for fine-tuning a trained trunk
                "from scratch": TransferEstimator(
                    source=None,
                    hidden_layer_sizes=(64, 64),
                    max_epochs=200,
                    random_state=seed,
                ).fit(X_p[train], Y_p[train]),
                "source only": source,
            }
            chosen[p][i].append(
                f"{models['transfer (default)'].strategy_}/"
                f"{models['transfer + guard'].kept_}"
            )
            for name, model in models.items():
                r2[p, name][i, j] = model.score(X_p[test], Y_p[test])
                mae[p, name][i, j] = mean_absolute_error(
                    Y_p[test], model.predict(X_p[test])
                )
    print(f"patient {p}: {len(X_p)} recordings")
    for k, picks in zip(ks, chosen[p], strict=True):
        print(f"  k={k:>2}: strategy_/kept_ by seed: {', '.join(picks)}")
    print(f"  {'k = 5, 10, 25:':<19} {'R^2':^24} | MAE (UPDRS points)")
    for name in methods:
        print(
            f"  {name:<19} "
            + " ".join(f"{v:7.2f}" for v in r2[p, name].mean(axis=1))
            + " | "
            + " ".join(f"{v:5.2f}" for v in mae[p, name].mean(axis=1))
        )

# %%
# R^2 and mean absolute error against k
# -------------------------------------
# :math:`R^2` is computed within one patient, whose scores vary far less than
# the scores of different patients: a constant offset is enough to make it
# very negative, hence the symmetric-log scale. The mean absolute error, in
# UPDRS points, is on the bottom row.
fig, axes = plt.subplots(2, len(held_out), figsize=(10, 7), sharex=True)
for col, p in enumerate(held_out):
    for name in methods:
        for row, values in enumerate([r2[p, name], mae[p, name]]):
            axes[row, col].errorbar(
                ks,
                values.mean(axis=1),
                yerr=values.std(axis=1),
                marker="o",
                capsize=3,
                label=name,
            )
    axes[0, col].set_yscale("symlog", linthresh=1.0)
    axes[0, col].axhline(0.0, color="grey", lw=0.8)
    axes[0, col].set_title(f"held-out patient {p}")
    axes[1, col].set_xlabel("recordings of the new patient (k)")
    axes[1, col].set_xticks(ks)
axes[0, 0].set_ylabel("test $R^2$ (symlog)")
axes[1, 0].set_ylabel("test MAE (UPDRS points)")
axes[0, 0].legend(loc="lower right")
fig.tight_layout()
plt.show()

# %%
# Here the source's features do **not** pay off. The source alone is far off
# for a new patient (R^2 of about -20 and -15): most of the variation of UPDRS
# is between patients, and a new patient's level is not predictable from the
# voice measures well enough. Within one patient the scores follow a smooth
# trend over ``test_time``, which a small network trained on a handful of
# recordings picks up.
#
# With fewer than 100 rows, ``strategy="auto"`` compares, by 5-fold error on
# the patient's rows, the linear probe of the source's features (fine-tuned
# and averaged with itself, ``"lp_ft"``), a full
# fine-tune from a new head and the source's architecture trained from
# scratch (as :class:`~sklearn_mtl.MultiTaskRegressor` trains a network on a
# few rows: twice ``max_epochs``, 200 epochs as the baseline here, with
# ``alpha`` 1e-2 where the baseline has 1e-4), and fits the best; scratch,
# which drops the source, must win by more than one standard error, a wide
# margin on 5 or 10 recordings. It chose the scratch network in 10 of the 12 runs here
# (``None/...`` above) and the fine-tune in the other two (the rule that
# keeps a source which explains most of what the rows show never
# applied); the probe alone stays below zero at small ``k`` (see
# :ref:`benchmarks`). For patient 1 the
# default ends level with the baseline trained from scratch at every ``k``
# (0.20 against 0.19 at ``k=5``). For patient 22 it stays below it at
# ``k=5`` (-0.28 against 0.07), where it kept the fine-tune, and ends
# above it at ``k=10`` (0.06 against -0.03) and ``k=25`` (0.83 against
# 0.65). Held-out folds of 1 to 5 recordings do not always show the harm.
#
# ``compare_with_scratch=True`` adds a check of a kept transfer on the rows
# it holds out (``validation_fraction``, 10%): two or three recordings at
# ``k=25``, fewer below, rarely enough to prove harm. Here it switched one
# more run to the scratch network (patient 22, ``k=5`` with seed 1), which
# moved that ``k`` from -0.28 to -0.06.
# A related source is not automatically a useful one, and a
# handful of rows cannot tell: this is why the from-scratch baseline belongs
# in every transfer experiment, scored on data held out from both.
