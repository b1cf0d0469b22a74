"""Unit tests of the plot helpers and of the confusion matrix they draw."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import mmids
import mmids_figures
from conftest import blobs

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
    assert bars[2].get_facecolor() == to_rgba(mmids_figures.RIGHT_COLOUR)  # true class
    assert bars[1].get_facecolor() == to_rgba(mmids_figures.WRONG_COLOUR)  # wrong prediction
    assert bars[0].get_facecolor() == to_rgba(mmids_figures.OTHER_COLOUR)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["true class", "predicted"]
    assert ax.get_ylim() == (0, 1)
    plt.close(fig)
    fig, ax = plt.subplots()
    mmids.plot_value_array(np.array([0.1, 0.7, 0.2]), 1, ax=ax)  # right: one hatched blue bar
    assert ax.patches[1].get_hatch() == "//"
    assert ax.patches[1].get_facecolor() == to_rgba(mmids_figures.RIGHT_COLOUR)
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
