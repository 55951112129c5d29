"""Chairman escalation as pure logic: who is high-value, what reaches the chairman, the
lifecycle, and the Block Kit card.

The policy itself is ``definitions.escalation_policy``; ``services.escalations.lifecycle``
reads accounts and writes rows and outbox messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from successcrew.definitions.escalation_policy import EscalationPolicy
from successcrew.domain.block_kit import (
    FIELD_TEXT_MAX,
    FIELDS_MAX,
    HEADER_MAX,
    MESSAGE_TEXT_MAX,
    context_block,
    shorten,
)


def top_count(total: int, percent: float) -> int:
    """How many accounts make up the top ``percent`` % of ``total`` (at least one when any)."""
    if total <= 0:
        return 0
    # Integer ceil on thousandths of a percent, so 5 % of 20 is exactly 1, not 1.0000000002.
    return max(1, -(-total * round(percent * 1000) // 100_000))


def arr_cutoff(policy: EscalationPolicy, top_boundary_arr: float | None) -> float | None:
    """The lowest ARR that counts as high-value.

    The two conditions are an OR, so the cutoff is the lower of the fixed threshold and the ARR
    of the last account inside the top N % (``top_boundary_arr``). None when nothing qualifies.
    """
    candidates = [v for v in (policy.high_value.arr_at_least, top_boundary_arr) if v is not None]
    return min(candidates) if candidates else None


def should_escalate(policy: EscalationPolicy, code: str, *, high_value: bool) -> bool:
    """Whether a trigger event with ``code`` on an account reaches the chairman."""
    return code in policy.always_escalate or (high_value and code in policy.high_value_escalate)


LifecycleStep = Literal["remind", "expire"]


def lifecycle_step(
    *,
    status: str,
    created_at: datetime,
    reminded_at: datetime | None,
    expires_at: datetime | None,
    policy: EscalationPolicy,
    now: datetime,
) -> LifecycleStep | None:
    """What an open escalation needs at ``now``: a reminder, expiry, or nothing."""
    if status != "open":
        return None
    if expires_at is not None and now >= expires_at:
        return "expire"
    if reminded_at is None and now >= policy.reminder_due(created_at):
        return "remind"
    return None


@dataclass(frozen=True)
class EscalationView:
    """What the Slack message shows about one escalation."""

    id: int
    title: str
    kind: str
    account_name: str | None
    fields: dict[str, str]
    explanation: list[str]
    proposed_action: dict[str, Any] | None
    reminder: bool = False
    #: A model's account brief (optional, labelled as such on the card).
    brief: str | None = None
    #: The small line under the card: which trigger raised it.
    context: str | None = None


def describe_action(action: dict[str, Any] | None) -> str:
    """One line for a proposed action."""
    if not action:
        return "acknowledge"
    kind = str(action.get("type", "action")).replace("_", " ")
    if "discount_pct" in action:
        return f"{kind}: {action['discount_pct']:g} % for {action.get('months', '?')} months"
    return kind


def block_kit(view: EscalationView) -> dict[str, Any]:
    """The Slack message: header, context fields, score explanation, approve/decline buttons.

    ``text`` is the notification fallback Slack shows where blocks cannot render; it carries the
    decision command too, so the chairman can answer from a terminal when buttons are not wired.
    """
    prefix = "Reminder: " if view.reminder else ""
    action_line = describe_action(view.proposed_action)
    header = shorten(f"{prefix}{view.title}", HEADER_MAX)
    fields = [
        {"type": "mrkdwn", "text": shorten(f"*{k}*\n{v}", FIELD_TEXT_MAX)}
        for k, v in view.fields.items()
        if str(v).strip()
    ][:FIELDS_MAX]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
    ]
    if fields:  # Slack refuses a section without text or fields
        blocks.append({"type": "section", "fields": fields})
    if view.explanation:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Why*\n" + "\n".join(f"• {line}" for line in view.explanation[:8]),
                },
            }
        )
    if view.brief:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": shorten(f"*Brief (drafted by a model)*\n{view.brief}", 3000),
                },
            }
        )
    blocks.append(
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*Proposed*: {action_line}"},
        }
    )
    blocks.append(
        {
            "type": "actions",
            "block_id": f"escalation:{view.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": "escalation_approve",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "style": "primary",
                    "value": f"{view.id}:approve",
                    "confirm": {
                        "title": {"type": "plain_text", "text": "Approve?"},
                        "text": {"type": "plain_text", "text": action_line[:300]},
                        "confirm": {"type": "plain_text", "text": "Approve"},
                        "deny": {"type": "plain_text", "text": "Cancel"},
                    },
                },
                {
                    "type": "button",
                    "action_id": "escalation_decline",
                    "text": {"type": "plain_text", "text": "Decline"},
                    "style": "danger",
                    "value": f"{view.id}:decline",
                },
            ],
        }
    )
    if view.context:
        blocks.append(context_block(view.context))
    text = shorten(
        f"{prefix}{view.title}. Proposed: {action_line}. "
        f"Decide with: successcrew decide {view.id} approve|decline --by NAME",
        MESSAGE_TEXT_MAX,
    )
    return {
        "text": text,
        "blocks": blocks,
        "metadata": {
            "event_type": "successcrew_escalation",
            "event_payload": {"escalation_id": view.id, "reminder": view.reminder},
        },
    }


#: The buttons of an escalation card and the decision each stands for.
BUTTON_DECISIONS = {"escalation_approve": "approve", "escalation_decline": "decline"}


def parse_button(action_id: str, value: str) -> tuple[int, str] | None:
    """(escalation id, decision) of a card's button, or None when it is not one of ours. The
    value (``"12:approve"``) must agree with the button, so an edited payload decides nothing."""
    decision = BUTTON_DECISIONS.get(action_id)
    ident, _, said = value.partition(":")
    if decision is None or said != decision or not ident.isdigit():
        return None
    return int(ident), decision


def decided_card(
    blocks: Sequence[Mapping[str, Any]], *, status: str, by: str, at: datetime
) -> list[dict[str, Any]]:
    """The card after the decision: the buttons give way to who decided what and when. The
    new block id tells Slack the block changed (clients cache blocks by id)."""
    kept = [dict(b) for b in blocks if b.get("type") != "actions"]
    kept.append(
        {
            "type": "context",
            "block_id": f"decided:{status}:{int(at.timestamp())}",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{status.capitalize()} by {by} at {at:%Y-%m-%d %H:%M} UTC",
                }
            ],
        }
    )
    return kept
