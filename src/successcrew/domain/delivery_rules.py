"""Outbox decisions that need no database: whether a kind of message must wait, and why.

The dispatcher groups due messages by what decides their fate (channel, pause scopes, provider,
opted-out recipient) and asks ``hold_reason`` once per group, so holding 18,000 messages costs a
few statements, not 18,000 round trips.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class HoldGroup:
    """What decides whether a message can be sent now (the dispatcher's grouping key)."""

    channel: str
    scopes: tuple[str, ...]  # pause scopes besides ``automation`` (``outbox.pause_scopes``)
    provider: str | None  # email or CRM provider named in the payload
    opted_out: bool  # email only: the recipient has opted out (checked at send time)


def pause_reason(scope: str, reason: str | None) -> str:
    """The ``last_error`` of a message held by a pause flag."""
    return f"paused: {scope}" + (f" ({reason})" if reason else "")


def hold_reason(
    group: HoldGroup,
    *,
    paused: Mapping[str, str | None],
    known_crm: Sequence[str],
    outbox_only: Callable[[str, str | None], str | None],
) -> str | None:
    """Why the group's messages must wait, or None when each goes to the dispatcher as before.

    Same order as the per-message preflight: a pause holds (``automation`` first, then the
    message's own scopes); otherwise an opted-out recipient, an unknown channel or CRM provider
    is left to the per-message path (suppressed or dead-lettered there, once); otherwise a
    provider without credentials holds (``outbox_only(channel, provider)`` gives that reason).
    """
    for scope in ("automation", *group.scopes):
        if scope in paused:
            return pause_reason(scope, paused[scope])
    if group.channel == "email":
        if group.opted_out:
            return None
    elif group.channel == "crm_task":
        if group.provider not in known_crm:
            return None
    elif group.channel != "slack":
        return None
    return outbox_only(group.channel, group.provider)
