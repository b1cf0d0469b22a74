"""The book as a mathematics text: statements, proofs, citations, links, attribution.

These are the conditions of issue 10 that hold for the book as a whole, checked on the
pages' sources (MyST markdown, prose only: code cells are left out) and, where the built
site is needed, on ``_build/html``:

- pages 02, 03, 04, 06 and 07 together hold at least 8 numbered definitions, theorems,
  lemmas, propositions or corollaries (sphinx-proof directives with a label and without
  ``:nonumber:``) and at least 5 proofs (``prf:proof``);
- every chapter page cites a work with ``{cite}`` (or ``{cite:p}``, ``{cite:t}``, ...), and
  says which section of the MMiDS textbook it follows (a citation of ``roch2024mmids`` and
  "Section 8.x" in the same paragraph);
- every cited key is an entry of ``references.bib``, and the References page lists at least
  8 works, each of them cited from a page (in the sources, and in the built site, where
  some page's citation links to each entry of ``references.html``);
- no page speaks of "the next page", "the previous page" or "the X page" in a sentence
  without a link ({ref}, {doc} or a Markdown link);
- the code has a LICENSE, and the README and the landing page state the prose's licence.

Tests that need the built site skip when there is none (run ``make build`` first).
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import jupytext
import pytest

import book
from conftest import ROOT, chapter_pages

HTML = ROOT / "_build" / "html"
CHAPTER_PAGES = [page.with_suffix(".md") for page in chapter_pages()]


def toc_sources():
    """Every page of the table of contents (the root included), as a path to its source."""
    return [ROOT / Path(name).with_suffix(".md") for name in book.toc_files()]


ALL_PAGES = toc_sources()
# The pages whose mathematics issue 10 counts (by their number: 02_autodiff, ...).
THEORY_PAGES = [p for p in CHAPTER_PAGES if p.name[:2] in {"02", "03", "04", "06", "07"}]


def ids(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


def prose(page):
    """The markdown cells of a page (MyST), joined; code cells are left out."""
    notebook = jupytext.read(page, fmt="md:myst")
    return "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


# An opening fence of a directive, its name and its option lines (":label: x", ...).
DIRECTIVE = re.compile(
    r"^(?:`{3,}|~{3,}|:{3,})\{([\w:-]+)\}[^\n]*\n((?:[ \t]*:[\w-]+:[^\n]*\n)*)", re.M
)
NUMBERED_KINDS = {"definition", "theorem", "lemma", "proposition", "corollary"}
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
BIB_KEY = re.compile(r"^@\w+\s*\{\s*([^,\s]+)\s*,", re.M)
LINK = re.compile(r"\{(?:ref|doc|numref|prf:ref)\}`[^`]+`|\]\([^)\s]+\)|https?://")
# "next page", "previous page", "the backpropagation page", ... ("the same page" is not one).
PAGE_MENTION = re.compile(
    r"\b(?:next|previous|preceding|following|last) page\b"
    r"|\bthe (?!same\b|whole\b|next\b|previous\b)[\w-]+ page\b",
    re.IGNORECASE,
)
MMIDS_SECTION = re.compile(r"(?:Sections?|Sec\.|§)\s*8\.\d")


def prf_directives(page):
    """(kind, options) of each sphinx-proof directive of a page: ("theorem", {...})."""
    found = []
    for name, options in DIRECTIVE.findall(prose(page)):
        if name.startswith("prf:"):
            opts = dict(re.findall(r"^[ \t]*:([\w-]+):[ \t]*(.*)$", options, re.M))
            found.append((name[4:], opts))
    return found


def cited_keys(page):
    return {key.strip() for group in CITE.findall(prose(page)) for key in group.split(",")}


def bib_keys():
    return set(BIB_KEY.findall((ROOT / "references.bib").read_text(encoding="utf-8")))


# ------------------------------------------------------------------ definitions, theorems


def test_theory_pages_hold_numbered_statements_and_proofs():
    assert len(THEORY_PAGES) == 5, f"expected pages 02, 03, 04, 06, 07 in _toc.yml: {THEORY_PAGES}"
    numbered, proofs = {}, {}
    for page in THEORY_PAGES:
        directives = prf_directives(page)
        numbered[page.name] = [
            opts.get("label")
            for kind, opts in directives
            if kind in NUMBERED_KINDS and "label" in opts and "nonumber" not in opts
        ]
        proofs[page.name] = sum(kind == "proof" for kind, _ in directives)
    total = sum(len(labels) for labels in numbered.values())
    assert total >= 8, (
        f"pages 02, 03, 04, 06 and 07 hold {total} labelled, numbered definitions, theorems "
        f"and lemmas (at least 8 wanted): {numbered}"
    )
    assert sum(proofs.values()) >= 5, (
        f"pages 02, 03, 04, 06 and 07 hold {sum(proofs.values())} prf:proof blocks "
        f"(at least 5 wanted): {proofs}"
    )


# --------------------------------------------------------------------------- citations


@pytest.mark.parametrize("page", CHAPTER_PAGES, ids=ids(CHAPTER_PAGES))
def test_every_chapter_page_cites_a_work(page):
    assert cited_keys(page), (
        f"{page.name} cites nothing: cite what it uses with {{cite}}`key` (keys in references.bib)"
    )


@pytest.mark.parametrize("page", CHAPTER_PAGES, ids=ids(CHAPTER_PAGES))
def test_every_chapter_page_says_which_mmids_section_it_follows(page):
    paragraphs = re.split(r"\n\s*\n", prose(page))
    saying = [
        p
        for p in paragraphs
        if "roch2024mmids" in " ".join(CITE.findall(p)) and MMIDS_SECTION.search(p)
    ]
    assert saying, (
        f"{page.name}: say which section of MMiDS the page follows, e.g. 'This page follows "
        "Section 8.5 of {cite:t}`roch2024mmids`' (citation and section in one paragraph)"
    )


def test_every_cited_key_is_an_entry_of_references_bib():
    known = bib_keys()
    unknown = {
        page.relative_to(ROOT).as_posix(): sorted(cited_keys(page) - known) for page in ALL_PAGES
    }
    unknown = {page: keys for page, keys in unknown.items() if keys}
    assert not unknown, f"cited keys missing from references.bib: {unknown}"


def test_references_page_lists_at_least_eight_works_each_cited_from_a_page():
    references = ROOT / "references.md"
    assert references in ALL_PAGES, "references.md is not in _toc.yml"
    text = references.read_text(encoding="utf-8")
    match = re.search(r"^```\{bibliography\}[^\n]*\n((?::[\w-]+:[^\n]*\n)*)", text, re.M)
    assert match, "references.md has no {bibliography} directive"
    cited = set().union(*(cited_keys(page) for page in ALL_PAGES))
    # sphinxcontrib-bibtex lists the cited entries unless told :all: (or another :filter:).
    assert ":filter:" not in match.group(1), "references.md filters the bibliography: check it"
    listed = bib_keys() if ":all:" in match.group(1) else cited & bib_keys()
    assert len(listed) >= 8, f"the References page lists {len(listed)} works: {sorted(listed)}"
    assert listed <= cited, f"listed but cited from no page: {sorted(listed - cited)}"


class _Links(HTMLParser):
    """The entries of a built References page (ids), and the citation links of a page."""

    def __init__(self):
        super().__init__()
        self.entries = []  # ids of the bibliography entries
        self.targets = set()  # fragments of the links into references.html

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("role") == "doc-biblioentry" and attrs.get("id"):
            self.entries.append(attrs["id"])
        href = attrs.get("href") or ""
        if tag == "a" and re.search(r"(^|/)references\.html#", href):
            self.targets.add(href.split("#", 1)[1])


def test_built_references_page_lists_at_least_eight_works_each_cited_from_a_page():
    if not (HTML / "references.html").is_file():
        pytest.skip("no built site in _build/html: run `make build` first")
    references = _Links()
    references.feed((HTML / "references.html").read_text(encoding="utf-8"))
    assert len(references.entries) >= 8, f"references.html lists {len(references.entries)} works"
    cited = set()
    for page in ALL_PAGES:
        built = HTML / page.relative_to(ROOT).with_suffix(".html")
        assert built.is_file(), f"{page.name} has no built page {built}: rebuild the site"
        links = _Links()
        links.feed(built.read_text(encoding="utf-8"))
        cited |= links.targets
    uncited = sorted(set(references.entries) - cited)
    assert not uncited, f"entries of references.html that no page's citation links to: {uncited}"


# ------------------------------------------------------------------------------- links


@pytest.mark.parametrize("page", ALL_PAGES, ids=ids(ALL_PAGES))
def test_no_page_speaks_of_another_page_without_linking_it(page):
    text = DIRECTIVE.sub("\n\n", prose(page))  # directive names and options are not prose
    sentences = [
        sentence
        for paragraph in re.split(r"\n\s*\n", text)
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z{`$(\[*])", re.sub(r"\s+", " ", paragraph))
    ]
    unlinked = [s for s in sentences if PAGE_MENTION.search(s) and not LINK.search(s)]
    assert not unlinked, (
        f"{page.name} mentions a page without a link ({{ref}}`label` or {{doc}}`path`): {unlinked}"
    )


# --------------------------------------------------------------- licence and attribution


def test_code_has_a_licence_and_the_prose_states_its_own():
    licence = ROOT / "LICENSE"
    assert licence.is_file(), "no LICENSE file for the code"
    assert re.search(
        r"Permission is hereby granted|Apache License|Redistribution and use", licence.read_text()
    ), "LICENSE does not hold the text of a known open-source licence"
    for name in ("README.md", "intro.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        assert re.search(r"CC BY(-SA)? 4\.0|Creative Commons", text), (
            f"{name} does not say under which licence the prose is published"
        )
    config = book.config()
    assert "Roch" in config["author"] and "MMiDS" in config["author"], (
        "_config.yml's author line must credit S. Roch's MMiDS for the chapter's mathematics"
    )
