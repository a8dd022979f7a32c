"""Sphinx configuration of the sklearn-mtl documentation.

Build from this folder with warnings as errors::

    ../.venv/bin/python -m sphinx -W --keep-going -b html . _build/html

The gallery runs every ``examples/plot_*.py``, grouped by topic (see
``_ext/gallery_layout.py``). Examples that read real data (School, Parkinson's
telemonitoring, water quality and California housing) run only when their
data sets are in the data home (``SKLEARN_MTL_DATA``); otherwise the build
says which ones it skips and renders their pages without output, with a note.
The site is built with or without the data. Generated files go to
``_build/``, ``generated/`` and ``auto_examples/``, all ignored by git.
"""

import os
import re
import sys
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

from gallery_layout import (  # noqa: E402
    TOPICS,
    missing_data,
    remove_stale_pages,
    stage_gallery,
)
from md_to_rst import markdown_to_rst  # noqa: E402
from sphinx.errors import PycodeError  # noqa: E402
from sphinx.pycode import ModuleAnalyzer  # noqa: E402
from sphinx.pycode.parser import DefinitionFinder  # noqa: E402

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


def _find_source(app, modname):
    """Source and definitions of ``modname`` for viewcode, when Sphinx fails.

    Sphinx's module analyzer fails on a dict display with ``**`` unpacking in
    a decorator (as in ``sklearn_mtl.transferability``), and viewcode then
    lists the module in ``_modules/index.html`` without writing its page.
    The definitions only need the tokenizer-based finder, which copes.
    """
    try:
        analyzer = ModuleAnalyzer.for_module(modname)
    except PycodeError:
        return None  # not found: viewcode skips the module
    try:
        analyzer.find_tags()
    except PycodeError:
        finder = DefinitionFinder(analyzer.code.splitlines(True))
        finder.parse()
        return analyzer.code, finder.definitions
    return None  # Sphinx's own analysis works: let viewcode use it


def setup(app):
    # before numpydoc (priority 500) turns the sections into reST
    app.connect("autodoc-process-docstring", _escape_link_targets_in_types, 400)
    app.connect("viewcode-find-source", _find_source)


# -- Gallery -----------------------------------------------------------------
# sphinx-gallery needs a header file next to the scripts, and a folder per
# subsection. The scripts live flat in ../examples; gallery_layout.py copies
# them, by topic, into generated/gallery_src (ignored by git) before the
# gallery is built. An example whose real data set is not in the data home is
# not run: its page shows the code with a note instead of the output. The site
# is built either way.

GALLERY_SRC = HERE / "generated" / "gallery_src"
_DATA_HOME = get_data_home()
_MISSING_DATA = missing_data(_DATA_HOME)
_UNLISTED = stage_gallery(
    ROOT / "examples", HERE / "gallery_header.txt", GALLERY_SRC, _MISSING_DATA
)
remove_stale_pages(GALLERY_SRC, HERE / "auto_examples")
for _example, _datasets in _MISSING_DATA.items():
    # a plain message, not a Sphinx warning: -W does not turn it into an error
    print(
        f"sklearn-mtl docs: not running {_example}: it needs "
        f"{', '.join(_datasets)} in the data home {_DATA_HOME} "
        "(SKLEARN_MTL_DATA; see sklearn_mtl.datasets.download_dataset)",
        file=sys.stderr,
    )
if _UNLISTED:
    print(
        f"sklearn-mtl docs: {', '.join(_UNLISTED)} not in a topic of "
        "docs/_ext/gallery_layout.py; listed at the top of the gallery",
        file=sys.stderr,
    )
# Execute only plot_*.py files, minus the ones whose data is missing.
_not_run = "".join(
    f"(?!{re.escape(name[len('plot_') :])})" for name in sorted(_MISSING_DATA)
)
_gallery_rel = os.path.relpath(GALLERY_SRC, HERE)
sphinx_gallery_conf = {
    "examples_dirs": _gallery_rel,
    "gallery_dirs": "auto_examples",
    "filename_pattern": rf"{re.escape(os.sep)}plot_{_not_run}",
    "ignore_pattern": r"__init__\.py",
    "subsection_order": [os.path.join(_gallery_rel, t[0]) for t in TOPICS],
    "within_subsection_order": "gallery_layout.ExampleOrder",
    # "Examples using ..." on the API pages (the autosummary templates)
    "doc_module": ("sklearn_mtl",),
    "backreferences_dir": os.path.join("generated", "backreferences"),
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
        text = markdown_to_rst(
            markdown, heading_chars="-~^\"'", label_prefix="benchmarks-"
        )
    else:
        text = "*benchmarks/README.md is not part of this checkout.*\n"
    _write_if_changed(GENERATED / "benchmarks_readme.rst.inc", text)

    parts = []
    for result in sorted((BENCHMARKS / "results").glob("*.md")):
        parts.append(
            f"From ``benchmarks/results/{result.name}``:\n\n"
            + markdown_to_rst(
                result.read_text(encoding="utf-8"),
                heading_chars="~^\"'",
                label_prefix=f"benchmarks-{result.stem}-",
            )
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
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
