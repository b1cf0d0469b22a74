"""Unit tests of the helpers in utils/mmids.py."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import mmids

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------ devices


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.delenv("MMIDS_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    return monkeypatch


def test_get_device_prefers_cuda_then_mps_then_cpu(no_accelerator):
    assert mmids.get_device() == torch.device("cpu")
    no_accelerator.setattr(torch.backends.mps, "is_available", lambda: True)
    assert mmids.get_device() == torch.device("mps")
    no_accelerator.setattr(torch.cuda, "is_available", lambda: True)
    assert mmids.get_device() == torch.device("cuda")


def test_get_device_obeys_mmids_device(no_accelerator):
    no_accelerator.setattr(torch.cuda, "is_available", lambda: True)
    no_accelerator.setenv("MMIDS_DEVICE", "cpu")
    assert mmids.get_device() == torch.device("cpu")


def test_get_device_rejects_an_unknown_or_unusable_device(no_accelerator):
    no_accelerator.setenv("MMIDS_DEVICE", "tpu")
    with pytest.raises(ValueError, match="MMIDS_DEVICE"):
        mmids.get_device()
    no_accelerator.setenv("MMIDS_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="cannot use it"):
        mmids.get_device()


# --------------------------------------------------------------------------- data


def test_data_dir_is_the_repository_data_folder_by_default(monkeypatch):
    monkeypatch.delenv("MMIDS_DATA_DIR", raising=False)
    assert mmids.data_dir() == ROOT / "data"


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


@pytest.mark.parametrize("content", [None, b"not,the,right,file\n"], ids=["missing", "damaged"])
def test_load_csv_without_a_good_copy_or_a_network_raises_a_clear_error(
    monkeypatch, tmp_path, content
):
    # A closed port on loopback stands for a machine without network access.
    monkeypatch.setattr(mmids, "_CSV_BASE_URL", "http://127.0.0.1:9/")
    if content is not None:
        (tmp_path / "SAHeart.csv").write_bytes(content)
    with pytest.raises(RuntimeError, match="MMIDS_DATA_DIR"):
        mmids.load_csv("SAHeart.csv", root=tmp_path)
    leftovers = {p.name for p in tmp_path.iterdir()} - {"SAHeart.csv"}
    assert not leftovers, f"partial download left behind: {leftovers}"


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
    from torchvision import datasets

    monkeypatch.setattr(datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(RuntimeError, match="MMIDS_DATA_DIR") as excinfo:
        mmids.load_image_dataset("MNIST", train=False, root=tmp_path)
    assert str(tmp_path / "MNIST" / "raw") in str(excinfo.value)


def test_class_names_follow_the_data_sets_documentation():
    assert len(mmids.FASHION_MNIST_CLASSES) == 10
    assert mmids.FASHION_MNIST_CLASSES[0] == "T-shirt/top"
    assert mmids.FASHION_MNIST_CLASSES[9] == "Ankle boot"
    assert mmids.MNIST_CLASSES == tuple("0123456789")


# -------------------------------------------------------------------- least squares


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(3, 30),
    d=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_ls_by_qr_matches_lstsq_on_random_full_rank_problems(n, d, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d))  # n >= 3 >= d: full column rank almost surely
    b = rng.normal(size=n)
    expected = np.linalg.lstsq(A, b, rcond=None)[0]
    assert np.allclose(mmids.ls_by_qr(A, b), expected, atol=1e-8)


def test_ls_by_qr_recovers_an_exact_solution():
    A = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    x = np.array([2.0, -3.0])
    assert np.allclose(mmids.ls_by_qr(A, A @ x), x)


@pytest.mark.parametrize(
    "A, b, message",
    [
        (np.ones(3), np.ones(3), "2-D"),
        (np.ones((3, 2)), np.ones(4), "shape"),
        (np.ones((1, 2)), np.ones(1), "at least as many rows"),
        (np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]), np.ones(3), "rank-deficient"),
    ],
    ids=["1-D A", "mismatched b", "wide A", "dependent columns"],
)
def test_ls_by_qr_rejects_bad_input(A, b, message):
    with pytest.raises(ValueError, match=message):
        mmids.ls_by_qr(A, b)


# ------------------------------------------------------------------------- training


def blobs(n=90, seed=0):
    """Three well-separated clusters in the plane, labelled 0, 1, 2."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    centres = torch.tensor([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    return centres[labels] + torch.randn(n, 2, generator=g), labels


def test_train_returns_the_sample_weighted_mean_loss_of_the_epoch():
    X, y = blobs(n=70)  # minibatches of 32, 32 and 6 samples
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # the weights stay put
    loader = DataLoader(TensorDataset(X, y), batch_size=32)
    mean_loss = mmids.train(loader, model, loss_fn, optimizer, "cpu")
    with torch.no_grad():
        assert mean_loss == pytest.approx(loss_fn(model(X), y).item(), rel=1e-6)


def test_training_loop_decreases_the_loss_and_reports_each_epoch(capsys):
    X, y = blobs()
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
    history = mmids.training_loop(loader, model, nn.CrossEntropyLoss(), optimizer, "cpu", epochs=4)
    assert set(history) == {"epoch", "train_loss", "seconds"}
    assert history["epoch"] == [1, 2, 3, 4]
    assert len(history["train_loss"]) == 4 and history["train_loss"][-1] < history["train_loss"][0]
    assert all(s > 0 for s in history["seconds"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    for k, (line, loss, seconds) in enumerate(
        zip(lines, history["train_loss"], history["seconds"], strict=True), 1
    ):
        assert line == f"Epoch {k}/4: train loss {loss:.4f}, {seconds:.1f} s"


def test_training_loop_records_the_test_accuracy_and_loss_of_every_epoch(capsys):
    X, y = blobs(n=120)
    X_test, y_test = blobs(n=60, seed=1)
    torch.manual_seed(0)
    model, loss_fn = nn.Linear(2, 3), nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
    test_loader = DataLoader(TensorDataset(X_test, y_test), batch_size=16)
    history = mmids.training_loop(
        loader, model, loss_fn, optimizer, "cpu", epochs=2, test_loader=test_loader
    )
    assert len(history["test_accuracy"]) == len(history["test_loss"]) == 2
    # The last entries are those of the trained model.
    assert (history["test_accuracy"][-1], history["test_loss"][-1]) == mmids.test(
        test_loader, model, loss_fn, "cpu"
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line, loss, accuracy in zip(
        lines, history["train_loss"], history["test_accuracy"], strict=True
    ):
        assert f"train loss {loss:.4f}, test accuracy {100 * accuracy:.1f} %, " in line


def seeded_run(progress, steps=60, epochs=2):
    """Train a small classifier from a fixed seed; return its history and weights."""
    X, y = blobs(n=2 * steps)
    torch.manual_seed(3)
    model = nn.Linear(2, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    loader = DataLoader(TensorDataset(X, y), batch_size=2, shuffle=True)  # `steps` minibatches
    history = mmids.training_loop(
        loader, model, nn.CrossEntropyLoss(), optimizer, "cpu", epochs=epochs, progress=progress
    )
    return history, [p.detach().clone() for p in model.parameters()]


def test_the_progress_bar_changes_neither_the_losses_nor_the_weights():
    with_bar, weights_with_bar = seeded_run(progress=True)
    without_bar, weights_without_bar = seeded_run(progress=False)
    assert with_bar["train_loss"] == without_bar["train_loss"]
    for a, b in zip(weights_with_bar, weights_without_bar, strict=True):
        assert torch.equal(a, b)


def test_the_progress_bar_shows_the_running_loss_and_leaves_only_the_epoch_lines(capsys):
    history, _ = seeded_run(progress=True)
    captured = capsys.readouterr()
    assert "Epoch 1/2" in captured.err and "Epoch 2/2" in captured.err  # the bars (stderr)
    assert "/60 [" in captured.err and "loss=" in captured.err  # 60 minibatches, 2 refreshes
    assert captured.out.splitlines() == [
        f"Epoch {k}/2: train loss {loss:.4f}, {s:.1f} s"
        for k, loss, s in zip((1, 2), history["train_loss"], history["seconds"], strict=True)
    ]


class RecordingBar:
    """Stands for tqdm: records what the training loop asks of its bar."""

    made = []

    def __init__(self, **kwargs):
        self.kwargs, self.updates, self.postfixes, self.closed = kwargs, 0, [], False
        RecordingBar.made.append(self)

    def update(self, n):
        self.updates += n

    def set_postfix(self, **values):
        self.postfixes.append(values)

    def close(self):
        self.closed = True


def test_the_bar_reads_the_running_loss_only_every_50_minibatches(monkeypatch):
    RecordingBar.made = []
    monkeypatch.setattr(mmids, "_tqdm", lambda: RecordingBar)
    seeded_run(progress=True, steps=120, epochs=1)
    (bar,) = RecordingBar.made
    assert bar.kwargs["total"] == 120 and bar.kwargs["leave"] is False
    assert bar.updates == 120 and bar.closed
    assert len(bar.postfixes) == 2  # after minibatches 50 and 100: two host reads, not 120
    assert all(float(p["loss"]) > 0 for p in bar.postfixes)


def test_the_running_loss_of_the_bar_is_the_sample_weighted_mean_so_far(monkeypatch):
    RecordingBar.made = []
    monkeypatch.setattr(mmids, "_tqdm", lambda: RecordingBar)
    progress = mmids._EpochProgress(total=4, desc="Epoch 1/1", every=2)
    for loss, n in [(1.0, 2), (4.0, 1), (0.5, 4), (0.5, 4)]:
        progress.observe(torch.tensor(loss), n)
    assert RecordingBar.made[0].postfixes == [{"loss": "2.0000"}, {"loss": "0.9091"}]  # 6/3, 10/11


@pytest.mark.parametrize("setting, shown", [("0", False), ("off", False), ("1", True), ("", True)])
def test_mmids_progress_turns_the_bars_off_or_on(monkeypatch, capsys, setting, shown):
    monkeypatch.setenv("MMIDS_PROGRESS", setting)
    seeded_run(progress=None, steps=5, epochs=1)
    assert ("Epoch 1/1" in capsys.readouterr().err) is shown


def test_mmids_progress_rejects_a_setting_it_does_not_understand(monkeypatch):
    monkeypatch.setenv("MMIDS_PROGRESS", "maybe")
    with pytest.raises(ValueError, match="MMIDS_PROGRESS"):
        seeded_run(progress=None, steps=5, epochs=1)


def test_the_test_suite_turns_the_progress_bars_off_for_the_notebook_kernels():
    import os

    assert os.environ["MMIDS_PROGRESS"] == "0"  # set by conftest.py; nbval's kernels inherit it


def test_training_loop_is_silent_when_not_verbose(capsys):
    X, y = blobs()
    model = nn.Linear(2, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(X, y), batch_size=16)
    mmids.training_loop(
        loader, model, nn.CrossEntropyLoss(), optimizer, "cpu", verbose=False, progress=True
    )
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("epochs", [0, -1, 2.0])
def test_training_loop_rejects_anything_but_a_positive_integer_number_of_epochs(epochs):
    model = nn.Linear(2, 3)
    with pytest.raises(ValueError, match="epochs"):
        mmids.training_loop([], model, nn.CrossEntropyLoss(), None, "cpu", epochs=epochs)


def test_train_test_and_predict_reject_an_empty_loader():
    model = nn.Linear(2, 3)
    empty = DataLoader(TensorDataset(torch.empty(0, 2), torch.empty(0, dtype=torch.long)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="no minibatch"):
        mmids.train(empty, model, nn.CrossEntropyLoss(), optimizer, "cpu")
    with pytest.raises(ValueError, match="no sample"):
        mmids.test(empty, model, nn.CrossEntropyLoss(), "cpu")
    with pytest.raises(ValueError, match="no sample"):
        mmids.predict_softmax(empty, model, "cpu")


def identity_classifier():
    """A linear model whose logits are its inputs: it predicts the largest coordinate."""
    model = nn.Linear(3, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(3))
    return model


def test_test_returns_accuracy_and_per_sample_mean_loss():
    X = torch.eye(3).repeat(3, 1) * 5  # 9 samples; the model predicts i for row e_i
    y = torch.tensor([0, 1, 2, 0, 1, 2, 1, 1, 1])  # rows 6 and 8 are misclassified
    model, loss_fn = identity_classifier(), nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(X, y), batch_size=4)  # batches of 4, 4 and 1
    accuracy, mean_loss = mmids.test(loader, model, loss_fn, "cpu")
    assert accuracy == pytest.approx(7 / 9)
    with torch.no_grad():
        assert mean_loss == pytest.approx(loss_fn(model(X), y).item(), rel=1e-6)


def test_predict_softmax_gives_probabilities_in_the_data_sets_order():
    X = torch.randn(10, 3, generator=torch.Generator().manual_seed(1))
    model = identity_classifier()
    loader = DataLoader(TensorDataset(X, torch.zeros(10, dtype=torch.long)), batch_size=3)
    probs = mmids.predict_softmax(loader, model, "cpu")
    assert probs.shape == (10, 3) and probs.device.type == "cpu"
    assert torch.allclose(probs.sum(dim=1), torch.ones(10))
    assert torch.allclose(probs, torch.softmax(X, dim=1))


# ------------------------------------------------------------------------- plotting


def test_plot_image_says_right_or_wrong_in_words_and_not_only_in_colour():
    probs = np.array([0.1, 0.7, 0.2])
    names = ("cat", "dog", "owl")
    fig, (left, right) = plt.subplots(1, 2)
    mmids.plot_image(probs, 1, np.zeros((28, 28)), names, ax=left)
    mmids.plot_image(probs, 2, np.zeros((1, 28, 28)), names, ax=right)
    assert left.get_xlabel() == "dog 70% (dog)\nright"
    assert right.get_xlabel() == "dog 70% (owl)\nwrong"
    assert left.xaxis.label.get_color() != right.xaxis.label.get_color()
    assert right.xaxis.label.get_fontweight() == "bold"
    plt.close(fig)


def test_plot_value_array_hatches_the_predicted_bar_and_colours_the_true_one():
    from matplotlib.colors import to_rgba

    fig, ax = plt.subplots()
    mmids.plot_value_array(np.array([0.1, 0.7, 0.2]), 2, ax=ax)
    bars = ax.patches[:3]
    assert [p.get_height() for p in bars] == [0.1, 0.7, 0.2]
    assert [p.get_hatch() for p in bars] == [None, "//", None]  # predicted: hatched
    assert bars[2].get_facecolor() == to_rgba(mmids._RIGHT_COLOUR)  # true class
    assert bars[1].get_facecolor() == to_rgba(mmids._WRONG_COLOUR)  # wrong prediction
    assert bars[0].get_facecolor() == to_rgba(mmids._OTHER_COLOUR)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["true class", "predicted"]
    assert ax.get_ylim() == (0, 1)
    plt.close(fig)
    fig, ax = plt.subplots()
    mmids.plot_value_array(np.array([0.1, 0.7, 0.2]), 1, ax=ax)  # right: one hatched blue bar
    assert ax.patches[1].get_hatch() == "//"
    assert ax.patches[1].get_facecolor() == to_rgba(mmids._RIGHT_COLOUR)
    plt.close(fig)


def test_plot_prediction_draws_the_image_and_the_bars_side_by_side():
    fig = mmids.plot_prediction(np.array([0.6, 0.4]), 0, np.ones((28, 28)), ("a", "b"))
    image_ax, bars_ax = fig.axes
    assert len(image_ax.images) == 1 and len(bars_ax.patches) == 2
    plt.close(fig)


def test_plot_samples_titles_each_image_with_its_class_and_is_reproducible():
    images = torch.rand(20, 1, 28, 28)
    labels = torch.arange(20) % 4
    dataset = TensorDataset(images, labels)
    names = ("a", "b", "c", "d")
    first = mmids.plot_samples(dataset, names, nrows=2, ncols=3, seed=7)
    second = mmids.plot_samples(dataset, names, nrows=2, ncols=3, seed=7)
    assert len(first.axes) == 6
    for ax_1, ax_2 in zip(first.axes, second.axes, strict=True):
        shown = ax_1.images[0].get_array()
        index = next(i for i in range(20) if np.array_equal(images[i, 0].numpy(), shown))
        assert ax_1.get_title() == names[labels[index]]
        assert np.array_equal(shown, ax_2.images[0].get_array())
    plt.close("all")


def test_plot_samples_rejects_a_grid_larger_than_the_data_set():
    dataset = TensorDataset(torch.rand(4, 1, 28, 28), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="grid"):
        mmids.plot_samples(dataset, ("a",), nrows=2, ncols=3)


# ----------------------------------------------------- errors and learning curves


def count_pairs(true, predicted, k):
    """Confusion counts by a plain double loop, to check the vectorised version."""
    counts = [[0] * k for _ in range(k)]
    for t, p in zip(true, predicted, strict=True):
        counts[t][p] += 1
    return counts


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 200),
    k=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_confusion_matrix_counts_every_pair_of_classes(n, k, seed):
    rng = np.random.default_rng(seed)
    true, predicted = rng.integers(0, k, size=n), rng.integers(0, k, size=n)
    cm = mmids.confusion_matrix(true, predicted, num_classes=k)
    assert cm.shape == (k, k) and cm.dtype == np.int64
    assert cm.tolist() == count_pairs(true, predicted, k)
    assert cm.sum() == n and np.trace(cm) == np.sum(true == predicted)


def test_confusion_matrix_takes_tensors_and_puts_true_classes_in_rows():
    true = torch.tensor([0, 0, 1, 2, 2, 2])
    predicted = torch.tensor([0, 1, 1, 2, 0, 2])
    cm = mmids.confusion_matrix(true, predicted)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert mmids.confusion_matrix(true, predicted, num_classes=5).shape == (5, 5)


@pytest.mark.parametrize(
    "true, predicted, num_classes, message",
    [
        ([0, 1, 2], [0, 1], None, "same length"),
        ([[0, 1]], [[0, 1]], None, "1-D"),
        ([0.0, 1.0], [0, 1], None, "integer"),
        ([0, -1], [0, 1], None, "negative"),
        ([0, 3], [0, 1], 3, "out of range"),
        ([0, 1], [0, 1], 0, "positive integer"),
        ([], [], None, "num_classes"),
    ],
    ids=["lengths", "2-D", "floats", "negative", "too large", "zero classes", "empty"],
)
def test_confusion_matrix_rejects_bad_labels(true, predicted, num_classes, message):
    with pytest.raises(ValueError, match=message):
        mmids.confusion_matrix(np.array(true), np.array(predicted), num_classes=num_classes)


def test_plot_confusion_matrix_writes_each_count_in_its_cell():
    cm = np.array([[5, 1, 0], [2, 7, 0], [0, 3, 9]])
    names = ("cat", "dog", "owl")
    ax = mmids.plot_confusion_matrix(cm, names)
    assert len(ax.images) == 1
    cells = {
        (round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts
    }
    assert cells == {(i, j): str(cm[i, j]) for i in range(3) for j in range(3)}
    assert [t.get_text() for t in ax.get_xticklabels()] == list(names)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(names)
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    plt.close("all")


@pytest.mark.parametrize(
    "cm, names, message",
    [
        (np.ones((2, 3), dtype=int), ("a", "b"), "square"),
        (np.ones((2, 2), dtype=int), ("a",), "name the 2 classes"),
        (np.full((2, 2), 0.5), ("a", "b"), "integer"),
        (np.array([[1, -1], [0, 1]]), ("a", "b"), "non-negative"),
    ],
    ids=["not square", "names", "floats", "negative"],
)
def test_plot_confusion_matrix_rejects_bad_input(cm, names, message):
    with pytest.raises(ValueError, match=message):
        mmids.plot_confusion_matrix(cm, names)


def test_plot_misclassified_shows_the_errors_in_order_with_prediction_and_truth():
    images = torch.rand(10, 1, 28, 28)
    true = torch.arange(10) % 3
    predicted = true.clone()
    predicted[[1, 4, 7]] = (true[[1, 4, 7]] + 1) % 3  # three errors
    names = ("cat", "dog", "owl")
    fig = mmids.plot_misclassified(images, true, predicted, names, nrows=2, ncols=3)
    assert len(fig.axes) == 6
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 3
    for ax, i in zip(shown, (1, 4, 7), strict=True):
        assert np.array_equal(ax.images[0].get_array(), images[i, 0].numpy())
        assert ax.get_title() == f"{names[predicted[i]]}\n({names[true[i]]})"
    plt.close(fig)


def test_plot_misclassified_fills_at_most_the_grid_and_says_when_there_is_no_error():
    images = np.zeros((30, 28, 28), dtype=np.uint8)
    true = np.zeros(30, dtype=int)
    fig = mmids.plot_misclassified(
        images, true, np.ones(30, dtype=int), ("a", "b"), nrows=2, ncols=4
    )
    assert sum(1 for ax in fig.axes if ax.images) == 8
    fig = mmids.plot_misclassified(images, true, true, ("a", "b"), nrows=1, ncols=2)
    assert not any(ax.images for ax in fig.axes)
    assert fig._suptitle.get_text() == "No misclassified image"
    plt.close("all")


@pytest.mark.parametrize(
    "images, true, predicted, message",
    [
        (np.zeros((3, 28, 28)), [0, 1], [0, 1], "one label"),
        (np.zeros((2, 28)), [0, 1], [0, 1], "shape"),
        (np.zeros((2, 28, 28)), [0, 5], [0, 1], "no name"),
    ],
    ids=["lengths", "image shape", "unnamed label"],
)
def test_plot_misclassified_rejects_bad_input(images, true, predicted, message):
    with pytest.raises(ValueError, match=message):
        mmids.plot_misclassified(images, np.array(true), np.array(predicted), ("a", "b"))


def test_plot_history_draws_the_training_loss():
    history = {"epoch": [1, 2, 3], "train_loss": [0.9, 0.5, 0.4], "seconds": [1.0, 1.0, 1.0]}
    fig = mmids.plot_history(history)
    (ax,) = fig.axes
    (line,) = ax.lines
    assert list(line.get_xdata()) == [1, 2, 3] and list(line.get_ydata()) == [0.9, 0.5, 0.4]
    assert ax.get_xlabel() == "epoch"
    plt.close(fig)


def test_plot_history_adds_the_test_loss_and_accuracy_of_a_real_run():
    X, y = blobs()
    torch.manual_seed(0)
    model, loss_fn = nn.Linear(2, 3), nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)
    history = mmids.training_loop(
        loader,
        model,
        loss_fn,
        torch.optim.Adam(model.parameters(), lr=0.05),
        "cpu",
        epochs=2,
        verbose=False,
        test_loader=loader,
    )
    fig = mmids.plot_history(history)
    loss_ax, accuracy_ax = fig.axes
    assert [list(line.get_ydata()) for line in loss_ax.lines] == [
        history["train_loss"],
        history["test_loss"],
    ]
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["training", "test"]
    (accuracy_line,) = accuracy_ax.lines
    assert np.allclose(accuracy_line.get_ydata(), 100 * np.array(history["test_accuracy"]))
    assert "%" in accuracy_ax.get_ylabel()
    plt.close(fig)


@pytest.mark.parametrize(
    "history, message",
    [
        ([0.5, 0.4], "lacks"),
        ({"epoch": [1, 2], "test_loss": [0.5, 0.4]}, "train_loss"),
        ({"epoch": [], "train_loss": []}, "no epoch"),
        ({"epoch": [1, 2], "train_loss": [0.5]}, "lengths"),
    ],
    ids=["a list", "no training loss", "empty", "lengths"],
)
def test_plot_history_rejects_what_training_loop_does_not_return(history, message):
    with pytest.raises(ValueError, match=message):
        mmids.plot_history(history)


def test_plot_confusion_matrix_writes_counts_in_the_colour_that_contrasts_with_the_cell():
    cm = np.array([[900, 1], [0, 5]])
    ax = mmids.plot_confusion_matrix(cm, ("a", "b"))
    colour = {t.get_text(): t.get_color() for t in ax.texts}
    # cividis: dark blue for one image, light yellow for the largest count; empty cells white.
    assert colour["900"] == "black" and colour["1"] == "white" and colour["0"] == "black"
    assert ax.images[0].get_cmap().name == "cividis"
    plt.close("all")


def test_describe_history_reads_the_first_and_last_values_of_each_curve():
    history = {
        "epoch": [1, 2, 3],
        "train_loss": [0.412, 0.3, 0.281],
        "test_loss": [0.31, 0.3, 0.314],
        "test_accuracy": [0.912, 0.92, 0.924],
    }
    assert mmids.describe_history(history) == (
        "Over 3 epochs, the mean training loss falls from 0.41 to 0.28, the mean test loss "
        "rises from 0.31 to 0.31 and the test accuracy rises from 91.2 % to 92.4 %."
    ).replace("rises from 0.31 to 0.31", "stays at 0.31")
    one = {"epoch": [1], "train_loss": [0.5]}
    assert mmids.describe_history(one) == "After 1 epoch, the mean training loss is 0.50."
    with pytest.raises(ValueError, match="lengths"):
        mmids.describe_history({"epoch": [1, 2], "train_loss": [0.5]})
    with pytest.raises(ValueError, match="lacks"):
        mmids.describe_history({"epoch": [1]})


def test_describe_prediction_gives_the_verdict_and_the_probabilities():
    probs = np.array([0.1, 0.7, 0.2])
    names = ("cat", "dog", "owl")
    assert mmids.describe_prediction(probs, 1, names) == (
        "The model gives class dog the largest probability, 70.0 %; the true class is dog, "
        "so the prediction is right."
    )
    assert mmids.describe_prediction(probs, 2, names).endswith(
        "the true class is owl, which gets 20.0 %, so the prediction is wrong."
    )
    with pytest.raises(ValueError, match="one probability per class"):
        mmids.describe_prediction(probs, 1, names[:2])
    with pytest.raises(ValueError, match="true_label"):
        mmids.describe_prediction(probs, 3, names)


def test_describe_confusion_matrix_counts_the_diagonal_and_names_the_largest_confusion():
    cm = np.array([[5, 1, 0], [2, 7, 0], [0, 3, 1082]])
    assert mmids.describe_confusion_matrix(cm, ("cat", "dog", "owl")) == (
        "1,094 of the 1,100 images (99.5 %) lie on the diagonal, their class predicted right; "
        "the largest count off it is 3 images of class owl taken for class dog."
    )
    assert mmids.describe_confusion_matrix(np.eye(2, dtype=int), ("a", "b")).endswith(
        "no image is misclassified."
    )
    with pytest.raises(ValueError, match="no image"):
        mmids.describe_confusion_matrix(np.zeros((2, 2), dtype=int), ("a", "b"))
    with pytest.raises(ValueError, match="name the 2 classes"):
        mmids.describe_confusion_matrix(np.eye(2, dtype=int), ("a",))


# -------------------------------------------------------------------------- pages


def test_glue_hands_the_string_to_myst_nb_inside_a_kernel():
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('import mmids\nmmids.glue("cnn_accuracy", "98.7 %")')]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    (output,) = nb.cells[0].outputs
    assert output.output_type == "display_data"
    assert output.metadata["scrapbook"]["name"] == "cnn_accuracy"
    # display=False: a hidden mime type that myst-nb's {glue:text} role reads, none shown.
    assert output.data == {"application/papermill.record/text/plain": "'98.7 %'"}


def test_glue_does_nothing_without_myst_nb(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as in Colab: import fails
    assert mmids.glue("cnn_accuracy", "98.7 %") is None
    assert capsys.readouterr() == ("", "")


def test_glue_wants_an_identifier_and_a_formatted_string():
    with pytest.raises(TypeError, match="formatted string"):
        mmids.glue("cnn_accuracy", 0.987)
    with pytest.raises(ValueError, match="identifier"):
        mmids.glue("cnn accuracy", "98.7 %")
