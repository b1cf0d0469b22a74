"""Run every page of the chapter as a plain Python program, on any device, and report.

Usage::

    python scripts/device_check.py [--data DIR] [--pages 02 05 ...] [--jobs N] [--json FILE]
    python scripts/device_check.py --pack DIR     # write the gzipped data files to carry
    python scripts/device_check.py --data DIR --unpack DEST   # un-gzip and verify them

``make device-check`` runs it (``make device-data`` writes the gzipped data first). Each page
of ``_toc.yml`` runs top to bottom in its own Python process: its code cells in order, as a
script, with figures drawn by matplotlib's Agg backend and closed after each cell, on the
device that ``MMIDS_DEVICE`` (or ``--device``) names, else the one the pages choose (CUDA,
then MPS, then the CPU). The script then prints one table: page, seconds, device, torch and
CUDA versions, each test accuracy that a page checks against a band, and any error with its
page, cell and line.

It needs Python 3.11+ with torch, torchvision, numpy, scipy, pandas and matplotlib, nothing
else: no Jupyter, no jupytext (used only to cross-check the cell extractor where it is
installed), no network, and no write access outside one temporary folder.

- **Cells.** A tiny reader of MyST markdown notebooks takes each page's ``{code-cell}``
  blocks, their tags and the line each starts on. Where jupytext is installed, the page is
  also read with jupytext and the two must agree, so the reader cannot drift from the
  format. IPython-only lines (``%matplotlib``, ``!pip``) become ``pass``; ``display`` is
  defined; ``mmids.glue`` is a no-op that records the value.
- **Accuracies and bands.** Nothing is copied from the pages: a hidden cell (tagged
  ``remove-cell`` or ``remove-input``) that asserts ``LOW <= accuracy <= HIGH`` with two
  numbers is a band. The script evaluates that very comparison in the page's namespace,
  reports the value, and labels it with the page's last glued ``*_accuracy``. A value out
  of its band is reported and the page goes on (its remaining cells may still fail).
- **Data.** ``--data DIR`` names a folder of the data files, gzipped (``MNIST/raw/*-ubyte.gz``,
  ``FashionMNIST/raw/*-ubyte.gz``, ``SAHeart.csv.gz``, ``advertising.csv.gz``; plain files
  are taken too). They are un-gzipped into the temporary folder and checked by size and
  sha256 with ``mmids.check_data`` before any page runs. Without ``--data`` the pages read
  the data folder of ``mmids.data_dir()``, checked the same way, without downloads.
- **Sandbox.** Each page runs with a fresh temporary folder as working directory and as
  ``HOME``, ``MPLCONFIGDIR``, ``TMPDIR`` and the caches'. An audit hook
  (:func:`sys.addaudithook`) in the page's process refuses any network connection and any
  write outside the temporary folder, and says which.

Exit status: 0 when every page ran without error or warning and every accuracy is in its
band; 1 otherwise; 2 for bad arguments or missing or damaged data.
"""

import argparse
import ast
import contextlib
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UTILS = ROOT / "utils"
#: Tags of the cells that the book hides: their assertions are the pages' checks.
HIDDEN_TAGS = ("remove-cell", "remove-input")
#: Seconds one page may run, all its cells together (the book's timeout is per cell).
DEFAULT_TIMEOUT = 1800
CELL_MAGICS_RUN_AS_CODE = ("time", "capture", "prun")


class CheckError(Exception):
    """Bad arguments or data: the check cannot start. The message says what to do."""


# ------------------------------------------------------------------------------- pages


def toc_pages(root=ROOT):
    """The chapter pages of ``_toc.yml``, in order: files that are MyST notebooks.

    The book's own reader (``scripts/book.py``) where PyYAML is installed; on a bare
    machine without it, a line reader of the ``file:`` entries. Only pages whose front
    matter has a ``kernelspec`` (executable pages) are kept.
    """
    try:
        import book

        names = book.toc_files(root)
    except ImportError:  # no PyYAML: the bare CUDA machine
        names = re.findall(r"^\s*-?\s*file:\s*(\S+)\s*$", (root / "_toc.yml").read_text(), re.M)
    pages = []
    for name in names:
        path = root / (name if name.endswith(".md") else name + ".md")
        parts = path.read_text(encoding="utf-8").split("---", 2) if path.is_file() else []
        if len(parts) == 3 and "kernelspec:" in parts[1]:
            pages.append(path)
    return pages


def select_pages(pages, wanted):
    """The pages named in ``wanted`` ("05", "05_mnist_logistic" or a path), in toc order."""
    if not wanted:
        return list(pages)
    chosen = set()
    for name in wanted:
        stem = Path(name).stem
        hits = [p for p in pages if p.stem == stem or p.stem.split("_", 1)[0] == stem]
        if not hits:
            known = ", ".join(p.stem for p in pages)
            raise CheckError(f"--pages: no page {name!r} in _toc.yml; the pages are {known}.")
        chosen.update(hits)
    return [p for p in pages if p in chosen]


# ------------------------------------------------------------------------------- cells


@dataclass
class Cell:
    """One code cell of a page: its source, tags, and where it sits in the page."""

    source: str
    tags: list = field(default_factory=list)
    line: int = 0  # line of the page (1-based) of the source's first line
    number: int = 0  # 1-based among the page's code cells


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*(.*)$")
_OPTION = re.compile(r"^:([\w-]+):\s*(.*)$")


def _tags_from_options(lines):
    """The tags of a cell's options (``:tags: [a, b]`` or YAML front matter)."""
    tags = []
    for i, line in enumerate(lines):
        m = re.match(r"^:?tags:?\s*(.*)$", line.strip())
        if not m:
            continue
        value = m.group(1).strip()
        if value.startswith("["):
            tags += [t.strip().strip("'\"") for t in value.strip("[]").split(",") if t.strip()]
        elif not value:  # a YAML block list on the next lines
            for item in lines[i + 1 :]:
                if not re.match(r"^\s*-\s", item):
                    break
                tags.append(item.strip()[1:].strip().strip("'\""))
        else:
            tags.append(value.strip("'\""))
    return tags


def extract_cells(text):
    """The code cells of a MyST markdown notebook, without Jupyter or jupytext.

    Reads the ``{code-cell}`` fences at the top level of the page (a fence inside another
    fence is text, as for jupytext); a cell's options are either ``:key: value`` lines or a
    YAML block between ``---`` lines at the top of the fence. Leading and trailing blank
    lines of the source are dropped, as jupytext does.
    """
    lines = text.split("\n")
    i = 0
    if lines and lines[0].strip() == "---":  # the page's front matter
        i = next((k for k in range(1, len(lines)) if lines[k].strip() == "---"), 0) + 1
    cells = []
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group(1), m.group(2).strip()
        end = i + 1
        while end < len(lines) and not re.match(
            rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[end]
        ):
            end += 1
        if info.startswith("{code-cell}"):
            body, start = lines[i + 1 : end], i + 2  # start: page line of body[0]
            options = []
            if body and body[0].strip() == "---":
                close = next((k for k in range(1, len(body)) if body[k].strip() == "---"), 0)
                options, body, start = body[1:close], body[close + 1 :], start + close + 1
            else:
                while body and _OPTION.match(body[0]):
                    options.append(body.pop(0))
                    start += 1
            while body and not body[0].strip():
                body.pop(0)
                start += 1
            while body and not body[-1].strip():
                body.pop()
            cells.append(Cell("\n".join(body), _tags_from_options(options), start, len(cells) + 1))
        i = end + 1
    return cells


def jupytext_cells(path):
    """``[(source, tags)]`` of the code cells as jupytext reads them; None without jupytext."""
    try:
        import jupytext
    except ImportError:
        return None
    notebook = jupytext.read(path, fmt="md:myst")
    return [
        (cell.source, list(cell.metadata.get("tags", [])))
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


def page_cells(path):
    """The code cells of a page; where jupytext is installed, checked against its reading."""
    cells = extract_cells(Path(path).read_text(encoding="utf-8"))
    reference = jupytext_cells(path)
    if reference is not None:
        mine = [(c.source, c.tags) for c in cells]
        if mine != reference:
            where = next(
                (k + 1 for k, (a, b) in enumerate(zip(mine, reference, strict=False)) if a != b),
                min(len(mine), len(reference)) + 1,
            )
            raise CheckError(
                f"{path}: the cell reader of scripts/device_check.py and jupytext disagree "
                f"(code cell {where}; {len(mine)} cells against {len(reference)}). Fix "
                "extract_cells for this page's syntax."
            )
    return cells


_MAGIC_LINE = re.compile(r"^(\s*)([%!].*)$")


def ipython_to_python(source):
    """The cell as plain Python: IPython-only lines become ``pass``, line numbers kept.

    Valid Python is returned unchanged. Otherwise a leading cell magic ``%%time``,
    ``%%capture`` or ``%%prun`` is dropped (its body runs), and each line magic or shell
    line (``%matplotlib inline``, ``!pip install ...``) becomes ``pass``.

    Returns
    -------
    (str, list of str)
        The source to run and the IPython lines that were turned off.

    Raises
    ------
    CheckError
        For another cell magic (``%%bash``, say), which has no Python equivalent.
    """
    try:
        compile(source, "<cell>", "exec", dont_inherit=True)
        return source, []
    except SyntaxError:
        pass
    lines, dropped = source.split("\n"), []
    if lines and lines[0].startswith("%%"):
        magic = lines[0][2:].split(maxsplit=1)[0] if lines[0][2:].strip() else ""
        if magic not in CELL_MAGICS_RUN_AS_CODE:
            raise CheckError(f"the cell magic %%{magic} has no plain-Python equivalent")
        dropped.append(lines[0])
        lines[0] = ""
    for k, line in enumerate(lines):
        m = _MAGIC_LINE.match(line)
        if m:
            dropped.append(m.group(2))
            lines[k] = f"{m.group(1)}pass  # IPython: {m.group(2)}"
    return "\n".join(lines), dropped


@dataclass
class Band:
    """A hidden assertion ``LOW <= accuracy <= HIGH`` of a page: the band of a result."""

    name: str
    low: float
    high: float
    test: ast.expr  # the comparison itself, evaluated in the page's namespace


def _number(node):
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# The variable a training page's hidden band check is written on (other hidden assertions of
# the form ``LOW <= x <= HIGH`` check the mathematics, not a training's result).
BAND_NAME = "accuracy"


def find_bands(cell):
    """The bands a cell asserts: only in hidden cells, only ``number <= accuracy <= number``."""
    if not set(cell.tags) & set(HIDDEN_TAGS):
        return []
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return []
    bands = []
    for node in ast.walk(tree):
        test = getattr(node, "test", None) if isinstance(node, ast.Assert) else None
        if (
            isinstance(test, ast.Compare)
            and len(test.ops) == 2
            and all(isinstance(op, (ast.Lt, ast.LtE)) for op in test.ops)
            and isinstance(test.comparators[0], ast.Name)
            and test.comparators[0].id == BAND_NAME
        ):
            low, high = _number(test.left), _number(test.comparators[1])
            if low is not None and high is not None:
                bands.append(Band(test.comparators[0].id, low, high, test))
    return bands


# -------------------------------------------------------------------------------- data


def _import_mmids():
    """The book's helper module, from this checkout's utils/ (nothing written there)."""
    sys.dont_write_bytecode = True
    if str(UTILS) not in sys.path:
        sys.path.insert(0, str(UTILS))
    import mmids

    return mmids


def unpack_data(source, dest):
    """Un-gzip (or copy) the data files of ``source`` into ``dest`` and verify them.

    Every ``X.gz`` under ``source`` becomes ``dest/X``, every other file is copied; when
    both ``X`` and ``X.gz`` exist, ``X`` is taken. Each file is written under a temporary
    name and renamed when complete. Then ``mmids.check_data(root=dest, download=False)``
    checks the chapter's ten files by size and sha256.

    Returns
    -------
    list of pathlib.Path
        The verified files.

    Raises
    ------
    CheckError
        If ``source`` is not a folder, a ``.gz`` file is not valid gzip (damaged,
        truncated), or a file is missing or damaged after unpacking (the message of
        ``mmids.DataError``, naming each file).
    """
    source, dest = Path(source), Path(dest)
    if not source.is_dir():
        raise CheckError(f"--data {source}: no such folder (make device-data writes one).")
    plan = {}
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        rel = path.relative_to(source)
        if rel.suffix == ".gz":
            plan.setdefault(rel.with_suffix(""), path)
        else:
            plan[rel] = path  # a plain file wins over its gzipped copy
    for rel, path in plan.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        try:
            if path.suffix == ".gz" and rel.suffix != ".gz":
                with gzip.open(path) as src, open(partial, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            else:
                shutil.copyfile(path, partial)
        except (OSError, EOFError, zlib.error) as err:
            partial.unlink(missing_ok=True)
            raise CheckError(
                f"{path}: cannot be un-gzipped ({type(err).__name__}: {err}); the file is "
                "damaged or truncated. Write the data folder again (make device-data) and "
                "carry it anew."
            ) from None
        os.replace(partial, target)
    mmids = _import_mmids()
    try:
        return mmids.check_data(root=dest, download=False)
    except mmids.DataError as err:
        raise CheckError(f"the data given with --data {source} fail their check:\n{err}") from None


def pack_data(dest, root=None):
    """Write the chapter's data files, gzipped, into ``dest`` (the folder to carry).

    The files are first checked (and fetched when missing and online) by
    ``mmids.check_data`` in ``root`` (default: ``mmids.data_dir()``). Each is written as
    ``dest/<relative path>.gz`` (gzip level 6, no time stamp, so the bytes depend only on
    the data), under a temporary name renamed when complete.

    Returns
    -------
    list of pathlib.Path
        The gzipped files written.
    """
    mmids = _import_mmids()
    folder = Path(root) if root is not None else mmids.data_dir()
    files = mmids.check_data(root=folder)
    written = []
    for path in files:
        target = Path(dest) / (path.relative_to(folder).as_posix() + ".gz")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        with open(path, "rb") as src, open(partial, "wb") as raw:
            with gzip.GzipFile(path.name, "wb", compresslevel=6, fileobj=raw, mtime=0) as dst:
                shutil.copyfileobj(src, dst)
        os.replace(partial, target)
        written.append(target)
    return written


# ------------------------------------------------------------------- one page, its process


def _install_guards(allowed_root):
    """Refuse, in this process, network connections and writes outside ``allowed_root``."""
    allowed = os.path.realpath(allowed_root)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def inside(path):
        if isinstance(path, int):  # a file descriptor already open
            return True
        real = os.path.realpath(os.fsdecode(path))
        return real == allowed or real.startswith(allowed + os.sep) or real.startswith("/dev/")

    def refuse(what):
        raise PermissionError(f"device check: {what} is not allowed (offline, temp folder only)")

    def hook(event, args):
        if event in ("socket.connect", "socket.sendto"):  # args: the socket, the address
            refuse(f"network access ({event} {args[1]})")
        elif event == "socket.getaddrinfo":  # args: host, port, ...
            refuse(f"network access ({event} {args[0]}:{args[1]})")
        elif event == "open":
            path, mode, flags = args
            writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & write_flags
            )
            if writing and path is not None and not inside(path):
                refuse(f"writing {path}")
        elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.truncate"):
            if not inside(args[0]):
                refuse(f"{event} {args[0]}")
        elif event == "os.rename" and not (inside(args[0]) and inside(args[1])):
            refuse(f"renaming {args[0]} to {args[1]}")

    sys.addaudithook(hook)


def _display(*objects, **_):
    """``IPython.display.display`` for a script: print each object's repr."""
    for obj in objects:
        print(repr(obj))


def _cpu_name():
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _device_label(device):
    import torch

    if device is None:
        return "cpu (the page picks no device)"
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    if device.type == "cpu":
        threads = torch.get_num_threads()
        return f"cpu: {_cpu_name()}, {threads} thread{'s' if threads != 1 else ''}"
    return device.type


def run_page_here(page, result_path, allowed_root):
    """Run one page in this process and write its result (JSON) to ``result_path``."""
    _install_guards(allowed_root)
    result = {"page": Path(page).stem, "error": None, "bands": [], "glued": {}, "warnings": []}
    result.update(deprecations=[], ipython_lines=[], cell_seconds=[], device=None, bands_out=0)
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    plt.show = lambda *args, **kwargs: plt.close("all")  # the figure is drawn, then closed
    sys.modules.setdefault("myst_nb", None)  # mmids.glue: a no-op, as outside the book
    mmids = _import_mmids()
    original_glue, original_get_device = mmids.glue, mmids.get_device
    used = []

    def glue(name, value):
        original_glue(name, value)  # its checks of the arguments
        result["glued"][name] = value

    def get_device():
        used.append(original_get_device())
        return used[-1]

    mmids.glue, mmids.get_device = glue, get_device
    result.update(torch=torch.__version__, cuda=torch.version.cuda or "-")
    namespace = {"__name__": "__main__", "display": _display}
    labels = []  # glued accuracies not yet matched with a band
    try:
        cells = page_cells(page)
    except Exception as err:  # the reader's disagreement, or a page jupytext cannot read
        message = f"reading the page: {type(err).__name__}: {err}"
        result["error"] = {"cell": None, "line": None, "message": message, "traceback": ""}
        cells = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        seen = 0
        for cell in cells:
            start = time.perf_counter()
            glued_before = set(result["glued"])
            try:
                source, dropped = ipython_to_python(cell.source)
                result["ipython_lines"] += dropped
                # Padded so that tracebacks give the page's own line numbers.
                code = compile("\n" * (cell.line - 1) + source, str(page), "exec")
                exec(code, namespace)
                error = None
            except Exception as err:
                error = err
            finally:
                plt.close("all")
                result["cell_seconds"].append(round(time.perf_counter() - start, 3))
            labels += [n for n in result["glued"] if n not in glued_before and "accuracy" in n]
            for w in caught[seen:]:
                _record_warning(result, w, page, cell)
            seen = len(caught)
            bands = find_bands(cell)
            for band in bands:
                result["bands"].append(_check_band(band, namespace, labels))
            if error is not None and not (isinstance(error, AssertionError) and bands):
                result["error"] = _describe_error(error, page, cell)
                break
    result["bands_out"] = sum(not b["ok"] for b in result["bands"])
    result["device"] = _device_label(used[-1] if used else None)
    Path(result_path).write_text(json.dumps(result, indent=1) + "\n")


def _record_warning(result, w, page, cell):
    """File a warning raised by a cell: a library's deprecation, or a warning of the page.

    A page shows no warning in the book (a notebook shows every warning but the
    deprecations raised inside libraries), so a warning fails the check. The deprecations
    raised inside libraries are listed apart, as notes: they do not reach the book's
    reader, but they tell what a newer version of a library will break.
    """
    text = f"cell {cell.number} (line {cell.line}): {w.category.__name__}: {w.message}"
    text += f" ({Path(w.filename).name}:{w.lineno})"
    library = Path(w.filename).resolve() != Path(page).resolve()
    deprecation = issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))
    kind = "deprecations" if library and deprecation else "warnings"
    if text not in result[kind]:
        result[kind].append(text)


def _check_band(band, namespace, labels):
    """The value a band checks, the band, and whether the page's own comparison holds."""
    value = namespace.get(band.name)
    try:
        ok = bool(eval(compile(ast.Expression(band.test), "<band>", "eval"), namespace))
    except Exception:
        ok = False
    label = labels.pop() if labels else band.name
    labels.clear()
    number = float(value) if isinstance(value, (int, float)) else None
    return {
        "label": label,
        "name": band.name,
        "value": number,
        "low": band.low,
        "high": band.high,
        "ok": ok,
    }


def _describe_error(err, page, cell):
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == str(page)]
    return {
        "cell": cell.number,
        "line": frames[-1].lineno if frames else cell.line,
        "message": f"{type(err).__name__}: {err}".splitlines()[0][:300],
        "traceback": "".join(traceback.format_exception(err))[-4000:],
    }


# ------------------------------------------------------------------ every page, in parallel


def run_page(page, workdir, data_dir, threads=None, timeout=DEFAULT_TIMEOUT, device=None):
    """Run one page in a fresh Python process inside ``workdir``; return its result dict.

    The process gets ``workdir/cwd`` as working directory, and ``workdir`` as ``HOME``,
    temporary and cache folder; its output goes to ``workdir/output.log``. The result has
    the keys of :func:`run_page_here` plus ``seconds`` (wall time of the process) and
    ``log`` (the last lines of its output).
    """
    workdir = Path(workdir)
    for sub in ("cwd", "home", "tmp", "cache", "mpl"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        HOME=str(workdir / "home"),
        TMPDIR=str(workdir / "tmp"),
        XDG_CACHE_HOME=str(workdir / "cache"),
        TORCH_HOME=str(workdir / "cache" / "torch"),
        CUDA_CACHE_PATH=str(workdir / "cache" / "nv"),
        TRITON_CACHE_DIR=str(workdir / "cache" / "triton"),
        MPLCONFIGDIR=str(workdir / "mpl"),
        MPLBACKEND="Agg",
        MMIDS_DATA_DIR=str(data_dir),
        MMIDS_PROGRESS="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join([str(UTILS), *filter(None, [env.get("PYTHONPATH")])]),
    )
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    if device:
        env["MMIDS_DEVICE"] = device
    result_path = workdir / "result.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--run-page", str(page)]
    command += ["--result", str(result_path), "--allowed", str(workdir)]
    start = time.perf_counter()
    with open(workdir / "output.log", "wb") as log:
        try:
            process = subprocess.run(
                command, cwd=workdir / "cwd", env=env, stdout=log, stderr=subprocess.STDOUT,
                timeout=timeout, check=False,
            )  # fmt: skip
            problem = None if process.returncode == 0 else f"exit status {process.returncode}"
        except subprocess.TimeoutExpired:
            problem = f"timed out after {timeout} s"
    seconds = time.perf_counter() - start
    tail = (workdir / "output.log").read_text(errors="replace").splitlines()[-40:]
    if result_path.is_file():
        result = json.loads(result_path.read_text())
    else:
        result = {"page": Path(page).stem, "bands": [], "warnings": [], "device": "?"}
        result.update(torch="?", cuda="?", error=None)
    if result.get("error") is None and problem:
        message = f"the page's process stopped: {problem}"
        result["error"] = {"cell": None, "line": None, "message": message, "traceback": ""}
    result.update(seconds=round(seconds, 1), log="\n".join(tail))
    return result


def page_problems(result):
    """What went wrong on a page (an empty list when it passed)."""
    problems = []
    error = result.get("error")
    if error:
        where = f"cell {error['cell']}, line {error['line']}: " if error.get("cell") else ""
        problems.append(f"{where}{error['message']}")
    problems += [
        f"{b['label']} out of its band" for b in result.get("bands", []) if not b.get("ok")
    ]
    problems += [f"warning: {w}" for w in result.get("warnings", [])]
    return problems


def format_band(band):
    """``92.4 % in [91.5, 93.5] %`` for a fraction, ``3.2 in [3, 5]`` otherwise."""
    value, low, high = band["value"], band["low"], band["high"]
    if 0 <= low <= high <= 1:
        shown = "?" if value is None else f"{100 * value:.1f} %"
        interval = f"[{100 * low:g}, {100 * high:g}] %"
    else:
        shown = "?" if value is None else f"{value:g}"
        interval = f"[{low:g}, {high:g}]"
    verdict = "in band" if band["ok"] else "OUT OF BAND"
    return f"{band['label']} {shown} {verdict} {interval}"


def format_table(results):
    """The report: one Markdown table row per page, in the order given."""
    rows = [
        "| page | seconds | device | torch | CUDA | test accuracy (band) | result |",
        "|---|---:|---|---|---|---|---|",
    ]
    for r in results:
        bands = "; ".join(format_band(b) for b in r.get("bands", [])) or "-"
        problems = page_problems(r)
        verdict = "ok" if not problems else "FAILED: " + "; ".join(problems)
        verdict = verdict.replace("|", "\\|").replace("\n", " ")
        rows.append(
            f"| {r['page']} | {r['seconds']:.1f} | {r.get('device', '?')} | {r.get('torch', '?')} "
            f"| {r.get('cuda', '?')} | {bands} | {verdict} |"
        )
    return "\n".join(rows)


def _expected_cost(page):
    """A guess of a page's run time from its code, to start the longest pages first."""
    text = Path(page).read_text(encoding="utf-8")
    return 100 * ("Conv2d" in text) + 10 * text.count("training_loop(") + len(text) / 1e5


def run_pages(pages, data_dir, tmp_root, jobs=1, timeout=DEFAULT_TIMEOUT, device=None, say=print):
    """Run ``pages`` ``jobs`` at a time (longest first); results in the order of ``pages``."""
    jobs = max(1, min(jobs, len(pages)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    results = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(
                run_page, page, Path(tmp_root) / page.stem, data_dir, threads, timeout, device
            ): page
            for page in sorted(pages, key=_expected_cost, reverse=True)
        }
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            problems = page_problems(result)
            say(
                f"  {result['page']}: {result['seconds']:.1f} s, "
                + ("ok" if not problems else "FAILED")
            )
    return [results[page] for page in pages]


def _parse(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="folder of the gzipped data files")
    parser.add_argument("--pages", nargs="+", default=[], help="pages to run (default: all)")
    parser.add_argument("--jobs", type=int, default=1, help="pages run at once (default 1)")
    parser.add_argument("--device", choices=("cpu", "cuda", "mps"), help="sets MMIDS_DEVICE")
    parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="seconds per page")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--verbose", action="store_true", help="print each page's output")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--pack", type=Path, metavar="DIR", help="write the gzipped data, exit")
    parser.add_argument(
        "--unpack", type=Path, metavar="DIR", help="un-gzip and verify --data into DIR, exit"
    )
    parser.add_argument("--run-page", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--allowed", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    return args


def main(argv=None):
    args = _parse(argv)
    if args.run_page:  # inside a page's own process
        run_page_here(args.run_page, args.result, args.allowed)
        return 0
    try:
        if args.pack:
            written = pack_data(args.pack)
            size = sum(p.stat().st_size for p in written)
            print(
                f"device_check: {len(written)} files, {size / 1e6:.1f} MB gzipped, in {args.pack}"
            )
            return 0
        if args.unpack:  # for the tests on another machine: MMIDS_DATA_DIR=DIR
            if not args.data:
                raise CheckError("--unpack DIR needs --data, the folder of gzipped files.")
            files = unpack_data(args.data, args.unpack)
            print(f"device_check: {len(files)} files verified in {args.unpack}")
            return 0
        pages = select_pages(toc_pages(), args.pages)
        mmids = _import_mmids()
        wanted = os.environ.get("MMIDS_DEVICE")
        try:  # a device this machine lacks stops here, explained
            if args.device:
                os.environ["MMIDS_DEVICE"] = args.device
            device = mmids.get_device()
        except (ValueError, RuntimeError) as err:
            raise CheckError(str(err)) from None
        finally:  # the pages get --device through their own environment
            if wanted is None:
                os.environ.pop("MMIDS_DEVICE", None)
            else:
                os.environ["MMIDS_DEVICE"] = wanted
        tmp_root = Path(tempfile.mkdtemp(prefix="mmids-device-check-"))
        try:
            return _check(args, pages, device, tmp_root, mmids)
        finally:
            if args.keep:
                print(f"device_check: the temporary folder is kept: {tmp_root}")
            else:
                shutil.rmtree(tmp_root, ignore_errors=True)
    except CheckError as err:
        print(f"device_check: {err}", file=sys.stderr)
        return 2


def _check(args, pages, device, tmp_root, mmids):
    import torch

    if args.data:
        files = unpack_data(args.data, tmp_root / "data")
        data_dir, origin = tmp_root / "data", f"un-gzipped from {args.data}"
    else:
        data_dir = mmids.data_dir()
        try:
            files = mmids.check_data(root=data_dir, download=False)
        except mmids.DataError as err:
            raise CheckError(f"{err}\n(or give the gzipped files with --data DIR)") from None
        origin = f"read in place from {data_dir}"
    print(
        f"device_check: {len(pages)} pages on {device} (torch {torch.__version__}, CUDA "
        f"{torch.version.cuda or '-'}, Python {platform.python_version()}), {args.jobs} at a "
        f"time; data: {len(files)} files verified by sha256, {origin}"
    )
    start = time.perf_counter()
    results = run_pages(pages, data_dir, tmp_root, args.jobs, args.timeout, args.device)
    wall = time.perf_counter() - start
    failed = [r for r in results if page_problems(r)]
    for r in results:
        if args.verbose or (r in failed and r.get("error")):
            print(f"\n--- {r['page']}: output (last lines) ---\n{r['log']}")
            if r.get("error") and r["error"].get("traceback"):
                print(f"--- {r['page']}: traceback ---\n{r['error']['traceback']}")
    print()
    print(format_table(results))
    notes = [f"  {r['page']}, {d}" for r in results for d in r.get("deprecations", [])]
    if notes:
        print("\nDeprecations raised inside libraries (notes, not failures):", *notes, sep="\n")
    print(f"\n{len(pages)} pages in {wall:.1f} s of wall time, {args.jobs} at a time")
    print(f"device_check: {len(pages) - len(failed)} passed, {len(failed)} failed")
    if args.json:
        summary = {"wall_seconds": round(wall, 1), "jobs": args.jobs, "pages": results}
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
