import numpy as np
import pytest
import torch
from _helpers import weights_hash
from scipy.linalg import null_space
from scipy.sparse import csr_matrix
from scipy.stats import multivariate_normal
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import InvalidParameterError
from skorch import NeuralNetRegressor
from torch import nn

from sklearn_mtl import MultiTaskRegressor, rank_sources, transferability_score
from sklearn_mtl.datasets import make_multitask_regression
from sklearn_mtl.transferability import (
    _log_maximum_evidence,
    _probe_loo_r2,
    _source_features,
)

FLOOR = -(1 + np.log(2 * np.pi)) / 2  # LogME of features that carry nothing


def exact_log_evidence(features, y, alpha, beta):
    """log p(y | alpha, beta) per degree of freedom, from the Gaussian density.

    The intercept's flat prior is integrated out by projecting onto the
    complement of the all-ones vector.
    """
    n = len(y)
    basis = null_space(np.ones((1, n)))
    F = basis.T @ (features - features.mean(axis=0))
    z = y - y.mean()
    z = basis.T @ (z / np.sqrt(z @ z / (n - 1)))
    cov = np.eye(n - 1) / beta + F @ F.T / alpha
    return multivariate_normal(np.zeros(n - 1), cov).logpdf(z) / (n - 1)


@pytest.fixture(scope="module")
def problem():
    X, Y = make_multitask_regression(
        n_samples=500, n_features=6, n_tasks=3, relatedness=0.9, random_state=0
    )
    return X, Y


@pytest.fixture(scope="module")
def related_source(problem):
    X, Y = problem
    return MultiTaskRegressor(
        hidden_layer_sizes=(32,), max_epochs=30, random_state=0
    ).fit(X[:300], Y[:300, :2])


@pytest.fixture(scope="module")
def noise_source(problem):
    """Same architecture and inputs, trained on targets unrelated to X."""
    X, _ = problem
    noise = np.random.RandomState(1).normal(size=(300, 2))
    return MultiTaskRegressor(
        hidden_layer_sizes=(32,), max_epochs=30, random_state=0
    ).fit(X[:300], noise)


def constant_trunk(n_features, width=8):
    trunk = nn.Sequential(nn.Linear(n_features, width), nn.ReLU())
    with torch.no_grad():
        trunk[0].weight.zero_()
        trunk[0].bias.fill_(0.5)
    return trunk


# ---- LogME itself ----------------------------------------------------------------


@pytest.mark.parametrize("n, d", [(40, 5), (15, 30), (200, 16), (6, 3)])
def test_logme_is_the_exact_maximised_evidence(n, d, global_random_seed):
    rng = np.random.RandomState(global_random_seed)
    features = rng.normal(size=(n, d))
    y = 2 * features[:, 0] + rng.normal(size=n) + 3.0
    evidence, alpha, beta = _log_maximum_evidence(features, y)
    assert evidence == pytest.approx(exact_log_evidence(features, y, alpha, beta))
    # a maximum (where it lies at alpha or beta -> inf, moving along that
    # direction changes nothing, hence the small tolerance)
    for a, b in [(0.8, 1), (1.25, 1), (1, 0.8), (1, 1.25), (0.8, 1.25)]:
        assert exact_log_evidence(features, y, alpha * a, beta * b) < evidence + 1e-6


def test_logme_does_not_depend_on_the_units_of_features_or_target(rng):
    features = rng.normal(size=(50, 4))
    y = features @ [1.0, -1.0, 0.5, 0.0] + rng.normal(size=50)
    reference = _log_maximum_evidence(features, y)[0]
    rescaled = _log_maximum_evidence(100 * features - 7, 0.01 * y + 5)[0]
    assert rescaled == pytest.approx(reference, rel=1e-9)


def test_logme_of_constant_features_is_the_floor(rng):
    evidence, alpha, beta = _log_maximum_evidence(np.ones((30, 5)), rng.normal(size=30))
    assert evidence == pytest.approx(FLOOR)
    assert np.isinf(alpha) and beta == pytest.approx(1.0)


def test_logme_prefers_informative_features(rng):
    signal = rng.normal(size=(80, 3))
    y = signal @ [1.0, 2.0, -1.0] + 0.1 * rng.normal(size=80)
    informative = _log_maximum_evidence(signal, y)[0]
    unrelated = _log_maximum_evidence(rng.normal(size=(80, 3)), y)[0]
    assert informative > 0.0
    assert unrelated < FLOOR + 0.2


def test_probe_loo_r2(rng):
    features = rng.normal(size=(60, 4))
    y = features @ [1.0, 2.0, 0.0, -1.0] + 0.05 * rng.normal(size=60)
    assert _probe_loo_r2(features, y) > 0.99
    assert _probe_loo_r2(np.ones((60, 4)), y) <= 0.0


# ---- transferability_score ----------------------------------------------------------


@pytest.mark.parametrize("method", ["logme", "linear_probe"])
def test_a_related_source_outscores_one_trained_on_noise(
    method, related_source, noise_source, problem
):
    X, Y = problem
    target = (X[300:360], Y[300:360, 2])
    related = transferability_score(related_source, *target, method=method)
    noise = transferability_score(noise_source, *target, method=method)
    assert related > noise
    if method == "logme":
        assert related > FLOOR + 0.3


def test_multitask_target_with_missing_labels_is_scored_per_task(
    related_source, problem
):
    X, Y = problem
    X_t, Y_t = X[300:380], Y[300:380].copy()
    Y_t[:30, 0] = np.nan
    Y_t[50:, 2] = np.nan
    per_task = transferability_score(related_source, X_t, Y_t, multioutput="raw_values")
    assert per_task.shape == (3,)
    for t in range(3):
        rows = ~np.isnan(Y_t[:, t])
        alone = transferability_score(related_source, X_t[rows], Y_t[rows, t])
        assert per_task[t] == pytest.approx(alone)
    assert transferability_score(related_source, X_t, Y_t) == pytest.approx(
        per_task.mean()
    )


def test_features_are_the_trunk_outputs(related_source, problem):
    X, _ = problem
    trunk = related_source.net_.module_.trunk
    with torch.no_grad():
        expected = trunk(torch.tensor(X[:20], dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(_source_features(related_source, X[:20]), expected)


def test_every_kind_of_source_gives_the_same_score(related_source, problem):
    X, Y = problem
    target = (X[300:350], Y[300:350, 2])
    expected = transferability_score(related_source, *target)
    trunk = related_source.net_.module_.trunk
    for source in (FrozenEstimator(related_source), trunk, related_source.net_):
        assert transferability_score(source, *target) == pytest.approx(expected)


def test_scoring_leaves_the_source_untouched(related_source, problem):
    X, Y = problem
    module = related_source.net_.module_
    before = weights_hash(module)
    rank_sources([related_source], X[300:350], Y[300:350, 2])
    assert weights_hash(module) == before and module.training


def test_skorch_net_source(problem):
    X, Y = problem
    module = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 1))
    net = NeuralNetRegressor(module, max_epochs=2, train_split=None, verbose=0)
    net.fit(X[:100].astype(np.float32), Y[:100, :1].astype(np.float32))
    score = transferability_score(net, X[100:150], Y[100:150, 0])
    assert np.isfinite(score)


# ---- errors ------------------------------------------------------------------------


def test_unfitted_source():
    X, y = np.zeros((10, 3)), np.arange(10.0)
    with pytest.raises(NotFittedError, match="MultiTaskRegressor is not fitted"):
        transferability_score(MultiTaskRegressor(), X, y)


def test_feature_count_mismatch(related_source, problem):
    X, Y = problem
    with pytest.raises(ValueError, match="X has 4 features"):
        transferability_score(related_source, X[:30, :4], Y[:30, 2])
    with pytest.raises(ValueError, match="X has 4 features, but the source trunk"):
        transferability_score(nn.Linear(6, 3), X[:30, :4], Y[:30, 2])


def test_feature_name_mismatch(problem):
    pd = pytest.importorskip("pandas")
    X, Y = problem
    columns = [f"x{i}" for i in range(6)]
    source = MultiTaskRegressor(hidden_layer_sizes=(8,), max_epochs=2).fit(
        pd.DataFrame(X[:100], columns=columns), Y[:100, 0]
    )
    renamed = pd.DataFrame(X[100:130], columns=[f"z{i}" for i in range(6)])
    with pytest.raises(ValueError, match="feature names should match"):
        transferability_score(source, renamed, Y[100:130, 0])


def test_sparse_input_is_rejected(related_source, problem):
    X, Y = problem
    with pytest.raises(TypeError, match="[Ss]parse"):
        transferability_score(related_source, csr_matrix(X[:30]), Y[:30, 2])


@pytest.mark.parametrize(
    "y, match",
    [
        (np.ones(30), "constant labelled targets"),
        (np.r_[1.0, 2.0, np.full(28, np.nan)], "2 labelled row"),
        (np.r_[np.inf, np.arange(29.0)], "infinity"),
        (np.arange(29.0), "inconsistent numbers of samples"),
    ],
)
def test_bad_targets(y, match, related_source, problem):
    X, _ = problem
    if match == "2 labelled row":  # keep every row labelled for some task
        y = np.column_stack([y, np.arange(30.0)])
    with pytest.raises(ValueError, match=match):
        transferability_score(related_source, X[:30], y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"method": "hscore"}, "'method' parameter"),
        ({"multioutput": "variance_weighted"}, "'multioutput' parameter"),
    ],
)
def test_bad_options(params, match, related_source, problem):
    X, Y = problem
    with pytest.raises(InvalidParameterError, match=match):
        transferability_score(related_source, X[:30], Y[:30, 2], **params)


def test_non_finite_features_are_a_clear_error(problem):
    X, Y = problem
    trunk = nn.Linear(6, 3)
    with torch.no_grad():
        trunk.bias.fill_(float("nan"))
    with pytest.raises(ValueError, match="non-finite features"):
        transferability_score(trunk, X[:30], Y[:30, 0])


# ---- rank_sources -------------------------------------------------------------------


def test_rank_sources_orders_by_score(related_source, noise_source, problem):
    X, Y = problem
    candidates = {
        "constant": constant_trunk(6),
        "noise": noise_source,
        "related": related_source,
    }
    result = rank_sources(candidates, X[300:360], Y[300:360, 2])
    assert list(result.scores) == ["constant", "noise", "related"]
    assert result.ranking[0] == result.best == "related"
    assert result.ranking == sorted(result.scores, key=result.scores.get)[::-1]
    assert result.scores["constant"] == pytest.approx(FLOOR)
    for name, source in candidates.items():
        single = transferability_score(source, X[300:360], Y[300:360, 2])
        assert result.scores[name] == pytest.approx(single)
        assert result.task_scores[name].shape == (1,)


def test_rank_sources_names_a_list_by_position_and_keeps_ties_in_order(problem):
    X, Y = problem
    result = rank_sources(
        [constant_trunk(6), constant_trunk(6, width=4)], X[:40], Y[:40, 0]
    )
    assert result.ranking == [0, 1] and result.best == 0


def test_rank_sources_errors_name_the_source(related_source, problem):
    X, Y = problem
    with pytest.raises(ValueError, match="sources is empty"):
        rank_sources({}, X[:30], Y[:30, 0])
    with pytest.raises(NotFittedError, match="Source 'fresh'.*not fitted"):
        rank_sources(
            {"ok": related_source, "fresh": MultiTaskRegressor()}, X[:30], Y[:30, 0]
        )
    with pytest.raises(TypeError, match="Source 1: source must be"):
        rank_sources([related_source, "model.pkl"], X[:30], Y[:30, 0])
    with pytest.raises(InvalidParameterError, match="'sources' parameter"):
        rank_sources(related_source, X[:30], Y[:30, 0])
