"""Slack client and Block Kit building against a stand-in Slack Web API."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from successcrew.integrations import Button, ProviderError, SlackClient, build_blocks
from successcrew.integrations.http import HttpPolicy
from successcrew.integrations.slack import build_message, channel_wait
from tests.fakes.slack import FakeSlack

TOKEN = "xoxb-slack-secret"


def _client(
    fake: FakeSlack, policy: HttpPolicy, sleeps: list[float], clock: list[float] | None = None
) -> SlackClient:
    times = clock if clock is not None else [100.0]
    return SlackClient(
        fake.url,
        token=SecretStr(TOKEN),
        policy=policy,
        sleep=sleeps.append,
        monotonic=lambda: times[0],
    )


def test_block_kit_alert_has_header_fields_and_decision_buttons() -> None:
    blocks = build_blocks(
        "Acme is Critical",
        summary="Health fell from 72 to 31 in 30 days.",
        fields={"ARR": "$120,000", "Owner": "kim@vendor.test"},
        buttons=[
            Button("Approve", "approve", "esc-9", style="primary"),
            Button("Decline", "decline", "esc-9", style="danger", confirm="Decline the offer?"),
        ],
    )
    assert [b["type"] for b in blocks] == ["header", "section", "section", "actions"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Acme is Critical"}
    assert blocks[2]["fields"][0] == {"type": "mrkdwn", "text": "*ARR*\n$120,000"}
    approve, decline = blocks[3]["elements"]
    assert approve["action_id"] == "approve" and approve["style"] == "primary"
    assert decline["confirm"]["text"]["text"] == "Decline the offer?"


def test_post_sends_blocks_fallback_text_and_the_idempotency_key(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    fake = FakeSlack(server, TOKEN)
    message = build_message(
        {"title": "Acme is Critical", "fields": {"Score": 31}, "channel": "#customer-success"},
        key="RETENTION-001:acct-1:1",
        default_channel="#other",
    )
    channel, ts = _client(fake, policy, sleeps).post_message(message)
    assert channel == "C0CS" and ts
    posted = fake.posts[0]
    assert posted["text"] == "Acme is Critical | Score: 31"
    assert posted["metadata"] == {
        "event_type": "successcrew_outbox",
        "event_payload": {"idempotency_key": "RETENTION-001:acct-1:1"},
    }
    assert posted["blocks"][0]["type"] == "header"
    assert server.log[0][0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_rate_limited_post_waits_retry_after_then_goes_out_once(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    fake = FakeSlack(server, TOKEN)
    fake.ratelimit_next = 1
    message = build_message({"title": "x"}, key="k1", default_channel="C0CS")
    _client(fake, policy, sleeps).post_message(message)
    assert sleeps == [3.0] and len(fake.posts) == 1


def test_ok_false_in_a_200_answer_is_an_error(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    fake = FakeSlack(server, TOKEN)
    message = build_message({"title": "x"}, key="k1", default_channel="#nowhere")
    with pytest.raises(ProviderError, match="channel_not_found") as info:
        _client(fake, policy, sleeps).post_message(message)
    assert not info.value.retryable and len(server.log) == 1


def test_posts_to_one_channel_are_a_second_apart_other_channels_are_not_held_up(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    fake = FakeSlack(server, TOKEN)
    clock = [100.0]
    client = _client(fake, policy, sleeps, clock)
    client.post_message(build_message({"title": "a"}, key="a", default_channel="C0CS"))
    clock[0] = 100.25
    client.post_message(build_message({"title": "b"}, key="b", default_channel="C0CH"))
    client.post_message(build_message({"title": "c"}, key="c", default_channel="C0CS"))
    assert sleeps == [0.75]
    assert channel_wait(None, 5.0, 1.0) == 0.0


def test_a_posted_message_is_found_again_by_its_key(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    fake = FakeSlack(server, TOKEN)
    client = _client(fake, policy, sleeps)
    _, ts = client.post_message(
        build_message({"title": "a"}, key="key-1", default_channel="#customer-success")
    )
    assert client.find_by_key("#customer-success", "key-1", oldest=0) == ts
    assert client.find_by_key("#customer-success", "key-2", oldest=0) is None
    history = next(r for r, _ in server.log if r.path.endswith("conversations.history"))
    assert history.args["include_all_metadata"] == "true" and history.args["channel"] == "C0CS"
