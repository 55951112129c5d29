"""A small book for the dashboard's tests, written straight to the database: accounts in three
segments, daily snapshots with components for five weeks, a fall this week with a reason,
contacts (one bounced), NPS comments (one with markup in it), tickets, invoices, a trigger
event, a program whose campaign a rule paused, and a dead letter.

``today`` is the day the pages are read on (the server's real clock in browser tests).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select

from successcrew.store.models import (
    Account,
    Contact,
    EmailSuppression,
    Escalation,
    HealthSnapshot,
    Invoice,
    NpsResponse,
    OutboxMessage,
    PauseHold,
    ProgramEnrolment,
    Ticket,
    TriggerDefinition,
    TriggerEvent,
)

CSM = "csm@example.com"
#: The At-Risk enterprise account whose usage fell this week.
FALLING = "ACME-ENT"
MARKUP = "<script>alert('x')</script> & the export is slow"
PROGRAM = "at_risk"
BRIEF = "Usage halved after the admin left; call the new sponsor this week."


def _at(day: date, hour: int = 8) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _components(usage: float, support: float) -> dict[str, Any]:
    def part(label: str, kind: str, raw: float, norm: float, weight: float) -> dict[str, Any]:
        return {
            "label": label,
            "kind": kind,
            "raw": raw,
            "normalised": norm,
            "weight": weight,
            "contribution": round(100 * norm * weight, 2),
            "window_days": 30,
        }

    return {
        "usage": part("Product usage (30 days)", "usage_total", usage * 10, usage, 0.6),
        "support": part("Support tickets", "tickets_open", 3 - 3 * support, support, 0.4),
    }


def _band(score: float) -> str:
    return "healthy" if score >= 70 else "at_risk" if score >= 40 else "critical"


def add_accounts(
    engine: Engine, today: date, count: int, *, start: int = 0, name: str = "Co"
) -> None:
    """``count`` accounts numbered from ``start`` (number 0 is ``FALLING``), each with 35 days
    of snapshots up to ``today``."""
    made = datetime(2025, 1, 1, tzinfo=UTC)
    segments = ("enterprise", "mid_market", "smb")
    rows = []
    for i in range(start, start + count):
        rows.append(
            {
                "external_id": FALLING if i == 0 else f"A-{i:05d}",
                "name": "Acme Enterprise" if i == 0 else f"{name} {i}",
                "segment": segments[i % 3],
                "plan": ("starter", "pro", "enterprise")[i % 3],
                "arr": 20_000 + 5_000 * (i % 17) + (200_000 if i == 0 else 0),
                "owner_email": CSM if i % 2 == 0 else "other@example.com",
                "renewal_date": today + timedelta(days=10 + (i * 7) % 200),
                "started_at": date(2024, 1, 1),
                "created_at": made,
                "updated_at": made,
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(Account), rows)
        wanted = [r["external_id"] for r in rows]
        ids = dict(
            conn.execute(
                select(Account.external_id, Account.id).where(Account.external_id.in_(wanted))
            ).all()
        )
        snaps = []
        for ext, aid in ids.items():
            k = aid % 10
            for back in range(35):
                day = today - timedelta(days=back)
                usage = 0.3 + 0.07 * k
                support = 0.5 + 0.05 * k
                if ext == FALLING:
                    # Healthy until this week, then usage collapsed: At-Risk now.
                    usage, support = (0.95, 0.9) if back >= 5 else (0.45, 0.85)
                comps = _components(usage, support)
                score = round(sum(c["contribution"] for c in comps.values()), 1)
                snaps.append(
                    {
                        "account_id": aid,
                        "as_of": day,
                        "score": score,
                        "computed_score": score,
                        "band": _band(score),
                        "components": comps,
                        "missing_components": [],
                        "model_version": "test-1",
                        "stale": False,
                        "created_at": _at(day, 6),
                    }
                )
        conn.execute(insert(HealthSnapshot), snaps)


def seed_book(engine: Engine, today: date, *, accounts: int = 24) -> None:
    """``accounts`` accounts (the first is ``FALLING``) with 35 days of snapshots up to
    ``today`` and everything the account page shows for ``FALLING``."""
    add_accounts(engine, today, accounts)
    made = datetime(2025, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        ids = dict(conn.execute(select(Account.external_id, Account.id)).all())
        falling = ids[FALLING]
        conn.execute(
            insert(Contact),
            [
                {
                    "external_id": "C-1",
                    "account_id": falling,
                    "email": "dana@acme.example",
                    "name": "Dana <b>Admin</b>",
                    "role": "admin",
                    "email_opt_out": False,
                    "survey_consent": True,
                    "created_at": made,
                    "updated_at": made,
                },
                {
                    "external_id": "C-2",
                    "account_id": falling,
                    "email": "lee@acme.example",
                    "name": "Lee",
                    "role": "user",
                    "email_opt_out": False,
                    "survey_consent": True,
                    "created_at": made,
                    "updated_at": made,
                },
            ],
        )
        conn.execute(
            insert(EmailSuppression).values(
                email="lee@acme.example", reason="hard_bounce", provider="sendgrid", created_at=made
            )
        )
        conn.execute(
            insert(NpsResponse),
            [
                {
                    "natural_key": f"nk-{n}",
                    "account_id": falling if n == 0 else ids[f"A-{n:05d}"],
                    "contact_email": "dana@acme.example" if n == 0 else None,
                    "score": 3 if n == 0 else 9,
                    "comment": MARKUP if n == 0 else "Great support team, very helpful",
                    "channel": "email",
                    "responded_at": _at(today - timedelta(days=2 + n)),
                    "categories": ["performance"] if n == 0 else ["support"],
                }
                for n in range(min(4, accounts))
            ],
        )
        conn.execute(
            insert(Ticket).values(
                external_id="T-1",
                account_id=falling,
                opened_at=_at(today - timedelta(days=4)),
                priority="urgent",
            )
        )
        conn.execute(
            insert(Invoice).values(
                external_id="INV-1",
                account_id=falling,
                amount=12_500,
                due_at=today - timedelta(days=20),
                issued_at=today - timedelta(days=50),
                status="overdue",
            )
        )
        if conn.execute(select(TriggerDefinition.code)).first() is not None:
            conn.execute(
                insert(TriggerEvent).values(
                    code="RETENTION-001",
                    account_id=falling,
                    subject=FALLING,
                    status="open",
                    value=61.0,
                    threshold=15.0,
                    definition_version=1,
                    evidence={},
                    fired_at=_at(today - timedelta(days=1), 7),
                )
            )
        conn.execute(
            insert(Escalation).values(
                kind="high_value_at_risk",
                account_id=falling,
                title="Acme Enterprise is At-Risk (ARR 220,000)",
                context={"brief": BRIEF},
                status="open",
                created_at=_at(today - timedelta(days=1), 9),
            )
        )
        conn.execute(
            insert(ProgramEnrolment).values(
                program=PROGRAM,
                account_id=falling,
                variant="personal",
                entry_rule="band",
                entry_key="k1",
                status="active",
                enrolled_at=_at(today - timedelta(days=3)),
            )
        )
        conn.execute(
            insert(PauseHold).values(
                scope=f"campaign:{PROGRAM}",
                held_by="campaign_negative_feedback",
                kind="rule",
                reason="negative feedback 14.0 % > 10 % over the last 7 days",
                set_at=_at(today - timedelta(days=1)),
            )
        )
        conn.execute(
            insert(OutboxMessage).values(
                idempotency_key="dead-1",
                channel="email",
                payload={"kind": "campaign", "to": "dana@acme.example"},
                status="dead",
                attempts=3,
                next_attempt_at=_at(today),
                last_error="550 mailbox unavailable",
                account_id=falling,
                created_at=_at(today - timedelta(days=1)),
            )
        )
