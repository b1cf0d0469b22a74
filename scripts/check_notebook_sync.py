"""Check that every paired reference notebook has the inputs of its MyST page.

Usage: python scripts/check_notebook_sync.py [chapters/NN_topic.md | .ipynb ...]

Without arguments, checks every page of ``chapters/`` that has a paired ``.ipynb``; a page
listed in ``_toc.yml`` without its notebook is reported too. A file given as an argument is
checked with its partner (``.md`` or ``.ipynb``), so pre-commit can pass the changed files.
Exits with status 1, naming each page out of sync and showing its first difference, and
the command that regenerates it. Outputs are not compared: nbval does that (``make test``).
"""

import sys
from pathlib import Path

import jupytext
from jupytext.compare import NotebookDifference, compare_notebooks

import book

CHAPTERS = book.ROOT / "chapters"


def pages_to_check(args):
    if args:
        pages = {(Path.cwd() / arg).resolve().with_suffix(".md") for arg in args}
        return sorted(p for p in pages if p.parent == CHAPTERS)
    listed = {page.with_suffix(".md") for page in book.chapter_pages()}
    return sorted(listed | set(CHAPTERS.glob("*.md")))


def problem(page):
    """A sentence saying what is wrong with a page and its notebook, or None."""
    notebook = page.with_suffix(".ipynb")
    if not page.is_file():
        return f"{notebook.name} has no MyST page {page.name}"
    if not notebook.is_file():
        return f"{page.name} has no reference notebook {notebook.name}"
    try:
        compare_notebooks(jupytext.read(notebook), jupytext.read(page), fmt="md:myst")
    except NotebookDifference as err:
        detail = "\n".join("    " + line for line in str(err).strip().splitlines()[:12])
        return f"{notebook.name} is out of sync with {page.name}:\n{detail}"
    return None


def main(args):
    problems = [msg for msg in map(problem, pages_to_check(args)) if msg]
    for msg in problems:
        print(msg, file=sys.stderr)
    if problems:
        print(
            "Regenerate the reference notebooks of the pages you changed, e.g. "
            "`make notebooks PAGES=chapters/NN_topic.md`.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
