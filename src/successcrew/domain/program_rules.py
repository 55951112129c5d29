"""Decisions of the retention programs that need no database: arm assignment, throttling,
lateness, the per-run send caps, auto-pause. Inputs in, decisions out; the caller passes the clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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


def is_overdue(due_at: datetime, now: datetime, *, max_lateness_days: int) -> bool:
    """Whether a step due at ``due_at`` is more than ``max_lateness_days`` late at ``now``.

    Such a step is skipped, never sent: a message written for the situation of two weeks ago
    (after a pause or an outage) says the wrong thing today, and a backlog sent at once floods.
    """
    return now - due_at > timedelta(days=max_lateness_days)


@dataclass
class SendBudget:
    """What is left of one run's per-channel caps.

    Work is offered in order (oldest enrolment first) as whole units: one enrolment's step is
    never split across runs. A unit that does not fit is deferred, and so is every later unit on
    that channel, so nobody jumps the queue and the next run starts where this one stopped. A unit
    that sends nothing (skipped, holdout) always passes.
    """

    caps: Mapping[str, int]
    used: dict[str, int] = field(default_factory=dict[str, int])
    closed: set[str] = field(default_factory=set[str])

    def take(self, counts: Mapping[str, int]) -> bool:
        """Spend ``counts`` (messages by channel) and return True, or return False (deferred)."""
        wanted = {channel: n for channel, n in counts.items() if n > 0}
        if any(channel in self.closed for channel in wanted):
            return False
        over = [
            channel
            for channel, n in wanted.items()
            if channel in self.caps and self.used.get(channel, 0) + n > self.caps[channel]
        ]
        if over:
            self.closed.update(over)
            return False
        for channel, n in wanted.items():
            self.used[channel] = self.used.get(channel, 0) + n
        return True


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
