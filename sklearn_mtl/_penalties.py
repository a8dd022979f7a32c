"""Regularisers ``R(theta)`` added to the training objective.

Each is a small picklable callable ``penalty(module) -> scalar tensor``.
"""

__all__ = ["L2Penalty", "L2SPPenalty"]


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


class L2SPPenalty:
    """L2-SP (Li et al. 2018): pull transferred weights toward their source values.

    ``source_alpha / 2 * sum ||w - w_source||^2`` over the transferred
    parameters, plus ``alpha / 2 * sum ||W||^2`` over the other weight
    matrices (the new head).

    Parameters
    ----------
    alpha : float
        Plain L2 strength for the parameters that have no source value.
    source_alpha : float
        Strength of the pull toward the source.
    reference : dict of str to torch.Tensor
        Source values by parameter name (as in ``module.named_parameters()``).
    """

    def __init__(self, alpha, source_alpha, reference):
        self.alpha = alpha
        self.source_alpha = source_alpha
        self.reference = {name: w.detach().clone() for name, w in reference.items()}

    def __call__(self, module):
        """Return the penalty of ``module``'s current weights."""
        to_source, plain = [], []
        for name, p in module.named_parameters():
            ref = self.reference.get(name)
            if ref is not None:
                if ref.device != p.device:
                    ref = self.reference[name] = ref.to(p.device)
                to_source.append((p - ref).pow(2).sum())
            elif p.dim() > 1:
                plain.append(p.pow(2).sum())
        return 0.5 * (self.source_alpha * sum(to_source) + self.alpha * sum(plain))

    def __getstate__(self):
        # reference weights travel on the CPU, so CUDA-trained models load anywhere
        state = dict(self.__dict__)
        state["reference"] = {k: v.cpu() for k, v in self.reference.items()}
        return state
