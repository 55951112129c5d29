"""Which pause flags stop a message: scopes add up, none replaces another."""

from __future__ import annotations

from successcrew.store.outbox import pause_scopes


def test_program_email_is_stopped_by_its_program_and_by_all_campaigns() -> None:
    scopes = pause_scopes("email", {"kind": "campaign", "program": "at_risk"})
    assert set(scopes) == {"campaigns", "campaign:at_risk"}


def test_program_slack_note_is_stopped_by_the_global_campaign_pause_too() -> None:
    scopes = pause_scopes("slack", {"pause_scope": "campaign:critical"})
    assert set(scopes) == {"campaign:critical", "campaigns"}


def test_survey_email_and_scoring_notice() -> None:
    assert pause_scopes("email", {"kind": "survey"}) == ("surveys",)
    assert pause_scopes("crm_task", {"pause_scope": "scoring"}) == ("scoring",)
    assert pause_scopes("slack", {"text": "hello"}) == ()
