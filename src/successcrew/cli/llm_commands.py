"""``successcrew proposals`` (what a model proposed, approved or declined here) and
``successcrew ask`` (a question over the book, answered by a model from read-only tools)."""

from __future__ import annotations

import typer

from successcrew.console import console, plain, print_json


def _decide(
    ctx: typer.Context,
    proposal_id: int,
    decision: str,
    by: str,
    note: str | None,
    now: str | None,
    as_json: bool,
) -> None:
    from successcrew.clock import parse_now
    from successcrew.definitions.escalation_policy import load_policy
    from successcrew.services.model_pass.proposals import decide
    from successcrew.store.db import transaction

    clock = parse_now(now)
    policy = load_policy()
    engine = ctx.obj.ready_engine()
    with transaction(engine) as session:
        result = decide(
            session,
            proposal_id,
            decision,
            by=by,
            note=note,
            now=clock,
            settings=ctx.obj.settings,
            policy=policy,
        )
    if as_json:
        print_json(result)
        return
    done = (
        f"{result.get('queued', 0)} message(s) queued"
        if result["status"] == "approved"
        else "nothing will be done"
    )
    console.print(f"proposal {result['id']} ({result['action']}) {result['status']}: {done}")


def register(app: typer.Typer) -> None:
    """Add ``proposals`` (list, approve, decline) and ``ask`` to ``app``."""
    group = typer.Typer(
        help="What a model proposed (crew mode, e-mail drafts): list, approve, decline.",
        invoke_without_command=True,
        no_args_is_help=False,
    )
    app.add_typer(group, name="proposals")

    @group.callback()
    def proposals(
        ctx: typer.Context,
        status: str = typer.Option(
            None, "--status", help="Only these: pending, approved, declined, blocked, noted."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """List proposals, newest first (pending ones wait for your approval)."""
        if ctx.invoked_subcommand is not None:
            return
        from successcrew.services.model_pass.proposals import list_proposals

        engine = ctx.obj.ready_engine()
        with engine.connect() as conn:
            rows = list_proposals(conn, status=status)
        if as_json:
            print_json({"proposals": rows})
            return
        if not rows:
            console.print("no proposals")
        for row in rows:
            console.print(
                f"{row['id']:>5}  {row['status']:<8} {row['action']:<14} "
                f"{plain(row['account'] or '-')}: {plain(row['summary'])}"
                + (f" [dim]({plain(row['reason'])})[/]" if row["reason"] else ""),
                soft_wrap=True,
            )

    @group.command()
    def approve(
        ctx: typer.Context,
        proposal_id: int = typer.Argument(..., metavar="ID", help="Proposal id."),
        by: str = typer.Option(..., "--by", help="Who decides (recorded in the audit log)."),
        note: str = typer.Option(None, "--note", help="A note kept with the decision."),
        now: str = typer.Option(None, "--now", help="Clock (ISO date or time)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Approve a pending proposal: its outbox messages are queued now (pauses, opt-outs and
        credentials apply when they are sent)."""
        _decide(ctx, proposal_id, "approve", by, note, now, as_json)

    @group.command()
    def decline(
        ctx: typer.Context,
        proposal_id: int = typer.Argument(..., metavar="ID", help="Proposal id."),
        by: str = typer.Option(..., "--by", help="Who decides (recorded in the audit log)."),
        note: str = typer.Option(None, "--note", help="A note kept with the decision."),
        now: str = typer.Option(None, "--now", help="Clock (ISO date or time)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Decline a pending proposal: nothing is done."""
        _decide(ctx, proposal_id, "decline", by, note, now, as_json)

    @app.command()
    def ask(
        ctx: typer.Context,
        question: str = typer.Argument(..., help="The question, in plain language."),
        now: str = typer.Option(None, "--now", help="Clock (ISO date or time)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> int:
        """Ask a question over the book; a model answers from read-only tools with the account
        ids and figures it used (needs the llm extra and a model, docs/llm.md). Exit 1 when the
        model could not answer."""
        from successcrew.clock import parse_now
        from successcrew.errors import ConfigError
        from successcrew.llm.setup import ask_unavailable
        from successcrew.services.model.assistant import current

        clock = parse_now(now)
        reason = ask_unavailable(ctx.obj.settings)
        if reason:
            raise ConfigError(f"ask: {reason} (docs/llm.md)")
        engine = ctx.obj.ready_engine()
        from successcrew.llm.ask import answer_question

        result = answer_question(ctx.obj.settings, engine, question, now=clock, assistant=current())
        if as_json:
            print_json(result)
            return 0 if result["answer"] is not None else 1
        if result["answer"] is None:
            console.print(f"no answer: {plain(result['fallback'])}", soft_wrap=True)
        else:
            console.print(plain(result["answer"]), soft_wrap=True)
            if result["account_ids"]:
                console.print(f"accounts: {', '.join(str(i) for i in result['account_ids'])}")
            for f in result["figures"]:
                who = f" (account {f['account_id']})" if f["account_id"] is not None else ""
                console.print(f"  {plain(f['name'])}{who}: {plain(f['value'])}")
        spent = result["usage"]
        console.print(
            f"[dim]model: {spent['calls']} call(s), {spent['prompt_tokens']} prompt + "
            f"{spent['completion_tokens']} completion tokens[/]"
        )
        return 0 if result["answer"] is not None else 1
