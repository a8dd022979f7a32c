"""Checks of the arguments the displays share."""


def check_task_names(task_names, n_tasks):
    """Return ``task_names`` as a list of ``n_tasks`` strings.

    Parameters
    ----------
    task_names : array-like of shape (n_tasks,) or None
        The names; ``None`` gives ``task_0, task_1, ...``.
    n_tasks : int
        How many names there must be.

    Returns
    -------
    task_names : list of str
        The names, as strings.

    Raises
    ------
    ValueError
        When there are not ``n_tasks`` names.

    Examples
    --------
    >>> from sklearn_mtl.inspection._validation import check_task_names
    >>> check_task_names(None, 2)
    ['task_0', 'task_1']
    >>> check_task_names([3, "b"], 2)
    ['3', 'b']
    """
    if task_names is None:
        task_names = [f"task_{t}" for t in range(n_tasks)]
    names = [str(name) for name in task_names]
    if len(names) != n_tasks:
        raise ValueError(f"task_names has {len(names)} names for {n_tasks} tasks.")
    return names


def check_auto_flag(value, name):
    """Raise a ValueError naming ``name`` unless ``value`` is "auto", True or False.

    Parameters
    ----------
    value : object
        The argument to check.
    name : str
        The argument's name, for the error message.

    Raises
    ------
    ValueError
        When ``value`` is not ``"auto"``, ``True`` or ``False``.

    Examples
    --------
    >>> from sklearn_mtl.inspection._validation import check_auto_flag
    >>> check_auto_flag("auto", "show_weights")
    >>> check_auto_flag("yes", "show_weights")
    Traceback (most recent call last):
    ...
    ValueError: show_weights must be 'auto', True or False, got 'yes'.
    """
    if value not in ("auto", True, False):
        raise ValueError(f"{name} must be 'auto', True or False, got {value!r}.")
