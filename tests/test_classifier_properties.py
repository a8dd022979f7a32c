"""Hypothesis property tests of MultiTaskClassifier."""

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_mtl import MultiTaskClassifier

TINY = dict(hidden_layer_sizes=(8,), max_epochs=5, batch_size=16, lr=1e-2)
NAMES = np.array(["ant", "bee", "cat", "dog"])  # sorted, like the class codes
features = st.floats(-3, 3, allow_nan=False, width=64)


@st.composite
def labelled_problems(draw, max_tasks=2, max_classes=3):
    """Draw (X, codes, mask): 6..40 rows, int class codes, each row labelled.

    ``codes[i, t]`` is a class code in ``0 .. k_t - 1``; ``mask`` marks the
    unlabelled cells (never a whole row, never row 0).
    """
    n = draw(st.integers(6, 40))
    d = draw(st.integers(1, 4))
    t = draw(st.integers(1, max_tasks))
    X = draw(arrays(np.float64, (n, d), elements=features))
    ks = [draw(st.integers(2, max_classes)) for _ in range(t)]
    codes = np.column_stack(
        [draw(arrays(np.int64, n, elements=st.integers(0, k - 1))) for k in ks]
    )
    mask = np.zeros((n, t), dtype=bool)
    if t > 1:
        mask = draw(arrays(np.bool_, (n, t)))
        mask[np.arange(n), draw(st.integers(0, t - 1))] = False  # a label per row
        mask[0] = False  # and one label per task
    return X, codes, mask


def as_labels(codes, mask, names=NAMES, marker=None):
    """An object Y: ``names[code]`` where labelled, ``marker`` elsewhere."""
    Y = names[codes].astype(object)
    Y[mask] = marker
    return Y


def classes_of(model):
    """The classes of each task, as a list (one array for a 1-D fit too)."""
    return model.classes_ if isinstance(model.classes_, list) else [model.classes_]


def probabilities(model, X):
    proba = model.predict_proba(X)
    return proba if isinstance(proba, list) else [proba]


@given(labelled_problems(), st.integers(0, 2**16), st.data())
def test_the_markers_in_unlabelled_cells_have_no_influence(problem, seed, data):
    # None, NaN and pd.NA, in any mix, all mean "not labelled"
    X, codes, mask = problem
    plain = as_labels(codes, mask)
    mixed = plain.copy()
    for i, j in zip(*np.nonzero(mask), strict=True):
        mixed[i, j] = data.draw(st.sampled_from([None, np.nan, pd.NA]))
    a = MultiTaskClassifier(random_state=seed, **TINY).fit(X, plain)
    b = MultiTaskClassifier(random_state=seed, **TINY).fit(X, mixed)
    for pa, pb in zip(probabilities(a, X), probabilities(b, X), strict=True):
        np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


@given(
    labelled_problems(),
    st.integers(0, 2**16),
    st.sampled_from([None, "balanced"]),
)
def test_unlabelled_cells_have_no_influence(problem, seed, class_weight):
    """With full-batch training the model depends only on the labelled cells.

    Each task's labelled rows alone, stacked one task after the other with
    the other tasks unlabelled, give the same model as the masked ``Y`` whose
    rows hold several labels: each task's loss is the same (weighted) mean
    over the same labelled cells, whatever else the rows hold.
    """
    X, codes, mask = problem
    Y = as_labels(codes, mask)
    n_tasks = Y.shape[1]
    X_parts, Y_parts = [], []
    for t in range(n_tasks):
        rows = ~mask[:, t]
        part = np.full((rows.sum(), n_tasks), None, dtype=object)
        part[:, t] = Y[rows, t]
        X_parts.append(X[rows])
        Y_parts.append(part)
    common = dict(
        hidden_layer_sizes=(8,),
        lr=1e-2,
        batch_size=200,
        max_epochs=5,
        class_weight=class_weight,
        random_state=seed,
    )
    shared = MultiTaskClassifier(**common).fit(X, Y)
    separate = MultiTaskClassifier(**common).fit(np.vstack(X_parts), np.vstack(Y_parts))
    for a, b in zip(probabilities(shared, X), probabilities(separate, X), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@given(labelled_problems(), st.integers(0, 2**16))
def test_relabelling_that_keeps_the_class_order_changes_nothing(problem, seed):
    """Renaming classes by an increasing map gives the very same fit.

    The network sees class codes (positions in the sorted classes), so ints
    ``0, 1, 2`` and strings ``ant, bee, cat`` are the same problem; only the
    labels ``predict`` returns change.
    """
    X, codes, mask = problem
    as_ints = codes.astype(object)
    as_ints[mask] = None
    a = MultiTaskClassifier(random_state=seed, **TINY).fit(X, as_ints)
    b = MultiTaskClassifier(random_state=seed, **TINY).fit(X, as_labels(codes, mask))
    for pa, pb in zip(probabilities(a, X), probabilities(b, X), strict=True):
        np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(
        NAMES[a.predict(X).astype(int)], b.predict(X).astype(str)
    )


@given(
    labelled_problems(),
    st.data(),
    st.integers(0, 2**16),
    st.integers(0, 2**16),
)
def test_permuting_the_classes_permutes_the_probability_columns(
    problem, data, seed_a, seed_b
):
    """Relabelling classes by a permutation permutes ``predict_proba``'s columns.

    The output columns follow the *sorted* classes and each column has its own
    random initial weights, so with hidden layers a relabelling that changes
    the sorted order trains a different network: the equivariance is not exact
    there (probabilities differ by up to ~0.2 after a short fit). What holds is
    the symmetry of the objective: with linear heads (``hidden_layer_sizes=()``)
    and ``alpha > 0`` each task's objective is strictly convex in the weights
    and invariant to relabelling (a permutation of the softmax columns; for a
    binary task a swap of the two classes negates the logit, and the L2 penalty
    is symmetric), so its unique optimum's probabilities are equivariant. Full
    batch training to convergence reaches it from any initialisation, hence two
    different seeds. ``sharing_alpha=0``: the pull of the tasks' heads toward
    their mean couples the tasks and is not symmetric under relabelling one
    task (negating a binary task's weights moves them away from the other
    task's), so with it the probabilities differ by up to ~0.15. The inputs
    are Gaussian (not drawn by Hypothesis): with near-constant feature columns
    (collinear with the unpenalised bias) the optimum is ill-conditioned and
    300 Adam steps do not reach it.
    """
    _, codes, mask = problem
    X = np.random.RandomState(seed_a).normal(size=(len(codes), 3))
    n_tasks = codes.shape[1]
    perms = [
        np.array(data.draw(st.permutations(range(len(NAMES))))) for _ in range(n_tasks)
    ]
    relabelled = np.column_stack(
        [NAMES[perms[t][codes[:, t]]] for t in range(n_tasks)]
    ).astype(object)
    relabelled[mask] = None
    common = dict(
        hidden_layer_sizes=(),
        alpha=0.1,
        sharing_alpha=0.0,
        lr=0.1,
        batch_size=200,
        max_epochs=300,
        tol=0,
        n_iter_no_change=np.inf,
    )
    a = MultiTaskClassifier(random_state=seed_a, **common).fit(
        X, as_labels(codes, mask)
    )
    b = MultiTaskClassifier(random_state=seed_b, **common).fit(X, relabelled)
    classes_a, classes_b = classes_of(a), classes_of(b)
    for t, (pa, pb) in enumerate(
        zip(probabilities(a, X), probabilities(b, X), strict=True)
    ):
        # where class c of a went in b: its new name's position in b.classes_
        renamed = {name: NAMES[perms[t][k]] for k, name in enumerate(NAMES)}
        columns = [list(classes_b[t]).index(renamed[c]) for c in classes_a[t]]
        assert sorted(columns) == list(range(len(columns)))
        np.testing.assert_allclose(pb[:, columns], pa, atol=2e-3)


@given(labelled_problems(), st.integers(0, 2**16))
def test_same_random_state_gives_identical_output(problem, seed):
    X, codes, mask = problem
    Y = as_labels(codes, mask)
    a = MultiTaskClassifier(random_state=seed, dropout=0.1, **TINY).fit(X, Y)
    b = MultiTaskClassifier(random_state=seed, dropout=0.1, **TINY).fit(X, Y)
    for pa, pb in zip(probabilities(a, X), probabilities(b, X), strict=True):
        np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


@given(labelled_problems(max_classes=4), st.integers(0, 2**16))
def test_probabilities_log_probabilities_and_predictions_agree(problem, seed):
    X, codes, mask = problem
    Y = as_labels(codes, mask)
    model = MultiTaskClassifier(random_state=seed, **TINY).fit(X, Y)
    pred = model.predict(X)
    pred = pred if pred.ndim == 2 else pred[:, None]
    classes = classes_of(model)
    log_proba = model.predict_log_proba(X)
    log_proba = log_proba if isinstance(log_proba, list) else [log_proba]
    for t, (p, lp) in enumerate(zip(probabilities(model, X), log_proba, strict=True)):
        present = sorted(set(Y[~mask[:, t], t].tolist()))
        assert classes[t].tolist() == present
        assert p.shape == lp.shape == (len(X), len(present))
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(lp, np.log(p), rtol=1e-9, atol=1e-12)
        assert classes[t][p.argmax(axis=1)].tolist() == pred[:, t].tolist()
