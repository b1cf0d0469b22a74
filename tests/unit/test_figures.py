"""The figure plumbing of utils/mmids_figures.py: colours, arrays, histories."""

import numpy as np
import pytest
import torch

import mmids_figures


def test_text_colour_on_picks_the_colour_of_higher_contrast():
    assert mmids_figures.text_colour_on((1.0, 1.0, 1.0)) == "black"
    assert mmids_figures.text_colour_on((0.0, 0.0, 0.0)) == "white"
    assert mmids_figures.text_colour_on((1.0, 1.0, 0.0)) == "black"  # yellow is light
    assert mmids_figures.text_colour_on((0.0, 0.0, 0.5)) == "white"  # navy is dark


def test_as_numpy_copies_a_tensor_that_requires_grad():
    x = torch.arange(3.0, requires_grad=True)
    out = mmids_figures.as_numpy(x)
    assert isinstance(out, np.ndarray) and out.tolist() == [0.0, 1.0, 2.0]
    assert mmids_figures.as_numpy([1, 2]).tolist() == [1, 2]


def test_check_history_returns_the_epochs_and_names_the_purpose_of_a_bad_history():
    history = {"epoch": [1, 2], "train_loss": [0.5, 0.4], "seconds": [1.0, 1.1]}
    assert mmids_figures.check_history(history, "plot") == [1, 2]
    with pytest.raises(ValueError, match="no epoch to describe"):
        mmids_figures.check_history({"epoch": [], "train_loss": []}, "describe")
    with pytest.raises(ValueError, match="lengths"):
        mmids_figures.check_history({"epoch": [1, 2], "train_loss": [0.5], "seconds": []}, "plot")


def test_check_counts_accepts_a_confusion_matrix_and_rejects_unnamed_classes():
    cm = mmids_figures.check_counts(torch.tensor([[3, 1], [0, 2]]), ("a", "b"))
    assert cm.tolist() == [[3, 1], [0, 2]]
    with pytest.raises(ValueError, match="name the 2 classes"):
        mmids_figures.check_counts(cm, ("a",))
    with pytest.raises(ValueError, match="non-negative integer"):
        mmids_figures.check_counts(np.array([[0.5, 1.0], [0.0, 2.0]]), ("a", "b"))


def test_result_figures_fit_the_page_with_legible_text():
    import matplotlib.pyplot as plt

    import mmids

    history = {"epoch": [1, 2], "train_loss": [0.5, 0.4], "test_accuracy": [0.9, 0.91]}
    fig = mmids.plot_history(history)
    assert fig.get_size_inches()[0] <= mmids_figures.PAGE_WIDTH
    labels = [ax.xaxis.label for ax in fig.axes]
    assert all(label.get_fontsize() >= 10 for label in labels)
    assert {label.get_fontsize() for label in labels} == {mmids_figures.FONT_SIZE}
    plt.close(fig)
    images = torch.zeros(30, 28, 28)
    fig = mmids.plot_misclassified(
        images,
        torch.zeros(30, dtype=torch.long),
        torch.ones(30, dtype=torch.long),
        ("a", "b"),
        nrows=2,
        ncols=12,
    )
    assert fig.get_size_inches()[0] <= mmids_figures.PAGE_WIDTH + 1e-9
    plt.close(fig)
