"""Import matplotlib only when a display draws; say how to install it if absent."""


def import_pyplot(caller):
    """Return ``matplotlib.pyplot``; raise an ImportError naming ``caller`` if absent.

    Parameters
    ----------
    caller : str
        What needs matplotlib, for the error message (e.g. ``"X.plot"``).

    Returns
    -------
    pyplot : module
        ``matplotlib.pyplot``.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed. Install it "
            'with `pip install matplotlib` (or `pip install "sklearn-mtl[plot]"`).'
        ) from exc
    return plt
