"""Who may do what on the dashboard: the roles and their permissions, as one table.

A pure function of the user's role and e-mail and the account's owner, so every page and
form asks the same question the same way (``can(user, action, account_owner=...)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: The roles, from least to most trusted (``admin`` manages users; it is not a superset).
ROLES: tuple[str, ...] = ("viewer", "csm", "lead", "chairman", "admin")

#: What a role may do on any account.
READ = "read"
#: Score overrides and notes on an account (a csm: only on accounts they own).
OVERRIDE = "override"
NOTE = "note"
#: Tasks: mark done, snooze (a csm: tasks on accounts they own).
WORK_TASK = "work_task"
#: See the whole team's tasks, not only one's own.
SEE_TEAM_TASKS = "see_team_tasks"
#: Pause and resume automation, campaigns, surveys.
PAUSE = "pause"
#: Correct the reading of a piece of feedback (an NPS comment's topic or sentiment).
CORRECT_FEEDBACK = "correct_feedback"
#: Approve or decline an escalation.
DECIDE_ESCALATION = "decide_escalation"
#: Approve or decline a model's proposal (the llm extra).
DECIDE_PROPOSAL = "decide_proposal"
#: Ask the optional model a question over the book (its read-only tools see every account, so
#: not a csm, whose view is their own book; nor a viewer: each question spends the model budget).
ASK = "ask"
#: Add, change and disable users.
MANAGE_USERS = "manage_users"

ACTIONS: tuple[str, ...] = (
    READ,
    OVERRIDE,
    NOTE,
    WORK_TASK,
    SEE_TEAM_TASKS,
    PAUSE,
    CORRECT_FEEDBACK,
    DECIDE_ESCALATION,
    DECIDE_PROPOSAL,
    ASK,
    MANAGE_USERS,
)

#: Actions a csm may take only on accounts whose ``owner_email`` is theirs.
OWN_BOOK_ACTIONS = frozenset({OVERRIDE, NOTE, WORK_TASK})

#: role -> actions it may take (on every account; a csm's OWN_BOOK_ACTIONS on its own book).
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({READ}),
    "csm": frozenset({READ, OVERRIDE, NOTE, WORK_TASK}),
    "lead": frozenset(
        {
            READ,
            OVERRIDE,
            NOTE,
            WORK_TASK,
            SEE_TEAM_TASKS,
            PAUSE,
            CORRECT_FEEDBACK,
            DECIDE_PROPOSAL,
            ASK,
        }
    ),
    "chairman": frozenset({READ, SEE_TEAM_TASKS, DECIDE_ESCALATION, DECIDE_PROPOSAL, ASK}),
    "admin": frozenset({READ, ASK, MANAGE_USERS}),
}

#: Roles bounded to their own book (the accounts they own).
OWN_BOOK_ROLES = frozenset({"csm"})


class HasRole(Protocol):
    """Anything with an e-mail and a role (the signed-in user); read-only, so a frozen
    dataclass qualifies."""

    @property
    def email(self) -> str:
        """The person's e-mail address."""
        ...

    @property
    def role(self) -> str:
        """The person's role name."""
        ...


@dataclass(frozen=True)
class Permission:
    """The answer to ``can``, with the reason a refusal is shown to the user."""

    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


def check(user: HasRole, action: str, account_owner: str | None = None) -> Permission:
    """May ``user`` take ``action`` (on an account owned by ``account_owner``, where it is about
    one)? A refusal says why in a sentence."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    allowed = PERMISSIONS.get(user.role, frozenset())
    if action not in allowed:
        return Permission(False, f"the {user.role} role may not {action.replace('_', ' ')}")
    # No owner (or none given) is not a csm's book: refusing is the safe reading.
    own = bool(account_owner) and account_owner.strip().lower() == user.email.strip().lower()
    if user.role in OWN_BOOK_ROLES and action in OWN_BOOK_ACTIONS and not own:
        return Permission(False, "this account is not in your book (you are not its owner)")
    return Permission(True)


def can(user: HasRole, action: str, account_owner: str | None = None) -> bool:
    """True when ``user`` may take ``action`` (see ``check`` for the reason when not)."""
    return check(user, action, account_owner).allowed


def role_may(role: str, action: str) -> bool:
    """True when ``role`` may take ``action`` on some account (whether to show a form at all)."""
    return action in PERMISSIONS.get(role, frozenset())


def sees_whole_book(user: HasRole) -> bool:
    """True when lists (tasks) show everyone's rows, not only the user's own."""
    return can(user, SEE_TEAM_TASKS)
