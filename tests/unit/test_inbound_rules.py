"""The pure parts of what `serve` takes in: signatures (with SendGrid's own known-answer
vectors), unsubscribe tokens, provider events in our vocabulary, Segment calls as a plan."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from successcrew.definitions.product_events import ProductEvents, TrackMetric
from successcrew.domain.email_event_rules import mandrill_events, sendgrid_events
from successcrew.domain.escalation_rules import decided_card, parse_button
from successcrew.domain.product_event_rules import plan_calls
from successcrew.domain.unsubscribe_tokens import (
    UnsubscribeClaims,
    UnsubscribeTokenError,
    sign_unsubscribe_token,
    verify_unsubscribe_token,
)
from successcrew.web.signatures import verify_mandrill, verify_sendgrid, verify_slack
from tests.signing import mandrill_signature, slack_headers

# Published in SendGrid's own SDK tests (two keys). The second is a real `dropped` event whose
# body ends in CRLF: the signature covers the raw bytes, so stripping them must break it.
KAT = [
    (
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==",
        b'{"category":"example_payload","event":"test_event","message_id":"message_id"}',
        "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=",
        "1588788367",
    ),
    (
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==",
        json.dumps(
            [
                {
                    "email": "hello@world.com",
                    "event": "dropped",
                    "reason": "Bounced Address",
                    "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
                    "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
                    "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
                    "timestamp": 1600112492,
                }
            ],
            separators=(",", ":"),
        ).encode()
        + b"\r\n",
        "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=",
        "1600112502",
    ),
]


@pytest.mark.parametrize(("key", "body", "sig", "ts"), KAT)
def test_sendgrid_known_answers_verify_and_any_change_fails(key, body, sig, ts) -> None:
    def verify(key: str, body: bytes, sig: str | None, ts: str, now: float | None = None) -> bool:
        # The known answers were signed in 2020: the clock reads their moment.
        at = int(ts) + 5 if now is None else now
        return verify_sendgrid(key, body, sig, ts, now=at, max_age_seconds=600)

    assert verify(key, body, sig, ts)
    assert not verify(key, body + b" ", sig, ts)
    assert not verify(key, body, sig, str(int(ts) + 1))
    assert not verify(key, body.rstrip(b"\r\n"), sig, ts) or body == body.rstrip()
    assert not verify(key, body, None, ts)
    assert not verify(key, body, "not base64!", ts)
    assert not verify("bm90IGEga2V5", body, sig, ts)
    # Genuine, but signed more than ten minutes from now (either way): a replay, refused.
    assert verify(key, body, sig, ts, now=int(ts) + 600)
    assert not verify(key, body, sig, ts, now=int(ts) + 601)
    assert not verify(key, body, sig, ts, now=int(ts) - 601)
    assert not verify(key, body, sig, ts, now=int(ts) + 30 * 86400)


def test_mandrill_signature_covers_url_and_sorted_params() -> None:
    url = "https://crew.example.com/webhooks/mailchimp"
    params = {"mandrill_events": "[]", "b": "2"}
    good = mandrill_signature("k", url, params)
    assert verify_mandrill("k", url, params, good, test_key=False)
    assert not verify_mandrill("k", url + "/", params, good, test_key=False)
    assert not verify_mandrill("k", url, {**params, "b": "3"}, good, test_key=False)
    test_signed = mandrill_signature("test-webhook", url, params)
    assert not verify_mandrill("k", url, params, test_signed, test_key=False)
    assert verify_mandrill("k", url, params, test_signed, test_key=True)


def test_slack_signature_window_and_bad_timestamps() -> None:
    body = b"payload=%7B%7D"
    now = 1_800_000_000.0
    fresh = slack_headers("s", body, ts=int(now))
    assert verify_slack("s", body, fresh, wall_clock=lambda: now)
    assert not verify_slack("s", body, fresh, wall_clock=lambda: now + 301)
    assert not verify_slack("t", body, fresh, wall_clock=lambda: now)
    assert not verify_slack(
        "s", body, {**fresh, "X-Slack-Request-Timestamp": "abc"}, wall_clock=lambda: now
    )


def test_unsubscribe_tokens_are_signed_and_not_survey_tokens() -> None:
    token = sign_unsubscribe_token(UnsubscribeClaims(42, "program:at_risk"), "secret")
    assert verify_unsubscribe_token(token, "secret") == UnsubscribeClaims(42, "program:at_risk")
    with pytest.raises(UnsubscribeTokenError) as altered:
        verify_unsubscribe_token(token, "other")
    assert altered.value.reason == "altered"
    with pytest.raises(UnsubscribeTokenError) as malformed:
        verify_unsubscribe_token("nodot", "secret")
    assert malformed.value.reason == "malformed"


def test_provider_events_in_our_vocabulary() -> None:
    events, skipped = sendgrid_events(
        [
            {
                "event": "bounce",
                "type": "bounce",
                "email": "a@x.io",
                "timestamp": 1,
                "sg_event_id": "1",
                "successcrew_key": "k",
            },
            {
                "event": "bounce",
                "type": "blocked",
                "email": "a@x.io",
                "timestamp": 1,
                "sg_event_id": "2",
            },
            {"event": "spamreport", "email": "a@x.io", "timestamp": 1, "sg_event_id": "3"},
            {"event": "whatever", "email": "a@x.io", "timestamp": 1},
            "junk",
        ]
    )
    assert [(e.kind, e.outbox_key) for e in events] == [
        ("hard_bounce", "k"),
        ("soft_bounce", None),
        ("spam_complaint", None),
    ]
    assert skipped == 2
    replies, _ = mandrill_events(
        [
            {"event": "inbound", "ts": 5, "msg": {"from_email": "b@x.io", "text": "awful"}},
            {
                "event": "inbound",
                "ts": 6,
                "msg": {"from_email": "b@x.io", "text": "thanks, lovely"},
            },
            {
                "event": "hard_bounce",
                "ts": 7,
                "_id": "m",
                "msg": {"email": "c@x.io", "metadata": {"successcrew_key": "k2"}},
            },
        ],
        sentiment=lambda text: -0.6 if text == "awful" else 0.7,
    )
    assert [(e.kind, e.email) for e in replies] == [
        ("negative_reply", "b@x.io"),
        ("reply", "b@x.io"),
        ("hard_bounce", "c@x.io"),
    ]
    assert replies[2].event_id == "m:hard_bounce:7" and replies[2].outbox_key == "k2"


def test_segment_calls_as_a_plan() -> None:
    mapping = ProductEvents(
        track={
            "Signed In": TrackMetric(metric="logins"),
            "Calls": TrackMetric(metric="api_calls", value_property="n"),
        }
    )
    at = datetime(2026, 11, 1, tzinfo=UTC)
    plan = plan_calls(
        [
            ({"type": "group", "userId": "u1", "groupId": "g1", "traits": {"name": "Globex"}}, at),
            ({"type": "track", "userId": "u1", "event": "Signed In", "messageId": "m1"}, at),
            (
                {
                    "type": "track",
                    "userId": "u1",
                    "event": "Calls",
                    "properties": {"n": "7"},
                    "messageId": "m2",
                    "context": {"groupId": "g2"},
                },
                at,
            ),
            (
                {
                    "type": "track",
                    "userId": "u1",
                    "event": "Calls",
                    "properties": {},
                    "messageId": "m3",
                },
                at,
            ),
            ({"type": "track", "event": "Signed In", "messageId": "m4"}, at),
            ({"type": "page", "userId": "u1", "messageId": "m5"}, at),
        ],
        mapping,
    )
    assert plan.accounts == {"g1": {"name": "Globex"}} and plan.links == {"u1": "g1"}
    assert [(u.metric, u.value, u.group_id) for u in plan.usage] == [
        ("logins", 1.0, None),
        ("api_calls", 7.0, "g2"),
    ]
    assert plan.dropped == {"value_property_missing": 1, "no_user_anon_id": 1, "page_not_used": 1}


def test_identify_and_group_traits_where_each_sender_puts_them() -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    calls = [
        # Segment's spec and library: top-level traits.
        {"type": "identify", "userId": "u1", "traits": {"email": "a@x.io", "name": "Ann"}},
        # RudderStack's Python library: an identify's traits in context.traits.
        {"type": "identify", "userId": "u2", "context": {"traits": {"email": "b@x.io"}}},
        # Both: the top level wins, context fills in what it lacks.
        {
            "type": "identify",
            "userId": "u3",
            "traits": {"name": "Cy"},
            "context": {"traits": {"email": "c@x.io", "name": "Not Cy"}},
        },
        {"type": "group", "userId": "u2", "groupId": "g1", "context": {"traits": {"name": "Gx"}}},
        {"type": "identify", "userId": "u4", "context": {"traits": ["not", "a", "mapping"]}},
    ]
    plan = plan_calls([(c, at) for c in calls], ProductEvents())
    assert plan.contacts == {
        "u1": {"email": "a@x.io", "name": "Ann"},
        "u2": {"email": "b@x.io", "name": None},
        "u3": {"email": "c@x.io", "name": "Cy"},
    }
    assert plan.accounts == {"g1": {"name": "Gx"}}
    assert plan.dropped == {"identify_without_user_or_email": 1}


def test_card_buttons_parse_strictly_and_decided_card_drops_them() -> None:
    assert parse_button("escalation_approve", "12:approve") == (12, "approve")
    assert parse_button("escalation_approve", "12:decline") is None
    assert parse_button("other", "12:approve") is None
    blocks = [{"type": "header"}, {"type": "actions", "elements": []}]
    card = decided_card(
        blocks, status="approved", by="<@U1>", at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    )
    assert [b["type"] for b in card] == ["header", "context"]
    assert card[-1]["elements"][0]["text"] == "Approved by <@U1> at 2026-01-02 03:04 UTC"
