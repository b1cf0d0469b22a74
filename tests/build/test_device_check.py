"""scripts/device_check.py: its cell reader, bands, data unpacking, sandbox and report."""

import gzip
import json
import textwrap
from pathlib import Path

import pytest

import device_check
import mmids
from conftest import ROOT

PAGES = device_check.toc_pages()
try:  # the reference reader; the device check itself runs without it
    import jupytext
except ImportError:  # on a bare machine: the comparisons with jupytext skip
    jupytext = None
needs_jupytext = pytest.mark.skipif(jupytext is None, reason="jupytext is not installed")


# ------------------------------------------------------------------------ the cell reader


def jupytext_reading(text):
    notebook = jupytext.reads(text, fmt="md:myst")
    return [
        (c.source, list(c.metadata.get("tags", [])))
        for c in notebook.cells
        if c.cell_type == "code"
    ]


@needs_jupytext
@pytest.mark.parametrize("page", [*PAGES, ROOT / "templates" / "page.md"], ids=lambda p: p.stem)
def test_the_cell_reader_agrees_with_jupytext_on_every_page(page):
    text = page.read_text(encoding="utf-8")
    cells = device_check.extract_cells(text)
    assert [(c.source, c.tags) for c in cells] == jupytext_reading(text)
    lines = text.split("\n")
    for cell in cells:  # each cell knows the page line its source starts on
        assert lines[cell.line - 1] == cell.source.split("\n")[0]
    assert [c.number for c in cells] == list(range(1, len(cells) + 1))


TRICKY_PAGE = textwrap.dedent(
    """\
    ---
    jupytext:
      text_representation:
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---

    # A page

    ```{code-cell} ipython3
    ---
    tags:
      - remove-cell
      - nbval-ignore-output
    ---

    x = 1

    ```

    ````{note}
    A fence inside another is text:
    ```{code-cell} ipython3
    not_a_cell = True
    ```
    ````

    ```{code-cell}
    :tags: [hide-input, "remove-output"]

    print(x)
    ```

    ~~~python
    also = "text"
    ~~~

    ```{code-cell} ipython3
    def f():
        ```not a fence end``` if False else None
        return 2
    ```
    """
)


@needs_jupytext
def test_the_cell_reader_agrees_with_jupytext_on_options_and_nested_fences():
    cells = device_check.extract_cells(TRICKY_PAGE)
    assert [(c.source, c.tags) for c in cells] == jupytext_reading(TRICKY_PAGE)
    assert [c.tags for c in cells] == [
        ["remove-cell", "nbval-ignore-output"],
        ["hide-input", "remove-output"],
        [],
    ]
    assert [c.line for c in cells] == [20, 34, 42]


@needs_jupytext
def test_a_page_the_reader_gets_wrong_is_an_error_not_a_silent_run(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text(TRICKY_PAGE)
    assert len(device_check.page_cells(page)) == 3
    monkeypatch.setattr(device_check, "extract_cells", lambda text: [])
    with pytest.raises(device_check.CheckError, match="disagree"):
        device_check.page_cells(page)


def test_valid_python_runs_unchanged():
    source = "x = 5 % 3\nprint(x)"
    assert device_check.ipython_to_python(source) == (source, [])


def test_ipython_lines_become_pass_and_keep_the_line_numbers():
    source = "%matplotlib inline\nimport math\nif True:\n    !pip install nothing\nvalue = math.pi"
    code, dropped = device_check.ipython_to_python(source)
    assert dropped == ["%matplotlib inline", "!pip install nothing"]
    assert len(code.split("\n")) == len(source.split("\n"))
    namespace = {}
    exec(code, namespace)
    assert namespace["value"] == pytest.approx(3.14159, abs=1e-5)


def test_a_timing_cell_magic_runs_its_body_and_a_foreign_one_is_refused():
    code, dropped = device_check.ipython_to_python("%%time\ny = 2 ** 10")
    namespace = {}
    exec(code, namespace)
    assert namespace["y"] == 1024 and dropped == ["%%time"]
    with pytest.raises(device_check.CheckError, match="%%bash"):
        device_check.ipython_to_python("%%bash\nls")


# --------------------------------------------------------------------------------- bands


def cell(source, tags=("remove-cell",)):
    return device_check.Cell(textwrap.dedent(source), list(tags), 1, 1)


def test_a_hidden_assertion_of_a_value_between_two_numbers_is_a_band():
    (band,) = device_check.find_bands(cell("# comment\nassert 0.915 <= accuracy <= 0.935, acc\n"))
    assert (band.name, band.low, band.high) == ("accuracy", 0.915, 0.935)


@pytest.mark.parametrize(
    "source, tags",
    [
        ("assert 3 < ratio < 5", ["nbval-ignore-output"]),  # shown: an exercise's check
        ("assert low <= accuracy <= 0.9", ["remove-cell"]),  # not two numbers
        ("assert accuracy > 0.9", ["remove-cell"]),
        ("assert 0.0 <= x_final <= 0.1", ["remove-cell"]),  # a check of the mathematics
        ("assert 0.1 <= accuracy < top_accuracy", ["remove-input"]),
    ],
)
def test_other_assertions_are_not_bands(source, tags):
    assert device_check.find_bands(cell(source, tags)) == []


def test_the_training_pages_each_check_one_accuracy_band_read_from_the_page():
    bands = {
        page.stem: [b for c in device_check.page_cells(page) for b in device_check.find_bands(c)]
        for page in PAGES
    }
    training = [stem for stem, found in bands.items() if found]
    assert training == ["05_mnist_logistic", "06_neural_networks", "07_cnn", "08_fashion_mnist"]
    for stem in training:
        (band,) = bands[stem]
        assert band.name == "accuracy" and 0.8 < band.low < band.high < 1


def test_a_band_is_judged_by_the_pages_own_comparison_and_labelled_by_the_glue():
    (band,) = device_check.find_bands(cell("assert 0.9 <= accuracy < 0.95"))
    inside = device_check._check_band(band, {"accuracy": 0.93}, ["mlp_accuracy"])
    assert inside == {
        "label": "mlp_accuracy",
        "name": "accuracy",
        "value": 0.93,
        "low": 0.9,
        "high": 0.95,
        "ok": True,
    }
    at_the_open_end = device_check._check_band(band, {"accuracy": 0.95}, [])
    assert at_the_open_end["ok"] is False and at_the_open_end["label"] == "accuracy"


# ------------------------------------------------------------------------------ the report


def result(page="05_mnist_logistic", **changes):
    base = {
        "page": page,
        "seconds": 12.34,
        "device": "cuda: NVIDIA H200",
        "torch": "2.11.0+cu130",
        "cuda": "13.0",
        "error": None,
        "bands": [
            {"label": "logistic_accuracy", "name": "accuracy", "value": 0.9243}
            | {"low": 0.915, "high": 0.935, "ok": True}
        ],
        "warnings": [],
    }
    return base | changes


def test_the_table_has_a_row_per_page_with_time_device_versions_and_accuracy():
    table = device_check.format_table([result(), result("02_autodiff", bands=[])])
    header, rule, row, row2 = table.split("\n")
    assert header.split("|")[1:-1] == [
        " page ",
        " seconds ",
        " device ",
        " torch ",
        " CUDA ",
        " test accuracy (band) ",
        " result ",
    ]
    assert row == (
        "| 05_mnist_logistic | 12.3 | cuda: NVIDIA H200 | 2.11.0+cu130 | 13.0 "
        "| logistic_accuracy 92.4 % in band [91.5, 93.5] % | ok |"
    )
    assert row2.endswith("| - | ok |")


def test_a_failure_names_the_cell_and_line_and_an_accuracy_out_of_band_is_a_failure():
    error = {"cell": 12, "line": 183, "message": "RuntimeError: a | b", "traceback": ""}
    band = result()["bands"][0] | {"value": 0.5, "ok": False}
    failed = device_check.format_table([result(error=error, bands=[band])]).split("\n")[2]
    assert "logistic_accuracy 50.0 % OUT OF BAND [91.5, 93.5] %" in failed
    assert (
        "FAILED: cell 12, line 183: RuntimeError: a \\| b; logistic_accuracy out of its band"
        in (failed)
    )
    assert device_check.page_problems(result()) == []
    assert device_check.page_problems(result(warnings=["w"])) == ["warning: w"]


def test_pages_are_chosen_by_number_or_name_and_an_unknown_one_is_refused():
    chosen = device_check.select_pages(PAGES, ["03", "02_autodiff"])
    assert [p.stem for p in chosen] == ["02_autodiff", "03_backpropagation"]
    assert device_check.select_pages(PAGES, []) == PAGES
    assert [p.stem for p in PAGES][0] == "01_motivating_example"
    with pytest.raises(device_check.CheckError, match="no page '99'"):
        device_check.select_pages(PAGES, ["99"])


# -------------------------------------------------------------------------------- the data


def gzip_to(source, target):
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(gzip.compress(Path(source).read_bytes(), mtime=0))


@pytest.fixture
def carried(tmp_path):
    """A folder as it is carried: the tables gzipped, the image files as plain links."""
    folder = tmp_path / "carried"
    for path in mmids.check_data(download=False):
        rel = path.relative_to(mmids.data_dir())
        if path.suffix == ".csv":
            gzip_to(path, folder / (str(rel) + ".gz"))
        else:
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).symlink_to(path)
    return folder


def test_the_data_are_unpacked_and_verified(carried, tmp_path):
    files = device_check.unpack_data(carried, tmp_path / "data")
    assert len(files) == 10
    table = (tmp_path / "data" / "SAHeart.csv").read_bytes()
    assert table == (mmids.data_dir() / "SAHeart.csv").read_bytes()


def test_pack_writes_gzipped_files_that_unpack_to_the_verified_data(tmp_path):
    written = device_check.pack_data(tmp_path / "packed")
    assert len(written) == 10 and all(p.suffix == ".gz" for p in written)
    assert 40e6 < sum(p.stat().st_size for p in written) < 45e6
    assert len(device_check.unpack_data(tmp_path / "packed", tmp_path / "data")) == 10


def test_a_damaged_gzip_file_is_refused_and_leaves_nothing_behind(carried, tmp_path):
    gz = carried / "SAHeart.csv.gz"
    data = bytearray(gz.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: the CRC (or the stream) fails
    gz.write_bytes(bytes(data))
    with pytest.raises(device_check.CheckError, match=r"SAHeart\.csv\.gz: cannot be un-gzipped"):
        device_check.unpack_data(carried, tmp_path / "data")
    assert not list((tmp_path / "data").glob("SAHeart.csv*"))


def test_a_truncated_gzip_file_is_refused(carried, tmp_path):
    gz = carried / "advertising.csv.gz"
    gz.write_bytes(gz.read_bytes()[:-20])
    with pytest.raises(device_check.CheckError, match="advertising.csv.gz: cannot be un-gzipped"):
        device_check.unpack_data(carried, tmp_path / "data")


def test_a_valid_gzip_of_wrong_data_fails_the_sha256_check(carried, tmp_path):
    gz = carried / "SAHeart.csv.gz"
    gz.write_bytes(gzip.compress(gzip.decompress(gz.read_bytes()).replace(b"1", b"2")))
    with pytest.raises(device_check.CheckError, match=r"SAHeart\.csv: damaged \(sha256"):
        device_check.unpack_data(carried, tmp_path / "data")


def test_missing_data_are_named(carried, tmp_path):
    (carried / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(device_check.CheckError, match="t10k-labels-idx1-ubyte: missing"):
        device_check.unpack_data(carried, tmp_path / "data")


# ------------------------------------------------------------------- a page, in its sandbox

SANDBOX_PAGE = textwrap.dedent(
    """\
    ---
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---

    ```{code-cell} ipython3
    %matplotlib inline
    import os, socket, warnings
    from pathlib import Path

    import matplotlib.pyplot as plt

    import mmids
    ```

    ```{code-cell} ipython3
    try:
        open(OUTSIDE, "w")
    except PermissionError as err:
        refused_write = str(err)
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    except PermissionError as err:
        refused_network = str(err)
    Path("inside.txt").write_text("allowed")
    plt.plot([1, 2])
    plt.show()
    assert not plt.get_fignums()
    ```

    ```{code-cell} ipython3
    accuracy = 0.5
    mmids.glue("toy_accuracy", f"{100 * accuracy:.1f} %")
    ```

    ```{code-cell} ipython3
    :tags: [remove-cell]

    assert 0.4 <= accuracy <= 0.6
    ```

    ```{code-cell} ipython3
    :tags: [remove-cell]

    assert 0.7 <= accuracy <= 0.8, accuracy
    ```

    ```{code-cell} ipython3
    warnings.warn("a warning the page shows")
    print(refused_write, refused_network, sep="\\n")
    device = mmids.get_device()
    1 / 0
    ```

    ```{code-cell} ipython3
    never = True
    ```
    """
)


def test_a_page_runs_in_its_sandbox_and_reports_bands_warnings_and_the_failing_cell(tmp_path):
    outside = tmp_path / "outside.txt"
    page = tmp_path / "page.md"
    page.write_text(SANDBOX_PAGE.replace("OUTSIDE", repr(str(outside))))
    r = device_check.run_page(page, tmp_path / "work", mmids.data_dir(), threads=1, timeout=300)
    assert not outside.exists()
    assert (tmp_path / "work" / "cwd" / "inside.txt").read_text() == "allowed"
    assert "writing" in r["log"] and "network access" in r["log"]
    assert [(b["label"], b["ok"]) for b in r["bands"]] == [
        ("toy_accuracy", True),
        ("accuracy", False),  # the label went with the first band
    ]
    assert r["error"]["cell"] == 6 and r["error"]["message"].startswith("ZeroDivisionError")
    assert r["error"]["line"] == SANDBOX_PAGE.split("\n").index("1 / 0") + 1
    assert len(r["cell_seconds"]) == 6  # the last cell did not run
    assert r["ipython_lines"] == ["%matplotlib inline"]
    assert any("a warning the page shows" in w for w in r["warnings"])
    assert r["device"].startswith("cpu:")
    problems = device_check.page_problems(r)
    assert len(problems) == 3 and "accuracy out of its band" in problems[1]


def test_the_command_runs_a_page_prints_the_table_and_says_no_to_bad_arguments(tmp_path, capsys):
    report = tmp_path / "report.json"
    assert device_check.main(["--pages", "03", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "| 03_backpropagation |" in out and "device_check: 1 passed, 0 failed" in out
    (page,) = json.loads(report.read_text())["pages"]
    assert page["page"] == "03_backpropagation" and page["error"] is None
    assert device_check.main(["--pages", "99"]) == 2
    assert "no page '99'" in capsys.readouterr().err
    assert device_check.main(["--data", str(tmp_path / "nowhere"), "--pages", "03"]) == 2
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="this machine has a GPU: nothing to refuse"
)
def test_asking_for_a_gpu_on_a_machine_without_one_is_refused(capsys):
    assert device_check.main(["--device", "cuda", "--pages", "03"]) == 2
    assert "MMIDS_DEVICE='cuda'" in capsys.readouterr().err
