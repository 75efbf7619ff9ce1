"""Counts in generated text agree in number."""

import pytest

from panda_lite.text import plural, plural_range


@pytest.mark.parametrize(
    ("n", "expected"), [(0, "0 channels"), (1, "1 channel"), (2, "2 channels"), (-1, "-1 channels")]
)
def test_plural(n, expected):
    assert plural(n, "channel") == expected


def test_plural_takes_an_irregular_form():
    assert plural(1, "series", "series") == "1 series"
    assert plural(2, "child", "children") == "2 children"


def test_plural_range_collapses_an_equal_range():
    assert plural_range(3000, 3000, "step") == "3000 steps"
    assert plural_range(1, 1, "step") == "1 step"
    assert plural_range(600, 3000, "step") == "600-3000 steps"
    assert plural_range(1, 2, "window") == "1-2 windows"
