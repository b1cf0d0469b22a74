"""Each page runs on its own, as in Colab: its launch notebook alone in an empty folder.

A reader who opens a page's ``.ipynb`` from a launch button has the notebook and nothing
else of this repository. The page's first code cell then fetches the helper modules
(``[tool.setuptools] py-modules`` of pyproject.toml) from the repository
(``MMIDS_REPO_URL``, by default the raw files of ``repository.url`` at
``repository.branch`` in _config.yml); a server that cannot give them stops the cell with
one message. Here the repository is served by a loopback HTTP
server, and the kernel runs in an environment that has every installed package except
this repository's editable ``mmids``: a throwaway virtual environment that sees the
project environment's site-packages but not its ``.pth`` files (which is how the editable
install is made importable), started in the empty folder. A first, added cell asserts that
``mmids`` is not importable there, so a pass cannot come from the installed copy.

Data come through the pages' normal path (``MMIDS_DATA_DIR`` when set, as in CI).
Executing all eight pages takes about 6 minutes on a 2-core CPU.
"""

import ast
import functools
import http.server
import json
import os
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path
from urllib.parse import urlsplit

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import book
import repository
from conftest import ROOT, chapter_pages

PAGES = chapter_pages()
IDS = [page.name for page in PAGES]
CONFIG = book.config()


FOLDER, MODULES = repository.modules()


def default_repo_url():
    """Raw-file base URL of the repository named in _config.yml (GitHub)."""
    repo = CONFIG["repository"]
    parts = urlsplit(repo["url"])
    assert parts.netloc == "github.com", "the setup cell knows GitHub's raw-file URLs only"
    return f"https://raw.githubusercontent.com{parts.path.rstrip('/')}/{repo['branch']}"


def test_the_default_url_is_derived_from_the_repository_settings():
    assert repository.raw_url() == default_repo_url()


def code_cells(path):
    return [c for c in jupytext.read(path).cells if c.cell_type == "code"]


def uses_mmids(cells):
    return any("import mmids" in c.source for c in cells)


# ------------------------------------------------------------------ the setup cell itself


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_a_page_that_uses_mmids_fetches_it_first_from_this_repository(page):
    cells = code_cells(page.with_suffix(".md"))
    if not uses_mmids(cells):
        assert not any("MMIDS_REPO_URL" in c.source for c in cells)
        return  # the page needs nothing from the repository
    setup = cells[0].source
    assert "MMIDS_REPO_URL" in setup, f"{page.name}: the first code cell is not the setup cell"
    assert f'"{default_repo_url()}"' in setup, (
        f"{page.name}: the setup cell's default URL is not {default_repo_url()} "
        "(repository.url and repository.branch of _config.yml)"
    )
    assert setup == repository.setup_cell(), f"{page.name}: run `make repoint`"
    assert "import mmids" not in setup
    assert len(setup.splitlines()) <= 25, f"{page.name}: keep the setup cell short"
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(setup))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        node.module.split(".")[0]
        for node in ast.walk(ast.parse(setup))
        if isinstance(node, ast.ImportFrom)
    }
    assert imported <= sys.stdlib_module_names, (
        f"{page.name}: the setup cell must need the standard library only, not {imported}"
    )


# --------------------------------------------------------------- running a page on its own


class _RecordingHandler(http.server.SimpleHTTPRequestHandler):
    requested = []  # paths, across the module

    def do_GET(self):
        type(self).requested.append(self.path)
        super().do_GET()

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def repo_url():
    """The repository, served read-only over loopback, as a raw-file base URL."""
    handler = functools.partial(_RecordingHandler, directory=str(ROOT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def kernel_without_mmids(tmp_path_factory):
    """Name of a kernel that sees the installed packages but not the editable mmids.

    Sets JUPYTER_PATH for the module so that the kernel spec is found.
    """
    base = tmp_path_factory.mktemp("kernel")
    env_dir = base / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # A plain path line: the project's site-packages joins sys.path, its .pth files do not
    # run, so the editable install of utils/*.py is not importable.
    project_site = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "project_packages.pth").write_text("\n".join(sorted(project_site)) + "\n")
    spec_dir = base / "share" / "jupyter" / "kernels" / "no-mmids"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 without the repository",
                "language": "python",
            }
        )
    )
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(base / "share" / "jupyter")
    yield "no-mmids"
    if old is None:
        del os.environ["JUPYTER_PATH"]
    else:
        os.environ["JUPYTER_PATH"] = old


NOT_IMPORTABLE = """\
import importlib.util
assert importlib.util.find_spec("mmids") is None, importlib.util.find_spec("mmids").origin
"""
WHERE_FROM = """\
import sys
print(sys.modules["mmids"].__file__ if "mmids" in sys.modules else "mmids not imported")
"""


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_the_page_notebook_runs_alone_in_an_empty_folder(
    page, tmp_path, repo_url, kernel_without_mmids
):
    notebook = tmp_path / page.with_suffix(".ipynb").name
    notebook.write_bytes(page.with_suffix(".ipynb").read_bytes())
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(NOT_IMPORTABLE))
    nb.cells.append(nbformat.v4.new_code_cell(WHERE_FROM))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["MMIDS_REPO_URL"] = repo_url
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    _RecordingHandler.requested.clear()

    NotebookClient(
        nb,
        timeout=book.cell_timeout(),
        kernel_name=kernel_without_mmids,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute(env=env)  # raises CellExecutionError, with the traceback, if a cell fails

    where = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    if uses_mmids(code_cells(page.with_suffix(".md"))):
        assert _RecordingHandler.requested == [f"/{FOLDER}{name}.py" for name in MODULES]
        for name in MODULES:
            fetched = tmp_path / f"{name}.py"
            assert fetched.read_bytes() == (ROOT / FOLDER / f"{name}.py").read_bytes()
        assert Path(where) == tmp_path / "mmids.py", f"mmids was imported from {where}"
        assert not list(tmp_path.glob("*.part"))
    else:
        assert _RecordingHandler.requested == []
        assert where == "mmids not imported"


class _NotFoundHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_error(404, "File not found")

    def log_message(self, format, *args):
        pass


def test_a_setup_cell_that_cannot_fetch_stops_with_one_message(tmp_path, kernel_without_mmids):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFoundHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/nowhere"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(repository.setup_cell())])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(MMIDS_REPO_URL=url, PYDEVD_DISABLE_FILE_VALIDATION="1")
    client = NotebookClient(
        nb,
        timeout=60,
        kernel_name=kernel_without_mmids,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        with pytest.raises(CellExecutionError):
            client.execute(env=env)
    finally:
        server.shutdown()
        server.server_close()
    (error,) = nb.cells[0].outputs
    assert error.output_type == "error" and error.ename == "SetupError"
    shown = "\n".join(error.traceback)
    assert error.traceback == [f"SetupError: {error.evalue}"], shown  # one message, no trace
    assert f"could not download {url}/{FOLDER}{MODULES[0]}.py (HTTP Error 404" in shown
    assert "MMIDS_REPO_URL" in shown and "run this cell again" in shown
    assert "Traceback" not in shown and "HTTPError" not in shown
    assert not [p.name for p in tmp_path.iterdir() if p.suffix in (".py", ".part")]


def test_binder_installs_the_pinned_requirements_with_a_cpu_build_of_torch():
    pins = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    binder = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in binder
    cuda_only = ("nvidia-", "triton", "cuda-")
    for pin in pins:
        name = pin.split("==")[0]
        if name in ("torch", "torchvision"):
            assert f"{pin.split(';')[0].strip()}+cpu" in binder, f"binder lacks the CPU {name}"
        elif name.startswith(cuda_only):
            assert not any(line.startswith(name + "==") for line in binder), pin
        else:
            assert pin in binder, f"binder/requirements.txt lacks {pin}: run `make binder`"
    assert (ROOT / "binder" / "runtime.txt").read_text().strip().startswith("python-3.")
