"""Layout of the example gallery: topics, order, and the data each example reads.

The scripts live flat in ``examples/``. :func:`stage_gallery` copies the
``plot_*.py`` ones into one folder per topic (each with its header), which is
what sphinx-gallery builds; :class:`ExampleOrder` keeps the order of
:data:`TOPICS` within each topic. Examples that read real data from the data
home are listed in :data:`EXAMPLES_NEEDING_DATA`; when that data is missing,
their page is rendered without running them, with a note saying why.
"""

import re
import shutil
from pathlib import Path

__all__ = [
    "EXAMPLES_NEEDING_DATA",
    "TOPICS",
    "ExampleOrder",
    "example_page",
    "missing_data",
    "remove_stale_pages",
    "stage_gallery",
]

# (folder, title, introduction, examples in reading order)
TOPICS = (
    (
        "multitask",
        "Multi-task learning",
        "One :class:`~sklearn_mtl.MultiTaskRegressor` for several related "
        "targets, with ``NaN`` for the labels that are missing.",
        ("plot_missing_labels.py", "plot_school.py", "plot_grid_search_weighting.py"),
    ),
    (
        "transfer",
        "Transfer learning",
        ":class:`~sklearn_mtl.TransferEstimator` adapts a fitted model to a new "
        "target with little data, and the from-scratch baseline it must beat.",
        (
            "plot_seed_scenario.py",
            "plot_transfer_parkinsons.py",
            "plot_transfer_cnn.py",
        ),
    ),
    (
        "task_relations",
        "Task relations",
        "Before training: which tasks should share a model, and which source "
        "to transfer from.",
        ("plot_task_relations.py",),
    ),
    (
        "own_network",
        "Your own network",
        "Any PyTorch module as the shared trunk: a convolutional network on "
        "images, an embedding of a categorical input.",
        ("plot_own_network_cnn.py", "plot_own_network_embedding.py"),
    ),
)

# example -> the data set folders it reads from the data home
EXAMPLES_NEEDING_DATA = {
    "plot_school.py": ("school",),
    "plot_own_network_embedding.py": ("school",),
    "plot_transfer_parkinsons.py": ("parkinsons_telemonitoring",),
    "plot_task_relations.py": ("wq", "california_housing"),
}

_ORDER = {name: i for _, _, _, names in TOPICS for i, name in enumerate(names)}


class ExampleOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``: TOPICS order.

    Parameters
    ----------
    src_dir : str or pathlib.Path
        The folder of the subsection (unused: the order is by file name).
    """

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        """Return the position of ``filename`` in its topic (unknown names last).

        Parameters
        ----------
        filename : str or pathlib.Path
            The example file.

        Returns
        -------
        key : tuple
            Position in :data:`TOPICS`, then the file name.
        """
        name = Path(filename).name
        return _ORDER.get(name, len(_ORDER)), name

    def __repr__(self):
        return f"<{type(self).__name__}>"


def topic_of(example):
    """Folder of the topic that lists ``example`` (a file name), or None."""
    for folder, _, _, names in TOPICS:
        if example in names:
            return folder
    return None


def example_page(example):
    """Path of the HTML page of ``example``, relative to the site root.

    Parameters
    ----------
    example : str
        File name of the example, e.g. ``"plot_school.py"``.

    Returns
    -------
    page : str
        For example ``"auto_examples/multitask/plot_school.html"``.
    """
    folder = topic_of(example)
    return "/".join(
        ["auto_examples", *([folder] if folder else []), f"{Path(example).stem}.html"]
    )


def missing_data(data_home):
    """The examples whose data sets are not in ``data_home``.

    A data set counts as present when its folder exists and is not empty; the
    loaders check the files themselves.

    Parameters
    ----------
    data_home : pathlib.Path
        The data home (:func:`sklearn_mtl.datasets.get_data_home`).

    Returns
    -------
    missing : dict
        Example file name -> tuple of the data set folders it lacks.
    """
    data_home = Path(data_home)
    missing = {}
    for example, datasets in sorted(EXAMPLES_NEEDING_DATA.items()):
        lacking = tuple(
            name
            for name in datasets
            if not (data_home / name).is_dir() or not any((data_home / name).iterdir())
        )
        if lacking:
            missing[example] = lacking
    return missing


def _note_not_run(source, datasets):
    """Add to the example's docstring a note that its code was not run."""
    folders = ", ".join(f"``{name}``" for name in datasets)
    note = (
        "\n.. note::\n\n"
        f"   This page was built without the data it needs ({folders} in the "
        "data home), so the code below was not run and its output and figures "
        "are missing. See :func:`sklearn_mtl.datasets.download_dataset`.\n"
    )
    match = re.search(r'\A(\s*(?:#[^\n]*\n\s*)*[rRuU]?""")(.*?)(""")', source, re.S)
    if match is None:
        return source
    return source[: match.end(2)].rstrip() + "\n" + note + source[match.start(3) :]


def stage_gallery(examples_dir, header, dest, missing=None):
    """Copy ``examples_dir/plot_*.py`` into one folder of ``dest`` per topic.

    Parameters
    ----------
    examples_dir : pathlib.Path
        The flat folder of example scripts.
    header : pathlib.Path
        Header (reST) of the gallery's index page.
    dest : pathlib.Path
        The folder to write; removed first if it exists.
    missing : dict or None, default=None
        :func:`missing_data`'s result: these examples get a note that they
        were not run.

    Returns
    -------
    unlisted : list of str
        Examples not listed in :data:`TOPICS`, staged at the top level.
    """
    missing = missing or {}
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copyfile(header, dest / "GALLERY_HEADER.txt")
    for folder, title, intro, _ in TOPICS:
        (dest / folder).mkdir()
        (dest / folder / "GALLERY_HEADER.txt").write_text(
            f"{title}\n{'-' * len(title)}\n\n{intro}\n", encoding="utf-8"
        )
    unlisted = []
    for script in sorted(Path(examples_dir).glob("plot_*.py")):
        folder = topic_of(script.name)
        if folder is None:
            unlisted.append(script.name)
        target = dest / folder / script.name if folder else dest / script.name
        source = script.read_text(encoding="utf-8")
        if script.name in missing:
            source = _note_not_run(source, missing[script.name])
        target.write_text(source, encoding="utf-8")
    return unlisted


def remove_stale_pages(staged, gallery):
    """Delete the pages of ``gallery`` whose example is no longer staged.

    sphinx-gallery never deletes a page it wrote. After an example is removed,
    renamed or moved to another topic, its old page would stay in the source
    tree, outside every toctree (a warning, an error under ``-W``).

    Parameters
    ----------
    staged : pathlib.Path
        The folder :func:`stage_gallery` wrote.
    gallery : pathlib.Path
        sphinx-gallery's output folder (``gallery_dirs``).

    Returns
    -------
    removed : list of str
        The removed pages, relative to ``gallery``.
    """
    staged, gallery = Path(staged), Path(gallery)
    if not gallery.is_dir():
        return []
    removed = []
    for page in sorted(gallery.rglob("*.rst")):
        relative = page.relative_to(gallery)
        if page.name == "index.rst":  # the page of the gallery, or of a topic
            exists = (staged / relative.parent).is_dir()
        else:
            exists = (staged / relative).with_suffix(".py").is_file()
        if not exists:
            page.unlink()
            removed.append(relative.as_posix())
    return removed
