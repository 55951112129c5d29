"""``successcrew score``, ``health`` (with ``override`` / ``clear``), ``gates`` and ``backtest``.

Exit codes: 0 ok; 1 the work failed (scoring failed and the last good scores were carried
forward; a gate did not pass); 2 bad input or configuration.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import typer

from successcrew import numbers
from successcrew.console import console, plain, print_json
from successcrew.errors import InputError

BANDS = ("healthy", "at_risk", "critical")
BAND_LABELS = {"healthy": "Healthy", "at_risk": "At-Risk", "critical": "Critical"}


def _date(value: str | None, option: str, default: date | None = None) -> date | None:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option} {value!r} is not a date (expected YYYY-MM-DD)") from None


def _today(now: str | None) -> tuple[Any, date]:
    from successcrew.clock import parse_now

    moment = parse_now(now)
    return moment, moment.date()


def _component_line(name: str, comp: dict[str, Any], stale: bool = False) -> str:
    raw = comp.get("raw")
    if stale:
        return f"  {name:<18} input not fresh (left out)"
    if raw is None:
        return f"  {name:<18} no data (left out)"
    return (
        f"  {name:<18} raw {numbers.measure(raw):>8}  norm {comp.get('normalised', 0):.2f}  "
        f"w {comp.get('weight', 0):4.1f}  {comp.get('contribution', 0):+5.1f} pts"
    )


def register(app: typer.Typer) -> None:
    """Add the health commands to ``app``."""

    @app.command()
    def score(
        ctx: typer.Context,
        as_of: str = typer.Option(
            None, "--as-of", help="Scoring date (YYYY-MM-DD); default today."
        ),
        allow_future: bool = typer.Option(
            False, "--allow-future", help="Accept an --as-of after today (see --delete)."
        ),
        delete: str = typer.Option(
            None, "--delete", help="Remove every snapshot of this date (YYYY-MM-DD), audited."
        ),
        by: str = typer.Option(
            "successcrew score --delete", "--by", help="Who deletes (kept in the audit log)."
        ),
        now: str = typer.Option(None, "--now", help="Pretend the time is this (ISO)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Compute and store health snapshots for every customer as of a date.

        Exit 1 when nothing new could be scored (a failure, or input data too old: the last
        good scores are carried forward, flagged stale); 2 for bad input.
        """
        from successcrew.services.scoring.health_scores import (
            ScoringHeld,
            delete_scores,
            run_scoring,
        )

        moment, today = _today(now)
        runtime = ctx.obj
        if delete is not None:
            if as_of is not None:
                raise InputError("--delete and --as-of: give one of them")
            gone = _date(delete, "--delete")
            assert gone is not None
            deleted = delete_scores(runtime.ready_engine(), gone, actor=by, now=moment)
            if as_json:
                print_json({"deleted": deleted, "as_of": gone.isoformat()})
            elif deleted:
                console.print(f"deleted {deleted} health snapshot(s) of {gone} (audited)")
            else:
                console.print(f"no health snapshots stored for {gone}; nothing deleted")
            return
        day = _date(as_of, "--as-of", today)
        assert day is not None
        if day > today and not allow_future:
            raise InputError(
                f"--as-of {day} is after today ({today}): scores for a future date would "
                "become the latest scores every listing and trigger reads. Pass "
                "--allow-future if you mean it (and `successcrew score --delete DATE` removes "
                "a date scored by mistake)."
            )
        engine = runtime.ready_engine()
        outcome = run_scoring(
            engine,
            runtime.thresholds.health_bands,
            day,
            now=moment,
            freshness=runtime.thresholds.data_freshness,
        )
        summary = outcome.summary
        if as_json:
            print_json(summary)
        elif not outcome.held:
            console.print(
                f"scored {numbers.count(summary['scored'])} of "
                f"{numbers.count(summary['eligible'])} customers as of {day} "
                f"(model {summary['model_version']}); "
                f"{numbers.count(summary['unscored_no_data'])} without any data",
                soft_wrap=True,
            )
            for band in BANDS:
                console.print(
                    f"  {BAND_LABELS[band]:<9} {numbers.count(summary['bands'].get(band, 0))}"
                )
            if summary["overridden"]:
                console.print(
                    f"  {numbers.count(summary['overridden'])} score(s) set by a manual override"
                )
            for line in outcome.warnings():
                console.print(plain(line), soft_wrap=True)
        if outcome.held:
            # Said on stderr like every error, exit 1: the work is retried by the next run.
            raise ScoringHeld(outcome.error or f"no new scores for {day}: data not fresh")

    health_app = typer.Typer(
        help="Health scores: list them, explain one account, set or clear manual overrides.",
        invoke_without_command=True,
        no_args_is_help=False,
    )
    app.add_typer(health_app, name="health")

    @health_app.callback()
    def health(
        ctx: typer.Context,
        as_of: str = typer.Option(None, "--as-of", help="Date (default: latest scoring date)."),
        band: str = typer.Option(
            None, "--band", help="Only this band: healthy, at_risk, critical."
        ),
        account: str = typer.Option(None, "--account", help="One account (external id): explain."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """List scores with band and components; with --account, what moved its score."""
        if ctx.invoked_subcommand is not None:
            return
        from successcrew.store.db import transaction
        from successcrew.store.snapshots import (
            account_by_external_id,
            explain,
            latest_as_of,
            list_snapshots,
            snapshot_of,
        )

        if band is not None:
            band = band.lower().replace("-", "_")
            if band not in BANDS:
                raise InputError(f"--band {band!r}: expected one of {', '.join(BANDS)}")
        day = _date(as_of, "--as-of")
        engine = ctx.obj.ready_engine()
        with transaction(engine) as session:
            if account is not None:
                acc = account_by_external_id(session, account)
                if acc is None:
                    raise InputError(f"--account {account!r}: no account with that external id")
                when = day or latest_as_of(session)
                explanation = None if when is None else explain(session, acc.id, when)
                if explanation is None:
                    raise InputError(
                        f"--account {account!r}: no health snapshot yet; run `successcrew score`"
                    )
                snap = snapshot_of(session, acc.id, explanation.as_of)
                _show_account(acc, snap, explanation, as_json)
                return
            when = day or latest_as_of(session)
            rows = [] if when is None else list_snapshots(session, when, band)
        document = {
            "as_of": when.isoformat() if when else None,
            "band": band,
            "accounts": [
                {
                    "account": a.external_id,
                    "name": a.name,
                    "segment": a.segment,
                    "score": s.score,
                    "computed_score": s.computed_score,
                    "band": s.band,
                    "stale": s.stale,
                    "override_id": s.override_id,
                    "model_version": s.model_version,
                    "missing_components": s.missing_components,
                    "stale_components": s.stale_components,
                    "components": s.components,
                }
                for a, s in rows
            ],
        }
        if as_json:
            print_json(document)
            return
        if when is None:
            console.print("no health scores yet; run `successcrew score`")
            return
        console.print(f"[bold]health as of {when}[/] ({numbers.count(len(rows))} accounts)")
        edges = ctx.obj.thresholds.health_bands.boundaries
        for a, s in rows:
            flags = (" [override]" if s.override_id else "") + (" [stale]" if s.stale else "")
            contrib = ", ".join(
                f"{name} {numbers.count(c['contribution'])}"
                for name, c in s.components.items()
                if c.get("raw") is not None
            )
            console.print(
                f"{plain(a.external_id):<14} {numbers.score(s.score, edges):>6} "
                f"{BAND_LABELS[s.band]:<8}{flags} "
                f"{plain(a.name)}: {contrib}"
            )

    def _show_account(acc: Any, snap: Any, explanation: Any, as_json: bool) -> None:
        from dataclasses import asdict

        if as_json:
            doc = asdict(explanation)
            doc["account"] = acc.external_id
            doc["components"] = snap.components
            doc["missing_components"] = snap.missing_components
            doc["stale_components"] = snap.stale_components
            doc["computed_score"] = snap.computed_score
            doc["model_version"] = snap.model_version
            print_json(doc)
            return
        console.print(
            f"[bold]{plain(acc.external_id)}[/] {plain(acc.name)} ({plain(acc.segment or '-')}), "
            f"as of {explanation.as_of}: {plain(explanation.summary())}"
        )
        for line in explanation.notes:
            console.print(f"  note: {plain(line)}")
        for mover in explanation.movers:
            console.print(f"  {plain(mover.text)}")
        console.print(f"components (model {snap.model_version}):")
        for name, comp in snap.components.items():
            stale = name in snap.stale_components
            console.print(plain(_component_line(name, comp, stale)))

    @health_app.command("override")
    def override(
        ctx: typer.Context,
        account: str = typer.Argument(..., help="Account external id."),
        score_value: float = typer.Option(..., "--score", help="Manual score 0-100."),
        reason: str = typer.Option(..., "--reason", help="Why (kept in the audit log)."),
        by: str = typer.Option(..., "--by", help="Who sets it."),
        expires: str = typer.Option(None, "--expires", help="Last day before expiry: YYYY-MM-DD."),
        now: str = typer.Option(None, "--now", help="Pretend the time is this (ISO)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Set a manual score; scoring runs keep it (and the computed score beside it)."""
        from successcrew.services.scoring.overrides import override_score
        from successcrew.store.db import transaction

        moment, _ = _today(now)
        expiry_day = _date(expires, "--expires")
        with transaction(ctx.obj.ready_engine()) as session:
            row = override_score(
                session,
                account,
                score=score_value,
                reason=reason,
                by=by,
                expires=expiry_day,
                now=moment,
            )
            doc = {
                "override_id": row.id,
                "account": account,
                "score": score_value,
                "expires_at": row.expires_at.isoformat() if row.expires_at else None,
            }
        if as_json:
            print_json(doc)
        else:
            console.print(
                f"override {doc['override_id']} set: {plain(account)} scores {score_value:g} "
                f"from the next `successcrew score` on"
                + (f", until {expiry_day}" if expiry_day else ", until cleared")
            )

    @health_app.command("clear")
    def clear(
        ctx: typer.Context,
        account: str = typer.Argument(..., help="Account external id."),
        by: str = typer.Option(..., "--by", help="Who clears it."),
        now: str = typer.Option(None, "--now", help="Pretend the time is this (ISO)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Clear the account's manual override(s); the next run uses the computed score."""
        from successcrew.store.db import transaction
        from successcrew.store.snapshots import account_by_external_id, clear_overrides

        moment, _ = _today(now)
        with transaction(ctx.obj.ready_engine()) as session:
            acc = account_by_external_id(session, account)
            if acc is None:
                raise InputError(f"ACCOUNT {account!r}: no account with that external id")
            cleared = clear_overrides(session, acc, author=by, now=moment)
        if as_json:
            print_json({"account": account, "cleared": cleared})
        else:
            console.print(f"{plain(account)}: {cleared} override(s) cleared")

    @app.command()
    def gates(
        ctx: typer.Context,
        as_of: str = typer.Option(None, "--as-of", help="Date (default today)."),
        now: str = typer.Option(None, "--now", help="Pretend the time is this (ISO)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Stage 32 exit gates: retention improving and NPS positive. Exit 0 both pass, else 1."""
        from successcrew.store.db import transaction
        from successcrew.store.metric_queries import (
            evaluate_gates,
            nps_by_segment,
            nps_figures,
            portfolio_retention,
        )

        _, today = _today(now)
        day = _date(as_of, "--as-of", today)
        assert day is not None
        runtime = ctx.obj
        window = runtime.thresholds.nps.rolling_window_days
        with transaction(runtime.ready_engine()) as session:
            results = evaluate_gates(session, day, runtime.thresholds)
            retention = portfolio_retention(session, day)
            nps = {
                "overall": nps_figures(session, day, None).as_dict(),
                "rolling_30d": nps_figures(session, day, 30).as_dict(),
                f"rolling_{window}d": nps_figures(session, day, window).as_dict(),
                "by_segment": [f.as_dict() for f in nps_by_segment(session, day, window)],
            }
        passed = all(r.passed for r in results)
        if as_json:
            print_json(
                {
                    "as_of": day.isoformat(),
                    "passed": passed,
                    "gates": [r.__dict__ for r in results],
                    "retention": retention.as_dict(),
                    "nps": nps,
                }
            )
        else:
            for r in results:
                verdict = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
                console.print(f"{verdict} {r.name}: {plain(r.detail)}")
            console.print("all gates pass" if passed else "not all gates pass")
        if not passed:
            raise typer.Exit(1)

    @app.command()
    def backtest(
        ctx: typer.Context,
        start: str = typer.Option(None, "--from", help="First date (YYYY-MM-DD)."),
        end: str = typer.Option(None, "--to", help="Last date (YYYY-MM-DD)."),
        horizon: int = typer.Option(90, "--horizon-days", min=1, max=730, help="Churn horizon."),
        now: str = typer.Option(None, "--now", help="Pretend the time is this (ISO)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Replay the health model monthly over history against churn in the next 90 days."""
        from successcrew.definitions.health_model import load_health_model
        from successcrew.services.scoring.health_scores import default_backtest_range, run_backtest
        from successcrew.store.db import session_factory

        model = load_health_model()
        moment, _ = _today(now)
        runtime = ctx.obj
        # A plain session that is never committed: the backtest scores in memory only.
        with session_factory(runtime.ready_engine())() as session:
            first = _date(start, "--from")
            last = _date(end, "--to")
            if first is None or last is None:
                d_first, d_last = default_backtest_range(session, horizon)
                first, last = first or d_first, last or d_last
            if first > last:
                raise InputError(f"--from {first} is after --to {last}")
            result = run_backtest(
                session,
                model,
                runtime.thresholds.health_bands,
                first,
                last,
                now=moment,
                horizon_days=horizon,
            )
        if as_json:
            print_json(result.as_dict())
            return
        auc = numbers.decimal(result.auc, 3, missing="no data")
        lift = numbers.decimal(result.top_decile_lift, 2, missing="no data")
        lift += "" if result.top_decile_lift is None else "x"
        console.print(
            f"backtest of model {result.model_version}, {len(result.months)} monthly dates "
            f"{first} .. {last}, churn within {horizon} days"
        )
        console.print(
            f"{numbers.count(result.observations)} account-dates, "
            f"{numbers.count(result.churned)} churned: "
            f"ROC AUC {auc}, top-decile lift {lift}"
        )
        for b in result.bands:
            console.print(
                f"  {BAND_LABELS.get(b.band, b.band):<9} {numbers.count(b.accounts):>7} "
                f"account-dates, {numbers.count(b.churned):>5} churned "
                f"({numbers.percent(b.churn_rate_pct)})"
            )
        for m in result.months:
            console.print(
                f"  {m.as_of}: {numbers.count(m.accounts)} accounts, "
                f"{numbers.count(m.churned)} churned, AUC {numbers.decimal(m.auc, 3, 'n/a')}"
            )
