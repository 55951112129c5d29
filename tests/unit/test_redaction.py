"""The sanitiser: what it removes, what it leaves, and that it cuts only after removing."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import quote, quote_plus

import pytest
from pydantic import SecretStr

from successcrew.redaction import (
    REDACTED,
    hold,
    install_log_redaction,
    redact_document,
    redact_secrets,
    register,
    sanitise,
    secret_settings,
)
from successcrew.settings import Settings

TOKEN = f"xoxb-{secrets.token_urlsafe(30)}"


@pytest.fixture(autouse=True)
def _slack_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUCCESSCREW_SLACK_TOKEN", TOKEN)


def test_every_copy_and_every_run_of_eight_characters_goes() -> None:
    text = f"a {TOKEN} b {TOKEN} c {TOKEN[5:13]} d {TOKEN[20:]} e {TOKEN[3:10]}"
    out = redact_secrets(text)
    assert out == f"a {REDACTED} b {REDACTED} c {REDACTED} d {REDACTED} e {TOKEN[3:10]}"


def test_an_encoded_copy_goes_too() -> None:
    key = "pw!" + secrets.token_hex(12) + "/+="
    register([SecretStr(key)])
    assert redact_secrets(f"body key={quote(key, safe='')}&n=1") == f"body key={REDACTED}&n=1"
    assert redact_secrets(f"body key={quote_plus(key)}&n=1") == f"body key={REDACTED}&n=1"


def test_every_secret_setting_is_known_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [n for n, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)]
    assert set(secret_settings()) == set(names) and len(names) >= 8
    values = {n: secrets.token_hex(10) for n in names}
    for name, value in values.items():
        monkeypatch.setenv(f"SUCCESSCREW_{name.upper()}", value)
    out = redact_secrets(" ".join(values.values()))
    assert out == " ".join([REDACTED] * len(values))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-123", "Authorization: Bearer [REDACTED]"),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED]"),
        ("authorization: raw-credential-9", "authorization: [REDACTED]"),
        ('{"key": "md-1234", "name": "x"}', '{"key": "[REDACTED]", "name": "x"}'),
        (
            "{'api_key': 'k-1', 'password': 'hunter 2'}",
            "{'api_key': '[REDACTED]', 'password': '[REDACTED]'}",
        ),
        ('{\\"token\\": \\"t-1\\"}', '{\\"token\\": \\"[REDACTED]\\"}'),
        ('"access_token": "cut-off-mid', '"access_token": "[REDACTED]'),
        ("key=md-1&message=hi&x-api-key=z9", "key=[REDACTED]&message=hi&x-api-key=[REDACTED]"),
        ("GET /login?access_token=abc&next=%2F", "GET /login?access_token=[REDACTED]&next=%2F"),
        ("https://user:pa55@db.example/x", "https://[REDACTED]@db.example/x"),
        ("postgresql://ops:s3cret@10.0.0.5/crew", "postgresql://[REDACTED]@10.0.0.5/crew"),
    ],
)
def test_credentials_we_do_not_know_go_by_their_shape(text: str, expected: str) -> None:
    assert sanitise(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Acme is on the Basic plan; the bearer token expired",
        "token valid (workspace Acme)",
        "no SUCCESSCREW_SLACK_TOKEN configured: outbox only",
        "paused: campaigns (negative feedback)",
        "ProviderAuthError: slack: auth.test: invalid_auth",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert sanitise(text) == text


def test_the_limit_is_applied_after_removing_so_no_start_of_a_secret_is_left() -> None:
    text = "." * 195 + TOKEN
    cut = sanitise(text, limit=200)
    assert len(cut) == 200 and cut.endswith("…")
    assert TOKEN[:5] not in cut[190:]  # what a cut-then-redact would have left: "xoxb-"
    assert sanitise("." * 195 + "Bearer " + "q1w2e3r4t5y6u7", limit=200).count("q1w2") == 0


def test_documents_lose_secrets_but_keep_our_own_content() -> None:
    doc = {
        "text": "On the Basic plan? https://crew.example/s/abc?token=signed-link",
        "fields": {"Last error": f"slack: HTTP 401: {TOKEN}"},
        "n": [1, 2.5, None, True],
        TOKEN: "a key that is a secret",
    }
    out = redact_document(doc)
    assert out["text"] == doc["text"]  # a survey link and a plan name are ours: untouched
    assert out["fields"] == {"Last error": f"slack: HTTP 401: {REDACTED}"}
    assert out["n"] == [1, 2.5, None, True]
    assert REDACTED in out and TOKEN in doc  # a copy: the caller's document is not changed


def test_log_records_are_sanitised_as_they_are_made(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    log = logging.getLogger("successcrew.test")
    with caplog.at_level(logging.DEBUG):
        log.debug("sending with %s", f"Authorization: Bearer {TOKEN}")
        try:
            raise RuntimeError(f"provider said {TOKEN}")
        except RuntimeError:
            log.exception("failed")
    handler_text = caplog.text
    assert TOKEN[:12] not in handler_text and TOKEN[-12:] not in handler_text
    assert "sending with Authorization: Bearer [REDACTED]" in handler_text
    assert f"RuntimeError: provider said {REDACTED}" in handler_text


def test_a_secret_is_read_from_the_environment_as_it_is_now(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = secrets.token_hex(16)  # no provider prefix: another test's client may hold one
    monkeypatch.setenv("SUCCESSCREW_HUBSPOT_TOKEN", key)
    assert redact_secrets(f"x {key}") == f"x {REDACTED}"
    monkeypatch.delenv("SUCCESSCREW_HUBSPOT_TOKEN")
    assert redact_secrets(f"x {key}") == f"x {key}"  # no longer configured: nothing to hide


def test_a_held_secret_is_redacted_until_released() -> None:
    key = secrets.token_hex(16)
    release = hold([SecretStr(key)])
    again = hold([key])  # a second client with the same credential
    assert redact_secrets(key) == REDACTED
    release()
    release()  # idempotent: the other holder still counts
    assert redact_secrets(key) == REDACTED
    again()
    assert redact_secrets(key) == key
