"""Hypothesis property tests of TransferEstimator."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone

from sklearn_mtl import MultiTaskRegressor, TransferEstimator
from sklearn_mtl.datasets import make_multitask_regression

finite = st.floats(-10, 10, allow_nan=False, width=64)
TRAINING = ["fine_tune", "lp_ft", "gradual_unfreezing", "l2_sp"]


@pytest.fixture(scope="module")
def source():
    X, Y = make_multitask_regression(
        n_samples=200, n_features=4, n_tasks=2, random_state=0
    )
    return MultiTaskRegressor(
        hidden_layer_sizes=(16, 8), max_epochs=5, random_state=0
    ).fit(X, Y)


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@st.composite
def targets(draw):
    n = draw(st.integers(3, 30))
    return (
        draw(arrays(np.float64, (n, 4), elements=finite)),
        draw(arrays(np.float64, n, elements=finite)),
    )


@given(targets(), st.sampled_from(["linear_probe", *TRAINING]))
def test_source_is_untouched_by_fit(source, target, strategy):
    X, y = target
    before = state(source.net_.module_)
    TransferEstimator(source=source, strategy=strategy, max_epochs=3, lr=1e-2).fit(X, y)
    after = state(source.net_.module_)
    assert all(torch.equal(before[k], after[k]) for k in before)


@given(targets(), arrays(np.float32, (5, 4), elements=finite))
def test_frozen_trunk_outputs_equal_the_sources(source, target, inputs):
    X, y = target
    model = TransferEstimator(
        source=source,
        strategy="linear_probe",
        head_layer_sizes=(4,),
        max_epochs=3,
        lr=1e-2,
    ).fit(X, y)
    x = torch.as_tensor(inputs)
    with torch.no_grad():
        np.testing.assert_array_equal(
            model.net_.module_.trunk(x).numpy(), source.net_.module_.trunk(x).numpy()
        )


@given(targets(), st.sampled_from(TRAINING))
def test_zero_trunk_learning_rate_leaves_it_bit_identical(source, target, strategy):
    X, y = target
    model = TransferEstimator(
        source=source, strategy=strategy, trunk_lr_scale=0.0, max_epochs=3, lr=1e-2
    ).fit(X, y)
    trained = state(model.net_.module_.trunk)
    original = state(source.net_.module_.trunk)
    assert all(torch.equal(trained[k], original[k]) for k in original)


@given(
    st.sampled_from(["auto", *TRAINING]),
    st.lists(st.integers(1, 8), max_size=2),
    st.floats(0, 1),
)
def test_clone_keeps_the_source_and_copies_the_rest(source, strategy, head, alpha):
    model = TransferEstimator(
        source=source, strategy=strategy, head_layer_sizes=head, source_alpha=alpha
    )
    copy = clone(model)
    assert copy.source is source
    params, copied = model.get_params(deep=False), copy.get_params(deep=False)
    assert params.keys() == copied.keys()
    for name, value in params.items():
        assert copied[name] == value or name == "source"
        if isinstance(value, list):
            assert copied[name] is not value
