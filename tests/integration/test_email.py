"""SendGrid and Mailchimp Transactional senders against stand-ins of their send endpoints."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from successcrew.integrations import EmailMessage, MailchimpClient, ProviderError, SendGridClient
from successcrew.integrations.http import HttpPolicy

KEY = "SG.sendgrid-secret-key"
MESSAGE = EmailMessage(
    to_email="ann@acme.io",
    to_name="Ann",
    subject="How are we doing?",
    text="Reply with a number 0-10.",
    html="<p>Reply with a number 0-10.</p>",
    from_email="success@vendor.test",
    idempotency_key="survey:acct-1:2025-06",
    categories=("survey",),
)


def test_sendgrid_sends_one_personalization_and_keeps_the_message_id(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request("/v3/mail/send", method="POST").respond_with_data(
        "", status=202, headers={"X-Message-Id": "sg-msg-1"}
    )
    client = SendGridClient(server.url_for(""), token=SecretStr(KEY), policy=policy)
    result = client.send(MESSAGE)
    assert result.message_id == "sg-msg-1" and result.status == "accepted"
    request = server.log[0][0]
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert json.loads(request.get_data()) == {
        "personalizations": [{"to": [{"email": "ann@acme.io", "name": "Ann"}]}],
        "from": {"email": "success@vendor.test"},
        "subject": "How are we doing?",
        "content": [
            {"type": "text/plain", "value": "Reply with a number 0-10."},
            {"type": "text/html", "value": "<p>Reply with a number 0-10.</p>"},
        ],
        "custom_args": {"successcrew_key": "survey:acct-1:2025-06"},
        "categories": ["survey"],
    }


def test_mailchimp_sends_with_the_key_in_the_body_and_accepts_queued(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request("/api/1.0/messages/send", method="POST").respond_with_json(
        [{"email": "ann@acme.io", "status": "queued", "_id": "md-1", "queued_reason": "hourly"}]
    )
    client = MailchimpClient(server.url_for("/api/1.0"), api_key=SecretStr(KEY), policy=policy)
    result = client.send(MESSAGE)
    assert (result.message_id, result.status) == ("md-1", "queued")
    body = json.loads(server.log[0][0].get_data())
    assert body["key"] == KEY
    assert body["message"]["to"] == [{"email": "ann@acme.io", "type": "to", "name": "Ann"}]
    assert body["message"]["metadata"] == {"successcrew_key": "survey:acct-1:2025-06"}
    assert body["message"]["tags"] == ["survey"]


@pytest.mark.parametrize("status", ["rejected", "invalid"])
def test_mailchimp_rejected_recipients_are_refused_for_good(
    status: str, server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request("/api/1.0/messages/send").respond_with_json(
        [{"email": "ann@acme.io", "status": status, "reject_reason": "hard-bounce", "_id": "x"}]
    )
    client = MailchimpClient(server.url_for("/api/1.0"), api_key=SecretStr(KEY), policy=policy)
    with pytest.raises(ProviderError, match=f"recipient {status}: hard-bounce") as info:
        client.send(MESSAGE)
    assert not info.value.retryable


def test_mailchimp_invalid_key_is_not_retried_and_not_echoed(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request("/api/1.0/messages/send").respond_with_json(
        {"status": "error", "code": -1, "name": "Invalid_Key", "message": f"Invalid API key {KEY}"},
        status=500,
    )
    client = MailchimpClient(server.url_for("/api/1.0"), api_key=SecretStr(KEY), policy=policy)
    with pytest.raises(ProviderError) as info:
        client.send(MESSAGE)
    assert len(server.log) == 1  # Mandrill's 500 for a bad key is not an outage
    assert info.value.code == "Invalid_Key" and KEY not in str(info.value)
