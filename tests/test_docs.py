"""The documentation: API coverage, documented defaults, doctests, a -W build."""

import ast
import doctest
import inspect
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

import sklearn_mtl
from sklearn_mtl import MultiTaskRegressor, TransferEstimator

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
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
    extra = sorted(set(documented) - {p.name for p in parameters})
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
    for example in sorted((ROOT / "examples").glob("plot_*.py")):
        assert (html / "auto_examples" / f"{example.stem}.html").is_file()
