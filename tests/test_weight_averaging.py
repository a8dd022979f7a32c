"""TransferEstimator's fine_tuned_share: the fine-tune averaged with its probe."""

import io
import pickle

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_mtl import TransferEstimator
from sklearn_mtl.persistence import load, save

TARGET = dict(max_epochs=5, lr=1e-3, batch_size=16, random_state=0)


def weights(model):
    return {k: v.detach().clone() for k, v in model.net_.module_.state_dict().items()}


def test_auto_averages_lp_ft_with_its_probe_by_the_rows_it_learns_from(
    transfer_source, transfer_problem
):
    X, Y = transfer_problem
    X, y = X[400:550], Y[400:550, 2]
    model = TransferEstimator(source=transfer_source, **TARGET).fit(X, y)
    assert model.strategy_ == "lp_ft" and model.fine_tuned_share_ == 150 / 250
    probe = weights(
        TransferEstimator(
            source=transfer_source, strategy="linear_probe", **TARGET
        ).fit(X, y)
    )
    tuned = weights(
        TransferEstimator(
            source=transfer_source, strategy="lp_ft", fine_tuned_share=1.0, **TARGET
        ).fit(X, y)
    )
    averaged = weights(model)
    assert sorted(averaged) == sorted(probe) == sorted(tuned)
    for name, value in averaged.items():
        expected = probe[name] + 0.6 * (tuned[name] - probe[name])
        torch.testing.assert_close(value, expected, rtol=0, atol=1e-6)
        assert not torch.equal(tuned[name], probe[name]) or "bias" in name


def test_the_share_counts_the_least_labelled_task(transfer_source, transfer_problem):
    X, Y = transfer_problem
    X, Y = X[:330], Y[:330].copy()
    Y[:200, 1] = np.nan  # task 1: 130 labels, task 0: 330
    model = TransferEstimator(source=transfer_source, **TARGET).fit(X, Y)
    assert model.strategy_ == "lp_ft" and model.fine_tuned_share_ == 130 / 230


@pytest.mark.parametrize("strategy", ["lp_ft", "gradual_unfreezing", "l2_sp"])
def test_a_named_strategy_trains_as_named_unless_a_share_is_given(
    strategy, transfer_source, transfer_problem
):
    X, Y = transfer_problem
    X, y = X[400:450], Y[400:450, 2]
    named = TransferEstimator(source=transfer_source, strategy=strategy, **TARGET).fit(
        X, y
    )
    off = TransferEstimator(
        source=transfer_source, strategy=strategy, fine_tuned_share=1.0, **TARGET
    ).fit(X, y)
    assert named.fine_tuned_share_ is None is off.fine_tuned_share_
    np.testing.assert_array_equal(named.predict(X), off.predict(X))
    # share 0: the probe's weights, whatever the fine-tune learnt
    zero = TransferEstimator(
        source=transfer_source, strategy=strategy, fine_tuned_share=0.0, **TARGET
    ).fit(X, y)
    probe = TransferEstimator(source=transfer_source, strategy="linear_probe", **TARGET)
    probe.fit(X, y)
    assert zero.fine_tuned_share_ == 0.0 and zero.n_iter_ == 5
    np.testing.assert_allclose(zero.predict(X), probe.predict(X), rtol=1e-6)


@pytest.mark.parametrize(
    "params",
    [
        {"strategy": "fine_tune"},
        {"strategy": "linear_probe"},
        {"strategy": "lp_ft", "head_layer_sizes": (8,)},
        {"source": None},
    ],
)
def test_nothing_to_average_without_a_probe_to_start_from(
    params, transfer_source, transfer_problem
):
    X, Y = transfer_problem
    X, y = X[400:450], Y[400:450, 2]
    params = {"source": transfer_source, "fine_tuned_share": 0.5, **params}
    model = TransferEstimator(**params, **TARGET).fit(X, y)
    same = TransferEstimator(**{**params, "fine_tuned_share": 1.0}, **TARGET)
    assert model.fine_tuned_share_ is None
    np.testing.assert_array_equal(model.predict(X), same.fit(X, y).predict(X))


def test_auto_scores_the_averaged_fine_tune_in_its_guard(
    transfer_source, transfer_problem
):
    X, Y = transfer_problem
    X, y = X[400:440], Y[400:440, 2]
    model = TransferEstimator(source=transfer_source, random_state=0).fit(X, y)
    assert set(model.strategy_scores_) == {
        "lp_ft",
        "fine_tune",
        "scratch",
        "standard_error",
        "mean",
        "source_standard_error",
    }
    if model.strategy_ == "lp_ft":
        assert model.fine_tuned_share_ == 40 / 140
    # averaging off: the guard weighs the probe itself, as it did before
    off = TransferEstimator(
        source=transfer_source, random_state=0, fine_tuned_share=1.0
    )
    off.fit(X, y)
    assert set(off.strategy_scores_) == {
        "linear_probe",
        "fine_tune",
        "scratch",
        "standard_error",
    }
    assert off.fine_tuned_share_ is None
    assert off.strategy_scores_["fine_tune"] == model.strategy_scores_["fine_tune"]


def test_each_fold_of_the_guard_averages_by_its_own_rows(
    transfer_source, transfer_problem, monkeypatch
):
    X, Y = transfer_problem
    shares = []
    fit = TransferEstimator.fit

    def spy(self, X, y, sample_weight=None):
        if self.strategy == "lp_ft":
            shares.append((len(X), self.fine_tuned_share))
        return fit(self, X, y, sample_weight)

    monkeypatch.setattr(TransferEstimator, "fit", spy)
    TransferEstimator(source=transfer_source, random_state=0, max_epochs=2).fit(
        X[400:440], Y[400:440, 2]
    )
    assert [n for n, _ in shares] == [32] * 5
    assert all(share == 32 / 132 for _, share in shares)


def test_continued_fits_start_from_the_averaged_weights(
    transfer_source, transfer_problem
):
    X, Y = transfer_problem
    X, y = X[400:550], Y[400:550, 2]
    model = TransferEstimator(source=transfer_source, fine_tuned_share=0.0, **TARGET)
    model.set_params(strategy="lp_ft").fit(X, y)
    probe = TransferEstimator(source=transfer_source, strategy="linear_probe", **TARGET)
    before = weights(model)
    np.testing.assert_allclose(model.predict(X), probe.fit(X, y).predict(X), rtol=1e-6)
    model.partial_fit(X, y)  # one epoch from the probe's weights, kept
    after = weights(model)
    assert model.fine_tuned_share_ == 0.0
    assert any(not torch.equal(after[k], before[k]) for k in after)
    assert not hasattr(model, "_probe_state") or model._probe_state is None


def test_an_averaged_model_saves_pickles_and_loads(transfer_source, transfer_problem):
    X, Y = transfer_problem
    X, y = X[400:550], Y[400:550, 2]
    model = TransferEstimator(source=transfer_source, **TARGET).fit(X, y)
    assert "_probe_state" not in model.__getstate__()
    pickled = pickle.loads(pickle.dumps(model))
    buffer = io.BytesIO()
    save(model, buffer)
    loaded = load(io.BytesIO(buffer.getvalue()))
    for other in (pickled, loaded):
        assert other.fine_tuned_share_ == model.fine_tuned_share_ == 0.6
        assert other.fine_tuned_share == "auto"
        np.testing.assert_array_equal(other.predict(X), model.predict(X))


def test_compare_with_scratch_scores_the_transfer_as_it_will_be_fitted(
    transfer_source, transfer_problem, monkeypatch
):
    X, Y = transfer_problem
    X, y = X[400:550], Y[400:550, 2]
    shares = []
    fit = TransferEstimator.fit

    def spy(self, X, y, sample_weight=None):
        shares.append((self.source is transfer_source, self.fine_tuned_share))
        return fit(self, X, y, sample_weight)

    monkeypatch.setattr(TransferEstimator, "fit", spy)
    model = TransferEstimator(
        source=transfer_source, compare_with_scratch=True, **TARGET
    )
    model.fit(X, y)
    # the outer fit, then the transfer candidate with the final fit's share
    assert shares[0] == (True, "auto") and shares[1] == (True, 0.6)
    assert model.fine_tuned_share_ == (0.6 if model.kept_ == "transfer" else None)


@pytest.mark.parametrize("share", [-0.1, 1.5, "half", None])
def test_a_bad_share_is_refused(share, transfer_source, transfer_problem):
    X, Y = transfer_problem
    with pytest.raises(InvalidParameterError, match="'fine_tuned_share' parameter"):
        TransferEstimator(source=transfer_source, fine_tuned_share=share).fit(
            X[:20], Y[:20, 0]
        )


@pytest.mark.parametrize(
    "source_error, spread, kept",
    [
        (0.5, 1.0, "transfer"),  # halfway, scratch ahead by 1.9 standard errors
        (0.5, 0.1, "scratch"),  # halfway, scratch ahead by 19
        (0.8, 1.0, "scratch"),  # short of halfway
        (1.5, 1.0, "scratch"),  # worse than the mean
    ],
)
def test_auto_keeps_a_source_that_explains_most_of_what_the_rows_show(
    source_error, spread, kept, transfer_source, transfer_problem, monkeypatch
):
    # fine-tune and scratch look better on the rows, as on California's
    # draw 29 (test R^2 0.08 and 0.06 against 0.66 for the averaged
    # fine-tune): a source that comes more than halfway from the mean's
    # error (about 1) to the best other candidate's (scratch, 0.2) is kept
    # unless that candidate beats it by more than two standard errors
    import sklearn_mtl._transfer_guards as guards

    X, Y = transfer_problem
    X, y = X[:40], Y[:40, 0]

    def held_out_errors(model, X_test, Y_test, sample_weight, spread_):
        # the paired differences spread as the rows go: +-spread around
        # the gap for scratch against the source's candidate
        wave = spread * np.resize([-1.0, 1.0], len(X_test))
        if model.source is not transfer_source:  # the re-initialised trunk
            errors = np.full(len(X_test), 0.2)
        elif model.strategy in ("lp_ft", "linear_probe"):
            errors = source_error + wave
        else:
            errors = np.full(len(X_test), 0.3)
        return errors, np.ones(len(X_test))

    monkeypatch.setattr(guards, "_held_out_errors", held_out_errors)
    model = TransferEstimator(source=transfer_source, random_state=0, max_epochs=2).fit(
        X, y
    )
    scores = model.strategy_scores_
    assert 0.9 < scores["mean"] < 1.2  # the mean's held-out error, ~1 sd^2
    z = (scores["lp_ft"] - scores["scratch"]) / scores["source_standard_error"]
    if source_error == 0.5:
        assert 1.5 < z < 2 if spread == 1.0 else z > 15
    assert model.kept_ == kept
    assert model.strategy_ == ("lp_ft" if kept == "transfer" else None)
    # averaging off: the probe is weighed as before, and scratch wins
    off = TransferEstimator(
        source=transfer_source, random_state=0, max_epochs=2, fine_tuned_share=1.0
    ).fit(X, y)
    assert off.kept_ == "scratch" and "mean" not in off.strategy_scores_


def test_the_mean_baseline_is_each_tasks_weighted_training_mean():
    from sklearn_mtl._transfer_guards import _mean_errors

    Y_train = np.array([[1.0, np.nan], [3.0, 10.0], [5.0, 20.0]])
    weight = np.array([1.0, 1.0, 2.0])
    Y_test = np.array([[0.0, 0.0], [np.nan, 30.0]])
    spread = np.array([2.0, 5.0])
    # means: task 0 (1 + 3 + 10) / 4 = 3.5, task 1 (10 + 40) / 3 = 50 / 3
    expected = [(3.5 / 2) ** 2, (50 / 3 / 5) ** 2, ((50 / 3 - 30) / 5) ** 2]
    np.testing.assert_allclose(_mean_errors(Y_train, Y_test, weight, spread), expected)
    # targets near float64's limit, whose weighted sum would overflow: the
    # mean (0.2 + 0.6 + 2 * 1.0) / 4 = 0.7 in units of 1.5e308
    unit = 1.5e308
    huge = _mean_errors(
        np.array([[0.2], [0.6], [1.0]]) * unit,
        np.array([[0.0]]),
        weight,
        np.array([unit]),
    )
    np.testing.assert_allclose(huge, [0.7**2])
