"""Sphinx configuration of the sklearn-mtl documentation.

Build from this folder with warnings as errors::

    ../.venv/bin/python -m sphinx -W --keep-going -b html . _build/html

The gallery runs every ``examples/plot_*.py``. Examples that read real data
(School, Parkinson's telemonitoring) run only when that data set is found in
the data home (``SKLEARN_MTL_DATA``); otherwise their page is rendered without
output. Generated files go to ``_build/``, ``generated/`` and
``auto_examples/``, all ignored by git.
"""

import os
import re
import shutil
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE / "_ext"))

# The real data sets: same default as ``./run.sh test`` (a ``shared/datasets``
# folder next to the checkout) when SKLEARN_MTL_DATA is not set.
if not os.environ.get("SKLEARN_MTL_DATA"):
    _shared = ROOT.parent / "shared" / "datasets"
    if _shared.is_dir():
        os.environ["SKLEARN_MTL_DATA"] = str(_shared)

from md_to_rst import markdown_to_rst  # noqa: E402

import sklearn_mtl  # noqa: E402
from sklearn_mtl.datasets import get_data_home  # noqa: E402

# The gallery fits small networks. On a shared machine torch's default of one
# thread per core oversubscribes the CPU and makes these tiny fits many times
# slower; one thread keeps the build time predictable. Override with
# SKLEARN_MTL_DOCS_THREADS.
try:
    import torch

    torch.set_num_threads(int(os.environ.get("SKLEARN_MTL_DOCS_THREADS", "1")))
except ImportError:  # pragma: no cover - torch is a dependency
    pass

# -- Project information -----------------------------------------------------

project = "sklearn-mtl"
author = "sklearn-mtl developers"
copyright = "sklearn-mtl developers"  # noqa: A001
release = sklearn_mtl.__version__
version = re.sub(r"(\.dev\d*|rc\d*|a\d*|b\d*)$", "", release)

# -- General configuration ---------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "includes"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc ----------------------------------------

autosummary_generate = True
autodoc_typehints = "none"
autodoc_member_order = "groupwise"
autodoc_inherit_docstrings = True

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Validate the package's docstrings against the numpydoc checks they pass
# today; the ones left out (no extended summary, no See Also or Examples
# section, undocumented parameters of TaskWeighting's hooks, return types
# with a period) fail on existing code and are not turned on.
numpydoc_validation_checks = {
    "all",
    "ES01",
    "EX01",
    "PR01",
    "RT01",
    "RT02",
    "RT04",
    "SA01",
}
# Methods inherited from scikit-learn or PyTorch keep their own conventions.
numpydoc_validation_exclude = {
    r"\.get_params$",
    r"\.set_params$",
    r"\.set_\w+_request$",
    r"\.get_metadata_routing$",
    r"\.__sklearn_tags__$",
    r"\.__init__$",
}

# Some attribute types in the package's docstrings read "ndarray of shape
# (n_features_in_,)": reST takes ``n_features_in_`` for a hyperlink reference
# to an undefined target (an error). Until those docstrings quote the name
# (``(`n_features_in_`,)``, as scikit-learn does), escape the underscore in
# the type of each "name : type" line before numpydoc renders it.
_PARAM_LINE = re.compile(r"^(\s*\*{0,2}[\w, ]+ : )(.*)$")
_LINK_LIKE = re.compile(r"(?<![\w`\\])([A-Za-z]\w*?)_(?![\w`])")


def _escape_link_targets_in_types(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        match = _PARAM_LINE.match(line)
        if match:
            lines[i] = match.group(1) + _LINK_LIKE.sub(r"\1\\_", match.group(2))


def setup(app):
    # before numpydoc (priority 500) turns the sections into reST
    app.connect("autodoc-process-docstring", _escape_link_targets_in_types, 400)


# -- Gallery -----------------------------------------------------------------
# sphinx-gallery needs a header file next to the scripts. The scripts live in
# ../examples; they and docs/gallery_header.txt are copied into
# generated/gallery_src (ignored by git) before the gallery is built.

GALLERY_SRC = HERE / "generated" / "gallery_src"
# example file -> data set folder it reads from the data home
EXAMPLES_NEEDING_DATA = {
    "plot_school.py": "school",
    "plot_transfer_parkinsons.py": "parkinsons_telemonitoring",
}


def _stage_gallery():
    """Copy examples/plot_*.py and the gallery header into GALLERY_SRC.

    Only the ``plot_`` scripts are sphinx-gallery examples; the other scripts
    in examples/ (e.g. the ``./run.sh demo`` script) are not part of it.
    """
    if GALLERY_SRC.exists():
        shutil.rmtree(GALLERY_SRC)
    GALLERY_SRC.mkdir(parents=True)
    shutil.copyfile(HERE / "gallery_header.txt", GALLERY_SRC / "GALLERY_HEADER.txt")
    for script in sorted((ROOT / "examples").glob("plot_*.py")):
        shutil.copyfile(script, GALLERY_SRC / script.name)


def _examples_without_data():
    """Examples whose real data set is not available to them.

    The same test as in the examples themselves (which exit early without
    their data; under sphinx-gallery that exit would abort the build).
    """
    home = get_data_home() if os.environ.get("SKLEARN_MTL_DATA") else None
    return sorted(
        name
        for name, dataset in EXAMPLES_NEEDING_DATA.items()
        if home is None or not (home / dataset).is_dir()
    )


_stage_gallery()
_SKIPPED_EXAMPLES = _examples_without_data()
if _SKIPPED_EXAMPLES:
    _where = (
        f"in {get_data_home()}"
        if os.environ.get("SKLEARN_MTL_DATA")
        else "(SKLEARN_MTL_DATA is not set)"
    )
    warnings.warn(  # not a Sphinx warning: -W does not turn it into an error
        f"sklearn-mtl docs: real data not found {_where}; not executing "
        f"{', '.join(_SKIPPED_EXAMPLES)}",
        stacklevel=1,
    )
# Execute only plot_*.py files, minus the ones whose data is missing.
_not_run = "".join(
    f"(?!{re.escape(name[len('plot_') :])})" for name in _SKIPPED_EXAMPLES
)
sphinx_gallery_conf = {
    "examples_dirs": os.path.relpath(GALLERY_SRC, HERE),
    "gallery_dirs": "auto_examples",
    "filename_pattern": rf"{re.escape(os.sep)}plot_{_not_run}",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 0,
    "reset_modules": ("matplotlib",),
    "image_scrapers": ("matplotlib",),
    # docs/sg_execution_times.rst would be an untracked file next to conf.py;
    # each example page still states its own running time.
    "write_computation_times": False,
    "show_memory": False,
}

# -- Benchmarks page ---------------------------------------------------------
# benchmarks/README.md and benchmarks/results/*.md (Markdown) are converted to
# reST includes for benchmarks.rst; myst-parser is not needed.

BENCHMARKS = ROOT / "benchmarks"
GENERATED = HERE / "generated"


def _write_if_changed(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _benchmark_includes():
    readme = BENCHMARKS / "README.md"
    if readme.is_file():
        markdown = readme.read_text(encoding="utf-8")
        # the page has its own title: drop the README's top-level heading
        markdown = re.sub(r"\A\s*# [^\n]*\n", "", markdown)
        text = markdown_to_rst(markdown, heading_chars="-~^\"'")
    else:
        text = "*benchmarks/README.md is not part of this checkout.*\n"
    _write_if_changed(GENERATED / "benchmarks_readme.rst.inc", text)

    parts = []
    for result in sorted((BENCHMARKS / "results").glob("*.md")):
        parts.append(
            f"From ``benchmarks/results/{result.name}``:\n\n"
            + markdown_to_rst(result.read_text(encoding="utf-8"), heading_chars="~^\"'")
        )
    text = "\n".join(parts) or "*No result files in benchmarks/results/.*\n"
    _write_if_changed(GENERATED / "benchmarks_results.rst.inc", text)


_benchmark_includes()

# -- HTML output -------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-mtl {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": [], "getting_started": [], "benchmarks": []}
html_static_path = []
html_show_sourcelink = False
