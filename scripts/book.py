"""The facts of the book, read in one place: its pages, its cell timeout, its cores.

- The pages are those of ``_toc.yml`` (root, parts, chapters and sections at any depth).
- The cell timeout is ``execute.timeout`` of ``_config.yml``, the one place it is written:
  the build, the reference notebooks, nbval and the standalone test all use it.
- Pages executed in parallel share the cores: ``MMIDS_BUILD_JOBS`` jobs (default: one per
  core), each kernel with cores / jobs PyTorch threads.

The scripts of this folder import it as ``book``; the tests find it through
``tests/conftest.py``.
"""

import os
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def config(root=ROOT):
    """``_config.yml`` as a dict."""
    return yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8"))


def toc_files(root=ROOT):
    """Every ``file`` of ``_toc.yml``, the root first, then in reading order (no suffix)."""
    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text(encoding="utf-8"))

    def walk(entry):
        if isinstance(entry, list):
            return [name for item in entry for name in walk(item)]
        if not isinstance(entry, dict):
            return []
        found = [entry["file"]] if "file" in entry else []
        for key in ("parts", "chapters", "sections"):
            found += walk(entry.get(key, []))
        return found

    return [toc["root"], *walk(toc)]


def chapter_pages(root=ROOT):
    """The pages of ``chapters/`` that ``_toc.yml`` lists, in order: absolute, no suffix.

    Each has a MyST page (``.md``) and a reference notebook (``.ipynb``). Pages outside
    ``chapters/``, such as the landing page and the execution report, are not chapters.
    """
    return [
        Path(root) / Path(name).with_suffix("")
        for name in toc_files(root)[1:]
        if name.startswith("chapters/")
    ]


def notebook_pages(root=ROOT):
    """The ``.md`` pages of ``_toc.yml`` that execute (a kernelspec in their front matter)."""
    pages = []
    for name in toc_files(root):
        path = Path(root) / (name if name.endswith(".md") else name + ".md")
        parts = path.read_text(encoding="utf-8").split("---", 2) if path.is_file() else []
        if len(parts) == 3 and "kernelspec:" in parts[1]:
            pages.append(path)
    return pages


def cell_timeout(root=ROOT):
    """Seconds a cell may run: ``execute.timeout`` of ``_config.yml``."""
    return int(config(root)["execute"]["timeout"])


def jobs_and_threads(tasks, jobs=None, cores=None):
    """How many pages to run at once, and the PyTorch threads of each.

    Parameters
    ----------
    tasks : int
        Number of pages to run.
    jobs : int, optional
        Jobs asked for; default ``$MMIDS_BUILD_JOBS``, else one per core.
    cores : int, optional
        Default ``os.cpu_count()``.

    Returns
    -------
    (int, int or None)
        The jobs (at least 1, at most ``tasks``) and the threads per job (cores / jobs,
        at least 1), or None for one job, which keeps PyTorch's default.
    """
    cores = cores or os.cpu_count() or 1
    jobs = jobs or int(os.environ.get("MMIDS_BUILD_JOBS", 0) or 0) or cores
    jobs = max(1, min(jobs, tasks))
    return jobs, (max(1, cores // jobs) if jobs > 1 else None)
