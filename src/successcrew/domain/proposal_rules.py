"""What a model may propose, decided without the model: the allow-list and the policy checks.

A model's proposal is data. Its shape is validated at the edge (pydantic, in the llm layer);
whether it may stand is decided here, from facts the deterministic code read: the accounts under
review, the playbooks in force, an open health event, an owner. A proposal that fails is kept as
``blocked`` with the reason, never carried out. Amounts, recipients and tools are never the
model's to choose: proposals carry none, and text that changes what a customer pays (read for
amounts and meaning by ``domain.money_talk``) or addresses someone is blocked, whatever the model
was told by a comment it read.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from successcrew.domain.money_talk import money_change

#: The actions a model may propose, and what approval does (services.model_pass.proposals).
ALLOWED_ACTIONS = (
    "draft_email",  # an internal e-mail to the owner with a suggested e-mail (never to customers)
    "crm_task",  # the CRM task the account's open health event asks for
    "internal_task",  # an internal e-mail to the owner with the task
    "escalate",  # a chairman escalation through the escalation policy
    "enrol_playbook",  # enrolment in a playbook through the program engine
    "nothing",
)

# Addresses and links are the deterministic code's to choose; money (domain.money_talk) is the
# chairman's decision.
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+|https?://|www\.", re.IGNORECASE)
_EVERYONE = re.compile(r"\b(every|all|each)\s+(customer|client|account|contact|user)s?\b", re.I)


@dataclass(frozen=True)
class AccountState:
    """What the checks need to know about the account a proposal names."""

    active: bool
    has_owner: bool
    open_health_event: bool


def text_problem(text: str) -> str | None:
    """Why a model-written text may not stand, or None."""
    money = money_change(text)
    if money is not None:
        return f"changes what the customer pays ({money}; the chairman decides money)"
    if _ADDRESS.search(text):
        return "contains an address or a link (recipients are never the model's to choose)"
    if _EVERYONE.search(text):
        return "addresses every customer (a proposal is about one account under review)"
    return None


def check_proposal(
    action: str,
    account_id: int | None,
    *,
    texts: Collection[str],
    playbook: str | None,
    under_review: Collection[int],
    accounts: Mapping[int, AccountState],
    playbooks: Collection[str],
) -> str | None:
    """None when the proposal may wait for approval, else why it is blocked."""
    if action not in ALLOWED_ACTIONS:
        return f"action {action!r} is not allowed (allowed: {', '.join(ALLOWED_ACTIONS)})"
    for text in texts:
        problem = text_problem(text)
        if problem:
            return f"text {problem}"
    if action == "nothing":
        return None
    if account_id is None or account_id not in under_review:
        return f"account {account_id} is not among the accounts under review"
    state = accounts.get(account_id)
    if state is None or not state.active:
        return f"account {account_id} is not an active customer"
    if action == "enrol_playbook" and playbook not in playbooks:
        known = ", ".join(sorted(playbooks)) or "none"
        return f"playbook {playbook!r} is not an enabled playbook ({known})"
    if action == "crm_task" and not state.open_health_event:
        return "crm_task needs an open health event for the account (propose internal_task)"
    if action in ("internal_task", "draft_email") and not state.has_owner:
        return f"{action} needs an account owner, and the account has none"
    return None
