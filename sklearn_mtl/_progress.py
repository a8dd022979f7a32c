"""The ``verbose=1`` display: one tqdm bar over epochs, with per-task losses."""

import sys
from numbers import Real

from skorch.callbacks import Callback
from tqdm import tqdm

__all__ = ["EpochProgressBar", "write_message"]


def write_message(text):
    """Write ``text`` as a line on stderr, above any open progress bar."""
    tqdm.write(text, file=sys.stderr)


def _format_loss(value):
    return f"{value:.3g}" if isinstance(value, Real) else str(value)


class EpochProgressBar(Callback):
    """skorch callback drawing one tqdm progress bar over the epochs of a fit.

    The bar goes to stderr, counts epochs up to the net's ``max_epochs`` and,
    after each epoch, shows the epoch's ``train_loss``, its ``valid_loss``
    when there is a validation split, and the per-task training losses
    (history column ``train_task_loss``). It closes when training ends,
    including when early stopping ends it before ``max_epochs``.

    Parameters
    ----------
    task_names : sequence of str, default=None
        Labels of the per-task losses; ``None`` gives ``task_0, task_1, ...``
        (the estimators' default task names).
    max_tasks_shown : int, default=5
        Show the losses of at most this many tasks (the first ones), followed
        by ``...`` and the number of tasks left out.

    Attributes
    ----------
    bar_ : tqdm.tqdm or None
        The bar of the training in progress; None between trainings.
    """

    def __init__(self, task_names=None, max_tasks_shown=5):
        self.task_names = task_names
        self.max_tasks_shown = max_tasks_shown

    def initialize(self):
        """Reset the state; called by skorch when the net initialises."""
        self.bar_ = None
        self._first_row = 0
        return self

    def on_train_begin(self, net, **kwargs):
        """Open a bar for the epochs of this call to ``fit``/``partial_fit``."""
        self._close()
        self._first_row = len(net.history)
        self.bar_ = tqdm(
            total=net.max_epochs, file=sys.stderr, unit="epoch", dynamic_ncols=True
        )

    def on_epoch_end(self, net, **kwargs):
        """Advance the bar and show the epoch's losses."""
        self._show(net)

    def on_train_end(self, net, **kwargs):
        """Show the last epoch and close the bar.

        Early stopping ends the last epoch before this callback's
        ``on_epoch_end`` runs, so that epoch is shown here.
        """
        self._show(net)
        self._close()

    def postfix(self, row):
        """Return the text shown after the bar for one history ``row``.

        Parameters
        ----------
        row : dict
            One epoch of the net's history.

        Returns
        -------
        text : str
            ``"train_loss=..., valid_loss=..., <task>=..., ..."``.
        """
        parts = [
            f"{key}={_format_loss(row[key])}"
            for key in ("train_loss", "valid_loss")
            if key in row
        ]
        task_losses = row.get("train_task_loss", [])
        names = self.task_names
        if names is None:
            names = [f"task_{t}" for t in range(len(task_losses))]
        shown = min(len(task_losses), self.max_tasks_shown)
        parts += [f"{names[t]}={_format_loss(task_losses[t])}" for t in range(shown)]
        if shown < len(task_losses):
            parts.append(f"... (+{len(task_losses) - shown} tasks)")
        return ", ".join(parts)

    def _show(self, net):
        done = len(net.history) - self._first_row
        if self.bar_ is None or done <= self.bar_.n:
            return
        self.bar_.set_postfix_str(self.postfix(net.history[-1]), refresh=False)
        self.bar_.update(done - self.bar_.n)

    def _close(self):
        if getattr(self, "bar_", None) is not None:
            self.bar_.close()
        self.bar_ = None

    def __getstate__(self):
        # a bar left open by an exception holds a stream: never pickle it
        state = dict(self.__dict__)
        state["bar_"] = None
        return state
