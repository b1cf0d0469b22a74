"""Execute the book's pages in parallel into the build's execution cache.

Usage: python scripts/execute_pages.py [--jobs N] [--cache DIR] PAGE.md [...]

``make build`` runs this before ``jupyter-book build``. Jupyter Book executes pages one at a
time, each in a fresh kernel; this script executes the pages that are not in the cache yet,
``--jobs`` at a time (default: the number of CPU cores), longest first, and stores them in
the jupyter-cache database that Jupyter Book reads in ``execute_notebooks: cache`` mode. The
build then finds every page in the cache and executes nothing.

It keys pages exactly as myst-nb does (the notebook myst-nb reads from the ``.md``: its code
cells and kernel), so a page whose code changed is executed again, and a page whose prose
alone changed is not. jupyter-cache does not see the helper modules (``utils/*.py``),
``requirements.txt``, ``MMIDS_DEVICE`` or ``MMIDS_PROGRESS``: the script keeps their hash
next to the cache and empties the cache when it changes, so editing a helper module
re-executes every page.

A page that fails here is not cached and is only reported in one line: the build then
executes it again and reports the failing cell in its log, and fails.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import book

ROOT = book.ROOT
# Settings whose change can change any page's outputs although its code did not; so can
# the helper modules (utils/*.py) and requirements.txt.
KEY_ENV = ("MMIDS_DEVICE", "MMIDS_PROGRESS")


def key_files(root=ROOT):
    """The files that every page depends on: each helper module and the pinned requirements."""
    return [*sorted(Path(root).glob("utils/*.py")), Path(root) / "requirements.txt"]


def environment_key(root=ROOT):
    """Hash of the helper modules, the pinned requirements and the device setting."""
    digest = hashlib.sha256()
    for path in key_files(root):
        name = path.relative_to(root).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    for name in KEY_ENV:
        digest.update(f"{name}={os.environ.get(name, '')}\0".encode())
    return digest.hexdigest()


def open_cache(cache_dir, key):
    """The jupyter-cache at ``cache_dir``, emptied first if ``key`` changed."""
    from jupyter_cache import get_cache

    cache_dir = Path(cache_dir)
    stamp = cache_dir.parent / (cache_dir.name + ".key")
    if stamp.is_file() and stamp.read_text().strip() == key and cache_dir.is_dir():
        return get_cache(str(cache_dir))
    if cache_dir.exists():
        print(
            "execute_pages: utils/*.py, requirements.txt, MMIDS_DEVICE or MMIDS_PROGRESS "
            f"changed: emptying {cache_dir}"
        )
        shutil.rmtree(cache_dir)
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    cache = get_cache(str(cache_dir))
    stamp.write_text(key + "\n")
    return cache


# Jupyter Book's default MyST extensions, unless _config.yml sets parse.myst_enable_extensions.
JB_MYST_EXTENSIONS = ["colon_fence", "dollarmath", "linkify", "substitution", "tasklist"]


def read_page(path, extensions=None):
    """The notebook myst-nb reads from a MyST page (same cells, same metadata)."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    config = MdParserConfig(enable_extensions=set(extensions or JB_MYST_EXTENSIONS))
    return read_myst_markdown_notebook(
        Path(path).read_text(encoding="utf-8"), config=config, add_source_map=True, path=str(path)
    )


def _execute(path, timeout, threads, extensions):
    """Run one page in a fresh kernel, in the page's folder (as myst-nb does)."""
    from jupyter_cache.executors.utils import single_nb_execution

    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
    nb = read_page(path, extensions)
    # A page's own settings (front matter `mystnb:`) win over _config.yml, as in myst-nb.
    overrides = nb.metadata.get("mystnb", {})
    result = single_nb_execution(
        nb,
        cwd=str(Path(path).parent),
        allow_errors=overrides.get("execution_allow_errors", False),
        timeout=overrides.get("execution_timeout", timeout),
        meta_override=True,
    )
    error = None if result.err is None else f"{type(result.err).__name__}: {result.err}"
    return nb, result.time, error


def execute_pages(pages, cache_dir, jobs, timeout, extensions=None):
    """Execute the uncached ``pages``; return the number of pages that failed."""
    from jupyter_cache.base import CacheBundleIn

    cache = open_cache(cache_dir, environment_key())
    todo = []
    for page in pages:
        nb = read_page(page, extensions)
        if nb.metadata.get("mystnb", {}).get("execution_mode", "cache") != "cache":
            continue  # the page asks for another execution mode: the build handles it
        try:
            cache.match_cache_notebook(nb)
        except KeyError:
            todo.append(page)
    if not todo:
        print(f"execute_pages: all {len(pages)} pages are in the cache")
        return 0
    # Longest first, so that a long training page does not end up running alone at the end.
    times_file = Path(cache_dir).parent / (Path(cache_dir).name + ".times.json")
    times = json.loads(times_file.read_text()) if times_file.is_file() else {}
    todo.sort(key=lambda p: -_expected_cost(p, times))
    # Share the cores: each kernel's PyTorch gets cores / jobs threads.
    jobs, threads = book.jobs_and_threads(len(todo), jobs)
    print(f"execute_pages: executing {len(todo)} of {len(pages)} pages, {jobs} at a time")
    failed = 0
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_execute, str(p), timeout, threads, extensions): p for p in todo}
        for future in as_completed(futures):
            page = futures[future]
            nb, seconds, error = future.result()
            if error is None:
                uri = str(Path(page).resolve())
                cache.cache_notebook_bundle(
                    CacheBundleIn(nb, uri, data={"execution_seconds": seconds}),
                    check_validity=False,
                    overwrite=True,
                )
                print(f"  {page}: {seconds:.1f} s")
                times[str(page)] = round(seconds, 1)
            else:
                failed += 1
                first_line = error.splitlines()[0] if error else ""
                print(f"  {page}: FAILED ({first_line[:200]}); the build will report it")
    print(f"execute_pages: done in {time.perf_counter() - start:.1f} s")
    times_file.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    return failed


def _expected_cost(page, times):
    """Seconds the page took last time, else a guess from its code (CNNs, then training)."""
    if str(page) in times:
        return times[str(page)]
    text = Path(page).read_text(encoding="utf-8")
    return 100 * ("Conv2d" in text) + 10 * ("training_loop(" in text) + len(text) / 1e5


def main(argv=None):
    config = book.config()
    execute = config.get("execute", {})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path, help="default: the pages of _toc.yml")
    parser.add_argument("--jobs", type=int, default=None, help="default: MMIDS_BUILD_JOBS or cores")
    parser.add_argument(
        "--cache", type=Path, default=Path(execute.get("cache") or "_build/.jupyter_cache")
    )
    args = parser.parse_args(argv)
    pages = args.pages or [p.relative_to(ROOT) for p in book.notebook_pages()]
    timeout = book.cell_timeout()
    extensions = (config.get("parse") or {}).get("myst_enable_extensions")
    execute_pages(pages, args.cache, args.jobs, timeout, extensions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
