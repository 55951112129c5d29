"""``successcrew integrations``: check provider credentials, sync CRMs, dispatch the outbox."""

from __future__ import annotations

import typer

from successcrew.console import console, plain, print_json


def register(app: typer.Typer) -> None:
    """Add the ``integrations`` group to ``app``."""
    group = typer.Typer(help="Provider credentials, CRM sync and the outbox.", no_args_is_help=True)
    app.add_typer(group, name="integrations")

    @group.command()
    def check(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Validate each configured provider's credentials with one cheap call.

        Exit 0 when every configured provider works, 1 otherwise. Providers without credentials
        are reported as outbox only and do not fail the check.
        """
        from successcrew.integrations.http import HttpPolicy
        from successcrew.integrations.providers import check_providers

        report = check_providers(ctx.obj.settings, HttpPolicy(retry=ctx.obj.thresholds.retries))
        ok = all(r["ok"] is not False for r in report.values())
        if as_json:
            print_json({"ok": ok, "providers": report})
        else:
            for name, r in report.items():
                mark = {True: "[green]ok[/]", False: "[red]FAILED[/]", None: "[dim]-[/]"}[r["ok"]]
                console.print(f"{name:<11} {mark}  {plain(r['detail'])}")
        if not ok:
            raise typer.Exit(1)

    @group.command()
    def sync(
        ctx: typer.Context,
        now: str = typer.Option(None, "--now", help="Simulated time (ISO date or timestamp)."),
        push: bool = typer.Option(True, "--push/--no-push", help="Push health scores back."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Pull accounts and contacts from each configured CRM and push health scores back.

        Exit 1 when the error rate is above ``rollback.crm_sync_error_rate_pct``.
        """
        from successcrew.clock import parse_now
        from successcrew.integrations import providers, sync_crm
        from successcrew.integrations.http import HttpPolicy

        rt = ctx.obj
        engine = rt.ready_engine()
        policy = HttpPolicy(retry=rt.thresholds.retries)
        connectors = [
            c
            for name in providers.CRM_PROVIDERS
            if (c := providers.crm_connector(rt.settings, name, policy)) is not None
        ]
        try:
            summary = sync_crm(engine, connectors, rt.thresholds, parse_now(now), push=push)
        finally:
            for c in connectors:
                c.close()
        if as_json:
            print_json(summary.as_dict())
        elif not connectors:
            console.print("no CRM configured (outbox only): nothing to sync")
        else:
            for p in summary.providers:
                console.print(
                    f"{p.provider}: {p.accounts_pulled} accounts, {p.contacts_pulled} contacts "
                    f"pulled; {p.scores_pushed} scores pushed; {p.failed} failed"
                )
                for error in p.errors[:5]:
                    console.print(f"  {plain(error)}")
            console.print(f"error rate {summary.error_rate_pct:g}%")
        if not summary.ok:
            raise typer.Exit(1)

    @group.command()
    def dispatch(
        ctx: typer.Context,
        now: str = typer.Option(None, "--now", help="Simulated time (ISO date or timestamp)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Send due outbox messages now. Exit 1 when some failed (they are retried later)."""
        from successcrew.clock import parse_now
        from successcrew.integrations import dispatch as run_dispatch
        from successcrew.integrations import outbox_summary
        from successcrew.store.db import transaction

        rt = ctx.obj
        engine = rt.ready_engine()
        summary = run_dispatch(engine, rt.settings, rt.thresholds, parse_now(now))
        with transaction(engine) as session:
            outbox = outbox_summary(session)
        if as_json:
            print_json({"dispatch": summary.as_dict(), "outbox": outbox})
        else:
            console.print(
                f"delivered {summary.delivered}, recovered {summary.recovered}, "
                f"retrying {summary.retried}, dead {summary.dead}, "
                f"suppressed {summary.suppressed}, held {summary.held}"
            )
            for reason, count in outbox["held_reasons"].items():
                console.print(f"  held {count}: {plain(reason)}")
            for error in summary.errors[:10]:
                console.print(f"  {plain(error)}")
        if summary.errors:
            raise typer.Exit(1)
