"""``successcrew outbox``: the messages the crew queued, sent, held or gave up on."""

from __future__ import annotations

from typing import Any

import typer

from successcrew.console import console, plain, print_json


def _what(message: dict[str, Any]) -> str:
    """What the message is about, in the words its reader gets first."""
    p = message["payload"] or {}
    if message["channel"] == "email":
        return f"to {p.get('to') or '?'}: {p.get('subject') or '(no subject)'}"
    if message["channel"] == "crm_task":
        return f"task for {p.get('owner_email') or 'the owner'}: {p.get('subject') or ''}"
    return f"{p.get('channel') or 'default channel'}: {p.get('title') or p.get('text') or ''}"


def _body(message: dict[str, Any]) -> list[str]:
    from successcrew.domain.block_kit import readable_lines, slack_message

    p = message["payload"] or {}
    if message["channel"] == "slack":
        return readable_lines(slack_message(p)["blocks"])
    text = p.get("text") or p.get("body") or ""
    return str(text).splitlines()


def _render(messages: list[dict[str, Any]], *, show: bool) -> None:
    if not messages:
        console.print("no outbox messages")
        return
    for m in messages:
        who = f" {plain('[' + m['account'] + ']')}" if m["account"] else ""
        why = (
            f" ({plain(m['last_error'])})" if m["last_error"] and m["status"] != "delivered" else ""
        )
        console.print(
            f"#{m['id']:<6} {m['channel']:<8} {m['status']:<9} tries {m['attempts']}"
            f"{who} {plain(' '.join(_what(m).split()))}{why}",
            soft_wrap=True,
        )
        if show:
            for line in _body(m):
                console.print(f"        | {plain(line)}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``outbox`` to ``app``."""

    @app.command()
    def outbox(
        ctx: typer.Context,
        status: str = typer.Option(
            None,
            "--state",
            help="Only messages in this state: pending, sending, delivered, dead, held.",
        ),
        channel: str = typer.Option(
            None, "--channel", help="Only this channel: slack, email, crm_task."
        ),
        show: bool = typer.Option(False, "--show", help="Print each message's text too."),
        limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="At most this many."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """List outbox messages, newest first: channel, state, tries, account and subject."""
        from successcrew.errors import InputError
        from successcrew.store.db import transaction
        from successcrew.store.outbox import CHANNELS, STATUSES, list_messages

        if status is not None and status not in STATUSES:
            raise InputError(
                f"--state: {status!r} is not a state; use one of {', '.join(STATUSES)}"
            )
        if channel is not None and channel not in CHANNELS:
            raise InputError(
                f"--channel: {channel!r} is not a channel; use one of {', '.join(CHANNELS)}"
            )
        with transaction(ctx.obj.ready_engine()) as session:
            messages = list_messages(session, status=status, channel=channel, limit=limit)
        if as_json:
            if not show:
                for m in messages:
                    m.pop("payload")
            print_json({"state": status, "channel": channel, "messages": messages})
        else:
            _render(messages, show=show)
