"""vaeinfo.checks: what counts as an integer argument, and the one error every level raises."""
import numpy as np
import pytest

from vaeinfo.checks import as_number, check_integer, is_integer, is_real


@pytest.mark.parametrize("value", [0, -3, 7, np.int64(5), np.int8(-1), np.uint16(9), 10**30])
def test_integers_are_integers(value):
    assert is_integer(value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 2.0, np.float64(3.0), 2.5, "3", None,
                                   np.array(3), [1], float("nan")])
def test_bools_floats_and_others_are_not(value):
    assert not is_integer(value)


def test_check_integer_returns_a_python_int_at_the_bounds():
    for value in (np.int64(2), 2):
        out = check_integer(value, "n", low=2, high=4)
        assert out == 2 and type(out) is int
    assert check_integer(4, "n", low=2, high=4) == 4
    assert check_integer(10**12, "n", low=0) == 10**12


def test_none_passes_only_where_it_means_something():
    assert check_integer(None, "limit", low=1, none="all members") is None
    with pytest.raises(ValueError, match=r"^n must be an integer >= 1, got None$"):
        check_integer(None, "n", low=1)


@pytest.mark.parametrize("value, message", [
    (1, r"^n_bins must be an integer >= 2 \(bins per code\), got 1$"),
    (2.0, r"^n_bins must be an integer >= 2 \(bins per code\), got 2\.0$"),
    (True, r"^n_bins must be an integer >= 2 \(bins per code\), got True$"),
])
def test_the_message_names_the_argument_range_meaning_and_value(value, message):
    with pytest.raises(ValueError, match=message):
        check_integer(value, "n_bins", low=2, meaning="bins per code")


def test_upper_bound_and_none_alternative_in_the_message():
    with pytest.raises(ValueError, match=r"^k must be an integer in \[0, 10\] \(factors kept\) or None \(all 10\), "
                                         r"got 11$"):
        check_integer(11, "k", low=0, high=10, meaning="factors kept", none="all 10")


@pytest.mark.parametrize("value, number", [(3, 3.0), (np.float32(0.5), 0.5), ("1e-3", 1e-3), (-2.5, -2.5),
                                           (float("inf"), float("inf"))])
def test_as_number_reads_what_float_reads(value, number):
    assert as_number(value) == number and type(as_number(value)) is float


@pytest.mark.parametrize("value", [True, np.False_, None, "soon", [1.0]])
def test_as_number_gives_nan_for_bools_and_non_numbers(value):
    assert np.isnan(as_number(value))


def test_is_real_takes_numbers_of_python_and_numpy_but_not_bools_or_strings():
    assert all(is_real(v) for v in (0, 2.5, np.float32(0.05), np.int64(3), float("nan")))
    assert not any(is_real(v) for v in (True, np.bool_(False), "0.05", None, [1.0]))
