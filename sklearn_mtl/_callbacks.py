"""The package's own skorch callbacks."""

from copy import deepcopy

import numpy as np
from skorch.callbacks import EarlyStopping

__all__ = ["BestWeightsEarlyStopping"]


class BestWeightsEarlyStopping(EarlyStopping):
    """skorch's ``EarlyStopping`` that restores the best epoch's weights.

    skorch counts an epoch as best only when it improves on the previous best
    by more than ``threshold``, so with a large ``tol`` it restores an early
    epoch although a later one had a lower validation loss. Here stopping
    follows that rule (``patience`` epochs without an improvement larger
    than ``threshold``), while the weights kept are those of the epoch with
    the lowest monitored loss, as sklearn's ``MLPRegressor`` does.
    """

    def on_train_begin(self, net, **kwargs):
        """Reset the best loss seen, with skorch's own state."""
        super().on_train_begin(net, **kwargs)
        self.best_score_ = np.inf

    def on_epoch_end(self, net, **kwargs):
        """Keep the lowest-loss weights, then apply skorch's stopping rule."""
        current = net.history[-1, self.monitor]
        lowest = current < self.best_score_
        if lowest:
            self.best_score_ = current
        saved = self.best_model_weights_
        try:
            super().on_epoch_end(net, **kwargs)
        finally:
            # an improvement by more than threshold is always a new lowest, so
            # only a lowest that skorch did not count needs its weights kept
            if lowest:
                self.best_epoch_ = net.history[-1, "epoch"]
                if self.load_best and self.best_model_weights_ is saved:
                    self.best_model_weights_ = deepcopy(net.module_.state_dict())
