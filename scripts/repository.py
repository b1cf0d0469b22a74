"""Where the book lives: one setting, and everything that follows from it.

Usage:
    python scripts/repository.py --check
    python scripts/repository.py --apply
    python scripts/repository.py --repoint URL [BRANCH]

``repository.url`` and ``repository.branch`` of ``_config.yml`` say where the book lives
(a GitHub repository). From them follow:

- the launch buttons and the Binder link (Jupyter Book builds them from those settings);
- ``html.baseurl``, the address of the published book (GitHub Pages:
  ``https://OWNER.github.io/REPO/``), which the launch notebooks link to;
- the setup cell of every page that imports ``mmids`` (and of ``templates/page.md``): it
  downloads the helper modules, listed once in ``pyproject.toml``
  (``[tool.setuptools] py-modules``), from the raw files of the repository.

``--apply`` writes all of these from the two settings; ``--repoint`` changes the settings
first (``make repoint URL=https://github.com/you/your-fork [BRANCH=main]``); ``--check``
(``make lint`` and the tests) exits with status 1, naming each place that disagrees.
"""

import json
import os
import re
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
SETUP_MARK = "MMIDS_REPO_URL"  # the setup cell is the code cell that names it

SETUP_CELL = """\
# Colab, Binder: fetch the book's helper modules when mmids is not installed.
# Written by `make repoint` from _config.yml and pyproject.toml: edit those, not this cell.
import importlib.util, os, urllib.request

if importlib.util.find_spec("mmids") is None:
    repo = os.environ.get("MMIDS_REPO_URL", "{raw_url}")
    modules = {modules}
    for name in modules:
        url = f"{{repo}}/{folder}{{name}}.py"
        try:
            urllib.request.urlretrieve(url, f"{{name}}.py.part")
        except (OSError, ValueError) as err:
            class SetupError(Exception):
                _render_traceback_ = lambda self: [f"SetupError: {{self}}"]  # no traceback
            raise SetupError(
                f"could not download {{url}} ({{err}}). Check that this runtime is online and "
                "run this cell again. To use another copy of the book, set the environment "
                f"variable MMIDS_REPO_URL to the address of its files (now {{repo}})."
            ) from None
    for name in sorted(modules, key="mmids".__eq__):  # mmids last: it marks a complete set
        os.replace(f"{{name}}.py.part", f"{{name}}.py")
    importlib.invalidate_caches()"""


def config(root=ROOT):
    return yaml.safe_load((Path(root) / "_config.yml").read_text(encoding="utf-8"))


def github(url):
    """(owner, name) of a GitHub repository URL; a clear error for anything else."""
    parts = urlsplit(url)
    path = parts.path.strip("/").removesuffix(".git").split("/")
    if parts.scheme != "https" or parts.netloc != "github.com" or len(path) != 2 or not all(path):
        raise SystemExit(
            f"repository.url is {url!r}; expected https://github.com/OWNER/REPO (the setup "
            "cells, launch buttons and published address are derived for GitHub)"
        )
    return path[0], path[1]


def raw_url(root=ROOT):
    """Base URL of the repository's raw files at ``repository.branch``."""
    repo = config(root)["repository"]
    owner, name = github(repo["url"])
    return f"https://raw.githubusercontent.com/{owner}/{name}/{repo['branch']}"


def pages_url(root=ROOT):
    """Address of the book published on GitHub Pages (make publish, the workflow)."""
    owner, name = github(config(root)["repository"]["url"])
    if name.lower() == f"{owner.lower()}.github.io":
        return f"https://{owner.lower()}.github.io/"
    return f"https://{owner.lower()}.github.io/{name}/"


def modules(root=ROOT):
    """(folder, module names) of the helper modules, from pyproject.toml."""
    settings = tomllib.loads((Path(root) / "pyproject.toml").read_text(encoding="utf-8"))
    tool = settings["tool"]["setuptools"]
    folder = tool.get("package-dir", {}).get("", "")
    return (f"{folder}/" if folder else ""), list(tool["py-modules"])


def setup_cell(root=ROOT):
    """Source of the setup cell, as every page that imports mmids must have it."""
    folder, names = modules(root)
    return SETUP_CELL.format(raw_url=raw_url(root), modules=json.dumps(names), folder=folder)


def setup_pages(root=ROOT):
    """The MyST pages (and the template) that hold a setup cell."""
    root = Path(root)
    pages = sorted(root.glob("chapters/*.md")) + [root / "templates" / "page.md"]
    return [p for p in pages if p.is_file() and SETUP_MARK in p.read_text(encoding="utf-8")]


CODE_CELL = re.compile(
    r"(?P<head>^```\{code-cell\}[^\n]*\n(?:---\n.*?\n---\n)?)(?P<source>.*?)(?P<tail>\n```$)",
    re.MULTILINE | re.DOTALL,
)


def setup_cells_in(text):
    """Match objects of the code cells of a MyST page that are setup cells."""
    return [m for m in CODE_CELL.finditer(text) if SETUP_MARK in m.group("source")]


def with_setup_cell(text, source):
    found = setup_cells_in(text)
    for match in reversed(found):
        text = text[: match.start("source")] + source + text[match.end("source") :]
    return text


def set_yaml_value(text, section, key, value):
    """Set ``section.key`` in a YAML text, keeping its comments and order."""
    block = re.search(rf"^{section}:\n((?:[ \t]+.*\n|[ \t]*#.*\n|\n)*)", text, re.MULTILINE)
    if block is None:
        return text.rstrip("\n") + f"\n\n{section}:\n  {key}: {value}\n"
    body = block.group(1)
    line = re.search(rf"^([ \t]+){re.escape(key)}:.*$", body, re.MULTILINE)
    if line:
        body = body[: line.start()] + f"{line.group(1)}{key}: {value}" + body[line.end() :]
    else:
        body = f"  {key}: {value}\n" + body
    return text[: block.start(1)] + body + text[block.end(1) :]


def problems(root=ROOT):
    """A sentence for each place that disagrees with repository.url / repository.branch."""
    root = Path(root)
    found = []
    settings = config(root)
    baseurl = (settings.get("html") or {}).get("baseurl")
    if baseurl != pages_url(root):
        found.append(f"_config.yml: html.baseurl is {baseurl!r}, not {pages_url(root)!r}")
    if not (settings.get("launch_buttons") or {}).get("colab_url"):
        found.append("_config.yml: launch_buttons.colab_url is not set")
    expected = setup_cell(root)
    for page in setup_pages(root):
        for match in setup_cells_in(page.read_text(encoding="utf-8")):
            if match.group("source") != expected:
                found.append(f"{page.relative_to(root)}: the setup cell is not the generated one")
    for page in sorted(root.glob("chapters/*.md")):
        text = page.read_text(encoding="utf-8")
        if re.search(r"^import mmids|^from mmids", text, re.MULTILINE) and not setup_cells_in(text):
            found.append(f"{page.relative_to(root)}: imports mmids but has no setup cell")
    return found


def apply(root=ROOT):
    """Write html.baseurl and every setup cell from the repository settings."""
    root = Path(root)
    path = root / "_config.yml"
    path.write_text(
        set_yaml_value(path.read_text(encoding="utf-8"), "html", "baseurl", pages_url(root)),
        encoding="utf-8",
    )
    source = setup_cell(root)
    for page in setup_pages(root):
        text = page.read_text(encoding="utf-8")
        new = with_setup_cell(text, source)
        if new != text:
            page.write_text(new, encoding="utf-8")
            print(f"{page.relative_to(root)}: setup cell written")


TEXT_SUFFIXES = {".md", ".yml", ".yaml", ".toml", ".txt", ".cfg", ".py", ".json", ".html"}
SKIP_DIRS = {
    ".git",
    ".venv",
    "_build",
    "node_modules",
    "data",
    ".pytest_cache",
    ".hypothesis",
    "__pycache__",
}


def names_of(root=ROOT):
    """[raw files, GitHub, Pages]: the addresses (no scheme) that name the repository.

    The raw-file address comes first: it holds the branch, and is replaced before the rest.
    """
    repo = config(root)["repository"]
    owner, name = github(repo["url"])
    return [
        f"raw.githubusercontent.com/{owner}/{name}/{repo['branch']}",
        f"github.com/{owner}/{name}",
        pages_url(root).split("//")[1].rstrip("/"),
    ]


def text_files(root=ROOT):
    """The repository's own text files (not the notebooks: make repoint converts them)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)  # never walk .venv
        for name in sorted(files):
            if Path(name).suffix in TEXT_SUFFIXES:
                yield Path(folder) / name


def repoint(url, branch=None, root=ROOT):
    """Move the book to another repository (and branch): settings first, then the rest.

    Every other mention of the old repository in the repository's text files (README, say)
    is replaced by the new one.
    """
    github(url)
    old = names_of(root)
    path = Path(root) / "_config.yml"
    text = set_yaml_value(path.read_text(encoding="utf-8"), "repository", "url", url)
    if branch:
        text = set_yaml_value(text, "repository", "branch", branch)
    path.write_text(text, encoding="utf-8")
    new = names_of(root)
    for file in text_files(root):
        text = file.read_text(encoding="utf-8", errors="surrogateescape")
        changed = text
        for before, after in zip(old, new, strict=True):
            changed = changed.replace(before, after)
        if changed != text:
            file.write_text(changed, encoding="utf-8", errors="surrogateescape")
            print(f"{file.relative_to(root)}: now names {url}")
    apply(root)


def main(argv):
    if argv[:1] == ["--check"]:
        found = problems()
        for problem in found:
            print(problem, file=sys.stderr)
        if found:
            print("Run `make repoint` (or `make repoint URL=...`) to write them.", file=sys.stderr)
        return 1 if found else 0
    if argv[:1] == ["--apply"]:
        apply()
        return 0
    if argv[:1] == ["--repoint"] and len(argv) in (2, 3):
        repoint(argv[1], argv[2] if len(argv) == 3 else None)
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
