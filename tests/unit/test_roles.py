"""The roles table: who may do what, and a csm only in their own book."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from successcrew.domain import roles


@dataclass
class Person:
    email: str
    role: str


def test_a_csm_works_only_on_accounts_they_own() -> None:
    ana = Person("Ana@Example.com", "csm")
    assert roles.can(ana, roles.WORK_TASK, account_owner="ana@example.com")
    assert not roles.can(ana, roles.WORK_TASK, account_owner="lee@example.com")
    # An account without an owner is nobody's book: refused rather than guessed.
    assert not roles.can(ana, roles.OVERRIDE, account_owner=None)
    assert "not in your book" in roles.check(ana, roles.NOTE, "lee@example.com").reason


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        ("viewer", roles.READ, True),
        ("viewer", roles.WORK_TASK, False),
        ("lead", roles.WORK_TASK, True),
        ("lead", roles.PAUSE, True),
        ("lead", roles.DECIDE_ESCALATION, False),
        ("chairman", roles.DECIDE_ESCALATION, True),
        ("chairman", roles.WORK_TASK, False),
        ("admin", roles.MANAGE_USERS, True),
        ("admin", roles.DECIDE_ESCALATION, False),
        ("csm", roles.PAUSE, False),
    ],
)
def test_the_table(role: str, action: str, allowed: bool) -> None:
    assert roles.can(Person("x@example.com", role), action, "x@example.com") is allowed


def test_an_unknown_role_may_do_nothing_and_an_unknown_action_is_a_bug() -> None:
    assert not roles.can(Person("x@example.com", "intern"), roles.READ)
    with pytest.raises(ValueError, match="unknown action"):
        roles.can(Person("x@example.com", "lead"), "delete_everything")
