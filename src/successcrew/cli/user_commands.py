"""``successcrew users add|list|disable``: who may sign in to the dashboard, with which role.

A password is read from ``--password-stdin`` or asked for (never an argument: it would stay in
the shell history). Proxy and OIDC sign-ins need a user too, without a password.
"""

from __future__ import annotations

import sys

import typer

from successcrew.console import console, plain, print_json
from successcrew.errors import InputError


def _read_password(from_stdin: bool, prompt: bool) -> str | None:
    if from_stdin:
        text = sys.stdin.readline().rstrip("\r\n")
        if not text:
            raise InputError("--password-stdin: no password on standard input")
        return text
    if prompt:
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    return None


def register(app: typer.Typer) -> None:
    """Add the ``users`` group to ``app``."""
    users = typer.Typer(help="Dashboard users and their roles (docs/dashboard.md).")
    app.add_typer(users, name="users")

    @users.command("add")
    def add(
        ctx: typer.Context,
        email: str = typer.Argument(..., help="The user's e-mail (their sign-in)."),
        role: str = typer.Option(..., "--role", help="viewer, csm, lead, chairman or admin."),
        name: str = typer.Option(None, "--name", help="Shown in the dashboard."),
        password: bool = typer.Option(
            False, "--password", help="Ask for a password (local sign-in)."
        ),
        password_stdin: bool = typer.Option(
            False, "--password-stdin", help="Read the password from standard input."
        ),
        by: str = typer.Option("operator", "--by", help="Who adds (kept in the audit log)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Add a user (or change an existing one's role, name or password)."""
        from successcrew.clock import utcnow
        from successcrew.services.platform.users import add_user
        from successcrew.store.db import transaction

        secret = _read_password(password_stdin, password)
        with transaction(ctx.obj.ready_engine()) as session:
            user = add_user(
                session,
                email,
                role=role,
                name=name,
                password=secret,
                by=by,
                now=utcnow(),
                cost=ctx.obj.settings.password_hash_cost,
            )
        doc = {"email": user.email, "name": user.name, "role": user.role}
        if as_json:
            print_json({**doc, "password_set": secret is not None})
            return
        how = "with a password" if user.has_password else "without a password (proxy or OIDC)"
        console.print(f"user {plain(user.email)}: {user.role}, {how}", soft_wrap=True)

    @users.command("list")
    def list_(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Every user with their role and whether they may sign in."""
        from successcrew.services.platform.users import list_users
        from successcrew.store.db import transaction

        with transaction(ctx.obj.ready_engine()) as session:
            rows = list_users(session)
        if as_json:
            print_json(
                {
                    "users": [
                        {
                            "email": u.email,
                            "name": u.name,
                            "role": u.role,
                            "active": u.active,
                            "password": u.has_password,
                        }
                        for u in rows
                    ]
                }
            )
            return
        if not rows:
            console.print("no users yet: add one with `successcrew users add EMAIL --role ...`")
        for u in rows:
            state = "" if u.active else " (disabled)"
            console.print(f"{plain(u.email)}  {u.role}  {plain(u.name)}{state}", soft_wrap=True)

    @users.command("disable")
    def disable(
        ctx: typer.Context,
        email: str = typer.Argument(...),
        by: str = typer.Option("operator", "--by", help="Who disables (kept in the audit log)."),
    ) -> None:
        """Stop a user signing in; their open sessions end at their next click."""
        from successcrew.clock import utcnow
        from successcrew.services.platform.users import disable_user
        from successcrew.store.db import transaction

        with transaction(ctx.obj.ready_engine()) as session:
            user = disable_user(session, email, by=by, now=utcnow())
        console.print(f"user {plain(user.email)} disabled")
