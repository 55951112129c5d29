"""HealthMonitoringSpecialist: scoring, trend analysis, alerts, dashboard data."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from successcrew.agents.base import Agent, TaskContext, ToolResult, tool
from successcrew.agents.infrastructure import provider_matrix
from successcrew.integrations.outbox import enqueue, enqueue_many
from successcrew.store import audit
from successcrew.store.models import Account, AccountSource, HealthSnapshot

BANDS = ("healthy", "at_risk", "critical")


def latest_as_of(session: Session, on_or_before: date) -> date | None:
    """The newest scoring date not after ``on_or_before``."""
    return session.execute(
        select(func.max(HealthSnapshot.as_of)).where(HealthSnapshot.as_of <= on_or_before)
    ).scalar_one()


def previous_as_of(session: Session, before: date, *, at_least_days: int = 1) -> date | None:
    """The newest scoring date at least ``at_least_days`` before ``before``."""
    return session.execute(
        select(func.max(HealthSnapshot.as_of)).where(
            HealthSnapshot.as_of <= before - timedelta(days=at_least_days)
        )
    ).scalar_one()


def band_counts(session: Session, as_of: date) -> dict[str, dict[str, float]]:
    """Accounts and ARR per band on ``as_of`` (one grouped query)."""
    rows = session.execute(
        select(HealthSnapshot.band, func.count(), func.coalesce(func.sum(Account.arr), 0))
        .join(Account, Account.id == HealthSnapshot.account_id)
        .where(HealthSnapshot.as_of == as_of)
        .group_by(HealthSnapshot.band)
    ).all()
    result = {b: {"accounts": 0, "arr": 0.0} for b in BANDS}
    for band, count, arr in rows:
        result[band] = {"accounts": int(count), "arr": float(arr)}
    return result


def movements(session: Session, current: date, previous: date) -> dict[str, int]:
    """How many accounts moved from one band to another between two scoring dates."""
    old = aliased(HealthSnapshot)
    rows = session.execute(
        select(old.band, HealthSnapshot.band, func.count())
        .join(
            old,
            and_(old.account_id == HealthSnapshot.account_id, old.as_of == previous),
        )
        .where(HealthSnapshot.as_of == current, old.band != HealthSnapshot.band)
        .group_by(old.band, HealthSnapshot.band)
    ).all()
    return {f"{a}->{b}": int(n) for a, b, n in sorted(rows)}


class HealthMonitoringSpecialist(Agent):
    """Health scoring, trend analysis, alert generation and dashboard data."""

    @tool()
    def score_accounts(self, ctx: TaskContext) -> ToolResult:
        """Score every customer as of today with the health model (set-based, one query).

        On failure the health engine carries the last good scores forward (flagged stale) and
        records the failed check; the task fails and the next tick tries again.
        """
        from successcrew.scoring import run_scoring

        outcome = run_scoring(ctx.engine, ctx.thresholds.health_bands, ctx.now.date(), now=ctx.now)
        return {"as_of": outcome.as_of.isoformat(), **outcome.summary}

    @tool()
    def evaluate_triggers(self, ctx: TaskContext) -> ToolResult:
        """Evaluate RETENTION-001..004 and the rollback rules against fresh scores and metrics.

        The trigger engine commits events, their outbox messages, escalations and pause flags in
        one transaction of its own; a definition that errors is reported and fails the task.
        """
        from successcrew.triggers import evaluate_triggers

        summary = evaluate_triggers(ctx.engine, ctx.thresholds, ctx.now, settings=ctx.settings)
        errors = [t for t in summary.triggers if t.status == "error"]
        if errors:
            raise RuntimeError(
                "trigger evaluation errors: "
                + "; ".join(f"{t.code}: {t.detail}" for t in errors)
                + f" (the others were evaluated: {summary.fired} fired)"
            )
        return summary.as_dict()

    @tool()
    def analyse_trends(self, ctx: TaskContext) -> ToolResult:
        """Band counts now and a week before, band movements, and the biggest score drops."""
        window = int(ctx.params.get("window_days", 7))
        current = latest_as_of(ctx.session, ctx.now.date())
        if current is None:
            return {"scores": "none yet", "movements": {}}
        previous = previous_as_of(ctx.session, current, at_least_days=window)
        result: dict[str, Any] = {
            "as_of": current.isoformat(),
            "bands": band_counts(ctx.session, current),
        }
        if previous is not None:
            old = aliased(HealthSnapshot)
            drop = (old.score - HealthSnapshot.score).label("drop")
            movers = ctx.session.execute(
                select(Account.external_id, old.score, HealthSnapshot.score, drop)
                .join(Account, Account.id == HealthSnapshot.account_id)
                .join(old, and_(old.account_id == HealthSnapshot.account_id, old.as_of == previous))
                .where(HealthSnapshot.as_of == current)
                .order_by(drop.desc(), Account.external_id)
                .limit(int(ctx.params.get("movers", 5)))
            ).all()
            result.update(
                compared_with=previous.isoformat(),
                bands_before=band_counts(ctx.session, previous),
                movements=movements(ctx.session, current, previous),
                biggest_drops=[
                    {"account": e, "from": round(a, 1), "to": round(b, 1)} for e, a, b, _ in movers
                ],
            )
        return result

    @tool()
    def configure_alerts(self, ctx: TaskContext) -> ToolResult:
        """Decide alert routing from the providers in use and announce monitoring in Slack."""
        matrix = provider_matrix(ctx.settings)
        routing = {
            "slack": {"channel": ctx.settings.slack_channel, "mode": matrix["slack"]["mode"]},
            "crm_tasks": matrix["crm"]["provider"] or "none (no CRM configured)",
            "email": matrix["email"]["provider"] or "outbox only",
        }
        enqueue(
            ctx.session,
            key="setup:alert-routing:announce",
            channel="slack",
            payload={
                "channel": ctx.settings.slack_channel,
                "title": "successcrew health monitoring is on",
                "text": (
                    "successcrew now watches customer health: accounts falling into the Critical "
                    f"band are posted here and get a CRM task ({routing['crm_tasks']})."
                ),
            },
            now=ctx.now,
        )
        audit.record(
            ctx.session,
            at=ctx.now,
            actor=self.name,
            action="setup.alert_routing",
            subject="alerts",
            detail=routing,
        )
        return routing

    @tool()
    def generate_alerts(self, ctx: TaskContext) -> ToolResult:
        """Alert on accounts whose latest score is Critical and whose previous one was not.

        One Slack message per account per scoring date, and a CRM task for the owner when a CRM
        is in use and the account is known there; the keys make a re-run queue nothing twice.
        """
        current = latest_as_of(ctx.session, ctx.now.date())
        if current is None:
            return {"alerts": 0, "scores": "none yet"}
        previous = previous_as_of(ctx.session, current)
        old = aliased(HealthSnapshot)
        query = (
            select(Account, HealthSnapshot)
            .join(HealthSnapshot, HealthSnapshot.account_id == Account.id)
            .where(
                HealthSnapshot.as_of == current,
                HealthSnapshot.band == "critical",
                Account.churned_at.is_(None),
            )
            .order_by(Account.id)
        )
        if previous is not None:
            query = query.outerjoin(
                old, and_(old.account_id == Account.id, old.as_of == previous)
            ).where((old.band.is_(None)) | (old.band != "critical"))
        crm = provider_matrix(ctx.settings)["crm"]["provider"]
        sources: dict[int, str] = {}
        rows = ctx.session.execute(query).all()
        if crm is not None and rows:
            sources = dict(
                ctx.session.execute(
                    select(AccountSource.account_id, AccountSource.source_id).where(
                        AccountSource.source == crm,
                        AccountSource.account_id.in_([a.id for a, _ in rows]),
                    )
                ).all()
            )
        slack, crm_tasks = [], []
        for account, snap in rows:
            text = f"{account.name} is Critical: health {snap.score:.0f} on {current.isoformat()}"
            slack.append(
                {
                    "key": f"alert:critical:{account.id}:{current.isoformat()}",
                    "channel": "slack",
                    "payload": {
                        "channel": ctx.settings.slack_channel,
                        "title": text,
                        "fields": {
                            "ARR": f"{float(account.arr or 0):,.0f}",
                            "Owner": account.owner_email or "-",
                            "Segment": account.segment or "-",
                        },
                    },
                    "account_id": account.id,
                }
            )
            if account.id in sources:
                crm_tasks.append(
                    {
                        "key": f"alert:crm-task:{account.id}:{current.isoformat()}",
                        "channel": "crm_task",
                        "payload": {
                            "provider": crm,
                            "account_source_id": sources[account.id],
                            "subject": f"Critical health: call {account.name}",
                            "body": text,
                            "due_date": (ctx.now + timedelta(days=1)).date().isoformat(),
                            "owner_email": account.owner_email,
                        },
                        "account_id": account.id,
                    }
                )
        queued = enqueue_many(ctx.session, slack, now=ctx.now)
        tasks = enqueue_many(ctx.session, crm_tasks, now=ctx.now)
        return {"as_of": current.isoformat(), "alerts": queued, "crm_tasks": tasks}

    @tool()
    def dashboard_data(self, ctx: TaskContext) -> ToolResult:
        """What the dashboard shows: bands with ARR, and the ten most at-risk accounts by ARR."""
        current = latest_as_of(ctx.session, ctx.now.date())
        if current is None:
            return {"scores": "none yet"}
        at_risk = ctx.session.execute(
            select(Account.external_id, Account.name, Account.arr, HealthSnapshot.score)
            .join(HealthSnapshot, HealthSnapshot.account_id == Account.id)
            .where(HealthSnapshot.as_of == current, HealthSnapshot.band != "healthy")
            .order_by(Account.arr.desc().nulls_last(), Account.id)
            .limit(10)
        ).all()
        return {
            "as_of": current.isoformat(),
            "bands": band_counts(ctx.session, current),
            "top_at_risk": [
                {"account": e, "name": n, "arr": float(a or 0), "score": round(s, 1)}
                for e, n, a, s in at_risk
            ],
        }
