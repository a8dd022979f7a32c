import pickle

import numpy as np
import pytest

from sklearn_mtl import MultiTaskRegressor, suggest_task_groups

KINDS = ["gradient_cosine", "lookahead"]


def clustered_tasks(n=400, seed=0):
    """Tasks 0-2 share one linear target, 3-5 another, unrelated one."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 8)
    centres = rng.randn(2, 8)
    cols = [
        X @ (centres[t // 3] + 0.1 * rng.randn(8)) + 0.1 * rng.randn(n)
        for t in range(6)
    ]
    return X, np.column_stack(cols)


def affinity_model(kind, **params):
    defaults = dict(
        hidden_layer_sizes=(32,),
        max_epochs=60,
        batch_size=32,
        task_affinity=kind,
        random_state=0,
    )
    return MultiTaskRegressor(**{**defaults, **params})


@pytest.mark.parametrize("kind", KINDS)
def test_two_clusters_of_tasks_are_recovered(kind):
    X, Y = clustered_tasks()
    Y[np.random.RandomState(1).rand(*Y.shape) < 0.2] = np.nan
    Y[np.isnan(Y).all(axis=1), 0] = 0.0
    model = affinity_model(kind).fit(X, Y)
    affinity = model.task_affinity_
    assert affinity.shape == (6, 6)
    within = [
        affinity[i, j]
        for i in range(6)
        for j in range(6)
        if i != j and i // 3 == j // 3
    ]
    across = [affinity[i, j] for i in range(6) for j in range(6) if i // 3 != j // 3]
    assert min(within) > max(across)
    groups = suggest_task_groups(model, 2)
    assert sorted(map(list, groups)) == [
        ["task_0", "task_1", "task_2"],
        ["task_3", "task_4", "task_5"],
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_opposite_targets_conflict_when_heads_are_shared(kind):
    rng = np.random.RandomState(0)
    X = rng.randn(300, 6)
    w, v = rng.randn(6), rng.randn(6)
    Y = np.column_stack([X @ w, -(X @ w), X @ v])
    # heads pulled to one shared head: y and -y cannot both be fitted
    tied = (
        affinity_model(
            kind, hidden_layer_sizes=(16,), max_epochs=40, sharing_alpha=10.0
        )
        .fit(X, Y)
        .task_affinity_
    )
    assert tied[0, 1] < 0 and tied[1, 0] < 0
    assert tied[0, 1] < tied[0, 2] and tied[1, 0] < tied[1, 2]
    # free heads: a head can flip its sign, so the trunk serves both alike
    free = affinity_model(kind, hidden_layer_sizes=(16,), max_epochs=40)
    assert free.fit(X, Y).task_affinity_[0, 1] > 0


def test_affinity_is_off_by_default_and_recording_does_not_change_training(
    multitask_data,
):
    X, Y = multitask_data
    params = dict(hidden_layer_sizes=(8,), max_epochs=5, random_state=0)
    off = MultiTaskRegressor(**params).fit(X, Y)
    assert off.net_.affinity_ is None
    assert not hasattr(off, "task_affinity_")
    with pytest.raises(AttributeError, match="task_affinity="):
        off.task_affinity_  # noqa: B018
    on = MultiTaskRegressor(task_affinity="gradient_cosine", **params).fit(X, Y)
    np.testing.assert_array_equal(on.predict(X), off.predict(X))
    np.testing.assert_allclose(np.diag(on.task_affinity_), 1.0)


def test_tasks_never_in_one_batch_have_nan_affinity():
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    Y = np.full((40, 2), np.nan)
    Y[:20, 0] = rng.randn(20)
    Y[20:, 1] = rng.randn(20)
    model = MultiTaskRegressor(
        hidden_layer_sizes=(4,),
        max_epochs=2,
        batch_size=1,
        task_affinity="lookahead",
        random_state=0,
    ).fit(X, Y)
    affinity = model.task_affinity_
    assert np.isnan(affinity[0, 1]) and np.isnan(affinity[1, 0])
    assert np.isfinite(np.diag(affinity)).all()


def test_affinity_survives_pickle_and_keeps_accumulating(multitask_data):
    X, Y = multitask_data
    model = affinity_model("gradient_cosine", max_epochs=3).fit(X, Y)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.task_affinity_, model.task_affinity_)
    loaded.partial_fit(X, Y)
    assert loaded.net_.affinity_.counts.sum() > model.net_.affinity_.counts.sum()


def test_suggest_task_groups_on_a_matrix():
    block = np.kron(np.eye(3), np.ones((4, 4))) - 0.2
    rng = np.random.RandomState(0)
    noisy = block + 0.05 * rng.randn(12, 12)
    # 12 tasks: clustering; the three blocks come back
    groups = suggest_task_groups(noisy, 3)
    assert sorted(sorted(g.tolist()) for g in groups) == [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9, 10, 11],
    ]
    # 6 tasks: every partition is scored
    small = block[:6, :6] + 0.05 * rng.randn(6, 6)
    groups = suggest_task_groups(small, 2, task_names=list("abcdef"))
    assert sorted(sorted(g.tolist()) for g in groups) == [
        ["a", "b", "c", "d"],
        ["e", "f"],
    ]
    assert [g.tolist() for g in suggest_task_groups(small, 1)] == [list(range(6))]
    assert len(suggest_task_groups(small, 6)) == 6


@pytest.mark.parametrize(
    "affinity, n_groups, names, match",
    [
        (np.ones((2, 3)), 1, None, "square"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), 1, None, "infinite"),
        (np.eye(3), 4, None, "between 1 and the number of tasks"),
        (np.eye(3), 0, None, "between 1 and the number of tasks"),
        (np.eye(3), 1.5, None, "integer"),
        (np.eye(3), 2, ["a", "b"], "task_names has 2 entries for 3 tasks"),
    ],
)
def test_suggest_task_groups_errors(affinity, n_groups, names, match):
    with pytest.raises(ValueError, match=match):
        suggest_task_groups(affinity, n_groups, task_names=names)


def test_suggest_task_groups_needs_recorded_affinity(fitted_model):
    model, _, _ = fitted_model
    with pytest.raises(AttributeError, match="task_affinity="):
        suggest_task_groups(model, 2)
