"""Each provider client against each hostile answer: what an error keeps, and no secret in it.

The process-level harness (tests/e2e/test_secret_leaks.py) drives the commands; here every
(provider, behaviour) pair is pinned down once, in-process, in a few milliseconds each.
"""

from __future__ import annotations

import logging

import pytest
from pytest_httpserver import HTTPServer

from successcrew.integrations import providers
from successcrew.integrations.http import (
    CODE_LIMIT,
    MESSAGE_LIMIT,
    HttpPolicy,
    ProviderAuthError,
    ProviderError,
)
from successcrew.redaction import install_log_redaction
from successcrew.settings import Settings
from tests.fakes.adversarial import (
    MODES,
    PROVIDERS,
    AdversarialProviders,
    leaked_pieces,
    provider_tokens,
)
from tests.integration.conftest import RETRY

TOKENS = provider_tokens()

#: What each hostile answer must leave in the error: status, and the error class.
EXPECTED = {
    "echo_header": (401, ProviderAuthError),
    "echo_twice": (403, ProviderAuthError),
    "echo_cut": (401, ProviderAuthError),
    "echo_body": (400, ProviderError),
    "json_field_500": (500, ProviderError),
    "redirect": (302, ProviderError),
}


@pytest.fixture
def hostile(server: HTTPServer) -> AdversarialProviders:
    return AdversarialProviders(server, TOKENS)


def _settings(server: HTTPServer) -> Settings:
    urls = {f"{p}_api_url": server.url_for(f"/{p}") for p in PROVIDERS}
    return Settings(
        slack_token=TOKENS["slack"],
        hubspot_token=TOKENS["hubspot"],
        salesforce_token=TOKENS["salesforce"],
        intercom_token=TOKENS["intercom"],
        sendgrid_api_key=TOKENS["sendgrid"],
        mailchimp_api_key=TOKENS["mailchimp"],
        **urls,
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_echoed_credential_never_reaches_the_error_or_the_log(
    provider: str,
    mode: str,
    server: HTTPServer,
    hostile: AdversarialProviders,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hostile.only = mode
    policy = HttpPolicy(retry=RETRY, connect_timeout=2.0, read_timeout=5.0, max_sleep_seconds=0)
    client = providers.client_for(_settings(server), provider, policy)
    install_log_redaction()  # as the command line does when it starts
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProviderError) as info:
        client.check()
    client.close()
    assert hostile.echoed >= 1  # the answer really carried the credential
    err = info.value
    status, cls = EXPECTED[mode]
    assert isinstance(err, cls) and err.status == status
    text = " ".join([str(err), err.code or "", caplog.text])
    assert leaked_pieces(text, TOKENS) == []
    assert f"HTTP {status}" in str(err)
    assert len(err.message) <= MESSAGE_LIMIT and len(err.code or "") <= CODE_LIMIT
    if mode == "json_field_500":
        # The provider's error code was the token itself: kept as a redacted code, retried.
        assert err.code == "[REDACTED]" and "gave up after 3 attempt(s)" in str(err)
        assert "attempt 1 failed" in caplog.text
    if mode == "redirect":
        assert err.code == "redirect"
        assert "redirects are not followed" in str(
            err
        ) and f"127.0.0.1:{server.port}/login;" in str(err)
        assert len(server.log) == 1  # never followed
