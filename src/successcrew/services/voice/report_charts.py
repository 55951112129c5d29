"""The insights report's charts: the geometry of bar, line and stacked charts, drawn as SVG by
the report templates (no charting library, no JavaScript)."""

from __future__ import annotations

import math
from typing import Any

BANDS = ("healthy", "at_risk", "critical")
BAND_LABELS = {"healthy": "Healthy", "at_risk": "At-Risk", "critical": "Critical"}


def bar_chart(title: str, items: list[tuple[str, float]], *, unit: str = "") -> dict[str, Any]:
    """Geometry of a horizontal bar chart (the template draws it)."""
    width, label_w, row_h = 640, 170, 26
    top = 34
    peak = max((v for _, v in items), default=0) or 1
    bars = []
    for i, (label, value) in enumerate(items):
        length = (width - label_w - 70) * value / peak
        bars.append(
            {
                "label": label,
                "value": value,
                "text": f"{value:,.0f}{unit}"
                if float(value).is_integer()
                else f"{value:.1f}{unit}",
                "x": label_w,
                "y": top + i * row_h,
                "w": max(length, 1.0),
                "h": row_h - 8,
            }
        )
    return {
        "title": title,
        "width": width,
        "height": top + max(len(items), 1) * row_h + 10,
        "label_w": label_w,
        "bars": bars,
    }


def line_chart(
    title: str,
    points: list[tuple[str, float | None]],
    *,
    lo: float,
    hi: float,
    zero: bool = True,
    fmt: str = "{:+.0f}",
) -> dict[str, Any]:
    """Geometry of a line chart over labelled x positions; gaps where a value is None."""
    width, height, left, right, top, bottom = 640, 260, 48, 16, 34, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, v in points if v is not None]
    if values:
        lo, hi = min(lo, min(values)), max(hi, max(values))
    # Round the axis out to a step a reader can count in (10, 20, 25 or 50 points).
    tick = next((t for t in (10, 20, 25, 50) if (hi - lo) / t <= 6), 100)
    lo, hi = math.floor(lo / tick) * tick, math.ceil(hi / tick) * tick
    span = (hi - lo) or 1

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / span)

    step = plot_w / max(len(points) - 1, 1)
    dots, segments, current = [], [], []
    for i, (label, v) in enumerate(points):
        x = left + i * step
        if v is None:
            if len(current) > 1:
                segments.append(current)
            current = []
            continue
        dots.append({"x": x, "y": y(v), "label": label, "text": fmt.format(v)})
        current.append(f"{x:.1f},{y(v):.1f}")
    if len(current) > 1:
        segments.append(current)
    ticks = [lo + tick * k for k in range(int(span // tick) + 1)]
    return {
        "title": title,
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "bottom": height - bottom,
        "zero_y": y(0) if zero and lo <= 0 <= hi else None,
        "ticks": [{"y": y(t), "text": f"{t:.0f}"} for t in ticks],
        "xlabels": [
            {"x": left + i * step, "text": label}
            for i, (label, _v) in enumerate(points)
            if i % 2 == len(points) % 2 or len(points) <= 6
        ],
        "segments": [" ".join(s) for s in segments],
        "dots": dots,
    }


def stacked_chart(title: str, months: list[dict[str, Any]]) -> dict[str, Any]:
    """Geometry of stacked columns of band counts per month."""
    width, height, left, top, bottom = 640, 260, 48, 34, 40
    plot_h = height - top - bottom
    col_w = (width - left - 16) / max(len(months), 1)
    peak = max((sum(m["counts"].values()) for m in months), default=0) or 1
    colours = {"healthy": "#2e9e5b", "at_risk": "#e0a100", "critical": "#d64545"}
    columns = []
    for i, m in enumerate(months):
        y = top + plot_h
        parts = []
        for band in BANDS:
            h = plot_h * m["counts"][band] / peak
            y -= h
            parts.append({"y": y, "h": h, "fill": colours[band], "n": m["counts"][band]})
        columns.append(
            {
                "x": left + i * col_w + col_w * 0.15,
                "w": col_w * 0.7,
                "label": m["month"],
                "parts": parts,
            }
        )
    return {
        "title": title,
        "width": width,
        "height": height,
        "bottom": top + plot_h,
        "columns": columns,
        "legend": [{"label": BAND_LABELS[b], "fill": colours[b]} for b in BANDS],
    }


def report_charts(doc: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    charts: dict[str, tuple[str, dict[str, Any]]] = {
        "nps_trend": (
            "line",
            line_chart(
                "NPS by month",
                [(m["month"], m["nps"]) for m in doc["nps_trend"]],
                lo=-20,
                hi=50,
            ),
        ),
        "themes": (
            "bar",
            bar_chart(
                "Comment themes, last 90 days",
                [(t["label"], t["count"]) for t in doc["themes"]],
            ),
        ),
        "churn_reasons": (
            "bar",
            bar_chart(
                "Churn reasons (comments from churned accounts)",
                [(t["label"], t["count"]) for t in doc["churn_reasons"]["themes"]],
            ),
        ),
        "retention_cohorts": (
            "bar",
            bar_chart(
                "1-month logo retention by start cohort",
                [
                    (c["cohort"], c["pct"])
                    for c in doc["retention"].get("cohorts", [])
                    if c["pct"] is not None
                ],
                unit=" %",
            ),
        ),
    }
    if doc["health"]["months"]:
        charts["health_bands"] = (
            "stacked",
            stacked_chart("Accounts by health band", doc["health"]["months"]),
        )
        charts["health_mean"] = (
            "line",
            line_chart(
                "Mean health score",
                [(m["month"], m["mean"]) for m in doc["health"]["months"]],
                lo=40,
                hi=80,
                zero=False,
                fmt="{:.0f}",
            ),
        )
    return charts
