"""Decisions of the retention programs that need no database: arm assignment, throttling,
auto-pause. Inputs in, decisions out; the caller passes the clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

HOLDOUT = "holdout"


def assignment_fraction(program: str, account_id: int) -> float:
    """A number in [0, 1) fixed by program and account: SHA-256, first 8 bytes.

    A hash rather than a random draw so that the arm is the same on every run and on every
    machine, and independent between programs (the program id is part of the input).
    """
    digest = hashlib.sha256(f"{program}:{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_arm(
    program: str,
    account_id: int,
    *,
    holdout_pct: float,
    variants: Sequence[tuple[str, float]],
) -> str:
    """``holdout`` for the first ``holdout_pct`` % of the hash range, else a variant by weight."""
    u = assignment_fraction(program, account_id)
    share = holdout_pct / 100
    if u < share:
        return HOLDOUT
    total = sum(weight for _, weight in variants)
    # Rescale the rest of the range to [0, 1) so the variant split ignores the holdout share.
    v = (u - share) / (1 - share) if share < 1 else 0.0
    cumulative = 0.0
    for name, weight in variants:
        cumulative += weight / total
        if v < cumulative:
            return name
    return variants[-1][0]


@dataclass(frozen=True)
class EmailCandidate:
    """A program email that is due for one contact, with what throttling needs to know."""

    key: tuple[int, int, int]  # (enrolment id, step index, contact id)
    contact_id: int
    opted_out: bool
    last_program_email_at: datetime | None


def throttle(
    candidates: Iterable[EmailCandidate],
    *,
    now: datetime,
    min_gap_days: int,
    sent_in_run: set[int] | None = None,
) -> dict[tuple[int, int, int], str]:
    """``queued``, ``throttled`` or ``opted_out`` for each candidate.

    A contact gets at most one program email per ``min_gap_days`` across all programs: the last
    one already queued counts, and so does one queued earlier in this same batch (two programs
    due on the same day for the same person send one email). Candidates are decided in the order
    given, so the caller's ordering says who goes first. ``sent_in_run`` carries the contacts
    already emailed by earlier batches of the same run; it is updated in place.
    """
    gap = timedelta(days=min_gap_days)
    sent_now: set[int] = sent_in_run if sent_in_run is not None else set()
    decisions: dict[tuple[int, int, int], str] = {}
    for c in candidates:
        if c.opted_out:
            decisions[c.key] = "opted_out"
        elif c.contact_id in sent_now or (
            c.last_program_email_at is not None and now - c.last_program_email_at < gap
        ):
            decisions[c.key] = "throttled"
        else:
            decisions[c.key] = "queued"
            sent_now.add(c.contact_id)
    return decisions


def negative_feedback_pct(negative: int, sent: int) -> float | None:
    """Negative reactions in percent of program emails sent; None when nothing was sent."""
    return 100 * negative / sent if sent else None


def should_auto_pause(negative: int, sent: int, *, threshold_pct: float, min_sent: int) -> bool:
    """Pause when the negative share is strictly above the threshold (10 % itself is allowed).

    Compared in integers (negative * 100 > threshold * sent) where the threshold allows, so
    101 of 1000 pauses and 100 of 1000 does not, without floating-point doubt at the boundary.
    """
    if sent <= 0 or sent < min_sent:
        return False
    if float(threshold_pct).is_integer():
        return negative * 100 > int(threshold_pct) * sent
    return 100 * negative / sent > threshold_pct


#: The rule name under which a program pauses itself on negative feedback (``--rule auto-pause``).
AUTO_PAUSE = "auto-pause"


def pause_scope(program: str) -> str:
    """The pause scope of one program's campaign (held by auto-pause or by a person)."""
    return f"campaign:{program}"
