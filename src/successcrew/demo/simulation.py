"""The second half of ``successcrew demo``: the crew's first 45 days, simulated.

After the synthetic history is loaded, the demo runs one ``successcrew run`` tick a day from
day 1 (45 days before the history ends, so scores read live usage) to day 45, each tick reading
only what its simulated clock allows, in outbox-only mode: provider credentials are dropped for
the simulation, so nothing leaves the machine and every message stays in the outbox to be read.

The CRM is a HubSpot stand-in on another loopback port (demo/hubspot_standin.py), holding the
demo's accounts and contacts as HubSpot companies and contacts: the crew links it in its setup
days, syncs with it daily, pushes scores and creates owner tasks there. On the scenario's outage
days it answers 503; the morning after it syncs cleanly again, the simulated CS lead checks the
CRM data and resumes automation as the rollback rule asks. The usage feed's late backlog is
imported on the day it arrives, through the same importer as the history.

The way back in is real: ``successcrew serve``'s app runs on a loopback port in this process
(demo/inbound.py). After each tick some simulated customers open the survey links in that day's
e-mails and answer, a few unsubscribe with one click (more of the former customers of the
cohort that left, who resent the win-back e-mail, and some report it as spam through the
provider's webhook), and on the day after the first escalation
reaches the chairman, the simulated chairman approves it with a signed Slack button click, so
the next tick carries the decision out. The summary counts what came back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from successcrew.crew.customer_success import CustomerSuccessCrew
from successcrew.definitions.thresholds import Thresholds
from successcrew.demo.hubspot_standin import HubSpotStandIn, serving
from successcrew.demo.inbound import InboundLoop
from successcrew.demo.synthetic import Scenario
from successcrew.settings import Settings
from successcrew.store.models import (
    Account,
    ComponentCheck,
    Contact,
    CrewRun,
    EmailEvent,
    Escalation,
    NpsResponse,
    OutboxMessage,
    PauseHold,
    SetupProgress,
    TriggerEvent,
)

#: Settings that make a provider live; the simulation clears them (outbox only).
CREDENTIALS = (
    "slack_token",
    "hubspot_token",
    "salesforce_token",
    "intercom_token",
    "sendgrid_api_key",
    "mailchimp_api_key",
)
DEMO_SURVEY_SECRET = "successcrew-demo-only-links-are-never-sent"
DEMO_HUBSPOT_TOKEN = "pat-demo-only-hubspot-stand-in"
#: Who lifts the CRM rule's hold once the CRM data is checked (``successcrew resume``'s ``by``).
DEMO_CS_LEAD = "cs-lead (demo)"


@dataclass
class CrewDemoResult:
    """What the simulated days did."""

    first_day: date
    days: int
    tasks_run: int = 0
    failed: int = 0
    setup_completed_on: str | None = None
    daily: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "first_day": self.first_day.isoformat(),
            "days": self.days,
            "tasks_run": self.tasks_run,
            "failed": self.failed,
            "setup_completed_on": self.setup_completed_on,
            "totals": self.totals,
            "daily": self.daily,
        }


def outbox_only(settings: Settings) -> Settings:
    """``settings`` without provider credentials, and with a throwaway survey-link secret when
    none is set (links are signed but never sent in the demo)."""
    update: dict[str, Any] = dict.fromkeys(CREDENTIALS)
    if settings.survey_secret is None:
        update["survey_secret"] = SecretStr(DEMO_SURVEY_SECRET)
    return settings.model_copy(update=update)


def simulate(
    engine: Engine,
    *,
    settings: Settings,
    thresholds: Thresholds,
    first_day: date,
    days: int = 45,
    say: Callable[[str], None] = lambda _m: None,
    scenario: Scenario | None = None,
    usage_backlog: Path | None = None,
) -> CrewDemoResult:
    """Run one tick a day at 06:00 UTC from ``first_day`` for ``days`` days; after each tick the
    simulated customers and chairman answer through the web app on a loopback port.

    ``usage_backlog`` (a usage CSV) is imported on ``scenario.backlog_arrives``."""
    start = datetime(first_day.year, first_day.month, first_day.day, 6, tzinfo=UTC)
    loop = InboundLoop(engine, outbox_only(settings), start=start, scenario=scenario)
    result = CrewDemoResult(first_day=first_day, days=days)
    crm = _DemoCrm(engine, scenario)
    with loop.running(), serving(crm.standin) as crm_url:
        # Links in the e-mails point at the loopback server, where the customers open them.
        crew_settings = outbox_only(settings).model_copy(
            update={
                "public_base_url": loop.base,
                "hubspot_token": SecretStr(DEMO_HUBSPOT_TOKEN),
                "hubspot_api_url": crm_url,
            }
        )
        _run_days(engine, crew_settings, thresholds, loop, result, say, crm, usage_backlog)
    result.totals = totals(engine)
    return result


class _DemoCrm:
    """The stand-in HubSpot with the demo's accounts, down on the scenario's outage days."""

    def __init__(self, engine: Engine, scenario: Scenario | None) -> None:
        self.today: date | None = None
        self.scenario = scenario
        with engine.connect() as conn:
            accounts = conn.execute(
                select(Account.id, Account.external_id, Account.name, Account.owner_email).order_by(
                    Account.id
                )
            ).all()
            contacts = conn.execute(
                select(
                    Contact.account_id,
                    Contact.email,
                    Contact.name,
                    Contact.role,
                    Contact.email_opt_out,
                ).order_by(Contact.id)
            ).all()
        company_of = {a.id: str(1000 + n) for n, a in enumerate(accounts)}
        owners = sorted({a.owner_email for a in accounts if a.owner_email})
        self.standin = HubSpotStandIn(
            DEMO_HUBSPOT_TOKEN,
            # Stamped with our ids: the CRM already knows these customers by them.
            companies=[
                {
                    "id": company_of[a.id],
                    "properties": {"name": a.name, "successcrew_account_id": a.external_id},
                }
                for a in accounts
            ],
            contacts=[
                {
                    "id": str(5000 + n),
                    "properties": {
                        "email": c.email,
                        "firstname": c.name,
                        "jobtitle": c.role,
                        "hs_email_optout": "true" if c.email_opt_out else "false",
                    },
                    "associations": {"companies": {"results": [{"id": company_of[c.account_id]}]}},
                }
                for n, c in enumerate(contacts)
                if c.email
            ],
            owners={email: str(90 + n) for n, email in enumerate(owners)},
            is_down=lambda: (
                self.scenario is not None
                and self.today is not None
                and self.scenario.crm_down(self.today)
            ),
            window_seconds=10,
        )


def _cs_lead_checks_the_crm(engine: Engine, now: datetime, say: Callable[[str], None]) -> None:
    """Once the CRM syncs cleanly again, the CS lead checks its data and lifts the CRM rule's
    hold, as ``successcrew resume automation --rule crm_sync_error_rate`` does."""
    from successcrew.services.platform.pausing import resume
    from successcrew.store.db import transaction

    with transaction(engine) as session:
        held = session.scalar(
            select(func.count()).where(
                PauseHold.held_by == "crm_sync_error_rate",
                PauseHold.kind == "rule",
                PauseHold.lifted_at.is_(None),
            )
        )
        if not held:
            return
        last_ok = session.scalar(
            select(ComponentCheck.ok)
            .where(ComponentCheck.component == "crm_sync", ComponentCheck.checked_at < now)
            .order_by(ComponentCheck.checked_at.desc(), ComponentCheck.id.desc())
            .limit(1)
        )
        if not last_ok:
            return
        reason = "CRM records checked after the HubSpot outage: the synced data is right"
        resume(
            session,
            "automation",
            by=DEMO_CS_LEAD,
            rule="crm_sync_error_rate",
            reason=reason,
            now=now,
        )
    say(f"           the CS lead checks the CRM data and resumes automation: {reason}")


def _deliver_backlog(engine: Engine, path: Path, now: datetime, say: Callable[[str], None]) -> None:
    from successcrew.imports.pipeline import import_file

    outcome = import_file(engine, "usage", path, now=now, actor="demo")
    say(f"           the usage feed's backlog arrives: {outcome.inserted} rows imported")


def crew_runs_between(engine: Engine, first_day: date, days: int) -> int:
    """Crew runs already recorded for the simulated days ``first_day`` .. ``first_day + days``."""
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    CrewRun.simulated_now >= start,
                    CrewRun.simulated_now < start + timedelta(days=days),
                )
            ).scalar_one()
        )


def _run_days(
    engine: Engine,
    settings: Settings,
    thresholds: Thresholds,
    loop: InboundLoop,
    result: CrewDemoResult,
    say: Callable[[str], None],
    crm: _DemoCrm,
    usage_backlog: Path | None,
) -> None:
    crew = CustomerSuccessCrew(engine, settings=settings, thresholds=thresholds)
    scenario = crm.scenario
    first_day, days = result.first_day, result.days
    approved: int | None = None
    try:
        for n in range(days):
            now = datetime(first_day.year, first_day.month, first_day.day, 6, tzinfo=UTC) + (
                timedelta(days=n)
            )
            if approved is None:
                approved = _play_chairman(engine, loop, now, say)
            _cs_lead_checks_the_crm(engine, now - timedelta(hours=1), say)
            if usage_backlog is not None and scenario and scenario.backlog_arrives == now.date():
                _deliver_backlog(engine, usage_backlog, now - timedelta(hours=2), say)
            crm.today = now.date()
            summary = crew.run(now)
            came = loop.customers_act(now + timedelta(hours=3))
            result.tasks_run += summary.count("succeeded") + summary.count("failed")
            result.failed += summary.count("failed")
            setup_ran = [t.task for t in summary.tasks if t.kind == "setup"]
            line = {
                "day": n + 1,
                "date": now.date().isoformat(),
                "setup": setup_ran,
                "operations": summary.count("succeeded")
                + summary.count("failed")
                - len([t for t in summary.tasks if t.kind == "setup" and t.status != "skipped"]),
                "failed": summary.count("failed"),
                "triggers_fired": summary.triggers_fired,
                "messages_queued": summary.messages_queued,
                "survey_answers": came["answers"],
                "unsubscribes": came["unsubscribes"],
                "spam_reports": came["spam_reports"],
            }
            result.daily.append(line)
            if result.setup_completed_on is None and not summary.not_due.keys() & {
                s.id for s in crew.steps
            }:
                with engine.connect() as conn:
                    open_steps = conn.execute(
                        select(func.count()).where(SetupProgress.status.in_(("pending", "failed")))
                    ).scalar_one()
                if open_steps == 0:
                    result.setup_completed_on = now.date().isoformat()
            if setup_ran or line["triggers_fired"] or line["failed"] or n == days - 1:
                say(
                    f"day {n + 1:>2} {now.date()}: "
                    + (f"setup {', '.join(setup_ran)}; " if setup_ran else "")
                    + f"{line['operations']} operation(s), {line['triggers_fired']} trigger(s) "
                    f"fired, {line['messages_queued']} message(s) queued"
                    + (f", {line['failed']} failed" if line["failed"] else "")
                    + (
                        f"; customers answered {came['answers']} survey(s), "
                        f"{came['unsubscribes']} unsubscribed"
                        if came["answers"] or came["unsubscribes"]
                        else ""
                    )
                    + (
                        f", {came['spam_reports']} reported a campaign e-mail as spam"
                        if came["spam_reports"]
                        else ""
                    )
                )
    finally:
        crew.close()


def _play_chairman(
    engine: Engine, loop: InboundLoop, now: datetime, say: Callable[[str], None]
) -> int | None:
    """Approve the oldest open escalation raised before today with a signed Slack click."""
    with engine.connect() as conn:
        esc = conn.execute(
            select(Escalation.__table__)
            .where(Escalation.status == "open", Escalation.created_at < now - timedelta(hours=12))
            .order_by(Escalation.id)
            .limit(1)
        ).first()
    if esc is None:
        return None
    loop.chairman_clicks(esc.id, now - timedelta(hours=1))
    with engine.connect() as conn:
        status = conn.execute(select(Escalation.status).where(Escalation.id == esc.id)).scalar_one()
    if status != "approved":
        return None
    say(f"           the chairman approves escalation {esc.id} in Slack: {esc.title}")
    return int(esc.id)


def totals(engine: Engine) -> dict[str, Any]:
    """What the crew left behind: setup, triggers, escalations, outbox by channel and status."""
    with engine.connect() as conn:
        setup = dict(
            conn.execute(
                select(SetupProgress.status, func.count()).group_by(SetupProgress.status)
            ).all()
        )
        triggers = dict(
            conn.execute(select(TriggerEvent.code, func.count()).group_by(TriggerEvent.code)).all()
        )
        escalations = dict(
            conn.execute(select(Escalation.status, func.count()).group_by(Escalation.status)).all()
        )
        carried_out = conn.execute(
            select(func.count()).where(Escalation.carried_out_at.is_not(None))
        ).scalar_one()
        outbox = [
            {"channel": ch, "status": st, "messages": n}
            for ch, st, n in conn.execute(
                select(OutboxMessage.channel, OutboxMessage.status, func.count())
                .group_by(OutboxMessage.channel, OutboxMessage.status)
                .order_by(OutboxMessage.channel, OutboxMessage.status)
            )
        ]
        came_back = {
            "survey_answers": conn.execute(
                select(func.count()).where(NpsResponse.external_id.like("survey:%"))
            ).scalar_one(),
            "unsubscribed_contacts": conn.execute(
                select(func.count()).where(Contact.unsubscribed_at.is_not(None))
            ).scalar_one(),
            "spam_reports": conn.execute(
                select(func.count()).where(EmailEvent.kind == "spam_complaint")
            ).scalar_one(),
            "slack_decisions": conn.execute(
                select(func.count()).where(Escalation.decided_via == "slack")
            ).scalar_one(),
        }
    return {
        "setup": setup,
        "trigger_events": triggers,
        "escalations": {**escalations, "carried_out": carried_out},
        "outbox": outbox,
        "came_back": came_back,
    }
