"""Mechanical checks of what keeps the book maintainable.

- One definition of every helper: no page defines (``def``/``class``) a name that a module
  of ``utils/`` defines.
- Each module's ``__all__`` lists exactly its public names (``mmids``' include what it
  re-exports from its plumbing modules); each helper of ``mmids`` is used by at least one
  page, and every public name of every module is called (or, for constants and
  exceptions, used) by a unit test in ``tests/unit/``, as the tests' syntax trees show.
- Helpers return values: ``print`` appears in ``utils/`` only under an ``if verbose`` flag.
- Importing ``mmids`` has no side effect (no output, seeding, warning filters or files).
- Every page has the same anatomy: a label and a title, a "What you will do" box, one imports
  cell, and "Exercises" at the end, each exercise with a gated, executable solution; pages
  that train a model keep their hyperparameters in one frozen dataclass at the top.

The checks read the table of contents, the modules and the tests, so a new page or a new
helper needs no change here: only a use on a page, a unit test and an entry in ``__all__``.
"""

import ast
import importlib
import re
import subprocess
import sys
import textwrap

import jupytext
import pytest

import mmids
from conftest import ROOT, chapter_pages

PAGES = [page.with_suffix(".md") for page in chapter_pages()]
TEMPLATES = sorted((ROOT / "templates").glob("*.md"))
MODULE_PATHS = sorted((ROOT / "utils").glob("*.py"))
MODULES = [path.stem for path in MODULE_PATHS]
TREES = {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in MODULE_PATHS}
UNIT_TESTS = sorted((ROOT / "tests" / "unit").glob("test_*.py"))


def ids(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


def code_cells(page):
    """Parsed code cells of a MyST page, in order (IPython magics and shell lines dropped)."""
    nb = jupytext.read(page)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = [ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        cells.append(ast.parse("\n".join(lines)))
    return cells


def page_text(page):
    """The markdown of a page, each code cell reduced to a fence around ``<code cell N>``.

    Headings and directives are then searched in the prose only: a ``# comment`` in a code
    cell is not a title.
    """
    parts, count = [], 0
    for cell in jupytext.read(page).cells:
        if cell.cell_type == "code":
            parts.append(f"```{{code-cell}} ipython3\n<code cell {count}>\n```")
            count += 1
        else:
            parts.append(cell.source)
    return "\n\n".join(parts)


def defined_names(tree):
    """Names of the functions and classes defined anywhere in a syntax tree."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {node.name for node in ast.walk(tree) if isinstance(node, kinds)}


def top_level_names(tree):
    """(defined, imported): names a module defines at top level (functions, classes,
    variables), and names it imports from another module of utils/ (which it may re-export).
    """
    defined, imported = set(), set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom) and node.module in MODULES:
            imported |= {alias.asname or alias.name for alias in node.names}
    return defined - {"__all__"}, imported


def names_used_by_unit_tests():
    """``{(module, name): how}`` for each ``module.name`` of utils that a unit test uses.

    ``how`` is ``"called"`` when some use is a call (``mmids.train(...)``), else ``"used"``.
    Only code counts: a name in a comment or a string is no test.
    """
    found = {}
    for path in UNIT_TESTS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in MODULES
            ):
                key = (node.value.id, node.attr)
                if id(node) in called or found.get(key) == "called":
                    found[key] = "called"
                else:
                    found[key] = "used"
    return found


PUBLIC = list(mmids.__all__)
EVERY_PUBLIC = [(m, name) for m in MODULES for name in importlib.import_module(m).__all__]


# ------------------------------------------------------------- one definition of a helper


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_no_page_redefines_a_name_that_a_helper_module_defines(page):
    on_page = set().union(*map(defined_names, code_cells(page)))
    in_utils = set().union(*map(defined_names, TREES.values()))
    clash = sorted(on_page & in_utils)
    assert not clash, (
        f"{page.name} defines {clash}, which utils/ also defines: call the helper "
        "(mmids.NAME) instead, or give the page's own code another name."
    )


@pytest.mark.parametrize("module", MODULES)
def test_all_lists_exactly_the_public_names_of_each_module(module):
    listed = importlib.import_module(module).__all__
    defined, imported = top_level_names(TREES[module])
    public = {name for name in defined if not name.startswith("_")}
    assert len(listed) == len(set(listed)), "a name is listed twice in __all__"
    missing, unknown = public - set(listed), set(listed) - public - imported
    assert not missing and not unknown, (
        f"utils/{module}.py: missing from __all__: {sorted(missing)}; listed but neither "
        f"defined nor imported from utils/: {sorted(unknown)}. Public helpers go in "
        "__all__; module-internal ones start with an underscore."
    )


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_helper_is_used_by_a_page(name):
    pattern = re.compile(rf"\bmmids\.{re.escape(name)}\b|:pyobject: {re.escape(name)}\b")
    users = [p.name for p in PAGES if pattern.search(p.read_text(encoding="utf-8"))]
    assert users, (
        f"mmids.{name} is used by no page of _toc.yml: use it on a page, or remove it "
        "(a helper exists to serve the pages)."
    )


@pytest.mark.parametrize("module, name", EVERY_PUBLIC, ids=[f"{m}.{n}" for m, n in EVERY_PUBLIC])
def test_every_public_name_is_called_by_a_unit_test(module, name):
    obj = getattr(importlib.import_module(module), name)
    must_call = callable(obj) and not (isinstance(obj, type) and issubclass(obj, Exception))
    found = names_used_by_unit_tests()
    uses = {found.get((m, name)) for m in (module, "mmids") if name in vars(sys.modules[m])}
    expected = {"called"} if must_call else {"called", "used"}
    assert uses & expected, (
        f"{module}.{name} is never {'called' if must_call else 'used'} by a test of "
        f"tests/unit/: add a unit test that calls it (as mmids.{name} or {module}.{name})."
    )


def test_the_coverage_check_reads_code_not_comments(tmp_path, monkeypatch):
    fake = tmp_path / "test_fake.py"
    fake.write_text("import mmids\n# mmids.train(loader)\nx = 'mmids.test'\nmmids.ls_by_qr\n")
    monkeypatch.setattr(sys.modules[__name__], "UNIT_TESTS", [fake])
    assert names_used_by_unit_tests() == {("mmids", "ls_by_qr"): "used"}


# ------------------------------------------------------------- helpers without side effects


def test_helpers_print_only_under_a_verbose_flag():
    def prints(node, guarded):
        """Line numbers of calls to print() not inside an `if` that tests `verbose`."""
        found = []
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "print" and not guarded:
                found.append(node.lineno)
        for child in ast.iter_child_nodes(node):
            inner = guarded
            if isinstance(node, ast.If) and child in node.body:
                names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
                inner = guarded or "verbose" in names
            found += prints(child, inner)
        return found

    lines = {m: prints(tree, guarded=False) for m, tree in TREES.items()}
    lines = {m: found for m, found in lines.items() if found}
    assert not lines, (
        f"utils/ prints at lines {lines} (module: lines): return the value and let the page "
        "print it, or print under an explicit `verbose` argument."
    )


NO_SIDE_EFFECT_SCRIPT = textwrap.dedent(
    """
    import contextlib, io, os, random, warnings
    from pathlib import Path

    import matplotlib
    import numpy as np
    import torch

    before = (
        random.getstate(), np.random.get_state()[1].tolist(), torch.random.get_rng_state(),
        list(warnings.filters), dict(matplotlib.rcParams), torch.get_default_dtype(),
        sorted(os.listdir(".")),
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        import mmids
    after = (
        random.getstate(), np.random.get_state()[1].tolist(), torch.random.get_rng_state(),
        list(warnings.filters), dict(matplotlib.rcParams), torch.get_default_dtype(),
        sorted(os.listdir(".")),
    )
    what = ["Python's random state", "NumPy's random state", "PyTorch's random state",
            "the warning filters", "matplotlib's settings", "torch's default dtype",
            "the working directory"]
    for name, a, b in zip(what, before, after):
        same = torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b
        assert same, f"importing mmids changed {name}"
    assert out.getvalue() == "", f"importing mmids wrote: {out.getvalue()!r}"
    assert not Path(os.environ["MMIDS_DATA_DIR"]).exists(), "importing mmids made a data folder"
    print("ok")
    """
)


def test_importing_mmids_has_no_side_effect(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", NO_SIDE_EFFECT_SCRIPT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"MMIDS_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


# ------------------------------------------------------------------------- page anatomy

ANATOMY_PAGES = PAGES + TEMPLATES
OBJECTIVES = "```{admonition} What you will do"


def sections(text):
    """Level-2 headings of a page (outside code blocks), in order, with their text."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return list(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize("page", ANATOMY_PAGES, ids=ids(ANATOMY_PAGES))
def test_page_opens_with_a_label_a_title_and_its_objectives(page):
    text = page_text(page)
    titles = re.findall(r"^# .+$", text, flags=re.MULTILINE)
    assert len(titles) == 1, f"{page.name}: expected one level-1 title, found {titles}"
    assert re.search(r"^\([\w-]+\)=\n# ", text, flags=re.MULTILINE), (
        f"{page.name}: put a label such as (my-topic)= on the line above the title"
    )
    head = text.split("\n## ", 1)[0]
    assert OBJECTIVES in head, (
        f"{page.name}: add a short '{OBJECTIVES}' box (objectives) before the first section"
    )


@pytest.mark.parametrize("page", ANATOMY_PAGES, ids=ids(ANATOMY_PAGES))
def test_page_has_one_imports_cell_and_imports_nothing_elsewhere(page):
    cells = code_cells(page)
    imports = (ast.Import, ast.ImportFrom)
    only_imports = [
        i
        for i, tree in enumerate(cells)
        if tree.body and all(isinstance(s, imports) for s in tree.body)
    ]
    assert only_imports, f"{page.name}: no cell of imports"
    first = only_imports[0]
    late = [
        i
        for i, tree in enumerate(cells[first + 1 :], start=first + 1)
        if any(isinstance(node, imports) for node in ast.walk(tree))
    ]
    assert not late, (
        f"{page.name}: code cells {late} (counting code cells from 0) import something; "
        f"move every import to the imports cell (code cell {first})."
    )


@pytest.mark.parametrize("page", ANATOMY_PAGES, ids=ids(ANATOMY_PAGES))
def test_page_ends_with_exercises_whose_solutions_are_gated_and_executable(page):
    text = page_text(page)
    cells = code_cells(page)
    headings = sections(text)
    assert headings and headings[-1][0].strip() == "Exercises", (
        f"{page.name}: the last section must be '## Exercises'"
    )
    exercises = headings[-1][1]
    labels = re.findall(r"^```\{exercise(?:-start)?\}.*\n:label: (\S+)$", exercises, re.MULTILINE)
    assert len(labels) >= 2, f"{page.name}: expected two or more labelled exercises, got {labels}"
    for label in labels:
        match = re.search(
            rf"^```\{{solution-start\}} {re.escape(label)}\n(.*?)^```\{{solution-end\}}",
            exercises,
            flags=re.MULTILINE | re.DOTALL,
        )
        assert match, f"{page.name}: exercise {label} has no solution-start/solution-end pair"
        solution = match.group(1)
        assert solution.startswith(":class: dropdown"), (
            f"{page.name}: the solution of {label} must be hidden (:class: dropdown)"
        )
        numbers = [int(n) for n in re.findall(r"^<code cell (\d+)>$", solution, re.MULTILINE)]
        assert numbers, f"{page.name}: the solution of {label} has no code cell to execute"
        asserts = [n for n in numbers if any(isinstance(x, ast.Assert) for x in ast.walk(cells[n]))]
        assert asserts, f"{page.name}: the solution of {label} should assert what it claims"


def test_page_and_exercise_labels_are_unique_across_the_book():
    seen = {}
    for page in PAGES:
        text = page_text(page)
        labels = re.findall(r"^\(([\w-]+)\)=$", text, flags=re.MULTILINE)
        labels += re.findall(r"^:label: (\S+)$", text, flags=re.MULTILINE)
        for label in labels:
            assert label not in seen, f"label {label!r} is used by {seen[label]} and {page.name}"
            seen[label] = page.name


@pytest.mark.parametrize("page", ANATOMY_PAGES, ids=ids(ANATOMY_PAGES))
def test_training_settings_live_in_one_frozen_dataclass_at_the_top(page):
    text = page.read_text(encoding="utf-8")
    if not re.search(r"\boptim\.\w+\(|mmids\.train(?:ing_loop)?\(", text):
        pytest.skip("this page trains no model")
    head = text.split("\n## ", 1)[0]
    assert "@dataclass(frozen=True)" in head, (
        f"{page.name} trains a model: gather its hyperparameters in a frozen dataclass, "
        "in a cell before the first section"
    )
    constants = sorted(
        target.id
        for tree in code_cells(page)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and re.fullmatch(r"[A-Z]{2,}(_[A-Z0-9]+)*", target.id)
    )
    assert not constants, (
        f"{page.name} sets {constants} as globals: make them fields of the hyperparameters"
    )
