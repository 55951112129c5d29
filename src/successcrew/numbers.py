"""Numbers as people write them, for every text a person reads (the command line, Slack, e-mail).

``7,650`` accounts, ``2,166,300`` ARR, ``12.3 %``, a health score of ``39.9``. JSON documents keep
the raw numbers; these are for the words around them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def count(value: float | None) -> str:
    """A whole number with thousands separators (``7,650``); ``-`` for none."""
    if value is None:
        return "-"
    return f"{round(value):,}"


def amount(value: float | None) -> str:
    """Money without cents, with thousands separators (``2,166,300``); ``-`` for none."""
    if value is None:
        return "-"
    return f"{float(value):,.0f}"


def percent(value: float | None, digits: int = 1, missing: str = "no data") -> str:
    """A percentage already in percent (``12.3 %``); ``missing`` for none."""
    return missing if value is None else f"{value:,.{digits}f} %"


def rate(fraction: float | None, digits: int = 1, missing: str = "-") -> str:
    """A rate held as a fraction, in percent (0.123 is ``12.3 %``); ``missing`` for none."""
    return missing if fraction is None else percent(100.0 * fraction, digits)


def points(fraction: float | None, digits: int = 1, missing: str = "-") -> str:
    """A difference of two rates held as fractions, in signed percentage points (``+1.2 pts``)."""
    return missing if fraction is None else f"{100.0 * fraction:+,.{digits}f} pts"


def signed(value: float | None, digits: int = 1, missing: str = "-") -> str:
    """A number with its sign, as an NPS or a change is written (``+12.5``, ``-4.0``)."""
    return missing if value is None else f"{value:+,.{digits}f}"


def decimal(value: float | None, digits: int = 2, missing: str = "-") -> str:
    """A measure with a fixed number of decimals and thousands separators (``0.734``)."""
    return missing if value is None else f"{value:,.{digits}f}"


def share(part: float, whole: float, digits: int = 0) -> str:
    """``part`` of ``whole`` as a percentage (``25 %``); ``no data`` for an empty whole."""
    return percent(part * 100.0 / whole if whole else None, digits)


def measure(value: float | None) -> str:
    """A measured quantity of any size: whole with separators from 100 up, three significant
    digits below (``7,650``, ``12.5``, ``0.123``); ``-`` for none."""
    if value is None:
        return "-"
    return count(value) if abs(value) >= 100 else f"{value:.3g}"


def score(value: float | None, boundaries: Iterable[float] = ()) -> str:
    """A score with one decimal that never shows a number across a band boundary.

    Plain rounding would print 39.95 (Critical, below 40) as ``40.0``, which reads as At-Risk;
    where rounding up would reach a boundary the value is cut instead (``39.9``). ``-`` for none.
    """
    if value is None:
        return "-"
    shown = round(value, 1)
    if any(value < edge <= shown for edge in boundaries):
        shown = math.floor(value * 10) / 10
    return f"{shown:.1f}"
