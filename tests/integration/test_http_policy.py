"""The shared HTTP policy, exercised through every provider's credential check over real HTTP."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from successcrew.integrations import (
    HubSpotConnector,
    IntercomConnector,
    MailchimpClient,
    ProviderError,
    ProviderResponseError,
    SalesforceConnector,
    SendGridClient,
    SlackClient,
)
from successcrew.integrations.http import HttpPolicy, ProviderClient

TOKEN = "tok-SECRET-4242-do-not-leak"


@dataclass(frozen=True)
class Provider:
    name: str
    prefix: str  # where the API lives on the server
    method: str
    path: str  # the check call, relative to prefix
    ok_body: Any
    build: Callable[[str, HttpPolicy, Callable[[float], None]], ProviderClient]


def _bearer(cls: type[ProviderClient], **extra: Any) -> Callable[..., ProviderClient]:
    return lambda url, policy, sleep: cls(
        url, token=SecretStr(TOKEN), policy=policy, sleep=sleep, **extra
    )


PROVIDERS = [
    Provider(
        "slack", "/api", "POST", "/auth.test", {"ok": True, "team": "Acme"}, _bearer(SlackClient)
    ),
    Provider(
        "hubspot",
        "",
        "GET",
        "/crm/v3/objects/companies",
        {"results": []},
        _bearer(HubSpotConnector),
    ),
    Provider(
        "salesforce",
        "",
        "GET",
        "/services/data/v61.0/limits",
        {"DailyApiRequests": {"Max": 15000, "Remaining": 14990}},
        _bearer(SalesforceConnector),
    ),
    Provider(
        "intercom",
        "",
        "GET",
        "/me",
        {"type": "admin", "email": "ops@acme.test"},
        _bearer(IntercomConnector),
    ),
    Provider(
        "sendgrid", "", "GET", "/v3/scopes", {"scopes": ["mail.send"]}, _bearer(SendGridClient)
    ),
    Provider(
        "mailchimp",
        "/api/1.0",
        "POST",
        "/users/ping",
        "PONG!",
        lambda url, policy, sleep: MailchimpClient(
            url, api_key=SecretStr(TOKEN), policy=policy, sleep=sleep
        ),
    ),
]


@pytest.fixture(params=PROVIDERS, ids=lambda p: p.name)
def provider(request: pytest.FixtureRequest) -> Provider:
    return request.param


def _client(
    p: Provider, server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> ProviderClient:
    return p.build(server.url_for(p.prefix), policy, sleeps.append)


def _path(p: Provider) -> str:
    return p.prefix + p.path


def test_the_check_request_is_exactly_what_the_provider_documents(
    provider: Provider, server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request(_path(provider), method=provider.method).respond_with_json(
        provider.ok_body
    )
    client = _client(provider, server, policy, sleeps)
    assert client.check()  # type: ignore[attr-defined]
    ((request, _),) = server.log
    assert request.method == provider.method
    assert request.path == _path(provider)
    assert request.headers["User-Agent"].startswith("successcrew/")
    if provider.name == "mailchimp":
        # Mandrill authenticates with the key in the JSON body, never a header.
        assert "Authorization" not in request.headers
        assert request.get_json() == {"key": TOKEN}
    else:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    if provider.name == "intercom":
        assert request.headers["Intercom-Version"] == "2.11"


def test_429_with_retry_after_is_waited_out_then_succeeds(
    provider: Provider, server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_oneshot_request(_path(provider)).respond_with_json(
        {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "7"}
    )
    server.expect_request(_path(provider)).respond_with_json(provider.ok_body)
    client = _client(provider, server, policy, sleeps)
    assert client.check()  # type: ignore[attr-defined]
    assert len(server.log) == 2
    assert sleeps == [7.0]  # the provider's wait, not our backoff


def test_three_server_errors_in_a_row_end_in_a_recorded_failure(
    provider: Provider, server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request(_path(provider)).respond_with_data("upstream down", status=502)
    client = _client(provider, server, policy, sleeps)
    with pytest.raises(ProviderError) as info:
        client.check()  # type: ignore[attr-defined]
    assert len(server.log) == 3
    assert info.value.retryable and info.value.status == 502
    assert "gave up after 3 attempt(s)" in str(info.value)
    # Exponential backoff with full jitter: at most 1 s, then at most 2 s.
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1 and 0 <= sleeps[1] <= 2


def test_a_timeout_is_retried_then_reported(
    provider: Provider, server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    def slow(request: Request) -> Response:
        time.sleep(0.3)
        return Response(json.dumps(provider.ok_body), content_type="application/json")

    server.expect_request(_path(provider)).respond_with_handler(slow)
    client = _client(provider, server, replace(policy, read_timeout=0.1), sleeps)
    with pytest.raises(ProviderError) as info:
        client.check()  # type: ignore[attr-defined]
    assert "timeout" in str(info.value)
    assert info.value.retryable
    assert len(sleeps) == 2  # three attempts
    time.sleep(0.35)  # let the abandoned handlers finish so they do not log into the next test


def test_a_400_is_not_retried(
    provider: Provider, server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request(_path(provider)).respond_with_json(
        {"error": "bad request", "message": "field x is invalid"}, status=400
    )
    client = _client(provider, server, policy, sleeps)
    with pytest.raises(ProviderError) as info:
        client.check()  # type: ignore[attr-defined]
    assert len(server.log) == 1 and sleeps == []
    assert info.value.status == 400 and not info.value.retryable


def test_a_malformed_json_body_is_a_clear_error(
    provider: Provider, server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request(_path(provider)).respond_with_data(
        "<html>gateway hiccup", status=200, content_type="application/json"
    )
    client = _client(provider, server, policy, sleeps)
    with pytest.raises(ProviderResponseError) as info:
        client.check()  # type: ignore[attr-defined]
    assert "not JSON" in str(info.value)
    assert len(server.log) == 1


def test_the_token_never_appears_in_logs_errors_or_reprs(
    provider: Provider,
    server: HTTPServer,
    policy: HttpPolicy,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def echo(request: Request) -> Response:
        # A badly behaved proxy that echoes the credentials back in its error page.
        leak = f"auth={request.headers.get('Authorization')} body={request.get_data(as_text=True)}"
        return Response(leak, status=500)

    server.expect_request(_path(provider)).respond_with_handler(echo)
    client = _client(provider, server, policy, sleeps)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProviderError) as info:
        client.check()  # type: ignore[attr-defined]
    assert TOKEN in server.log[0][0].get_data(as_text=True) or provider.name != "mailchimp"
    assert TOKEN not in str(info.value)
    assert "[REDACTED]" in str(info.value)
    assert TOKEN not in caplog.text
    assert "attempt 1 failed" in caplog.text
    assert TOKEN not in repr(client)
