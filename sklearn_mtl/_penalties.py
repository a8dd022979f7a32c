"""Regularisers ``R(theta)`` added to the training objective.

Each is a small picklable callable ``penalty(module) -> scalar tensor``.
"""

__all__ = ["L2Penalty"]


class L2Penalty:
    """``alpha / 2 * sum ||W||^2`` over the weight matrices (not the biases).

    Parameters
    ----------
    alpha : float
        Strength of the penalty.
    """

    def __init__(self, alpha):
        self.alpha = alpha

    def __call__(self, module):
        """Return the penalty of ``module``'s current weights."""
        squares = [p.pow(2).sum() for p in module.parameters() if p.dim() > 1]
        return 0.5 * self.alpha * sum(squares)
