"""``successcrew programs``, ``surveys``, ``feedback`` and ``report``.

Retention programs (playbooks, A/B results), NPS survey waves, reading NPS comments, and the
insights report. Heavy modules are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from successcrew import numbers
from successcrew.console import console, plain, print_json


def _reach_line(evaluation: dict[str, Any]) -> str | None:
    """Whether the program's treatment reached its enrolled accounts, when it matters: nothing
    delivered at all, or some accounts never reached (left out of the A/B figures)."""
    from successcrew.domain.abtest import NO_TREATMENT

    enrolled, reached = evaluation["enrolled"], evaluation["reached"]
    if not enrolled or reached == enrolled:
        return None
    states = ", ".join(f"{n} {state}" for state, n in evaluation["messages"].items() if n)
    why = f"messages: {states}" if states else "no message queued"
    if evaluation["held_reason"]:
        why += f"; held because {evaluation['held_reason']}"
    if not reached:
        return f"{NO_TREATMENT}: {enrolled} enrolled for treatment, none reached ({why})"
    return (
        f"{reached} of {enrolled} enrolled for treatment reached; {enrolled - reached} never "
        f"reached are not counted in the results ({why})"
    )


def _programs_document(ctx: typer.Context, now: Any) -> dict[str, Any]:
    from successcrew.definitions.playbooks import load_playbooks
    from successcrew.domain.program_rules import pause_scope
    from successcrew.services.programs.results import enrolment_summary, evaluate
    from successcrew.store.db import transaction
    from successcrew.store.pauses import paused_scopes

    books = load_playbooks()
    engine = ctx.obj.ready_engine()
    with transaction(engine) as session:
        enrolments = enrolment_summary(session)
        paused = paused_scopes(session)
        programs = []
        for book in books:
            holds = [
                h.as_dict()
                for scope in ("automation", "campaigns", pause_scope(book.id))
                for h in (paused[scope].holds if scope in paused else ())
            ]
            programs.append(
                {
                    "id": book.id,
                    "name": book.spec.name,
                    "file": str(book.path),
                    "enabled": book.spec.enabled,
                    "paused": None
                    if not holds
                    else {
                        "scope": holds[0]["scope"],
                        "reason": "; ".join(h["reason"] for h in holds),
                        "by": ", ".join(h["by"] for h in holds),
                        "holds": holds,
                    },
                    "entry": [r.model_dump() for r in book.spec.entry],
                    "exit": list(book.spec.exit),
                    "holdout_pct": book.spec.holdout_pct,
                    "arms": [name for name, _ in book.arms()],
                    "steps": [
                        {"id": s.id, "kind": s.kind, "delay_days": s.delay_days}
                        for s in book.steps_for(book.arms()[0][0])
                    ],
                    "enrolments": enrolments.get(
                        book.id, {"total": 0, "by_status": {}, "by_variant": {}, "exit_reasons": {}}
                    ),
                    "evaluation": evaluate(session, book, now=now).as_dict(),
                }
            )
    return {"as_of": now.isoformat(), "programs": programs}


def register(app: typer.Typer) -> None:
    """Add ``programs``, ``surveys``, ``feedback`` and ``report`` to ``app``."""
    programs_app = typer.Typer(
        help="Retention programs (playbooks): list them with enrolments and A/B results; run them.",
        invoke_without_command=True,
        no_args_is_help=False,
    )
    app.add_typer(programs_app, name="programs")

    @programs_app.callback()
    def programs(
        ctx: typer.Context,
        now: str = typer.Option(None, "--now", help="Clock (ISO date or time)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """List programs, their enrolments and A/B results against the holdout."""
        if ctx.invoked_subcommand is not None:
            return
        from successcrew.clock import parse_now
        from successcrew.domain.abtest import NO_TREATMENT

        document = _programs_document(ctx, parse_now(now))
        if as_json:
            print_json(document)
            return
        for p in document["programs"]:
            state = "paused: " + plain(p["paused"]["reason"] or "") if p["paused"] else "running"
            e = p["enrolments"]
            console.print(
                f"[bold]{p['id']}[/] {plain(p['name'])} ({state}); holdout {p['holdout_pct']:g} %, "
                f"arms {', '.join(p['arms'])}; {numbers.count(e['total'])} enrolments "
                + ", ".join(f"{k} {numbers.count(v)}" for k, v in sorted(e["by_status"].items()))
            )
            ev = p["evaluation"]
            reach = _reach_line(ev)
            if reach:
                console.print(f"  {plain(reach)}")
            for c in ev["comparisons"]:
                if c["verdict"] == NO_TREATMENT:
                    console.print(
                        f"  {c['variant']}: {NO_TREATMENT} "
                        f"({numbers.count(c['not_reached'])} matured enrolments, none reached)"
                    )
                    continue
                line = (
                    f"  {c['variant']}: {numbers.rate(c['rate'])} of {numbers.count(c['n'])} "
                    f"reached vs holdout {numbers.rate(c['holdout_rate'])} of "
                    f"{numbers.count(c['holdout_n'])}"
                )
                if c["not_reached"]:
                    line += f" ({numbers.count(c['not_reached'])} never reached, not counted)"
                if c["uplift"] is not None:
                    low, high = c["ci95"]
                    line += (
                        f"; uplift {numbers.points(c['uplift'])} (95 % CI {numbers.points(low)} to "
                        f"{numbers.points(high)}), p = {c['p_value']:.3f}"
                    )
                console.print(f"{line} -> {c['verdict']}")

    @programs_app.command("run")
    def programs_run(
        ctx: typer.Context,
        now: str = typer.Option(None, "--now", help="Clock (ISO date or time)."),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="List what would be queued; write nothing."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Exit, enrol and run due steps for every program; pause one whose feedback turns bad.
        With --dry-run: what would be queued (by program, step and channel, with a sample)."""
        from successcrew.cli.previews import SAMPLE_SIZE, print_preview
        from successcrew.clock import parse_now
        from successcrew.definitions.playbooks import load_playbooks, load_program_settings
        from successcrew.services.programs.runs import run_programs
        from successcrew.store.db import rolled_back, transaction

        clock = parse_now(now)
        books = load_playbooks()
        settings = load_program_settings()
        runtime = ctx.obj
        # A dry run is the real run in a transaction that is rolled back: the same decisions,
        # nothing kept.
        session_for = rolled_back if dry_run else transaction
        with session_for(runtime.ready_engine()) as session:
            result = run_programs(
                session,
                books,
                settings=settings,
                threshold_pct=runtime.thresholds.rollback.campaign_negative_feedback_pct,
                base_url=runtime.settings.public_base_url,
                link_secret=runtime.settings.link_secret(),
                now=clock,
                sample=SAMPLE_SIZE if dry_run else 0,
            )
        if dry_run:
            preview = result.preview(settings.send_caps.as_dict())
            if as_json:
                print_json({"dry_run": True, "now": clock.isoformat(), **preview})
                return
            console.print(f"dry run at {clock.isoformat()}: nothing written")
            print_preview(preview)
            return
        document = result.as_dict()
        if as_json:
            print_json(document)
            return
        steps = document["steps"]
        console.print(
            f"enrolled {document['enrolled'] or 'nobody'}; exits {document['exits'] or 'none'}; "
            f"{steps['steps']} steps, {steps['emails_queued']} emails queued, "
            f"{steps['emails_throttled']} throttled, {steps['emails_opted_out']} opted out"
        )
        if steps["overdue"]:
            console.print(
                f"skipped {steps['overdue']:,} step(s) as overdue: more than "
                f"{settings.max_lateness_days} day(s) late, never sent late"
            )
        caps = settings.send_caps.as_dict()
        for channel, n in steps["deferred"].items():
            console.print(
                f"deferred {n:,} {channel} message(s) to the next run: the cap is "
                f"{caps[channel]:,} per run"
            )
        for p in document["auto_paused"]:
            console.print(f"[bold yellow]paused[/] {p['scope']}: {plain(p['reason'])}")
        for program in steps["paused_programs"]:
            console.print(
                f"paused: {program}: its steps wait while a hold remains (`successcrew status`)"
            )

    def _set_program_pause(
        ctx: typer.Context, program: str, reason: str, by: str, rule: str | None, *, paused: bool
    ) -> dict[str, Any]:
        from successcrew.clock import utcnow
        from successcrew.definitions.playbooks import load_playbooks
        from successcrew.domain.program_rules import pause_scope
        from successcrew.errors import InputError
        from successcrew.services.platform import pausing
        from successcrew.store.db import transaction

        known = [b.id for b in load_playbooks()]
        if program not in known:
            raise InputError(f"unknown program {program!r}; expected one of: {', '.join(known)}")
        scope = pause_scope(program)
        with transaction(ctx.obj.ready_engine()) as session:
            if paused:
                change = pausing.pause(session, scope, by=by, reason=reason, now=utcnow())
            else:
                change = pausing.resume(
                    session, scope, by=by, rule=rule, reason=reason, now=utcnow()
                )
        return change.as_dict()

    def _program_hint(program: str) -> Any:
        def hint(hold: dict[str, Any]) -> str:
            return f"successcrew programs resume {program} --rule {hold['by']} --reason ..."

        return hint

    @programs_app.command("pause")
    def programs_pause(
        ctx: typer.Context,
        program: str = typer.Argument(..., help="Program id (see `successcrew programs`)."),
        reason: str = typer.Option(..., "--reason", help="Why; goes into the audit log."),
        by: str = typer.Option("operator", "--by", help="Who pauses it (owns the hold)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Pause one program's steps (scope campaign:<id>) with your own hold; they wait."""
        from successcrew.cli.pause_commands import print_change

        change = _set_program_pause(ctx, program, reason, by, None, paused=True)
        print_change(change, as_json, _program_hint(program))

    @programs_app.command("resume")
    def programs_resume(
        ctx: typer.Context,
        program: str = typer.Argument(..., help="Program id (see `successcrew programs`)."),
        reason: str = typer.Option(..., "--reason", help="Why; goes into the audit log."),
        by: str = typer.Option("operator", "--by", help="Who resumes it."),
        rule: str = typer.Option(
            None, "--rule", help="Lift this rule's hold (auto-pause) instead of your own."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Lift your own hold on one program (or, with --rule auto-pause, the hold it set on
        itself after negative feedback); prints the holds that remain."""
        from successcrew.cli.pause_commands import print_change

        change = _set_program_pause(ctx, program, reason, by, rule, paused=False)
        print_change(change, as_json, _program_hint(program))

    surveys_app = typer.Typer(help="NPS surveys: send a wave.", no_args_is_help=True)
    app.add_typer(surveys_app, name="surveys")

    @surveys_app.command("wave")
    def surveys_wave(
        ctx: typer.Context,
        now: str = typer.Option(None, "--now", help="Clock (ISO date or time)."),
        channel: str = typer.Option(None, "--channel", help="email or in_app (default: config)."),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="List who would be invited; write nothing."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Invite due contacts: exit surveys, at-risk feedback prompts, then NPS.
        With --dry-run: who would be invited (counts by survey, with a sample)."""
        from successcrew.cli.previews import SAMPLE_SIZE, print_preview
        from successcrew.clock import parse_now
        from successcrew.definitions.playbooks import load_program_settings
        from successcrew.services.voice.surveys import run_wave
        from successcrew.store.db import rolled_back, transaction

        runtime = ctx.obj
        secret = runtime.settings.survey_secret
        settings = load_program_settings()
        clock = parse_now(now)
        session_for = rolled_back if dry_run else transaction
        with session_for(runtime.ready_engine()) as session:
            result = run_wave(
                session,
                settings=settings.surveys,
                secret=secret.get_secret_value() if secret else None,
                base_url=runtime.settings.public_base_url,
                now=clock,
                channel=channel,
                caps=settings.send_caps,
                sample=SAMPLE_SIZE if dry_run else 0,
            )
        if dry_run:
            preview = result.preview()
            if as_json:
                print_json({"dry_run": True, "now": clock.isoformat(), **preview})
                return
            console.print(f"dry run at {clock.isoformat()}: nothing written")
            print_preview(preview)
            return
        if as_json:
            print_json(result.as_dict())
            return
        if result.paused:
            console.print(f"[bold yellow]not sent[/]: {plain(result.paused)}")
            return
        invited = ", ".join(f"{k} {v}" for k, v in result.invited.items()) or "nobody due"
        console.print(f"invited: {invited}; {result.emails} emails queued ({result.channel})")
        deferred = sum(result.deferred.values())
        if deferred:
            console.print(
                f"deferred {deferred:,} due contact(s) to the next wave: the {result.channel} "
                f"cap is {result.cap:,} per wave"
            )

    feedback_app = typer.Typer(
        help="NPS comments: sentiment and categories, and manual corrections.",
        no_args_is_help=False,
    )
    app.add_typer(feedback_app, name="feedback")

    @feedback_app.callback(invoke_without_command=True)
    def feedback(
        ctx: typer.Context,
        since: str = typer.Option(None, "--since", help="Only answers on or after (ISO)."),
        limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="At most this many."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """List NPS comments, newest first: id, account, score, sentiment, categories."""
        if ctx.invoked_subcommand is not None:
            return
        from successcrew.clock import parse_now
        from successcrew.services.voice.feedback import list_comments
        from successcrew.store.db import transaction

        moment = parse_now(since) if since else None
        with transaction(ctx.obj.ready_engine()) as session:
            comments = list_comments(session, since=moment, limit=limit)
        if as_json:
            print_json({"since": moment, "comments": comments})
            return
        if not comments:
            console.print("no comments")
        for c in comments:
            corrected = " (corrected)" if c["corrected"] else ""
            console.print(
                f"#{c['id']:<6} {c['responded_at'][:10]} {plain(c['account'])} score {c['score']}"
                f" {c['sentiment_label'] or 'unread'}"
                f" {plain('[' + (', '.join(c['categories']) or 'no category') + ']')}{corrected}: "
                f"{plain(' '.join(str(c['comment']).split()))}",
                soft_wrap=True,
            )

    @feedback_app.command("categorise")
    def feedback_categorise(
        ctx: typer.Context,
        everything: bool = typer.Option(
            False, "--all", help="Re-read every comment (after changing the taxonomy)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Score sentiment and assign categories to comments not read yet."""
        from successcrew.definitions.feedback_categories import load_taxonomy
        from successcrew.services.voice.feedback import categorise_responses
        from successcrew.store.db import transaction

        taxonomy = load_taxonomy()
        with transaction(ctx.obj.ready_engine()) as session:
            result = categorise_responses(session, taxonomy.categoriser(), everything=everything)
        if as_json:
            print_json(result)
            return
        console.print(f"read {result['read']} comments; {result['categorised']} matched a category")

    @feedback_app.command("correct")
    def feedback_correct(
        ctx: typer.Context,
        response_id: int = typer.Argument(..., help="The NPS response id."),
        categories: str = typer.Option(
            ..., "--categories", help="Comma-separated categories; empty string for none."
        ),
        author: str = typer.Option("cli", "--by", help="Who makes the correction (audit log)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Set a comment's categories by hand; automatic runs keep the correction."""
        from successcrew.clock import utcnow
        from successcrew.definitions.feedback_categories import load_taxonomy
        from successcrew.services.voice.feedback import correct_categories
        from successcrew.store.db import transaction

        names = [c.strip() for c in categories.split(",") if c.strip()]
        taxonomy = load_taxonomy()
        with transaction(ctx.obj.ready_engine()) as session:
            result = correct_categories(
                session,
                response_id,
                names,
                known=list(taxonomy.categories),
                actor=author,
                now=utcnow(),
            )
        if as_json:
            print_json(result)
            return
        console.print(
            f"response {response_id}: categories {', '.join(result['categories_manual']) or 'none'}"
        )

    @app.command()
    def report(
        ctx: typer.Context,
        out: Path = typer.Option(..., "--out", help="Directory for report.md, report.html."),
        now: str = typer.Option(None, "--now", help="Clock (ISO date or time)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Write the insights report (Markdown and HTML with SVG charts)."""
        from successcrew.clock import parse_now
        from successcrew.services.voice.report import generate_report

        result = generate_report(ctx.obj.ready_engine(), out, parse_now(now))
        if as_json:
            print_json(result)
            return
        console.print(f"report written: {result['markdown']} and {result['html']}")
