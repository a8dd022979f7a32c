"""
=================================================
Grid search over task weights and regularisation
=================================================

A *main* task has few labels; three *auxiliary* tasks, related to it, are
labelled on every row. How much should the auxiliary tasks weigh in the
objective :math:`\\sum_t w_t L_t + \\alpha R`? ``task_weighting`` and ``alpha``
are ordinary hyperparameters, so :class:`~sklearn.model_selection.GridSearchCV`
can choose them, here with a scorer that looks at the main task only.

Candidates: ``"equal"`` weights (:math:`w_t = 1/4`), fixed weights that favour
the main task, and the main task alone (auxiliary weights 0, i.e. no
multi-task learning), each with three values of ``alpha``.
"""

# %%
# Data: a main task with 15% of its labels, three auxiliary tasks
# ----------------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV

from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl.datasets import make_multitask_regression
from sklearn_mtl.model_selection import MultiTaskKFold

X, Y = make_multitask_regression(
    n_samples=2400,
    n_features=30,
    n_tasks=4,
    relatedness=0.9,
    noise=0.2,
    random_state=0,
)
X_train, Y_train, X_test, Y_test = X[:600], Y[:600].copy(), X[600:], Y[600:]
rng = np.random.RandomState(0)
Y_train[rng.random_sample(len(Y_train)) > 0.15, 0] = np.nan  # 15% labelled
print(f"main task: {np.sum(~np.isnan(Y_train[:, 0]))} labelled training rows")


def main_task_r2(estimator, X, Y):
    """R^2 of task 0 on the rows where it is labelled (a GridSearchCV scorer)."""
    rows = ~np.isnan(Y[:, 0])
    return r2_score(Y[rows, 0], estimator.predict(X[rows])[:, 0])


# %%
# The search
# ----------
# Fixed weights are used as given (not normalised); these all sum to 1 like
# the equal weights, so ``alpha`` has the same relative strength in each.
# ``n_jobs=2`` would train two candidates at a time in separate processes,
# with the same results; for fits this small, starting the worker processes
# (each imports PyTorch) costs more than it saves, so this example stays
# sequential.
weightings = {
    "equal": "equal",
    "main 0.7, aux 0.1 each": [0.7, 0.1, 0.1, 0.1],
    "main only": [1.0, 0.0, 0.0, 0.0],
}
search = GridSearchCV(
    MultiTaskRegressor(hidden_layer_sizes=(64,), max_epochs=60, random_state=0),
    {"task_weighting": list(weightings.values()), "alpha": [1e-4, 1e-2, 1e-1]},
    scoring=main_task_r2,
    # spreads the main task's few labelled rows evenly over the folds
    cv=MultiTaskKFold(3, shuffle=True, random_state=0),
    n_jobs=1,
).fit(X_train, Y_train)

names = {str(v): k for k, v in weightings.items()}
params = search.cv_results_["params"]
mean, std = search.cv_results_["mean_test_score"], search.cv_results_["std_test_score"]
for p, m, sd in zip(params, mean, std, strict=True):
    print(
        f"{names[str(p['task_weighting'])]:<24} alpha={p['alpha']:<7g} "
        f"R^2 {m:.3f} +- {sd:.3f}"
    )
best = search.best_params_
print(
    f"best: {names[str(best['task_weighting'])]}, alpha={best['alpha']:g}; "
    f"main-task test R^2 of the refitted model "
    f"{main_task_r2(search.best_estimator_, X_test, Y_test):.3f}"
)

# %%
# Cross-validated main-task R^2 of each candidate
# -----------------------------------------------
fig, ax = plt.subplots(figsize=(6.5, 4))
for name, weighting in weightings.items():
    picked = [
        i for i, p in enumerate(params) if str(p["task_weighting"]) == str(weighting)
    ]
    alphas = [params[i]["alpha"] for i in picked]
    ax.errorbar(
        alphas, mean[picked], yerr=std[picked], marker="o", capsize=3, label=name
    )
ax.set_xscale("log")
ax.set_xlabel("alpha (L2 strength)")
ax.set_ylabel("main-task $R^2$ (3-fold CV)")
ax.set_title("task_weighting x alpha")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# The auxiliary tasks make up for the main task's missing labels: at every
# ``alpha``, both candidates that weight them in do better than training on
# the main task alone. Equal weights scored highest at every ``alpha`` and the
# search kept them, with ``alpha=1e-2``. The error bars (one standard
# deviation over the three folds, each with about 30 labelled main-task rows)
# of the two weightings that use the auxiliary tasks overlap, so their
# ranking is less certain than it looks; more folds, or repeated
# cross-validation, would be needed to separate them. Which mix of
# weights is best depends on how related the tasks are and how many labels
# each has, which is why it is set by a search on held-out data, scored on the
# task that matters.
