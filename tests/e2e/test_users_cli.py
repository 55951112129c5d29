"""``successcrew users``: adding people with a role, changing and disabling them."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import Engine, select

from successcrew.services.platform.users import active_user, check_password
from successcrew.store.db import transaction
from successcrew.store.models import AuditLog, User
from tests.clirunner import run_cli


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUCCESSCREW_PASSWORD_HASH_COST", "low")


def test_add_change_and_disable_a_user(
    env: dict[str, str],
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    added = run_cli(capsys, "users", "add", "Ana@Example.com", "--role", "csm", "--password-stdin")
    assert added.code == 0, added.err
    assert "user ana@example.com: csm, with a password" in added.out
    with transaction(engine) as session:
        assert check_password(session, "ana@example.com", "a long enough secret", cost="low")
        stored = session.scalars(select(User.password_hash)).one()
    assert stored is not None and stored.startswith("$argon2id$")
    assert "a long enough secret" not in stored

    promoted = run_cli(capsys, "users", "add", "ana@example.com", "--role", "lead", "--json")
    assert promoted.code == 0
    assert promoted.json()["role"] == "lead"
    listed = run_cli(capsys, "users", "list", "--json").json()["users"]
    assert [(u["email"], u["role"], u["password"]) for u in listed] == [
        ("ana@example.com", "lead", True)
    ]

    assert run_cli(capsys, "users", "disable", "ana@example.com").code == 0
    with transaction(engine) as session:
        assert active_user(session, "ana@example.com") is None
        actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["user.added", "user.changed", "user.disabled"]


@pytest.mark.parametrize(
    ("args", "stdin", "said"),
    [
        (("x@example.com", "--role", "owner"), "", "--role 'owner': expected one of viewer"),
        (("not-an-email", "--role", "csm"), "", "is not an e-mail address"),
        (("x@example.com", "--role", "csm", "--password-stdin"), "short\n", "too short"),
    ],
)
def test_bad_input_exits_2_and_adds_nobody(
    env: dict[str, str],
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    stdin: str,
    said: str,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    result = run_cli(capsys, "users", "add", *args)
    assert result.code == 2
    assert said in result.err
    with transaction(engine) as session:
        assert session.scalars(select(User)).all() == []
