"""The dispatcher's per-group hold decision, without a database."""

from __future__ import annotations

from successcrew.domain.delivery_rules import HoldGroup, hold_reason

CRM = ("hubspot", "salesforce", "intercom")


def decide(group: HoldGroup, paused: dict[str, str | None] | None = None) -> str | None:
    return hold_reason(
        group,
        paused=paused or {},
        known_crm=CRM,
        outbox_only=lambda channel, provider: f"no {provider or channel}",
    )


def test_a_pause_holds_first_automation_before_the_messages_own_scopes() -> None:
    group = HoldGroup("email", ("campaigns", "campaign:p"), None, opted_out=True)
    assert decide(group, {"campaign:p": "x"}) == "paused: campaign:p (x)"
    assert decide(group, {"campaign:p": "x", "automation": None}) == "paused: automation"


def test_unsendable_for_good_is_left_to_the_per_message_path() -> None:
    assert decide(HoldGroup("email", (), None, opted_out=True)) is None  # suppressed there
    assert decide(HoldGroup("crm_task", (), "pipedrive", opted_out=False)) is None  # dead there
    assert decide(HoldGroup("fax", (), None, opted_out=False)) is None


def test_missing_credentials_hold() -> None:
    assert decide(HoldGroup("slack", (), None, opted_out=False)) == "no slack"
    assert decide(HoldGroup("crm_task", (), "hubspot", opted_out=False)) == "no hubspot"
    sendable = hold_reason(
        HoldGroup("slack", (), None, opted_out=False),
        paused={},
        known_crm=CRM,
        outbox_only=lambda channel, provider: None,
    )
    assert sendable is None
