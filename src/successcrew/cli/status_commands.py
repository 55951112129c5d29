"""``successcrew status``: what the database holds and what state the crew is in."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

import typer

from successcrew.console import console, err_console, plain, print_json
from successcrew.numbers import amount, count, share

if TYPE_CHECKING:
    from successcrew.crew.setup_status import RunLine, SetupProgressLines
    from successcrew.services.model.records import ModelStatus
    from successcrew.services.platform.system_health import ComponentHealth
    from successcrew.store.outbox import OutboxSummary
    from successcrew.store.summary import AuditLine, DataSummary, OpenHold, ScoreSummary


class StatusDocument(TypedDict):
    """``status --json``: the core keys, then one or more keys per STATUS_SECTIONS entry."""

    database: str
    schema: str | None
    as_of: str
    data: DataSummary
    scores: ScoreSummary
    paused: list[OpenHold]
    recent_actions: list[AuditLine]
    outbox: NotRequired[OutboxSummary]
    system_health: NotRequired[list[ComponentHealth]]
    extensions: NotRequired[dict[str, list[dict[str, str]]]]
    setup: NotRequired[SetupProgressLines]
    last_runs: NotRequired[list[RunLine]]
    trigger_files_not_synced: NotRequired[list[str]]
    data_freshness: NotRequired[dict[str, Any]]
    model: NotRequired[ModelStatus]


#: Extra sections (``"module:function"``) taking (connection, runtime, now) -> dict, added by
#: later parts (outbox, system health, setup progress).
STATUS_SECTIONS: tuple[str, ...] = (
    "successcrew.cli.status_commands:outbox_section",
    "successcrew.services.platform.system_health:status_section",
    "successcrew.crew.setup_status:status_section",
    "successcrew.services.triggers.evaluation:trigger_files_section",
    "successcrew.services.scoring.health_scores:status_section",
    "successcrew.services.model.records:status_section",
)

#: Printers (``"module:function"``) taking (document, echo) for the sections above.
STATUS_RENDERERS: tuple[str, ...] = (
    "successcrew.services.scoring.health_scores:render_status_section",
    "successcrew.crew.setup_status:render_status_section",
    "successcrew.services.model.records:render_status_section",
)


def outbox_section(conn: Any, runtime: Any, now: Any) -> dict[str, OutboxSummary]:
    """Outbox counts by status, dead letters and why messages are held."""
    from sqlalchemy.orm import Session

    from successcrew.store.outbox import outbox_summary

    with Session(bind=conn) as session:
        return {"outbox": outbox_summary(session)}


def collect_status(runtime: Any, now: Any) -> StatusDocument:
    """The whole status document."""
    from successcrew.store.db import redacted_url
    from successcrew.store.migrate import current_revision
    from successcrew.store.summary import data_summary, last_audit, pause_summary, score_summary

    engine = runtime.ready_engine()
    database, schema = redacted_url(engine), current_revision(engine)
    with engine.connect() as conn:
        document: StatusDocument = {
            "database": database,
            "schema": schema,
            "as_of": now.isoformat(),
            "data": data_summary(conn, today=now.date()),
            "scores": score_summary(conn),
            "paused": pause_summary(conn),
            "recent_actions": last_audit(conn),
        }
        for section in STATUS_SECTIONS:
            module, _, name = section.partition(":")
            document.update(getattr(importlib.import_module(module), name)(conn, runtime, now))
    return document


def render(document: StatusDocument) -> None:
    """Print the status document for a person."""
    data = document["data"]
    acc = data["accounts"]
    console.print(f"[bold]database[/] {plain(document['database'])} (schema {document['schema']})")
    segments = ", ".join(f"{k} {v}" for k, v in sorted(acc["active_by_segment"].items()))
    console.print(
        f"accounts  {count(acc['active'])} active ({segments or 'none'}), "
        f"{count(acc['churned'])} churned; "
        f"active ARR {amount(acc['active_arr'])}"
    )
    console.print(
        f"contacts  {count(data['contacts']['total'])} "
        f"({count(data['contacts']['opted_out'])} opted out)"
    )
    usage = data["usage"]
    span = f"{usage['first_day']} .. {usage['last_day']}" if usage["first_day"] else "no data"
    console.print(
        f"usage     {count(usage['daily_rows'])} daily rows, "
        f"{count(usage['raw_events'])} raw events ({span})"
    )
    console.print(
        f"tickets   {count(data['tickets']['total'])} ({count(data['tickets']['open'])} open); "
        f"invoices {count(data['invoices']['total'])} "
        f"({count(data['invoices']['overdue'])} overdue)"
    )
    nps = data["nps"]
    value = "no data" if nps["nps_all_time"] is None else f"{nps['nps_all_time']:+.1f}"
    console.print(f"nps       {count(nps['responses'])} responses, NPS all time {value}")
    scores = document["scores"]
    if scores["as_of"]:
        bands = scores["bands"]
        total = sum(bands.values()) or 1
        shares = ", ".join(
            f"{count(bands.get(b, 0))} {b.replace('_', '-')} ({share(bands.get(b, 0), total)})"
            for b in ("healthy", "at_risk", "critical")
        )
        extra = "".join(
            f", {n} {what}"
            for n, what in ((scores["manual"], "manual"), (scores["stale"], "stale"))
            if n
        )
        console.print(f"scores    as of {scores['as_of']}: {shares}{extra}")
    else:
        console.print("scores    none yet (`successcrew score`)")
    outbox = document.get("outbox")
    if outbox:
        counts = ", ".join(f"{n} {status}" for status, n in outbox["counts"].items() if n)
        console.print(f"outbox    {counts or 'empty'}")
        for reason, n in outbox["held_reasons"].items():
            console.print(f"          {n} held: {plain(reason)}")
        for dead in outbox["dead_letters"][:5]:
            console.print(
                f"[bold red]dead[/]      #{dead['id']} {dead['channel']} after {dead['attempts']} "
                f"attempts: {plain(dead['last_error'] or '')}"
            )
    if document["paused"]:
        for flag in document["paused"]:
            console.print(
                f"[bold yellow]paused[/]    {flag['scope']} since {flag['since']} by "
                f"{'rule ' if flag['kind'] == 'rule' else ''}{plain(flag['by'])}: "
                f"{plain(flag['reason'] or '')}"
            )
    else:
        console.print("paused    nothing")
    for row in document.get("system_health", []):
        uptime = "no checks" if row["uptime_pct"] is None else f"{row['uptime_pct']:.2f} %"
        verdict = "" if row["meets_slo"] is None else (" ok" if row["meets_slo"] else " BELOW")
        label = "[bold red]health[/]" if row["alerting"] else "health"
        console.print(
            f"{label}    {row['component']}: {row['consecutive_failures']} failures in a "
            f"row; uptime {row['window_days']}d {uptime} (SLO {row['slo_pct']:g} %{verdict})"
            + (f"; last error: {plain(row['last_error'])}" if row["last_error"] else ""),
            soft_wrap=True,
        )
    for renderer in STATUS_RENDERERS:
        module, _, name = renderer.partition(":")
        getattr(importlib.import_module(module), name)(
            document, lambda line: console.print(plain(line), soft_wrap=True)
        )


def register(app: typer.Typer) -> None:
    """Add ``status`` to ``app``."""

    @app.command()
    def status(
        ctx: typer.Context,
        now: str = typer.Option(None, "--now", help="Clock for the report (ISO date or time)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Show what the database holds and the state of the crew."""
        from successcrew.clock import parse_now
        from successcrew.services.triggers.evaluation import unsynced_warning

        document = collect_status(ctx.obj, parse_now(now))
        warning = unsynced_warning(document.get("trigger_files_not_synced", []))
        if warning:
            err_console.print(f"[bold yellow]warning:[/] {plain(warning)}", soft_wrap=True)
        if as_json:
            print_json(document)
        else:
            render(document)
