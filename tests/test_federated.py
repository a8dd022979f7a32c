"""federated_fit: Flower simulation of sites that keep their rows."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone

pytest.importorskip(
    "flwr", reason="Flower is not installed: pip install 'sklearn-mtl[federated]'"
)

from flwr.serverapp.strategy import (  # noqa: E402
    DifferentialPrivacyServerSideFixedClipping,
)

from sklearn_mtl import MultiTaskRegressor, TransferEstimator, load, save  # noqa: E402
from sklearn_mtl.datasets import make_multitask_regression  # noqa: E402
from sklearn_mtl.federated import federated_fit  # noqa: E402

# plain SGD (momentum 0: the class, not "sgd"), one full-batch step per site;
# no penalties, so a step is the data term's alone (they would add the same
# step at every site and in the pooled fit)
FEDSGD = dict(
    optimizer=torch.optim.SGD,
    lr=0.1,
    batch_size=10_000,
    alpha=0.0,
    sharing_alpha=0.0,
    max_epochs=1,
    random_state=0,
)


def _pooled(sites):
    return np.vstack([X for X, _ in sites]), np.vstack([Y for _, Y in sites])


def _assert_same_weights(a, b):
    sa, sb = a.net_.module_.state_dict(), b.net_.module_.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=1e-5, atol=1e-6)


def test_one_round_of_fedsgd_equals_centralised_training():
    # fully labelled sites of different sizes: the trunk's row weighting and
    # the heads' label weighting both give the pooled full-batch step
    X, Y = make_multitask_regression(
        n_samples=60, n_features=5, n_tasks=3, random_state=0
    )
    sites = [(X[:10], Y[:10]), (X[10:30], Y[10:30]), (X[30:], Y[30:])]
    estimator = MultiTaskRegressor(hidden_layer_sizes=(8,), **FEDSGD)
    federated = federated_fit(estimator, sites, n_rounds=1, local_epochs=1)
    central = clone(estimator).fit(*_pooled(sites))
    _assert_same_weights(federated, central)
    np.testing.assert_allclose(
        federated.predict(X), central.predict(X), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(federated._target_mean, central._target_mean)
    np.testing.assert_allclose(federated._target_scale, central._target_scale)
    assert federated.n_iter_ == 1


def test_site_without_a_task_trunk_exact_and_its_head_scaled_as_documented():
    # site 2 labels no row of task 1. Each site trains on its share of the
    # pooled objective (task t's loss weighted by (n_st / n_t) * (n / n_s)),
    # so the row-weighted trunk step is the pooled one exactly. A head moves
    # by the label-weighted mean of its sites' steps: exact for tasks 0 and
    # 2 (every site holds the same share of their labels as of the rows);
    # task 1's two sites each weigh it (1/2) * (60/20) = 1.5 times the pooled
    # weight, so its head moves 1.5 times as far as in the pooled step.
    X, Y = make_multitask_regression(
        n_samples=60, n_features=5, n_tasks=3, random_state=1
    )
    Y = Y.copy()
    Y[40:, 1] = np.nan
    sites = [(X[:20], Y[:20]), (X[20:40], Y[20:40]), (X[40:], Y[40:])]
    estimator = MultiTaskRegressor(hidden_layer_sizes=(8,), **FEDSGD)
    federated = federated_fit(estimator, sites, n_rounds=1, local_epochs=1)
    central = clone(estimator).fit(*_pooled(sites))
    start = clone(estimator).set_params(lr=1e-30).fit(*_pooled(sites))
    fed, cen, init = (m.net_.module_.state_dict() for m in (federated, central, start))
    for key in ("trunk.0.weight", "trunk.0.bias"):
        torch.testing.assert_close(fed[key], cen[key], rtol=1e-5, atol=1e-6)
    for key in ("heads.output.weight", "heads.output.bias"):
        step_fed, step_cen = fed[key] - init[key], cen[key] - init[key]
        torch.testing.assert_close(
            step_fed[[0, 2]], step_cen[[0, 2]], atol=1e-6, rtol=1e-4
        )
        torch.testing.assert_close(step_fed[1], 1.5 * step_cen[1], atol=1e-6, rtol=1e-4)
        assert step_cen[1].abs().max() > 1e-3  # the head did move
    np.testing.assert_allclose(federated._target_mean, central._target_mean)
    np.testing.assert_allclose(federated._target_scale, central._target_scale)


class _RaiseInRound:
    """A site loader that fails once, at a given call (a site dropping out).

    The count lives in a file: the loader runs in the simulation's worker
    processes. Calls: 1 the description, 2 round 1, 3 round 2, ...
    """

    def __init__(self, X, Y, folder, fail_at):
        self.X, self.Y, self.folder, self.fail_at = X, Y, str(folder), fail_at

    def __call__(self):
        counter = Path(self.folder, "calls")
        calls = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(calls))
        if calls == self.fail_at:
            raise RuntimeError("site lost its connection")
        return self.X, self.Y


def test_a_site_that_drops_out_in_one_round_does_not_break_the_run(tmp_path):
    X, Y = make_multitask_regression(
        n_samples=90, n_features=5, n_tasks=2, random_state=2
    )
    sites = [
        (X[:30], Y[:30]),
        _RaiseInRound(X[30:60], Y[30:60], tmp_path, fail_at=3),  # in round 2
        (X[60:], Y[60:]),
    ]
    estimator = MultiTaskRegressor(hidden_layer_sizes=(8,), random_state=0)
    federated_fit(estimator, sites, n_rounds=3, local_epochs=1)
    history = estimator.history_
    assert [row["sites"] for row in history] == [3, 2, 3]
    assert [row["failures"] for row in history] == [0, 1, 0]
    assert np.isfinite(estimator.predict(X)).all()


@pytest.fixture(scope="module")
def sealed_fit():
    """A federated fit whose sites' rows can be read only outside this process.

    The simulation's server runs in this process (a thread), each site's
    client in a worker process. The sites are handles that raise if this
    process reads them: the fit succeeding shows that neither
    ``federated_fit`` nor the server touched a row. Flower's differential
    privacy wrapper runs around the aggregation.
    """
    owner = os.getpid()

    class SealedSite:
        def __init__(self, X, Y):
            self._rows = (X, Y)

        def __call__(self):
            if os.getpid() == owner:
                raise AssertionError("the server side read a site's rows")
            return self._rows

        def __array__(self, *args, **kwargs):
            raise AssertionError("the server side read a site's rows")

        def __len__(self):
            raise AssertionError("the server side read a site's rows")

    X, Y = make_multitask_regression(
        n_samples=120, n_features=5, n_tasks=3, missing_rate=0.3, random_state=3
    )
    sites = [SealedSite(X[i::3], Y[i::3]) for i in range(3)]
    estimator = MultiTaskRegressor(hidden_layer_sizes=(16,), random_state=0)
    wrapped = []

    def with_privacy(base):  # Flower's own wrapper, passed through
        wrapped.append(base)
        return DifferentialPrivacyServerSideFixedClipping(
            base, noise_multiplier=0.01, clipping_norm=100.0, num_sampled_clients=3
        )

    returned = federated_fit(
        estimator, sites, n_rounds=2, local_epochs=2, strategy=with_privacy
    )
    assert len(wrapped) == 1
    return estimator, returned, X, Y


def test_sites_rows_never_read_by_the_server_side(sealed_fit):
    estimator, returned, X, Y = sealed_fit
    assert returned is estimator  # fitted in place and returned, like fit
    assert estimator.predict(X).shape == Y.shape
    assert np.isfinite(estimator.score(X, Y))
    rows = estimator.history_
    assert len(rows) == estimator.n_iter_ == 2
    assert all(row["bytes_from_sites"] > 0 for row in rows)
    assert rows[0]["bytes_to_sites"] == rows[0]["bytes_from_sites"]


def test_fitted_federated_model_saves_loads_and_transfers(sealed_fit, tmp_path):
    estimator, _, X, Y = sealed_fit
    path = tmp_path / "federated.zip"
    save(estimator, path)
    loaded = load(path)
    np.testing.assert_allclose(loaded.predict(X), estimator.predict(X))
    target = Y[:, 0]
    rows = ~np.isnan(target)
    transfer = TransferEstimator(source=estimator, max_epochs=2, random_state=0)
    transfer.fit(X[rows], target[rows])
    assert transfer.predict(X[:3]).shape == (3,)


@pytest.mark.parametrize(
    "sites, match",
    [
        ([], "sites is empty"),
        (
            [(np.ones((4, 3)), np.ones((4, 2))), (np.ones((4, 3)), np.ones((4, 3)))],
            "same number of task columns: site 1 has 3, but site 0 has 2",
        ),
        (
            [(np.ones((4, 3)), np.ones((4, 2))), (np.ones((4, 2)), np.ones((4, 2)))],
            "same number of features: site 1 has 2, but site 0 has 3",
        ),
        (
            [(np.ones((4, 3)), np.ones((4, 2))), (np.ones((0, 3)), np.ones((0, 2)))],
            "site 1 is empty",
        ),
        (
            [(np.ones((4, 3)), np.ones((4, 2))), (np.ones((4, 3)), np.ones((3, 2)))],
            "site 1: X and y have inconsistent numbers of samples",
        ),
        (
            [(np.ones((4, 3)), np.c_[np.ones(4), np.full(4, np.nan)])],
            "Task\\(s\\) 'task_1' are labelled at no site",
        ),
        ((np.ones((4, 3)), np.ones((4, 2))), "list of \\(X, Y\\) pairs"),
    ],
)
def test_bad_sites_raise_a_clear_error(sites, match):
    with pytest.raises(ValueError, match=match):
        federated_fit(MultiTaskRegressor(), sites, n_rounds=1)


class _Loader:
    """A site given as a loader: read only where the site's client runs."""

    def __init__(self, X, Y):
        self.X, self.Y = X, Y

    def __call__(self):
        return self.X, self.Y


def test_a_bad_site_behind_a_loader_is_reported_by_the_server():
    # the site validates its own rows; the server raises the site's error
    sites = [
        _Loader(np.ones((4, 3)), np.ones((4, 2))),
        _Loader(np.ones((4, 2)), np.ones((4, 2))),
    ]
    with pytest.raises(ValueError, match="site 1 has 2, but site 0 has 3"):
        federated_fit(MultiTaskRegressor(), sites, n_rounds=1)


def test_bad_settings_raise_a_clear_error():
    site = [(np.ones((4, 3)), np.ones((4, 2)))]
    with pytest.raises(ValueError, match="n_rounds must be an int >= 1"):
        federated_fit(MultiTaskRegressor(), site, n_rounds=0)
    with pytest.raises(ValueError, match="sharing='hard'"):
        federated_fit(MultiTaskRegressor(sharing="soft"), site, n_rounds=1)
    with pytest.raises(ValueError, match="early_stopping=False"):
        federated_fit(MultiTaskRegressor(early_stopping=True), site, n_rounds=1)
    with pytest.raises(TypeError, match="trains a MultiTaskRegressor"):
        federated_fit(TransferEstimator(), site, n_rounds=1)


def test_a_refitted_estimator_records_the_fixed_alpha_the_sites_used():
    # an earlier fit that stopped early chose alpha=1e-3; the sites (clones)
    # hold nothing out and train with 1e-2, which the result must say
    rng = np.random.RandomState(0)
    estimator = MultiTaskRegressor(
        hidden_layer_sizes=(8,), max_epochs=5, random_state=0
    )
    estimator.fit(rng.normal(size=(1000, 5)), rng.normal(size=(1000, 2)))
    assert estimator.alpha_ == 1e-3
    X, Y = make_multitask_regression(
        n_samples=40, n_features=5, n_tasks=2, random_state=0
    )
    federated_fit(estimator, [(X[:20], Y[:20]), (X[20:], Y[20:])], n_rounds=1)
    assert estimator.alpha_ == 1e-2
    np.testing.assert_array_equal(estimator.shrinkage_, 1.0)
    assert estimator.net_.penalty.penalties[0].alpha == 1e-2  # L2, then the pull
