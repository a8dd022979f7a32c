"""The documentation: API coverage, documented defaults, doctests, a -W build."""

import ast
import doctest
import importlib.util
import inspect
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

import sklearn_mtl
from sklearn_mtl import MultiTaskRegressor, TransferEstimator

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
# hand-written pages (not the generated ones) whose >>> examples must pass
DOCTEST_PAGES = sorted(
    path.relative_to(DOCS).as_posix()
    for pattern in ("*.rst", "user_guide/*.rst")
    for path in DOCS.glob(pattern)
    if ">>>" in path.read_text(encoding="utf-8")
)


def public_names():
    """``sklearn_mtl.__all__``, plus the ``__all__`` of the public submodules."""
    names = set(sklearn_mtl.__all__)
    for name in sklearn_mtl.__all__:
        module = getattr(sklearn_mtl, name)
        if inspect.ismodule(module):
            names.update(getattr(module, "__all__", ()))
    return sorted(names)


def test_every_public_name_is_in_the_api_reference():
    api = (DOCS / "api.rst").read_text(encoding="utf-8")
    missing = [
        name for name in public_names() if not re.search(rf"\b{re.escape(name)}\b", api)
    ]
    assert not missing, f"not in docs/api.rst: {missing}"


def same_default(text, value):
    """Whether the docstring's ``default=<text>`` denotes ``value``."""
    text = text.strip().rstrip(".")
    try:
        documented = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text.strip("\"'") == str(value)
    if isinstance(value, bool) or isinstance(documented, bool):
        return documented is value
    if isinstance(value, (int, float)) and isinstance(documented, (int, float)):
        return documented == value
    return type(documented) is type(value) and documented == value


@pytest.mark.parametrize("estimator", [MultiTaskRegressor, TransferEstimator])
def test_every_init_parameter_is_documented_with_its_default(estimator):
    docscrape = pytest.importorskip(
        "numpydoc.docscrape", reason="numpydoc is not installed: pip install '.[docs]'"
    )
    doc = docscrape.ClassDoc(estimator, config={"show_class_members": False})
    documented = {param.name: param.type for param in doc["Parameters"]}
    signature = inspect.signature(estimator.__init__)
    parameters = [p for name, p in signature.parameters.items() if name != "self"]
    problems = []
    for param in parameters:
        if param.kind == param.VAR_KEYWORD:  # **trunk__: routed arguments
            if f"**{param.name}" not in documented:
                problems.append(f"**{param.name}: not in the Parameters section")
            continue
        if param.name not in documented:
            problems.append(f"{param.name}: not in the Parameters section")
            continue
        match = re.search(r"default\s*=\s*(.+?)\s*$", documented[param.name])
        if match is None:
            problems.append(f"{param.name}: the docstring gives no default")
        elif not same_default(match.group(1), param.default):
            problems.append(
                f"{param.name}: docstring says default={match.group(1)}, the "
                f"signature has {param.default!r}"
            )
    names = {f"**{p.name}" if p.kind == p.VAR_KEYWORD else p.name for p in parameters}
    extra = sorted(set(documented) - names)
    problems += [f"{name}: documented but not a parameter" for name in extra]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "text, value, expected",
    [
        ("(128, 128)", (128, 128), True),
        ('"auto"', "auto", True),
        ("1e-4", 1e-4, True),
        ("0.0", 0.0, True),
        ("None", None, True),
        ("False", False, True),
        ("0", False, False),
        ('"equal"', "equal", True),
        ("1e-3", 1e-4, False),
    ],
)
def test_same_default(text, value, expected):
    assert same_default(text, value) is expected


def test_custom_weighting_of_the_user_guide(monkeypatch):
    monkeypatch.syspath_prepend(str(DOCS / "includes"))
    from custom_weighting import FadingAuxiliaryWeighting

    from sklearn_mtl.datasets import make_multitask_regression

    weighting = FadingAuxiliaryWeighting(main_task=1, decay=0.5)
    X, Y = make_multitask_regression(n_samples=60, n_tasks=3, random_state=0)
    model = MultiTaskRegressor(
        task_weighting=weighting,
        hidden_layer_sizes=(8,),
        max_epochs=2,
        n_iter_no_change=5,
        random_state=0,
    ).fit(X, Y)
    np.testing.assert_allclose(
        model.history_[:, "task_weights"], [[0.5, 1.0, 0.5], [0.25, 1.0, 0.25]]
    )
    assert not hasattr(weighting, "weights_")  # the estimator fitted a clone
    assert clone(weighting).get_params() == weighting.get_params()
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))


@pytest.mark.slow
@pytest.mark.parametrize("page", DOCTEST_PAGES)
def test_doctests_of_the_pages(page, monkeypatch):
    monkeypatch.syspath_prepend(str(DOCS / "includes"))  # custom_weighting.py
    result = doctest.testfile(
        str(DOCS / page),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        raise_on_error=False,
        verbose=False,
    )
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} doctest(s) failed in docs/{page}"


@pytest.mark.slow
def test_docs_build_with_warnings_as_errors(tmp_path):
    for module in ("sphinx", "numpydoc", "sphinx_gallery", "pydata_sphinx_theme"):
        pytest.importorskip(
            module, reason=f"{module} is not installed: pip install '.[docs]'"
        )
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    command = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
        "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html"),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        cwd=DOCS,
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, (
        f"sphinx failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
    )
    html = tmp_path / "html"
    for page in ("index", "api", "benchmarks", "auto_examples/index"):
        assert (html / f"{page}.html").is_file(), page
    layout = docs_extension("gallery_layout")
    for example in sorted(EXAMPLES.glob("plot_*.py")):
        assert (html / layout.example_page(example.name)).is_file(), example.name


def docs_extension(name):
    """Import ``docs/_ext/<name>.py`` (the docs' own Sphinx helpers)."""
    spec = importlib.util.spec_from_file_location(name, DOCS / "_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# real-data loaders and the data home folder each one reads
LOADER_FOLDERS = {
    "load_california_housing": "california_housing",
    "load_parkinsons_telemonitoring": "parkinsons_telemonitoring",
    "load_school": "school",
    "load_wine_quality": "wine_quality",
}


def test_every_example_has_a_topic_and_declares_its_data():
    layout = docs_extension("gallery_layout")
    scripts = sorted(path.name for path in EXAMPLES.glob("plot_*.py"))
    listed = [name for *_, names in layout.TOPICS for name in names]
    assert sorted(listed) == scripts, "examples and gallery_layout.TOPICS differ"
    for script in scripts:
        text = (EXAMPLES / script).read_text(encoding="utf-8")
        # under sphinx-gallery, exiting the script ends Sphinx without a site
        assert not re.search(r"\bsys\.exit\b|\bSystemExit\b|\bexit\(", text), script
        needed = {folder for loader, folder in LOADER_FOLDERS.items() if loader in text}
        needed |= set(re.findall(r"load_mulan\(\s*[\"'](\w+)[\"']", text))
        declared = set(layout.EXAMPLES_NEEDING_DATA.get(script, ()))
        assert needed == declared, f"{script} reads {needed}, declares {declared}"


def test_missing_data_and_staging(tmp_path):
    layout = docs_extension("gallery_layout")
    home = tmp_path / "data"
    (home / "school").mkdir(parents=True)
    (home / "school" / "school.mat").write_bytes(b"")
    (home / "wq").mkdir()  # empty: not there
    missing = layout.missing_data(home)
    assert "plot_school.py" not in missing
    assert missing["plot_task_relations.py"] == ("wq", "california_housing")
    staged = tmp_path / "staged"
    unlisted = layout.stage_gallery(
        EXAMPLES, DOCS / "gallery_header.txt", staged, missing
    )
    assert unlisted == []
    for folder, _, _, names in layout.TOPICS:
        assert (staged / folder / "GALLERY_HEADER.txt").is_file()
        for name in names:
            text = (staged / folder / name).read_text(encoding="utf-8")
            docstring = ast.get_docstring(ast.parse(text)) or ""
            assert ("code below was not run" in docstring) == (name in missing), name
    gallery = tmp_path / "auto_examples"  # pages of an earlier build
    for page in ["index", "plot_school", "multitask/index", "multitask/plot_school"]:
        (gallery / page).parent.mkdir(parents=True, exist_ok=True)
        (gallery / f"{page}.rst").write_text("", encoding="utf-8")
    (gallery / "old_topic").mkdir()
    (gallery / "old_topic" / "index.rst").write_text("", encoding="utf-8")
    removed = layout.remove_stale_pages(staged, gallery)
    assert removed == ["old_topic/index.rst", "plot_school.rst"]
    assert (gallery / "multitask" / "plot_school.rst").is_file()
    order = layout.ExampleOrder(staged / "multitask")
    names = sorted((staged / "multitask").glob("*.py"), key=order)
    assert [p.name for p in names] == list(layout.TOPICS[0][3])


def rst_doctree(rst):
    """The docutils doctree of ``rst`` and its messages of level WARNING or more."""
    pytest.importorskip("docutils", reason="docutils is not installed: '.[docs]'")
    from docutils import nodes
    from docutils.core import publish_doctree

    doctree = publish_doctree(rst, settings_overrides={"report_level": 5})
    problems = [
        node.astext()
        for node in doctree.findall(nodes.system_message)
        if node["level"] >= 2
    ]
    return doctree, problems


def rendered_text(doctree):
    from docutils import nodes

    return [node.astext() for node in doctree.findall(nodes.Text)]


@pytest.mark.parametrize(
    "markdown, expected",
    [
        ("a **bold\ntext** and *em\nph*, `code\nspan`\n", "no markup left"),
        ("- item with **bold\n  over two lines** here\n", "no markup left"),
        ("values 0.1 / 3 / 10 /\n30. The next line of the paragraph\n", 0),
        ("1. one\n2. two\n", 1),
        ("text\n\n3. three\n4. four\n", 3),
        ("Closing words.\n\n30. People\n", 30),
    ],
)
def test_markdown_converter_emphasis_and_numbering(markdown, expected):
    nodes = pytest.importorskip("docutils.nodes")

    rst = docs_extension("md_to_rst").markdown_to_rst(markdown)
    doctree, problems = rst_doctree(rst)
    assert not problems, rst
    lists = list(doctree.findall(nodes.enumerated_list))
    if expected == "no markup left":
        assert not [t for t in rendered_text(doctree) if re.search(r"\*|`", t)], rst
        assert list(doctree.findall(nodes.strong)), rst
    elif expected == 0:
        assert not lists, rst
    else:
        assert len(lists) == 1, rst
        assert int(lists[0].get("start", 1)) == expected, rst


def test_markdown_converter_links_to_headings():
    nodes = pytest.importorskip("docutils.nodes")

    markdown = "See [the speed](#speed-bench_speedpy).\n\n## Speed: `bench_speed.py`\n"
    rst = docs_extension("md_to_rst").markdown_to_rst(markdown, label_prefix="b-")
    doctree, problems = rst_doctree(rst)
    assert not problems, rst
    (reference,) = doctree.findall(nodes.reference)
    assert reference.astext() == "the speed"
    assert reference.get("refid") == "b-speed-bench-speedpy", rst


@pytest.mark.parametrize(
    "page",
    sorted(
        path.relative_to(ROOT).as_posix()
        for path in [ROOT / "benchmarks" / "README.md"]
        + list((ROOT / "benchmarks" / "results").glob("*.md"))
        if path.is_file()
    ),
)
def test_converted_benchmark_pages_have_no_raw_markdown(page):
    """No ``**``, backquote or broken list numbering left in the rendered text."""
    nodes = pytest.importorskip("docutils.nodes")

    markdown = (ROOT / page).read_text(encoding="utf-8")
    rst = docs_extension("md_to_rst").markdown_to_rst(markdown)
    doctree, problems = rst_doctree(rst)
    assert not problems, problems
    literal_parents = (nodes.literal, nodes.literal_block)
    raw = [
        text
        for node in doctree.findall(nodes.Text)
        if not isinstance(node.parent, literal_parents)
        and re.search(r"\*\*|`", text := node.astext())
    ]
    assert not raw, raw
    # an ordered list in Markdown starts after a blank line (or at a list's
    # level); a "30." inside a paragraph is text
    lines = markdown.splitlines()
    starts = [
        int(match.group(1))
        for before, line in zip(["", *lines[:-1]], lines, strict=True)
        if not before.strip() and (match := re.match(r"\s*(\d+)[.)]\s", line))
    ]
    lists = list(doctree.findall(nodes.enumerated_list))
    assert [int(x.get("start", 1)) for x in lists] == starts


def test_missing_rate_is_documented_as_it_works():
    from sklearn_mtl.datasets import make_multitask_regression

    assert "missing_rate * (1 - 1 / n_tasks)" in " ".join(
        make_multitask_regression.__doc__.split()
    )
    for n_tasks, rate in [(4, 0.5), (8, 0.95), (1, 0.5)]:
        _, Y = make_multitask_regression(
            n_samples=4000, n_tasks=n_tasks, missing_rate=rate, random_state=0
        )
        assert np.isnan(Y).mean() == pytest.approx(rate * (1 - 1 / n_tasks), abs=0.01)


@pytest.mark.slow
def test_docs_build_without_the_data_sets(tmp_path):
    """A checkout without the real data still gets the whole site.

    The docs are copied to a fresh folder (no cached gallery) and built with
    ``SKLEARN_MTL_DATA`` pointing at an empty folder: the examples that need
    real data are not run, the build says so, and their pages say why.
    """
    for module in ("sphinx", "numpydoc", "sphinx_gallery", "pydata_sphinx_theme"):
        pytest.importorskip(
            module, reason=f"{module} is not installed: pip install '.[docs]'"
        )
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    layout = docs_extension("gallery_layout")
    checkout = tmp_path / "checkout"
    skip = shutil.ignore_patterns("_build", "generated", "auto_examples", "__pycache__")
    for folder in ("docs", "examples", "benchmarks"):
        shutil.copytree(ROOT / folder, checkout / folder, ignore=skip)
    empty = tmp_path / "no_data"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKLEARN_MTL_")}
    env.update(SKLEARN_MTL_DATA=str(empty), MPLBACKEND="Agg", PYTHONPATH=str(ROOT))
    html = tmp_path / "html"
    command = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
        "-d", str(tmp_path / "doctrees"), str(checkout / "docs"), str(html),
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(
        command,
        cwd=checkout / "docs",
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.perf_counter() - start
    assert result.returncode == 0, (
        f"sphinx failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
    )
    pages = ["index.html", "api.html", "benchmarks.html", "auto_examples/index.html"]
    pages += ["generated/sklearn_mtl.MultiTaskRegressor.html"]
    pages += [layout.example_page(p.name) for p in EXAMPLES.glob("plot_*.py")]
    for page in pages:
        assert (html / page).is_file(), page
    for example, datasets in layout.EXAMPLES_NEEDING_DATA.items():
        assert f"not running {example}: it needs {', '.join(datasets)}" in (
            result.stderr
        )
        text = (html / layout.example_page(example)).read_text(encoding="utf-8")
        assert "code below was not run" in text, example
    for example in EXAMPLES.glob("plot_*.py"):
        if example.name not in layout.EXAMPLES_NEEDING_DATA:  # ran: has output
            text = (html / layout.example_page(example.name)).read_text("utf-8")
            assert "sphx-glr-script-out" in text, example.name
    print(f"docs built without data in {seconds:.0f} s")
