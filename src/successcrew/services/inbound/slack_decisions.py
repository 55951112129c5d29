"""The chairman's buttons in Slack: a click on Approve / Decline (over the request URL or Socket
Mode, already verified) decides through ``escalations.decide``, the same path as
``successcrew decide``; then the cards are updated with ``chat.update`` where they were posted.

Exactly once: ``decide`` locks the escalation and refuses a second decision, so a double click
decides nothing twice; a replayed request body (the same click again) is recognised by its click
id and changes nothing at all, not even the audit log. Only the Slack users that
``config/escalation.yaml`` lists as ``deciders`` may decide; everyone else is told so and
nothing changes. Every click is audited, taken or refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from successcrew.definitions.escalation_policy import EscalationPolicy
from successcrew.domain.escalation_rules import decided_card, parse_button
from successcrew.domain.json_objects import json_object
from successcrew.errors import InputError
from successcrew.services.escalations.lifecycle import decide
from successcrew.settings import Settings
from successcrew.store import audit
from successcrew.store.models import Escalation, OutboxMessage
from successcrew.store.receipts import take_new

log = logging.getLogger(__name__)

#: Where Slack's ``response_url`` may point (besides the configured Slack API host, for tests
#: and stand-ins): a verified payload still never makes us POST anywhere else.
SLACK_RESPONSE_HOSTS = frozenset({"hooks.slack.com"})


@dataclass(frozen=True)
class CardUpdate:
    """One posted card to redraw with ``chat.update``."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]


@dataclass
class SlackOutcome:
    """What a click did, and what to tell the person who clicked."""

    outcome: str  # decided, not_allowed, final, ignored, replayed
    message: str
    escalation_id: int | None = None
    response_url: str | None = None
    cards: list[CardUpdate] = field(default_factory=list)

    @property
    def follows_up(self) -> bool:
        """Whether cards are redrawn and the person told (not for ignored or replayed clicks)."""
        return self.outcome not in ("ignored", "replayed")


def click_id(payload: Mapping[str, Any]) -> str:
    """What identifies one click: Slack's ``trigger_id`` (new for every interaction), else the
    action's ``action_ts`` with who clicked, else a digest of the whole payload. A replayed
    request body carries the same id; a second real click does not."""
    trigger = payload.get("trigger_id")
    if isinstance(trigger, str) and trigger:
        return f"trigger:{trigger}"[:200]
    actions = payload.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    stamp = (json_object(first) or {}).get("action_ts")
    user = json_object(payload.get("user")) or {}
    if isinstance(stamp, str) and stamp:
        return f"action:{user.get('id')}:{stamp}"[:200]
    canonical = json.dumps(payload, sort_keys=True, default=str).encode()
    return "sha:" + hashlib.sha256(canonical).hexdigest()


def _cards(session: Session, esc: Escalation, clicked: tuple[str, str] | None) -> list[CardUpdate]:
    """Every delivered card of a decided ``esc`` (notice, reminder) with the decision in place
    of the buttons; the clicked card too when its channel was not stored (posted before 0014)."""
    if esc.status not in ("approved", "declined") or esc.decided_at is None:
        return []
    rows = session.execute(
        select(
            OutboxMessage.provider_channel,
            OutboxMessage.provider_message_id,
            OutboxMessage.payload,
        ).where(
            OutboxMessage.idempotency_key.in_(
                [f"escalation:{esc.id}:notice", f"escalation:{esc.id}:reminder"]
            ),
            OutboxMessage.status == "delivered",
            OutboxMessage.provider_message_id.is_not(None),
        )
    ).all()
    by = esc.decided_by or "?"
    status = esc.status
    at = esc.decided_at
    line = f"{status.capitalize()} by {by} at {at:%Y-%m-%d %H:%M} UTC"
    cards, seen = [], set()
    for channel, ts, payload in rows:
        channel = channel or (clicked[0] if clicked and clicked[1] == ts else None)
        if not channel:
            continue
        blocks = decided_card((payload or {}).get("blocks") or [], status=status, by=by, at=at)
        cards.append(CardUpdate(channel, str(ts), f"{esc.title}: {line}", blocks))
        seen.add(str(ts))
    if clicked and clicked[1] not in seen:
        # Not posted by our outbox as far as we know, but Slack says the click came from it.
        notice = next((r.payload for r in rows if r.payload), None) or {}
        blocks = decided_card(notice.get("blocks") or [], status=status, by=by, at=at)
        cards.append(CardUpdate(clicked[0], clicked[1], f"{esc.title}: {line}", blocks))
    return cards


def decide_from_slack(
    session: Session, payload: Mapping[str, Any], *, policy: EscalationPolicy, now: datetime
) -> SlackOutcome:
    """Take one verified ``block_actions`` payload: decide, or refuse, and say so."""
    if payload.get("type") != "block_actions":
        return SlackOutcome("ignored", "")
    user = json_object(payload.get("user")) or {}
    user_id = user.get("id") if isinstance(user.get("id"), str) else ""
    name = next(
        (v for v in (user.get("username"), user.get("name")) if isinstance(v, str) and v), user_id
    )
    response_url = (
        payload.get("response_url") if isinstance(payload.get("response_url"), str) else None
    )
    parsed = None
    actions = payload.get("actions")
    for action in actions if isinstance(actions, list) else []:
        if isinstance(action, Mapping):
            parsed = parse_button(
                str(action.get("action_id") or ""), str(action.get("value") or "")
            )
            if parsed:
                break
    if parsed is None or not user_id:
        return SlackOutcome("ignored", "", response_url=response_url)
    escalation_id, decision = parsed
    if not take_new(session, "slack", [click_id(payload)], now=now):
        # The same click again (a replayed request body, Slack's retry): taken once, audited once.
        return SlackOutcome("replayed", "", escalation_id)
    channel = json_object(payload.get("channel")) or {}
    container = json_object(payload.get("container")) or {}
    clicked = None
    if channel.get("id") and container.get("message_ts"):
        clicked = (str(channel["id"]), str(container["message_ts"]))
    who = f"slack:{user_id}"
    if user_id not in policy.deciders:
        audit.record(
            session,
            at=now,
            actor=who,
            action="escalation.slack_refused",
            subject=f"escalation:{escalation_id}",
            detail={"decision": decision, "reason": "not a decider", "user": name},
        )
        return SlackOutcome(
            "not_allowed",
            "You are not allowed to decide escalations. The deciders are listed in "
            "config/escalation.yaml (`deciders`); nothing was changed.",
            escalation_id,
            response_url,
        )
    try:
        esc = decide(
            session,
            escalation_id,
            decision,
            by=f"<@{user_id}>",
            note=f"decided in Slack by {name}",
            now=now,
            policy=policy,
            via="slack",
        )
    except InputError as exc:
        audit.record(
            session,
            at=now,
            actor=who,
            action="escalation.slack_final",
            subject=f"escalation:{escalation_id}",
            detail={"decision": decision, "reason": str(exc)},
        )
        esc = session.get(Escalation, escalation_id)
        cards = _cards(session, esc, clicked) if esc is not None else []
        return SlackOutcome("final", f"Nothing changed: {exc}.", escalation_id, response_url, cards)
    return SlackOutcome(
        "decided",
        f"Recorded: escalation {esc.id} {esc.status}.",
        esc.id,
        response_url,
        _cards(session, esc, clicked),
    )


def _response_url_allowed(url: str, settings: Settings) -> bool:
    parts = urlsplit(url)
    own = urlsplit(settings.slack_api_url)
    if parts.scheme == "https" and parts.hostname in SLACK_RESPONSE_HOSTS:
        return True
    return (parts.scheme, parts.netloc) == (own.scheme, own.netloc)


def follow_up(outcome: SlackOutcome, *, settings: Settings) -> dict[str, Any]:
    """After answering Slack: redraw the cards (``chat.update``) and tell the person who was
    refused (ephemeral, through ``response_url``). Returns what happened, for the audit log.
    Without a Slack token (outbox only) no card is updated."""
    from successcrew.integrations import providers
    from successcrew.integrations.http import ProviderError
    from successcrew.integrations.slack import post_response

    done: dict[str, Any] = {"cards_updated": 0, "card_errors": [], "told_user": False}
    if outcome.cards:
        client = providers.slack_client(settings)
        if client is None:
            done["cards_not_updated"] = "Slack is not configured (outbox only)"
        else:
            with client:
                for card in outcome.cards:
                    try:
                        client.update_message(
                            card.channel, card.ts, text=card.text, blocks=card.blocks
                        )
                        done["cards_updated"] += 1
                    except ProviderError as exc:
                        done["card_errors"].append(str(exc))
    if outcome.outcome in ("not_allowed", "final") and outcome.response_url:
        if _response_url_allowed(outcome.response_url, settings):
            try:
                post_response(
                    outcome.response_url,
                    {
                        "response_type": "ephemeral",
                        "replace_original": False,
                        "text": outcome.message,
                    },
                )
                done["told_user"] = True
            except Exception as exc:  # network errors: the audit entry says so
                done["card_errors"].append(f"response_url: {type(exc).__name__}")
        else:
            log.warning("Slack response_url on an unexpected host; not called")
    return done


def record_follow_up(
    session: Session, outcome: SlackOutcome, done: Mapping[str, Any], *, now: datetime
) -> None:
    """Audit what the follow-up did (cards redrawn, errors)."""
    if outcome.escalation_id is None or not (outcome.cards or done.get("told_user")):
        return
    audit.record(
        session,
        at=now,
        actor="slack",
        action="escalation.slack_card",
        subject=f"escalation:{outcome.escalation_id}",
        detail=dict(done),
    )
