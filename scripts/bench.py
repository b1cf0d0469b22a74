"""Benchmark the chapter's trainings and the book's build (``make bench``).

Usage:
    python scripts/bench.py [--trainings-only] [--repeat 3] [--device DEV]
                            [--seed-runner PATH/run_seed.py] [--json FILE]

Trainings: for each of the four trainings of the chapter (MNIST multinomial logistic
regression, the MLP, the CNN, the Fashion-MNIST CNN), with the model read from the page
that defines it (its ``model = nn.Sequential(...)`` cell), the textbook path (torchvision data
set, ``ToTensor``, ``DataLoader``) and the fast path (``mmids.DeviceDataLoader``, and the
channels-last layout for the CNNs on a CPU, as on the pages) train the same model from the
same seed (``torch.manual_seed(0)``, batch 32, Adam, 3 epochs, float32),
``--repeat`` times each; the table gives the median seconds of a training (loaders built,
three epochs; the test pass is not timed), the speed-up, and the test accuracy of each path.
Both paths see the same minibatches, so on the CPU their accuracies agree.

Build (not with ``--trainings-only``): on a temporary copy of the working tree, with the
project's environment, the seconds of a cold ``make build`` (empty execution cache), of a
rebuild after a prose-only edit, and of a rebuild after an edit of ``utils/mmids.py``, each
with the number of pages executed; and, with ``--seed-runner``, the seconds of the chapter's
code as written, run in the same benchmark (the script is not part of this repository; see
README, Performance).

``--trainings-only`` needs only torch, torchvision, numpy and a data folder
(``MMIDS_DATA_DIR``, or ``--data``), so it runs on a bare CUDA machine.
Writes a table to stdout and the numbers to ``--json`` (default ``_build/bench.json``).
"""

import argparse
import ast
import functools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "utils"))

import torch  # noqa: E402
from torch import nn, optim  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

import mmids  # noqa: E402

# The four trainings of the chapter: the page that defines and trains each model, its data.
TRAININGS = {
    "MNIST logistic": ("chapters/05_mnist_logistic.md", "MNIST"),
    "MNIST MLP": ("chapters/06_neural_networks.md", "MNIST"),
    "MNIST CNN": ("chapters/07_cnn.md", "MNIST"),
    "Fashion-MNIST CNN": ("chapters/08_fashion_mnist.md", "FashionMNIST"),
}
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```$", flags=re.M | re.S)


def code_cells(page):
    """The code of each code cell of a MyST page, its options (``:tags:``, ``---``) dropped."""
    cells = []
    for body in CODE_CELL.findall((ROOT / page).read_text(encoding="utf-8")):
        if body.startswith("---\n"):
            body = body.split("---\n", 2)[2]
        lines = body.splitlines()
        while lines and lines[0].startswith(":"):
            lines.pop(0)
        cells.append("\n".join(lines))
    return cells


def page_model(page):
    """A function that builds the page's model, and whether the page uses channels-last.

    The model is the ``nn.Sequential(...)`` that the page's first ``model = ...`` cell
    assigns (before ``.to(device)``): the benchmark trains what the page trains.
    """
    for cell in code_cells(page):
        for node in ast.parse(cell).body:
            if not (
                isinstance(node, ast.Assign)
                and [getattr(t, "id", None) for t in node.targets] == ["model"]
            ):
                continue
            value = node.value
            while isinstance(value, ast.Call) and getattr(value.func, "attr", None) == "to":
                value = value.func.value  # drop .to(device)
            if isinstance(value, ast.Call) and ast.unparse(value.func) == "nn.Sequential":
                code = compile(ast.Expression(value), page, "eval")
                return functools.partial(eval, code, {"nn": nn}), "channels_last" in cell
    sys.exit(f"{page}: no cell assigns model = nn.Sequential(...); update TRAININGS")


def run_training(name, path, device, root):
    """One training on one path; returns (seconds, test accuracy)."""
    page, data_name = TRAININGS[name]
    make_model, channels_last = page_model(page)
    train_set = mmids.load_image_dataset(data_name, train=True, root=root)
    test_set = mmids.load_image_dataset(data_name, train=False, root=root)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    torch.manual_seed(0)
    if path == "textbook":
        train_loader = DataLoader(train_set, batch_size=32, shuffle=True)
        test_loader = DataLoader(test_set, batch_size=32, shuffle=False)
    else:
        train_loader = mmids.DeviceDataLoader(train_set, batch_size=32, shuffle=True, device=device)
        test_loader = mmids.DeviceDataLoader(test_set, batch_size=32, shuffle=False, device=device)
    model = make_model().to(device)
    if path == "fast" and channels_last and device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)  # as the CNN pages do
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters())
    mmids.training_loop(train_loader, model, loss_fn, optimizer, device, epochs=3, verbose=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    accuracy, _ = mmids.test(test_loader, model, loss_fn, device)
    return seconds, accuracy


def bench_trainings(repeat, device, root, names):
    rows = []
    for name in names:
        row = {"training": name}
        for path in ("textbook", "fast"):
            runs = [run_training(name, path, device, root) for _ in range(repeat)]
            row[f"{path}_seconds"] = statistics.median(s for s, _ in runs)
            row[f"{path}_accuracy"] = runs[0][1]
            row[f"{path}_all_seconds"] = [round(s, 2) for s, _ in runs]
        row["speedup"] = row["textbook_seconds"] / row["fast_seconds"]
        rows.append(row)
        print(
            f"  {name}: textbook {row['textbook_seconds']:.1f} s, fast {row['fast_seconds']:.1f} s",
            flush=True,
        )
    return rows


def working_tree_copy(destination):
    """Copy the files git knows (tracked or not ignored) into ``destination``."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def timed_build(copy, venv):
    """Seconds of ``make build`` in ``copy`` and the number of pages it executed."""
    env = {**os.environ, "PYTHONPATH": str(copy / "utils")}  # the copy's mmids, not ours
    start = time.perf_counter()
    result = subprocess.run(
        ["make", "-C", str(copy), "build", f"VENV={venv}", "-o", f"{venv}/.installed"],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"make build failed in {copy}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    # Pages run by execute_pages.py, plus any that jupyter-book had to execute itself.
    executed = re.search(r"executing (\d+) of \d+ pages", result.stdout)
    by_sphinx = len(re.findall(r"Executing notebook", result.stdout + result.stderr))
    return seconds, (int(executed.group(1)) if executed else 0) + by_sphinx


def bench_build(venv):
    rows = []
    with tempfile.TemporaryDirectory(prefix="mmids-bench-") as tmp:
        copy = Path(tmp)
        working_tree_copy(copy)
        # The environment is installed: that includes the site's copy of MathJax (npm).
        if (ROOT / "_build" / "static").is_dir():
            shutil.copytree(ROOT / "_build" / "static", copy / "_build" / "static")
        seconds, executed = timed_build(copy, venv)
        rows.append({"build": "cold make build", "seconds": seconds, "pages_executed": executed})
        page = copy / "chapters" / "02_autodiff.md"
        text = page.read_text(encoding="utf-8")
        heading = re.search(r"^# .*$", text, flags=re.M)
        page.write_text(
            text[: heading.end()]
            + "\n\nA sentence added by the benchmark.\n"
            + text[heading.end() :],
            encoding="utf-8",
        )
        seconds, executed = timed_build(copy, venv)
        rows.append(
            {
                "build": "rebuild after a prose-only edit",
                "seconds": seconds,
                "pages_executed": executed,
            }
        )
        with open(copy / "utils" / "mmids.py", "a", encoding="utf-8") as helpers:
            helpers.write("\n# An edit made by the benchmark.\n")
        seconds, executed = timed_build(copy, venv)
        rows.append(
            {
                "build": "rebuild after an edit of utils/mmids.py",
                "seconds": seconds,
                "pages_executed": executed,
            }
        )
    return rows


def bench_seed_runner(runner, root):
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(runner), str(root)], capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{runner} failed:\n{result.stderr[-3000:]}")
    total = re.search(r"TOTAL ([\d.]+)s", result.stdout)
    return {"seconds": seconds, "reported_total": float(total.group(1)) if total else None}


def machine():
    cpuinfo = Path("/proc/cpuinfo")
    names = (
        re.findall(r"^model name\s*:\s*(.*)$", cpuinfo.read_text(), flags=re.M)
        if (cpuinfo.is_file())
        else []
    )
    return {
        "cpu": names[0] if names else platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainings-only", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--training",
        action="append",
        choices=list(TRAININGS),
        help="only this training (repeatable); default: all four",
    )
    parser.add_argument("--device", default=None, help="default: mmids.get_device()")
    parser.add_argument("--data", type=Path, default=None, help="default: mmids.data_dir()")
    parser.add_argument("--seed-runner", type=Path, default=None)
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--json", type=Path, default=ROOT / "_build" / "bench.json")
    args = parser.parse_args(argv)
    device = torch.device(args.device) if args.device else mmids.get_device()
    root = args.data.resolve() if args.data else mmids.data_dir()
    report = {"machine": machine(), "device": str(device), "repeat": args.repeat}
    print(
        f"Benchmark on {report['machine']['cpu']} ({report['machine']['cores']} cores), "
        f"device {device}, median of {args.repeat}",
        flush=True,
    )
    report["trainings"] = bench_trainings(args.repeat, device, root, args.training or TRAININGS)
    if not args.trainings_only:
        if args.seed_runner:
            print("  chapter's code as written ...", flush=True)
            report["seed_runner"] = bench_seed_runner(args.seed_runner.resolve(), root)
        print("  builds ...", flush=True)
        report["builds"] = bench_build(args.venv.resolve())
        if args.seed_runner:
            report["cold_build_over_seed_runner"] = (
                report["builds"][0]["seconds"] / report["seed_runner"]["seconds"]
            )
    print_table(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nWritten: {args.json}")
    return 0


def print_table(report):
    print(
        "\n| training | textbook path (s) | fast path (s) | speed-up | textbook accuracy "
        "| fast accuracy |\n|---|---:|---:|---:|---:|---:|"
    )
    for row in report["trainings"]:
        print(
            f"| {row['training']} | {row['textbook_seconds']:.1f} | {row['fast_seconds']:.1f} "
            f"| {row['speedup']:.1f}x | {100 * row['textbook_accuracy']:.1f} % "
            f"| {100 * row['fast_accuracy']:.1f} % |"
        )
    if "builds" in report:
        print("\n| build | seconds | pages executed |\n|---|---:|---:|")
        for row in report["builds"]:
            print(f"| {row['build']} | {row['seconds']:.1f} | {row['pages_executed']} |")
    if "seed_runner" in report:
        seconds = report["seed_runner"]["seconds"]
        print(f"| chapter's code as written (run_seed.py) | {seconds:.1f} | |")
        print(f"\nCold build / code as written: {report['cold_build_over_seed_runner']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
