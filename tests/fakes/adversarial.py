"""Hostile stand-ins for all six providers: error answers that echo our credentials back.

Some real gateways and proxies do this: a 401/403 page repeating the request's
``Authorization`` header (sometimes twice, sometimes cut off mid-value), a 400 that echoes the
body (Mandrill's ``key`` travels there), a 500 whose JSON carries the token in its fields, a
redirect to a login URL with the token in its query. Every provider lives under its own prefix
of one loopback server (``/slack``, ``/hubspot``, ...) and answers *every* request with the next
behaviour of :data:`MODES` in turn, so a handful of commands meets all of them.

:func:`leaked_pieces` is the independent check the tests assert with: every secret and every run
of 8 of its characters, looked for naively.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
from collections import Counter
from typing import Any
from urllib.parse import quote_plus, urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

PROVIDERS = ("slack", "hubspot", "salesforce", "intercom", "sendgrid", "mailchimp")
MODES = ("echo_header", "echo_twice", "echo_cut", "echo_body", "json_field_500", "redirect")
PIECE = 8


def provider_tokens() -> dict[str, str]:
    """Distinctive, long random credentials, shaped like each provider's, new every call."""
    t = secrets.token_urlsafe
    return {
        "slack": f"xoxb-{secrets.randbelow(10**12):012d}-{t(24)}",
        "hubspot": f"pat-na1-{t(27)}",
        "salesforce": f"00D{t(12)}!AQ{t(40)}",
        "intercom": f"dG9r{t(42)}",
        "sendgrid": f"SG.{t(16)}.{t(32)}",
        "mailchimp": f"md-{t(22)}",
    }


def other_secrets() -> dict[str, str]:
    """The settings' other SecretStr values (Slack signing secret, survey-link secret)."""
    return {
        "slack_signing_secret": secrets.token_hex(16),
        "survey_secret": secrets.token_urlsafe(24),
    }


def leaked_pieces(text: str, secrets_: dict[str, str]) -> list[str]:
    """``name: piece`` for every secret, or run of 8 of its characters, found in ``text`` (as is
    or URL-encoded, as a form body carries it)."""
    found = []
    for name, secret in secrets_.items():
        for form in dict.fromkeys((secret, quote_plus(secret))):
            pieces = (form[i : i + PIECE] for i in range(max(len(form) - PIECE + 1, 1)))
            hit = next((p for p in pieces if p in text), None)
            if hit is not None:
                found.append(f"{name}: {hit!r}")
                break
    return found


def provider_env(server: HTTPServer, tokens: dict[str, str]) -> dict[str, str]:
    """``SUCCESSCREW_*`` settings pointing every provider at its hostile stand-in."""
    env = {
        "SUCCESSCREW_SLACK_TOKEN": tokens["slack"],
        "SUCCESSCREW_HUBSPOT_TOKEN": tokens["hubspot"],
        "SUCCESSCREW_SALESFORCE_TOKEN": tokens["salesforce"],
        "SUCCESSCREW_INTERCOM_TOKEN": tokens["intercom"],
        "SUCCESSCREW_SENDGRID_API_KEY": tokens["sendgrid"],
        "SUCCESSCREW_MAILCHIMP_API_KEY": tokens["mailchimp"],
    }
    for provider in PROVIDERS:
        env[f"SUCCESSCREW_{provider.upper()}_API_URL"] = server.url_for(f"/{provider}")
    return env


class AdversarialProviders:
    """All six providers on ``server``; each answers its requests with the modes in turn."""

    def __init__(self, server: HTTPServer, tokens: dict[str, str]) -> None:
        self.server = server
        self.tokens = tokens
        self._cycles = {p: itertools.cycle(MODES) for p in PROVIDERS}
        self._lock = threading.Lock()
        #: (provider, mode) -> answers given
        self.served: Counter[tuple[str, str]] = Counter()
        #: answers whose body or headers carried the provider's credential
        self.echoed = 0
        #: When set, every request is answered with this mode (tests of one behaviour).
        self.only: str | None = None
        pattern = re.compile(rf"^/({'|'.join(PROVIDERS)})(/.*)?$")
        server.expect_request(pattern).respond_with_handler(self._answer)

    def _credential(self, provider: str, request: Request) -> str:
        """The credential as it came over the wire: the header, or Mandrill's body key."""
        header = request.headers.get("Authorization")
        if header:
            return f"Authorization: {header}"
        try:
            key = (json.loads(request.get_data(as_text=True) or "{}") or {}).get("key")
        except ValueError:
            key = None
        return f'"key": "{key}"' if key else "no credential"

    def _body_echo(self, request: Request) -> str:
        raw = request.get_data(as_text=True)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        flat = {
            k: v if isinstance(v, str) else json.dumps(v)
            for k, v in (body.items() if isinstance(body, dict) else [])
        }
        flat["authorization"] = request.headers.get("Authorization", "")
        return (
            f"could not parse request {request.method} {request.full_path}\n"
            f"body: {raw or '(empty)'}\nas form: {urlencode(flat)}"
        )

    def _answer(self, request: Request) -> Response:
        provider = request.path.split("/")[1]
        with self._lock:
            mode = self.only or next(self._cycles[provider])
            self.served[(provider, mode)] += 1
        cred = self._credential(provider, request)
        token = self.tokens[provider]
        half = cred[: len(cred) // 2 + PIECE]
        if mode == "echo_header":
            response = Response(f"401 Unauthorized: {cred}", status=401, mimetype="text/plain")
        elif mode == "echo_twice":
            page = f"<html><h1>403 Forbidden</h1><p>{cred}</p><pre>{cred}</pre></html>"
            response = Response(page, status=403, mimetype="text/html")
        elif mode == "echo_cut":
            # Cut mid-value by the gateway, and a whole copy placed where a length limit of
            # 200 or 300 characters would cut it in the middle.
            text = f"401 credentials rejected: {half}\n{'.' * 170}{cred}{'.' * 60}{cred}"
            response = Response(text, status=401, mimetype="text/plain")
        elif mode == "echo_body":
            response = Response(self._body_echo(request), status=400, mimetype="text/plain")
        elif mode == "json_field_500":
            body: dict[str, Any] = {
                "error": token,
                "code": token,
                "message": f"upstream refused {cred}",
                "errors": [{"code": token, "message": cred}],
                "request": {"headers": {"authorization": cred}, "api_key": token},
            }
            response = Response(json.dumps(body), status=500, mimetype="application/json")
        else:
            port = self.server.port
            location = f"http://user:{token}@127.0.0.1:{port}/login?access_token={token}&next=%2F"
            response = Response(
                f"Redirecting to {location}", status=302, headers={"Location": location}
            )
        carried = response.get_data(as_text=True) + response.headers.get("Location", "")
        if token in carried or quote_plus(token) in carried:
            with self._lock:
                self.echoed += 1
        return response

    def missing_modes(self) -> list[tuple[str, str]]:
        """(provider, mode) pairs not answered yet."""
        return [(p, m) for p in PROVIDERS for m in MODES if not self.served[(p, m)]]
