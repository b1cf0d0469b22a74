"""The build's execution cache: prose edits reuse it, code and helper edits invalidate it."""

import execute_pages  # scripts/, on the path through conftest.py
import pytest
from jupyter_cache.base import CacheBundleIn

import book

PAGE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A page

Some prose.

```{code-cell} ipython3
x = 1 + 1
```
"""


def cache_page(cache, path):
    nb = execute_pages.read_page(path)
    cache.cache_notebook_bundle(CacheBundleIn(nb, str(path)), check_validity=False)


def is_cached(cache, path):
    try:
        cache.match_cache_notebook(execute_pages.read_page(path))
    except KeyError:
        return False
    return True


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "mmids.py").write_text("def helper():\n    return 1\n")
    (tmp_path / "utils" / "mmids_data.py").write_text("SIZE = 1\n")
    (tmp_path / "requirements.txt").write_text("torch==2.14.1\n")
    (tmp_path / "page.md").write_text(PAGE)
    monkeypatch.delenv("MMIDS_DEVICE", raising=False)
    return tmp_path


def test_a_prose_edit_keeps_the_page_cached_and_a_code_edit_does_not(project):
    page = project / "page.md"
    cache = execute_pages.open_cache(project / "cache", execute_pages.environment_key(project))
    cache_page(cache, page)
    assert is_cached(cache, page)
    page.write_text(PAGE.replace("Some prose.", "Other, longer prose.\n\n## A new section"))
    assert is_cached(cache, page)
    page.write_text(PAGE.replace("1 + 1", "1 + 2"))
    assert not is_cached(cache, page)


@pytest.mark.parametrize("change", ["helpers", "plumbing", "new module", "requirements", "device"])
def test_a_change_of_helpers_requirements_or_device_empties_the_cache(project, monkeypatch, change):
    page = project / "page.md"
    key = execute_pages.environment_key(project)
    cache_page(execute_pages.open_cache(project / "cache", key), page)
    # Same key: the cache is kept.
    assert is_cached(execute_pages.open_cache(project / "cache", key), page)
    if change == "helpers":
        (project / "utils" / "mmids.py").write_text("def helper():\n    return 2\n")
    elif change == "plumbing":
        (project / "utils" / "mmids_data.py").write_text("SIZE = 2\n")
    elif change == "new module":
        (project / "utils" / "mmids_more.py").write_text("")
    elif change == "requirements":
        (project / "requirements.txt").write_text("torch==2.14.2\n")
    else:
        monkeypatch.setenv("MMIDS_DEVICE", "cpu")
    new_key = execute_pages.environment_key(project)
    assert new_key != key
    assert not is_cached(execute_pages.open_cache(project / "cache", new_key), page)


def test_the_build_executes_the_notebook_pages_of_the_toc_in_order():
    pages = [page.with_suffix(".md") for page in book.chapter_pages()]
    notebooks = [page for page in pages if "kernelspec:" in page.read_text()]
    assert notebooks
    assert book.notebook_pages() == notebooks
