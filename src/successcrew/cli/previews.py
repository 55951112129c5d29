"""Printing what a dry run would queue (``programs run``, ``surveys wave`` and ``run``), one
record per line so that a log stays grep-able."""

from __future__ import annotations

from typing import Any

from successcrew.console import console, plain

#: Queued messages shown per program and step in a dry run.
SAMPLE_SIZE = 3


def _counts(by_key: dict[str, dict[str, int]]) -> str:
    return "; ".join(
        f"{program} " + ", ".join(f"{arm} {n}" for arm, n in arms.items())
        for program, arms in by_key.items()
    )


def print_preview(preview: dict[str, Any], *, indent: str = "") -> None:
    """Print one dry-run preview (``ProgramRun.preview`` / ``WaveResult.preview``)."""

    def say(text: str) -> None:
        console.print(indent + text, soft_wrap=True)

    for note in preview.get("paused", []):
        say(f"paused: {plain(note)}")
    if preview.get("enrolled"):
        say(f"would enrol: {_counts(preview['enrolled'])}")
    if preview.get("exits"):
        say(f"would end: {_counts(preview['exits'])}")
    if not preview["queued"]:
        say("would queue nothing")
    else:
        say(f"would queue {preview['total']:,} message(s):")
        for q in preview["queued"]:
            say(f"  {q['program']} {q['step']} {q['channel']}: {q['count']:,}")
    if preview.get("skipped_overdue"):
        say(
            f"would skip {preview['skipped_overdue']:,} step(s) as overdue "
            "(too late to send; recorded as skipped: overdue)"
        )
    for channel, n in preview.get("deferred", {}).items():
        cap = preview.get("caps", {}).get(channel)
        limit = f" (cap {cap:,} per run)" if cap else ""
        say(f"would defer {n:,} {channel} message(s) to a later run{limit}")
    for s in preview.get("samples", []):
        say(
            f"  sample: {s['program']} {s['step']} {s['channel']} to {plain(str(s['to']))}: "
            f"{plain(str(s['subject'] or ''))}"
        )
