"""Unit tests of mmids.ls_by_qr: it agrees with numpy.linalg.lstsq, and bad input gets a
TypeError or ValueError that names the argument."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mmids


@settings(max_examples=60, deadline=None)
@given(d=st.integers(1, 8), extra=st.integers(0, 30), seed=st.integers(0, 2**32 - 1))
def test_ls_by_qr_matches_lstsq_on_random_tall_full_rank_problems(d, extra, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d + extra, d)) * rng.uniform(0.1, 10, size=d)  # uneven column scales
    b = rng.normal(size=d + extra)
    assume(np.linalg.cond(A) < 1e6)  # well posed, so both solvers agree to ~1e-10
    expected = np.linalg.lstsq(A, b, rcond=None)[0]
    assert np.allclose(mmids.ls_by_qr(A, b), expected, rtol=1e-7, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(d=st.integers(2, 6), extra=st.integers(0, 20), seed=st.integers(0, 2**32 - 1))
def test_ls_by_qr_rejects_a_matrix_with_a_dependent_column(d, extra, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d + extra, d))
    j = int(rng.integers(d))
    A[:, j] = A[:, [k for k in range(d) if k != j]] @ rng.normal(size=d - 1)
    with pytest.raises(ValueError, match="A is rank-deficient"):
        mmids.ls_by_qr(A, rng.normal(size=d + extra))


def test_ls_by_qr_recovers_an_exact_solution():
    A = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    x = np.array([2.0, -3.0])
    assert np.allclose(mmids.ls_by_qr(A, A @ x), x)


@pytest.mark.parametrize(
    "A, b, error, message",
    [
        (np.ones(3), np.ones(3), ValueError, "2-D"),
        (np.ones((3, 2)), np.ones(4), ValueError, "shape"),
        (np.ones((1, 2)), np.ones(1), ValueError, "at least as many rows"),
        (np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]), np.ones(3), ValueError, "rank-deficient"),
        ([["a", "b"], ["c", "d"]], [1.0, 2.0], TypeError, "A must be a numeric array"),
        (np.eye(2), {"x": 1}, TypeError, "b must be a numeric array"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones(2), ValueError, "A contains NaN"),
        (np.eye(2), np.array([1.0, np.inf]), ValueError, "b contains NaN or infinite"),
        (np.ones((3, 2)), np.ones((3, 1)), ValueError, r"b must have shape \(3,\)"),
    ],
    ids=[
        "1-D A",
        "mismatched b",
        "wide A",
        "dependent columns",
        "text A",
        "dict b",
        "NaN in A",
        "inf in b",
        "column b",
    ],
)
def test_ls_by_qr_names_the_bad_argument(A, b, error, message):
    with pytest.raises(error, match=message):
        mmids.ls_by_qr(A, b)
