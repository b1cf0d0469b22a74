"""Unit tests of mmids_data and of the loaders that use it: every file verified by size
and sha256, missing files downloaded from a mirror, and one clear error, with nothing
half-written, when that fails.

Downloads go to servers on loopback that serve good files, bad files, half a file, or
nothing at all; the suite itself runs without any other network (see the Makefile).
"""

import dataclasses
import errno
import functools
import gzip
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from torchvision import datasets

import mmids
import mmids_data
from conftest import ROOT

DATA = mmids.data_dir()  # the intact copies the book uses ($MMIDS_DATA_DIR in CI)
ALL_FILES = [rel for dataset in mmids_data.DATASETS.values() for rel in dataset.paths()]
MNIST_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]
CLOSED_PORT = "http://127.0.0.1:9/"  # nothing listens there: stands for "offline"


def files_under(folder):
    """Every file and folder under ``folder``, as relative paths."""
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*"))


def mirrors(monkeypatch, names, *urls):
    """Make the data sets ``names`` come from ``urls`` (in the registry, for this test)."""
    for name in names:
        dataset = mmids_data.DATASETS[name]
        monkeypatch.setitem(mmids_data.DATASETS, name, dataclasses.replace(dataset, mirrors=urls))


@pytest.fixture
def offline(monkeypatch):
    """Point every download of the data check at a closed loopback port."""
    mirrors(monkeypatch, mmids_data.DATASETS, CLOSED_PORT)
    return monkeypatch


@pytest.fixture
def mnist_copy(tmp_path):
    """A data folder whose MNIST files link to the intact copies (cheap to make)."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        (raw / name).symlink_to(DATA / "MNIST" / "raw" / name)
    return tmp_path


def damage(path, keep_bytes=None, flip_at=None):
    """Replace the link ``path`` by a truncated or altered copy of its target."""
    content = bytearray(Path(path).read_bytes())
    Path(path).unlink()
    if keep_bytes is not None:
        content = content[:keep_bytes]
    if flip_at is not None:
        content[flip_at] ^= 0xFF
    Path(path).write_bytes(bytes(content))


class Server:
    """A threaded HTTP server on loopback, stopped and closed by ``close``."""

    def __init__(self, handler):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def file_server(tmp_path_factory):
    """Serve a folder over HTTP on loopback; yields (folder, base URL)."""
    folder = tmp_path_factory.mktemp("served")
    server = Server(functools.partial(QuietFiles, directory=str(folder)))
    yield folder, server.url
    server.close()


@pytest.fixture
def stalling_server():
    """A loopback port that accepts connections and then never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    accepted, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/", accepted
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


class HalfAFile(http.server.BaseHTTPRequestHandler):
    """Announces 100,000 bytes, sends 1,000, and hangs up."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"\x1f\x8b" + b"\0" * 998)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


# ------------------------------------------------------------------ intact data


def test_check_data_accepts_the_intact_data_and_returns_every_file():
    files = mmids.check_data(download=False)
    assert [p.relative_to(DATA).as_posix() for p in files] == ALL_FILES
    assert len(files) == 10
    sizes = {
        f"{d.folder}/{n}".lstrip("/"): s
        for d in mmids_data.DATASETS.values()
        for n, (s, _) in d.files.items()
    }
    assert all(p.stat().st_size == sizes[p.relative_to(DATA).as_posix()] for p in files)


@pytest.mark.parametrize("name", ["MNIST", "FashionMNIST"])
def test_the_registry_lists_the_mirrors_torchvision_lists(name):
    dataset = mmids_data.DATASETS[name]
    assert dataset.mirrors == tuple(getattr(datasets, name).mirrors)
    assert dataset.gzipped and dataset.folder == f"{name}/raw"


def test_the_registry_names_the_files_of_a_data_set_by_their_place_in_the_data_folder():
    assert mmids_data.DATASETS["SAHeart.csv"].paths() == ["SAHeart.csv"]
    assert mmids_data.DATASETS["MNIST"].paths()[0] == "MNIST/raw/train-images-idx3-ubyte"
    pair = mmids_data.DataSet("pair/raw", {"a": (1, "0" * 64), "b": (2, "1" * 64)}, (), False)
    assert pair.paths() == ["pair/raw/a", "pair/raw/b"]


def test_data_dir_is_the_repository_data_folder_by_default(monkeypatch):
    monkeypatch.delenv("MMIDS_DATA_DIR", raising=False)
    assert mmids.data_dir() == ROOT / "data"


def test_a_given_data_folder_is_resolved_and_none_means_the_default(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert mmids_data.resolve_root("here") == tmp_path.resolve() / "here"
    assert mmids_data.resolve_root(None) == mmids.data_dir()


def test_data_dir_resolves_a_relative_mmids_data_dir_against_the_working_directory(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MMIDS_DATA_DIR", "some/folder")
    assert mmids.data_dir() == tmp_path.resolve() / "some" / "folder"


def test_load_csv_reads_the_checked_tables():
    saheart = mmids.load_csv("SAHeart.csv")
    advertising = mmids.load_csv("advertising.csv")
    assert saheart.shape == (462, 9) and set(saheart["chd"]) == {0, 1}
    assert list(advertising.columns) == ["TV", "radio", "newspaper", "sales"]
    assert len(advertising) == 200


def test_load_csv_rejects_an_unknown_table(tmp_path):
    with pytest.raises(ValueError, match="SAHeart.csv"):
        mmids.load_csv("iris.csv", root=tmp_path)


@pytest.mark.parametrize("name", ["MNIST", "FashionMNIST"])
def test_load_image_dataset_gives_float_images_in_the_unit_interval(name):
    test_set = mmids.load_image_dataset(name, train=False)
    assert len(test_set) == 10_000
    img, label = test_set[0]
    assert img.shape == (1, 28, 28) and img.dtype == torch.float32
    assert 0.0 <= float(img.min()) and float(img.max()) <= 1.0
    assert isinstance(label, int) and 0 <= label <= 9


def test_load_image_dataset_rejects_an_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="MNIST"):
        mmids.load_image_dataset("CIFAR10", root=tmp_path)


def test_load_image_dataset_offline_and_missing_raises_a_clear_error(monkeypatch, tmp_path):
    mirrors(monkeypatch, ["MNIST"], CLOSED_PORT)
    with pytest.raises(RuntimeError, match="MMIDS_DATA_DIR") as excinfo:
        mmids.load_image_dataset("MNIST", train=False, root=tmp_path)
    assert str(tmp_path / "MNIST" / "raw") in str(excinfo.value)


def test_class_names_follow_the_data_sets_documentation():
    assert len(mmids.FASHION_MNIST_CLASSES) == 10
    assert mmids.FASHION_MNIST_CLASSES[0] == "T-shirt/top"
    assert mmids.FASHION_MNIST_CLASSES[9] == "Ankle boot"
    assert mmids.MNIST_CLASSES == tuple("0123456789")


def test_check_data_rejects_an_unknown_data_set_name():
    with pytest.raises(ValueError, match="names"):
        mmids.check_data(["CIFAR10"])


# ------------------------------------------------------------ damaged files, offline


@pytest.mark.parametrize(
    "how, expected",
    [
        ({"keep_bytes": 1000}, "truncated: 1000 bytes, expected 7840016"),
        ({"flip_at": 5000}, "sha256 differs"),
    ],
    ids=["truncated", "one byte changed"],
)
def test_check_data_names_a_damaged_image_file_and_leaves_it_as_it_is(
    offline, mnist_copy, how, expected
):
    bad = mnist_copy / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    damage(bad, **how)
    before = bad.read_bytes()
    offline.setenv("MMIDS_DATA_DIR", str(mnist_copy))
    with pytest.raises(mmids.DataError) as excinfo:
        mmids.check_data(["MNIST"])
    message = str(excinfo.value)
    assert f"{bad}: damaged ({expected}" in message
    assert f"MMIDS_DATA_DIR={mnist_copy}" in message
    assert f"{CLOSED_PORT}t10k-images-idx3-ubyte.gz: cannot connect" in message
    assert message.startswith("1 data file(s) missing or damaged")
    assert bad.read_bytes() == before  # no good copy came: the file is left alone
    assert files_under(mnist_copy / "MNIST") == ["raw"] + [f"raw/{n}" for n in sorted(MNIST_FILES)]


def test_a_file_changed_after_it_was_verified_is_checked_again(offline, tmp_path):
    table = tmp_path / "advertising.csv"
    shutil.copy(DATA / "advertising.csv", table)
    assert mmids.check_data(["advertising.csv"], root=tmp_path) == [table]
    before = table.stat()
    with open(table, "r+b") as f:  # same size, one byte changed, mtime put back
        f.seek(100)
        f.write(b"#")
    os.utime(table, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(mmids.DataError, match="advertising.csv: damaged .sha256 differs"):
        mmids.check_data(["advertising.csv"], root=tmp_path)


def test_load_image_dataset_on_a_truncated_file_raises_the_data_error_not_a_reshape_error(
    offline, mnist_copy
):
    damage(mnist_copy / "MNIST" / "raw" / "train-labels-idx1-ubyte", keep_bytes=30_000)
    with pytest.raises(mmids.DataError, match="train-labels-idx1-ubyte: damaged") as excinfo:
        mmids.load_image_dataset("MNIST", train=False, root=mnist_copy)
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__


def test_check_data_in_an_empty_folder_offline_names_every_file_and_writes_nothing(
    offline, tmp_path
):
    offline.delenv("MMIDS_DATA_DIR")
    with pytest.raises(mmids.DataError) as excinfo:
        mmids.check_data(root=tmp_path)
    message = str(excinfo.value)
    for rel in ALL_FILES:
        assert f"{tmp_path / rel}: missing" in message
    assert f"data folder {tmp_path}" in message and "MMIDS_DATA_DIR is not set" in message
    assert f"from {CLOSED_PORT}train-images-idx3-ubyte.gz: cannot connect" in message
    assert f"from {CLOSED_PORT}SAHeart.csv: not tried, the host did not answer" in message
    assert files_under(tmp_path) == []  # not even the MNIST/raw folders


def test_load_csv_with_a_damaged_copy_offline_raises_the_data_error(offline, tmp_path):
    (tmp_path / "SAHeart.csv").write_bytes(b"not,the,right,file\n")
    with pytest.raises(mmids.DataError, match=r"SAHeart.csv: damaged \(truncated: 19 bytes"):
        mmids.load_csv("SAHeart.csv", root=tmp_path)
    assert files_under(tmp_path) == ["SAHeart.csv"]


# ------------------------------------------------------------------------ downloads


def test_missing_image_files_are_downloaded_from_a_mirror_and_verified(
    monkeypatch, tmp_path, file_server
):
    served, url = file_server
    for name in MNIST_FILES:
        with (
            open(DATA / "MNIST" / "raw" / name, "rb") as src,
            gzip.open(served / f"{name}.gz", "wb", compresslevel=1) as dst,
        ):
            shutil.copyfileobj(src, dst)
    mirrors(monkeypatch, ["MNIST"], CLOSED_PORT, url)  # the first one fails
    test_set = mmids.load_image_dataset("MNIST", train=False, root=tmp_path)
    assert len(test_set) == 10_000
    assert files_under(tmp_path) == ["MNIST", "MNIST/raw"] + [
        f"MNIST/raw/{n}" for n in sorted(MNIST_FILES)
    ]
    for name in MNIST_FILES:
        got, want = tmp_path / "MNIST" / "raw" / name, DATA / "MNIST" / "raw" / name
        assert got.read_bytes() == want.read_bytes()


def test_a_damaged_table_is_replaced_by_a_verified_download(monkeypatch, tmp_path, file_server):
    served, url = file_server
    shutil.copy(DATA / "advertising.csv", served / "advertising.csv")
    mirrors(monkeypatch, ["advertising.csv"], url)
    (tmp_path / "advertising.csv").write_text("TV,radio\n1,2\n")
    table = mmids.load_csv("advertising.csv", root=tmp_path)
    assert table.shape == (200, 4)
    assert (tmp_path / "advertising.csv").read_bytes() == (DATA / "advertising.csv").read_bytes()
    assert files_under(tmp_path) == ["advertising.csv"]


def test_a_download_that_fails_its_check_is_discarded(monkeypatch, tmp_path, file_server):
    served, url = file_server
    content = (DATA / "SAHeart.csv").read_bytes()
    (served / "SAHeart.csv").write_bytes(content.replace(b"1", b"2", 1))  # same size
    mirrors(monkeypatch, ["SAHeart.csv"], url)
    with pytest.raises(mmids.DataError, match="the downloaded file is damaged .sha256 differs"):
        mmids.load_csv("SAHeart.csv", root=tmp_path)
    assert files_under(tmp_path) == []


def test_an_interrupted_download_leaves_no_partial_file(monkeypatch, tmp_path):
    server = Server(HalfAFile)
    try:
        mirrors(monkeypatch, ["FashionMNIST"], server.url)
        with pytest.raises(mmids.DataError, match="t10k-labels-idx1-ubyte: missing"):
            mmids.load_image_dataset("FashionMNIST", train=False, root=tmp_path)
    finally:
        server.close()
    assert files_under(tmp_path) == []


def test_a_download_stopped_by_the_reader_leaves_nothing(monkeypatch, tmp_path):
    import pooch

    def interrupted(self, url, output_file, pooch, check_only=False):
        Path(getattr(output_file, "name", output_file)).write_bytes(b"\x1f\x8b half a file")
        raise KeyboardInterrupt  # the reader presses Ctrl-C mid-download

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mmids.load_image_dataset("MNIST", root=tmp_path)
    assert files_under(tmp_path) == []


def test_a_stalling_mirror_is_given_up_after_the_timeout_and_leaves_nothing(
    monkeypatch, tmp_path, stalling_server
):
    url, accepted = stalling_server
    monkeypatch.setattr(mmids_data, "_DOWNLOAD_TIMEOUT", 1)
    mirrors(monkeypatch, ["MNIST", "SAHeart.csv"], url)
    start = time.monotonic()
    with pytest.raises(mmids.DataError) as excinfo:
        mmids.check_data(["MNIST", "SAHeart.csv"], root=tmp_path)
    elapsed = time.monotonic() - start
    message = str(excinfo.value)
    assert f"{url}train-images-idx3-ubyte.gz: no answer within 1 s" in message
    assert "SAHeart.csv: not tried, the host did not answer" in message  # no second wait
    assert len(accepted) == 1  # the server did accept the one connection
    assert elapsed < 10, f"gave up after {elapsed:.1f} s, expected about 1 s"
    assert files_under(tmp_path) == []


# ---------------------------------------------------------------- make data, offline


def make_data(data_dir):
    """Run `make data` with this environment and every HTTP request sent to a closed port."""
    venv = Path(sys.executable).parent.parent
    env = {**os.environ, "MMIDS_DATA_DIR": str(data_dir), "NO_PROXY": "", "no_proxy": ""}
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env[var] = "http://127.0.0.1:9"  # offline even where the network is up
    return subprocess.run(
        ["make", "--no-print-directory", "data", f"VENV={venv}", "-o", f"{venv}/.installed"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_make_data_passes_on_the_intact_data():
    result = make_data(DATA)
    assert result.returncode == 0, result.stderr
    assert f"All 10 data files are present and intact in {DATA}." in result.stdout


def test_make_data_in_an_empty_folder_fails_naming_each_file_and_writes_nothing(tmp_path):
    result = make_data(tmp_path)
    assert result.returncode != 0
    assert "make data: FAILED" in result.stderr
    for rel in ALL_FILES:
        assert f"{tmp_path / rel}: missing" in result.stderr
    assert f"MMIDS_DATA_DIR={tmp_path}" in result.stderr
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert files_under(tmp_path) == []


def test_make_data_names_a_truncated_mnist_file(mnist_copy):
    for name in ("FashionMNIST", "SAHeart.csv", "advertising.csv"):
        (mnist_copy / name).symlink_to(DATA / name)
    bad = mnist_copy / "MNIST" / "raw" / "train-images-idx3-ubyte"
    damage(bad, keep_bytes=1_000_000)
    result = make_data(mnist_copy)
    assert result.returncode != 0
    assert f"1 data file(s) missing or damaged in the data folder {mnist_copy}" in result.stderr
    assert f"{bad}: damaged (truncated: 1000000 bytes, expected 47040016)" in result.stderr
    assert bad.stat().st_size == 1_000_000


# -------------------------------------------------------------------- the test suite


@pytest.mark.skipif(
    os.environ.get("MMIDS_TESTS_OFFLINE") != "1",
    reason="runs where `make test` isolates the network (unshare); here OFFLINE= was given",
)
def test_the_suite_runs_without_a_network_but_with_loopback():
    with pytest.raises(OSError) as excinfo:
        socket.create_connection(("1.1.1.1", 443), timeout=5).close()
    assert excinfo.value.errno == errno.ENETUNREACH  # no route at all, not a slow server
    with socket.create_server(("127.0.0.1", 0)) as listener:
        socket.create_connection(listener.getsockname(), timeout=5).close()
