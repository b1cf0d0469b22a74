"""The launch notebooks: plain Jupyter Markdown converted from the MyST pages.

The first part converts a small book, written here, that holds every construct the
converter knows; the second checks the chapter's own notebooks; the third compares their
numbers and links with the built site, when there is one (after `make build`).
"""

import re

import jupytext
import nbformat
import pytest
from markdown_it import MarkdownIt

import launch_notebooks as ln
import repository
from conftest import ROOT, chapter_pages

PAGES = chapter_pages()
IDS = [page.name for page in PAGES]
BASE = "https://example.github.io/book/"

CONFIG = f"""\
title: A test book
repository:
  url: https://github.com/example/book
  branch: main
html:
  baseurl: {BASE}
bibtex_bibfiles:
  - references.bib
"""
TOC = """\
format: jb-book
root: intro
chapters:
  - file: chapters/01_first
  - file: chapters/02_second
  - file: references
"""
BIB = """\
@book{roch2024mmids, author = {Roch, S{\\'e}bastien}, title = {MMiDS}, year = {2024}}
@article{kingma2015adam, author = {Kingma, D. P. and Ba, J.}, title = {Adam}, year = {2015}}
"""
HEADER = """\
---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---
"""
FIRST = (
    HEADER
    + """
(first)=
# The first page

```{admonition} What you will do
:class: tip

- Learn $x^2$.
```

```{code-cell} ipython3
value = "92.4 %"
print(value)
```

(first-section)=
## A section

```{prf:definition} Softmax
:label: def-softmax

The softmax of $\\mathbf{z}$ is $e^{z_k} / \\sum_j e^{z_j}$.
```

```{prf:proof}
Obvious.
```

$$
f(x) = x^2
$$ (eq-square)

```{math}
:label: eq-cube
g(x) = x^3
```

The accuracy is {glue:text}`acc`, {glue:text}`ratio:.2f` as a ratio ({glue:}`acc`).

+++ {"tags": ["remove-cell"]}

A cell the book does not show: {term}`nothing`.

+++

```{literalinclude} ../utils/helper.py
:pyobject: train
```

```{literalinclude} ../utils/helper.py
:lines: 1-2
```

```{margin}
A margin note.
```

```{dropdown} More
Hidden text.
```

```{glue:figure} fig
:name: fig-glued

A glued figure.
```

```{code-cell} ipython3
---
mystnb:
  figure:
    caption: A cell's figure.
    name: fig-cell
---
print("figure")
```

## Exercises

```{exercise}
:label: first-ex-a

Compute $1 + 1$.
```

```{solution-start} first-ex-a
:class: dropdown
```

It is 2.

```{code-cell} ipython3
assert 1 + 1 == 2
```

```{solution-end}
```
"""
)
SECOND = (
    HEADER
    + """
(second)=
# The second page

See {ref}`first-section`, {ref}`the start <first>`, {numref}`def-softmax`,
{prf:ref}`def-softmax`, {eq}`eq-square`, {eq}`eq-cube`, {doc}`01_first`,
{numref}`fig-glued`, {cite}`roch2024mmids`, {cite:t}`kingma2015adam` and `{ref}` in code.

```{warning}
Careful with {math}`\\alpha`.
```

## Exercises

```{exercise} Two
:label: second-ex-b

Compute $2 + 2$.
```

```{solution-start} second-ex-b
```

It is 4.

```{solution-end}
```
"""
)
HELPER = '''\
"""A helper module."""

def train(x):
    """Train."""
    return x + 1


def other():
    return 0
'''


def glue_output(key, mime, value):
    return nbformat.v4.new_output(
        "display_data",
        data={f"{ln.GLUE_PREFIX}{mime}": value},
        metadata={"scrapbook": {"name": key, "mime_prefix": ln.GLUE_PREFIX}},
    )


@pytest.fixture
def book(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "utils").mkdir()
    (tmp_path / "_config.yml").write_text(CONFIG)
    (tmp_path / "_toc.yml").write_text(TOC)
    (tmp_path / "references.bib").write_text(BIB)
    (tmp_path / "references.md").write_text("# References\n")
    (tmp_path / "intro.md").write_text("# Intro\n")
    (tmp_path / "utils" / "helper.py").write_text(HELPER)
    (tmp_path / "chapters" / "01_first.md").write_text(FIRST)
    (tmp_path / "chapters" / "02_second.md").write_text(SECOND)
    return ln.Book(tmp_path)


def executed(page):
    """The page's cells, as a run leaves them: glue outputs in the first code cell."""
    nb = jupytext.read(page)
    for n, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = n + 1
        cell.outputs = [nbformat.v4.new_output("stream", text=f"out {n}\n")]
    first = next((c for c in nb.cells if c.cell_type == "code"), None)
    if first is None:
        return nb
    first.outputs += [
        glue_output("acc", "text/plain", "'92.4 %'"),
        glue_output("ratio", "text/plain", "0.92437"),
        glue_output("fig", "image/png", "iVBORw0KGgo="),
    ]
    return nb


def convert(book, name):
    page = book.root / "chapters" / name
    return ln.launch_notebook(page, executed(page), book)


def markdown(nb):
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_every_construct_becomes_plain_markdown(book):
    first = convert(book, "01_first.md")
    text = markdown(first)
    for cell in first.cells:
        if cell.cell_type == "markdown":
            assert ln.myst_left(cell.source) == [], cell.source
    assert "(first)=" not in text and "(first-section)=" not in text
    assert "> **What you will do**\n>\n> - Learn $x^2$." in text
    assert "> **Definition 1 (Softmax).**\n>\n> The softmax of $\\mathbf{z}$" in text
    assert "*Proof.* Obvious. $\\square$" in text
    assert "$$\nf(x) = x^2 \\tag{1}\n$$" in text
    assert "$$\ng(x) = x^3 \\tag{2}\n$$" in text
    assert "The accuracy is 92.4 %, 0.92 as a ratio (92.4 %)." in text
    assert "A cell the book does not show" not in text
    assert '```python\ndef train(x):\n    """Train."""\n    return x + 1\n```' in text
    assert '```python\n"""A helper module."""\n```' in text
    assert "> A margin note." in text
    assert "> **More**\n>\n> Hidden text." in text
    assert "![fig](attachment:fig.png)\n\n*Fig. 1. A glued figure.*" in text
    glued = next(c for c in first.cells if "attachment:fig.png" in c.source)
    assert glued.attachments == {"fig.png": {"image/png": "iVBORw0KGgo="}}
    assert "*Fig. 2. A cell's figure.*" in text


def test_exercises_are_numbered_headings_and_solutions_folded_sections(book):
    first = convert(book, "01_first.md")
    cells = first.cells
    exercise = next(i for i, c in enumerate(cells) if c.source.startswith("### Exercise 1"))
    solution = cells[exercise + 1]
    assert solution.source.startswith("#### Solution to Exercise 1\n\nIt is 2.")
    assert solution.metadata["jp-MarkdownHeadingCollapsed"] is True
    assert first.metadata["colab"]["collapsed_sections"] == [solution.metadata["id"]]
    assert cells[exercise + 2].cell_type == "code"  # the solution's code follows
    second = convert(book, "02_second.md")
    # Numbered as in the book: one counter for the whole book, in the order of _toc.yml.
    assert "### Exercise 2 (Two)" in markdown(second)
    assert "#### Solution to Exercise 2" in markdown(second)


def test_references_and_citations_link_to_the_published_book(book):
    text = markdown(convert(book, "02_second.md"))
    page = f"{BASE}chapters/01_first.html"
    assert f"[A section]({page}#first-section)" in text
    assert f"[the start]({page})" in text
    assert f"[Definition 1]({page}#def-softmax)" in text.split(", {")[0]
    assert text.count(f"[Definition 1]({page}#def-softmax)") == 2
    assert f"[(1)]({page}#equation-eq-square)" in text
    assert f"[(2)]({page}#equation-eq-cube)" in text
    assert f"[The first page]({page})" in text
    assert f"[Fig. 1]({page}#fig-glued)" in text
    assert f"[[Roch, 2024]({BASE}references.html)]" in text
    assert f"[Kingma and Ba]({BASE}references.html) [[2015]({BASE}references.html)]" in text
    assert "`{ref}` in code" in text  # code spans are left alone
    assert "> **Warning**\n>\n> Careful with $\\alpha$." in text


def test_code_cells_are_the_pages_with_their_outputs(book):
    page = book.root / "chapters" / "01_first.md"
    nb = ln.launch_notebook(page, executed(page), book)
    code = [c for c in nb.cells if c.cell_type == "code"]
    source = [c for c in jupytext.read(page).cells if c.cell_type == "code"]
    assert [c.source for c in code] == [c.source for c in source]
    assert [c.metadata for c in code] == [c.metadata for c in source]
    assert all(c.outputs for c in code)
    assert nb.metadata["colab"]["name"] == "01_first.ipynb"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    nbformat.validate(nb)


@pytest.mark.parametrize(
    "snippet, message",
    [
        ("```{tab-set}\nx\n```", "line 10, {tab-set}: this directive has no plain-Markdown"),
        ("See {term}`gradient`.", "line 10, {term}: the role {term} has no plain-Markdown"),
        ("See {ref}`nowhere`.", "no label 'nowhere'"),
        ("Value {glue:text}`missing`.", "'missing' is not glued"),
        ("{cite}`nobody2020`", "['nobody2020'] not in the bibliography"),
        ("```{literalinclude} ../utils/helper.py\n:pyobject: nothing\n```", "nothing"),
        ("```{solution-start} nowhere\n```", "solution of 'nowhere'"),
        ("````{note}\n```{exercise}\nx\n```\n````", "an exercise or solution inside a box"),
        ("A[^1].\n\n[^1]: a footnote", "MyST left after conversion"),
    ],
)
def test_an_unknown_construct_stops_the_conversion_loudly(book, snippet, message):
    page = book.root / "chapters" / "02_second.md"
    page.write_text(page.read_text().replace("See {ref}", snippet + "\n\nSee {ref}", 1))
    with pytest.raises(ln.ConversionError, match=re.escape(message)):
        ln.launch_notebook(page, executed(page), ln.Book(book.root))


def test_a_notebook_whose_code_differs_from_its_page_is_refused(book):
    page = book.root / "chapters" / "01_first.md"
    nb = executed(page)
    next(c for c in nb.cells if c.cell_type == "code").source = "value = 1"
    with pytest.raises(ln.ConversionError, match="run `make notebooks PAGES=chapters/01_first"):
        ln.launch_notebook(page, nb, book)


def test_myst_left_finds_each_kind_of_myst():
    assert ln.myst_left("Plain *text*, $x$, `code` and [a link](https://x.org).") == []
    for myst in [
        "(label)=\n# T",
        "{ref}`x`",
        "```{note}\nx\n```",
        "% comment",
        "{glue:text}",
        "A[^1].\n\n[^1]: b",
    ]:
        assert ln.myst_left(myst), myst


# ---------------------------------------------------------------- the chapter's notebooks


def notebook(page):
    return nbformat.read(page.with_suffix(".ipynb"), as_version=4)


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_launch_notebook_markdown_holds_no_myst(page):
    # The parser of the check: markdown-it-py, with MyST's role and target rules.
    nb = notebook(page)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            assert ln.myst_left(cell.source) == [], f"cell {i}: {cell.source[:300]}"
            assert "{glue" not in cell.source
            plain = MarkdownIt("commonmark").parse(cell.source)
            fences = [t.info for t in plain if t.type == "fence"]
            assert not [f for f in fences if f.startswith("{")], f"cell {i}: {fences}"


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_launch_notebook_has_every_code_cell_of_its_page_with_outputs(page):
    code = [c for c in notebook(page).cells if c.cell_type == "code"]
    source = [c for c in jupytext.read(page.with_suffix(".md")).cells if c.cell_type == "code"]
    assert [c.source for c in code] == [c.source for c in source]
    assert all(c.execution_count is not None for c in code)


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_launch_notebook_has_colab_metadata_and_a_gpu_for_the_training_pages(page):
    meta = notebook(page).metadata
    assert meta["colab"]["name"] == page.with_suffix(".ipynb").name
    assert meta["kernelspec"]["name"] == "python3"
    assert "jupytext" not in meta, "a paired notebook would show the MyST page in Jupyter"
    if page.name.startswith(ln.GPU_PAGES):
        assert meta["accelerator"] == "GPU"
        assert meta["colab"]["gpuType"]
    else:
        assert "accelerator" not in meta


def test_page_05_shows_the_training_loop_it_includes():
    page = next(p for p in PAGES if p.name.startswith("05_"))
    text = markdown(notebook(page))
    assert "def train(dataloader, model, loss_fn, optimizer" in text
    assert "loss.backward()" in text


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_launch_notebook_is_what_its_page_converts_to(page):
    book = ln.Book()
    expected = ln.notebook_text(ln.refreshed(page.with_suffix(".md"), book))
    assert page.with_suffix(".ipynb").read_text(encoding="utf-8") == expected, (
        f"run `make notebooks PAGES=chapters/{page.name}.md`"
    )


# ------------------------------------------------------------- against the built site

SITE = ROOT / "_build" / "html"


@pytest.mark.skipif(not (SITE / "index.html").is_file(), reason="no built site (make build)")
@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_links_and_numbers_agree_with_the_built_site(page):
    base = repository.pages_url()
    text = markdown(notebook(page))
    for url in re.findall(r"\]\((" + re.escape(base) + r"[^)\s]*)\)", text):
        path, _, anchor = url[len(base) :].partition("#")
        html = SITE / path
        assert html.is_file(), f"{url}: no {path} in the built site"
        if anchor:
            assert f'id="{anchor}"' in html.read_text(encoding="utf-8"), f"{url}: no #{anchor}"
    built = (SITE / f"chapters/{page.name}.html").read_text(encoding="utf-8")
    for number in re.findall(r"^#+ Exercise (\d+)", text, re.MULTILINE):
        assert f"Exercise {number}" in built, f"Exercise {number} is not on the built page"


def test_the_setup_cell_is_generated(tmp_path):
    assert repository.problems() == []
