"""Task-weighting strategies: how per-task losses combine into one objective.

Pass a name, a list of weights, or an instance as
``MultiTaskRegressor(task_weighting=...)``. ``WEIGHTINGS`` maps the names
(``"equal"``, ``"uncertainty"``, ``"dwa"``, ``"gradnorm"``, ``"pcgrad"``,
``"mgda"``) to their classes.
"""

from sklearn.base import clone

from ._base import TaskWeighting
from ._dwa import DWAWeighting
from ._fixed import EqualWeighting, FixedWeighting
from ._gradnorm import GradNormWeighting
from ._mgda import MGDAWeighting
from ._pcgrad import PCGradWeighting
from ._uncertainty import UncertaintyWeighting

__all__ = [
    "TaskWeighting",
    "EqualWeighting",
    "FixedWeighting",
    "UncertaintyWeighting",
    "DWAWeighting",
    "GradNormWeighting",
    "PCGradWeighting",
    "MGDAWeighting",
    "WEIGHTINGS",
    "resolve_weighting",
]

WEIGHTINGS = {
    "equal": EqualWeighting,
    "uncertainty": UncertaintyWeighting,
    "dwa": DWAWeighting,
    "gradnorm": GradNormWeighting,
    "pcgrad": PCGradWeighting,
    "mgda": MGDAWeighting,
}


def resolve_weighting(spec):
    """Return a fresh, unfitted strategy for ``task_weighting=spec``.

    Parameters
    ----------
    spec : str, array-like of float or TaskWeighting
        A name in ``WEIGHTINGS``, fixed weights (one per task), or a
        strategy instance (cloned, never modified).

    Returns
    -------
    weighting : TaskWeighting
        A new strategy object.
    """
    if isinstance(spec, TaskWeighting):
        return clone(spec)
    if isinstance(spec, str):
        if spec not in WEIGHTINGS:
            raise ValueError(
                f"Unknown task_weighting {spec!r}; choose one of "
                f"{sorted(WEIGHTINGS)}, give one weight per task, or pass a "
                "TaskWeighting instance."
            )
        return WEIGHTINGS[spec]()
    return FixedWeighting(spec)
