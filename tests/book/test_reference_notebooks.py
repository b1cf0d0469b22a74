"""Checks of the reference notebooks (chapters/*.ipynb) that nbval cannot make itself.

nbval compares the outputs of a fresh run with these references; here we check that the
references are complete and clean, that they show the values the chapter's definitions
imply, and that mmids.glue, in a kernel, writes the output myst-nb pastes into the prose.
"""

import re

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT, chapter_pages

PAGES = chapter_pages()
IDS = [page.name for page in PAGES]


def outputs(nb):
    """(cell index, output) pairs of the code cells of a notebook."""
    return [
        (i, out)
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    ]


def text_of(out):
    if out.output_type == "stream":
        return out.text
    if out.output_type in ("execute_result", "display_data"):
        return out.data.get("text/plain", "")
    return ""


def test_every_page_of_the_toc_has_its_md_page_and_reference_notebook():
    assert PAGES, "_toc.yml lists no page besides its root"
    for page in PAGES:
        assert page.with_suffix(".md").is_file(), f"{page}.md is listed in _toc.yml but missing"
        md = page.with_suffix(".md").relative_to(ROOT).as_posix()
        assert page.with_suffix(".ipynb").is_file(), (
            f"{page.name}.ipynb is missing: run `make notebooks PAGES={md}`"
        )


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_reference_notebook_is_fully_executed_without_stray_output(page):
    nb = jupytext.read(page.with_suffix(".ipynb"))
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code), "not executed"
    for i, out in outputs(nb):
        assert out.output_type != "error", f"cell {i}: {out.get('ename')}"
        assert out.get("name") != "stderr", f"cell {i} wrote to stderr: {out.text[:200]}"
        text = text_of(out)
        assert "Warning" not in text, f"cell {i}: {text[:200]}"
        assert not re.search(r"\b0x[0-9a-f]{6,}", text), f"cell {i} shows an address"
        # No progress bar: neither a widget nor a text bar's carriage returns.
        assert "application/vnd.jupyter.widget-view+json" not in out.get("data", {}), (
            f"cell {i} shows a widget (a progress bar? the pages run with MMIDS_PROGRESS=0)"
        )
        assert "\r" not in text, f"cell {i} shows a progress bar: {text[:200]!r}"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_every_figure_cell_produced_an_image(page):
    nb = jupytext.read(page.with_suffix(".ipynb"))
    figure_cells = [
        (i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and "plt.show()" in c.source
    ]
    for i, cell in figure_cells:
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert images, f"cell {i} calls plt.show() but has no image"


# Values that follow from the chapter's definitions (functions, points, seeds), for the
# pages that print them; a new page needs no entry here.
EXPECTED = {
    "02_autodiff": [
        "df/dx1 = tensor(20.7781)",
        "df/dx2 = tensor(8.3891)",
        "z.grad = tensor([2., 4., 6.])",
        "equal: True",
        "from x0 = 2:  x = 0.0328",
        "from x0 = -2:  x = -4.9335",
    ],
    "03_backpropagation": [
        "z1 = tensor([1., 1.]",
        "z2 = tensor([-1.,  1.]",
        "f  = tensor(0.5000",
        "gradient (forward mode) = tensor([ 0.,  1., -1.])",
        "gradient (reverse mode) = tensor([ 0.,  1., -1.])",
        "x.grad = tensor([ 0.,  1., -1.])",
        "match autodiff: True True",
    ],
    "04_sgd": ["training accuracy: 0.7208", "mean squared error: 2.7841"],
    "06_neural_networks": [
        "z1 = tensor([0.7311, 0.7311]",
        "z2 = tensor([0.1881, 0.8119]",
        "f  = tensor(0.2084",
        "W0.grad = tensor([[-0.1110, -0.0000,  0.1110],\n        [ 0.0370,  0.0000, -0.0370]])",
        "W1.grad = tensor([[ 0.1375,  0.1375],\n        [-0.1375, -0.1375]])",
        "match autodiff: True True",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reference_notebook_shows_the_values_the_chapter_implies(name):
    page = next((p for p in PAGES if p.name == name), None)
    assert page is not None, f"{name} is no longer in _toc.yml: update EXPECTED"
    nb = jupytext.read(page.with_suffix(".ipynb"))
    printed = "".join(text_of(out) for _, out in outputs(nb))
    for value in EXPECTED[name]:
        assert value in printed, f"{name} does not print {value!r}"


GLUE_MIME = "application/papermill.record/text/plain"
# Glued in the chapter and pasted by the execution report: the four test accuracies.
ACCURACY_KEYS = {
    "05_mnist_logistic": "logistic_accuracy",
    "06_neural_networks": "mlp_accuracy",
    "07_cnn": "cnn_accuracy",
    "08_fashion_mnist": "fmnist_accuracy",
}


def glued(nb):
    """{key: (cell index, value as written)} of the values a notebook glues."""
    found = {}
    for i, out in outputs(nb):
        if out.output_type == "display_data" and GLUE_MIME in out.get("data", {}):
            key = out.metadata["scrapbook"]["name"]
            assert key not in found, f"{key!r} glued twice (cells {found[key][0]} and {i})"
            found[key] = (i, out.data[GLUE_MIME].strip("'"))
    return found


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_every_number_pasted_in_the_prose_is_glued_and_printed_by_the_same_cell(page):
    nb = jupytext.read(page.with_suffix(".ipynb"))
    values = glued(nb)
    pasted = set(re.findall(r"\{glue(?::\w+)?\}`([^`]+)`", page.with_suffix(".md").read_text()))
    assert pasted <= set(values), f"pasted but never glued: {sorted(pasted - set(values))}"
    for key, (i, value) in values.items():
        printed = "".join(text_of(out) for out in nb.cells[i].outputs)
        # Colab cannot paste glued values: the reader finds the number printed just above.
        assert value in printed, f"{key}: {value!r} is glued but cell {i} does not print it"


@pytest.mark.parametrize("name", sorted(ACCURACY_KEYS))
def test_each_training_page_glues_its_test_accuracy_as_a_percentage(name):
    page = next(p for p in PAGES if p.name == name)
    values = glued(jupytext.read(page.with_suffix(".ipynb")))
    key = ACCURACY_KEYS[name]
    assert key in values, f"{name} does not glue {key}"
    assert re.fullmatch(r"\d{1,2}\.\d %", values[key][1]), values[key][1]


def test_glue_hands_the_string_to_myst_nb_inside_a_kernel():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('import mmids\nmmids.glue("cnn_accuracy", "98.7 %")')]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    (output,) = nb.cells[0].outputs
    assert output.output_type == "display_data"
    assert output.metadata["scrapbook"]["name"] == "cnn_accuracy"
    # display=False: a hidden mime type that myst-nb's {glue:text} role reads, none shown.
    assert output.data == {"application/papermill.record/text/plain": "'98.7 %'"}
