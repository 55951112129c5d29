"""Segment HTTP Tracking API calls (``track``, ``identify``, ``group``, ``page``, ``screen``,
``alias``) as what the crew keeps: account upserts, user-to-account links, contacts and usage
events. Pure: the mapping and the clock's reading are handed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from successcrew.definitions.product_events import ProductEvents
from successcrew.domain.json_objects import json_object

#: Call types Segment defines; the ones we do not use are acknowledged and dropped.
TYPES = frozenset({"track", "identify", "group", "page", "screen", "alias"})


@dataclass(frozen=True)
class UsageRow:
    """One ``track`` event as a usage event (the account is resolved by the caller)."""

    message_id: str
    user_id: str | None
    group_id: str | None
    metric: str
    value: float
    occurred_at: datetime

    @property
    def event_key(self) -> str:
        """The usage event's unique key: a digest of the Segment messageId."""
        return hashlib.sha1(f"segment|{self.message_id}".encode()).hexdigest()


@dataclass
class SegmentPlan:
    """What a batch of calls asks for, and what was dropped and why."""

    accounts: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    links: dict[str, str] = field(default_factory=dict[str, str])  # user id -> group id
    # user id -> traits
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    usage: list[UsageRow] = field(default_factory=list[UsageRow])
    dropped: dict[str, int] = field(default_factory=dict[str, int])

    def drop(self, why: str) -> None:
        """Count one call dropped for ``why``."""
        self.dropped[why] = self.dropped.get(why, 0) + 1


def _text(value: Any, limit: int = 200) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text[:limit] if text else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


#: Drops by design (calls and events the crew does not use), as opposed to calls that came
#: without the data they need (those are warned about: the sender is likely misconfigured).
UNUSED = frozenset({"page_not_used", "screen_not_used", "alias_not_used", "event_not_mapped"})


def traits_of(call: Mapping[str, Any]) -> Mapping[str, Any]:
    """The traits of an ``identify`` or ``group`` call: top-level ``traits`` (Segment's spec and
    libraries), with ``context.traits`` (where RudderStack's libraries put an identify's traits)
    filling in what the top level lacks."""
    top = json_object(call.get("traits")) or {}
    context = json_object(call.get("context")) or {}
    inner = json_object(context.get("traits")) or {}
    return {**inner, **top}


def group_of(call: Mapping[str, Any]) -> str | None:
    """The account a call names: ``groupId``, else ``context.groupId`` (Segment's B2B
    convention), else ``properties.groupId``."""
    context = json_object(call.get("context")) or {}
    props = json_object(call.get("properties")) or {}
    return (
        _text(call.get("groupId")) or _text(context.get("groupId")) or _text(props.get("groupId"))
    )


def plan_calls(
    calls: Iterable[tuple[Mapping[str, Any], datetime]], mapping: ProductEvents
) -> SegmentPlan:
    """Sort already-deduplicated calls, each with its time (``timestamp``, else when it was
    received), into the plan. Calls without a user, a track without an event name, and events
    the mapping does not list are dropped (Segment answers 200 for those too)."""
    plan = SegmentPlan()
    for call, at in calls:
        kind = call.get("type")
        if kind not in TYPES:
            plan.drop("unknown_type")
            continue
        user = _text(call.get("userId"))
        if user is None and _text(call.get("anonymousId")) is None:
            plan.drop("no_user_anon_id")
            continue
        group = group_of(call)
        if kind == "group":
            if group is None:
                plan.drop("group_without_groupId")
                continue
            traits = traits_of(call)
            account = plan.accounts.setdefault(group, {})
            for column, trait in (
                ("name", mapping.account_name_trait),
                ("plan", mapping.account_plan_trait),
                ("segment", mapping.account_segment_trait),
            ):
                text = _text(traits.get(trait)) if trait else None
                if text is not None:
                    account[column] = text
            if user is not None:
                plan.links[user] = group
        elif kind == "identify":
            traits = traits_of(call)
            email = _text(traits.get("email"), 320)
            if user is None or email is None or "@" not in email:
                plan.drop("identify_without_user_or_email")
                continue
            plan.contacts[user] = {"email": email, "name": _text(traits.get("name"), 300)}
            if group is not None:
                plan.links[user] = group
        elif kind == "track":
            event = _text(call.get("event"))
            if event is None:
                plan.drop("track_without_event")
                continue
            spec = mapping.track.get(event)
            if spec is None:
                plan.drop("event_not_mapped")
                continue
            value: float | None = 1.0
            if spec.value_property:
                props = json_object(call.get("properties")) or {}
                value = _number(props.get(spec.value_property))
            if value is None:
                plan.drop("value_property_missing")
                continue
            plan.usage.append(
                UsageRow(
                    message_id=str(call.get("messageId")),
                    user_id=user,
                    group_id=group,
                    metric=spec.metric,
                    value=value,
                    occurred_at=at,
                )
            )
        else:
            plan.drop(f"{kind}_not_used")
    return plan
