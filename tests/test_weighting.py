import numpy as np
import pytest
import torch

from sklearn_mtl.weighting import EqualWeighting, FixedWeighting, resolve_weighting


def test_equal_weighting_is_the_mean_of_present_and_absent_tasks():
    w = EqualWeighting().initialize(4, "cpu")
    losses = torch.tensor([1.0, 2.0, 0.0, 4.0])
    present = torch.tensor([True, True, False, True])
    # an absent task contributes nothing and its weight is not renormalised away
    assert w.combine(losses, present).item() == pytest.approx(7 / 4)


def test_resolve_weighting_clones_instances():
    original = FixedWeighting([1.0, 2.0])
    resolved = resolve_weighting(original)
    resolved.initialize(2, "cpu")
    assert resolved is not original and not hasattr(original, "weights_")


def test_resolve_weighting_names_and_arrays():
    assert isinstance(resolve_weighting("equal"), EqualWeighting)
    assert isinstance(resolve_weighting([1.0, 2.0]), FixedWeighting)
    with pytest.raises(ValueError, match="Unknown task_weighting 'nope'"):
        resolve_weighting("nope")


@pytest.mark.parametrize(
    "weights, match",
    [
        ([1.0, np.nan], "finite and >= 0"),
        ([1.0, -1.0], "finite and >= 0"),
        ([0.0, 0.0], "all zero"),
    ],
)
def test_fixed_weighting_rejects_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        FixedWeighting(weights).initialize(2, "cpu")
