"""Counts in generated text: "1 channel", "3 channels", "3000 steps", "600-3000 steps"."""

from __future__ import annotations


def plural(n: int, word: str, plural_word: str | None = None) -> str:
    """``n`` and ``word``, in the plural unless ``n`` is 1 (``plural_word``, default ``word + "s"``)."""
    return f"{n} {word if n == 1 else plural_word or word + 's'}"


def plural_range(low: int, high: int, word: str, plural_word: str | None = None) -> str:
    """``plural(low, ...)`` when ``low == high``, else "LOW-HIGH words" (a range is plural)."""
    if low == high:
        return plural(low, word, plural_word)
    return f"{low}-{high} {plural_word or word + 's'}"
