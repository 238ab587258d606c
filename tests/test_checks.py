"""course_utils.checks.expect: the verdict lines of the notebooks' NBVAL_CHECK_OUTPUT cells."""

import numpy as np
import pytest

from course_utils.checks import expect


def test_a_value_inside_the_tolerance_prints_ok_without_the_value(capsys):
    expect("vanilla pointing game", 0.645, 0.63, 0.03)
    assert capsys.readouterr().out == "vanilla pointing game within 0.03 of 0.63: ok\n"


def test_the_verdict_is_the_same_for_any_value_inside(capsys):
    for value in (0.60, 0.61234567, 0.63, np.float32(0.66), 0.66):  # both edges pass
        expect("rate", value, 0.63, 0.03)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["rate within 0.03 of 0.63: ok"] * 5


def test_a_value_outside_fails_with_a_clear_message(capsys):
    with pytest.raises(AssertionError, match=r"atlas cells filled: measured 43, expected within 3 of 47 \(off by 4\)"):
        expect("atlas cells filled", 43, 47, 3)
    with pytest.raises(AssertionError, match="measured 0.6701"):
        expect("rate", 0.6701, 0.63, 0.03)
    assert capsys.readouterr().out == ""  # no "ok" line before the error


@pytest.mark.parametrize("bad", [float("nan"), np.nan, float("inf"), -np.inf], ids=["nan", "np.nan", "inf", "-inf"])
def test_nan_and_infinite_values_fail(bad):
    with pytest.raises(AssertionError, match="measured"):
        expect("correlation", bad, 0.5, 10.0)


def test_arrays_are_checked_element_by_element(capsys):
    expect("dead channels per layer", [3, 1, 2], [3, 0, 2], 1)
    assert capsys.readouterr().out == "dead channels per layer within 1 of [3, 0, 2]: ok\n"
    with pytest.raises(AssertionError, match=r"measured \[3, 2, 2\].*off by 2"):
        expect("dead channels per layer", np.array([3, 2, 2]), [3, 0, 2], 1)
    with pytest.raises(AssertionError):
        expect("scores", [0.5, np.nan], [0.5, 0.5], 0.1)
    with pytest.raises(ValueError, match="shape"):
        expect("scores", [0.5, 0.5, 0.5], [0.5, 0.5], 0.1)


def test_skip_compares_nothing_and_says_so(capsys):
    expect("vanilla pointing game", float("nan"), 0.63, 0.03, skip=True)
    assert capsys.readouterr().out == ("vanilla pointing game within 0.03 of 0.63: not checked "
                                       "(the reference is for the default parameters)\n")


@pytest.mark.parametrize("tol", [-0.1, float("nan"), "0.1", None])
def test_a_bad_tolerance_is_an_error(tol):
    with pytest.raises(ValueError, match="tolerance"):
        expect("rate", 0.5, 0.5, tol)


def test_a_non_numeric_value_fails():
    with pytest.raises(AssertionError, match="not a number"):
        expect("rate", "high", 0.5, 0.1)
