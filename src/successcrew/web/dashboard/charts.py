"""Chart geometry for the dashboard's inline SVG (no script, no external asset): the page's
template draws what these compute, so a chart is readable with the page's CSS alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from successcrew.services.views.portfolio import TrendPoint

WIDTH, HEIGHT = 640, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 34, 10, 10, 24


@dataclass(frozen=True)
class LineChart:
    """A score line over dates with horizontal band lines (0-100 scale)."""

    points: str
    bands: list[tuple[float, str]]
    ticks: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT
    dots: list[tuple[float, float, str]] = field(default_factory=list)


def _y(value: float) -> float:
    return PAD_TOP + (100 - value) / 100 * (HEIGHT - PAD_TOP - PAD_BOTTOM)


def _x(i: int, n: int) -> float:
    span = WIDTH - PAD_LEFT - PAD_RIGHT
    return PAD_LEFT + (span * i / (n - 1) if n > 1 else span / 2)


def score_chart(
    history: Sequence[tuple[date, float, str]], band_lines: Sequence[tuple[float, str]]
) -> LineChart | None:
    """The score history as a polyline, with a line at each band's lower bound."""
    if not history:
        return None
    n = len(history)
    points = " ".join(f"{_x(i, n):.1f},{_y(s):.1f}" for i, (_, s, _) in enumerate(history))
    step = max(1, n // 6)
    ticks = [(_x(i, n), history[i][0].isoformat()) for i in range(0, n, step)]
    last = history[-1]
    return LineChart(
        points=points,
        bands=[(_y(v), label) for v, label in band_lines],
        ticks=ticks,
        dots=[(_x(n - 1, n), _y(last[1]), last[2])],
    )


@dataclass(frozen=True)
class BarPart:
    """One band's slice of a bar: its top ``y``, height ``h`` and the accounts ``n`` in it."""

    band: str
    y: float
    h: float
    n: int


@dataclass(frozen=True)
class Bar:
    """One date's bar: left edge ``x``, width ``w``, its slices and the date as ``MM-DD``."""

    x: float
    w: float
    parts: list[BarPart]
    label: str


@dataclass(frozen=True)
class StackedBars:
    """Bars per date, each split by band (heights in SVG units)."""

    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT


def band_trend_chart(trend: Sequence[TrendPoint], bands: Sequence[str]) -> StackedBars | None:
    """One stacked bar per date: Critical at the bottom, then At-Risk, then Healthy."""
    if not trend:
        return None
    n = len(trend)
    span = WIDTH - PAD_LEFT - PAD_RIGHT
    bar = span / n * 0.7
    inner = HEIGHT - PAD_TOP - PAD_BOTTOM
    bars: list[Bar] = []
    for i, point in enumerate(trend):
        total = sum(point.accounts[b] for b in bands) or 1
        x = PAD_LEFT + span * i / n + (span / n - bar) / 2
        y = float(HEIGHT - PAD_BOTTOM)
        parts: list[BarPart] = []
        for b in reversed(bands):
            h = inner * point.accounts[b] / total
            y -= h
            parts.append(BarPart(band=b, y=round(y, 1), h=round(h, 1), n=point.accounts[b]))
        bars.append(
            Bar(x=round(x, 1), w=round(bar, 1), parts=parts, label=point.as_of.strftime("%m-%d"))
        )
    return StackedBars(bars=bars)
