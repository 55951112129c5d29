"""Sign-in through a trusted reverse proxy's header and through OpenID Connect (a stand-in
provider on loopback), against real ``successcrew serve`` processes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from pytest_httpserver import HTTPServer

from tests.browser import seeding
from tests.browsing import Dashboard, running_dashboard
from tests.fakes.oidc_provider import FakeOidc
from tests.serving import module_database

HEADER = "X-Forwarded-Email"


@dataclass
class Doors:
    trusted: Dashboard  # 127.0.0.1 (the tests) is the auth proxy
    untrusted: Dashboard  # the auth proxy is elsewhere: the header must be ignored
    oidc: FakeOidc


@pytest.fixture(scope="module")
def doors(tmp_path_factory: pytest.TempPathFactory, sqlite_template: object) -> Iterator[Doors]:
    folder = tmp_path_factory.mktemp("sign-in-methods")
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    idp = FakeOidc(server, client_id="crew", client_secret="idp-client-secret").install()
    oidc = {
        "SUCCESSCREW_OIDC_ISSUER": idp.issuer,
        "SUCCESSCREW_OIDC_CLIENT_ID": "crew",
        "SUCCESSCREW_OIDC_CLIENT_SECRET": "idp-client-secret",
        "SUCCESSCREW_OIDC_NAME": "Example SSO",
    }
    try:
        with (
            module_database("sqlite", folder, sqlite_template) as db_url,  # type: ignore[arg-type]
            running_dashboard(
                db_url,
                folder,
                SUCCESSCREW_AUTH_PROXY_HEADER=HEADER,
                SUCCESSCREW_AUTH_PROXIES="127.0.0.1",
                **oidc,
            ) as trusted,
            running_dashboard(
                db_url,
                folder,
                SUCCESSCREW_AUTH_PROXY_HEADER=HEADER,
                SUCCESSCREW_AUTH_PROXIES="192.0.2.10",
            ) as untrusted,
        ):
            yield Doors(trusted, untrusted, idp)
    finally:
        server.clear()
        server.stop()


def test_the_proxy_header_signs_in_from_the_proxy_address(doors: Doors) -> None:
    client = doors.trusted.http(None)
    page = client.get("/my-work", headers={HEADER: doors.trusted.users["lead"].upper()})
    assert page.status_code == 200
    assert "Lead Tester" in page.text
    assert "Sign out" not in page.text  # the proxy owns the session
    # Its forms carry the page's token, like a cookie session's.
    acct = seeding.account(doors.trusted.engine, "Proxied Ltd", "someone@example.com")
    task_id = seeding.task(doors.trusted.engine, acct, "Follow up")
    headers = {HEADER: doors.trusted.users["lead"]}
    client.headers.update(headers)
    token = doors.trusted.csrf(client, "/my-work")
    done = client.post(f"/my-work/{task_id}", data={"action": "done", "csrf_token": token})
    assert done.status_code == 303
    assert client.post(f"/my-work/{task_id}", data={"action": "reopen"}).status_code == 403


def test_the_proxy_header_is_ignored_from_anywhere_else(doors: Doors) -> None:
    client = doors.untrusted.http(None)
    answer = client.get("/my-work", headers={HEADER: doors.untrusted.users["chairman"]})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/my-work"


def test_the_proxy_header_of_an_unknown_person_is_no_sign_in(doors: Doors) -> None:
    answer = doors.trusted.http(None).get("/my-work", headers={HEADER: "stranger@example.com"})
    assert answer.status_code == 303


def _oidc_sign_in(board: Dashboard, client: httpx.Client, next_path: str) -> httpx.Response:
    """Follow the browser's path: our /login/oidc, the provider, back to our callback."""
    start = client.get(f"/login/oidc?next={next_path}")
    assert start.status_code == 303, start.text
    at_idp = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_idp.status_code == 302
    back = urlsplit(at_idp.headers["location"])
    assert f"{back.scheme}://{back.netloc}" == board.base
    return client.get(f"{back.path}?{back.query}")


def test_oidc_signs_in_a_known_user(doors: Doors) -> None:
    board = doors.trusted
    assert "Sign in with Example SSO" in board.http(None).get("/login").text
    doors.oidc.email = board.users["chairman"]
    client = board.http(None)
    done = _oidc_sign_in(board, client, "/decisions")
    assert done.status_code == 303
    assert done.headers["location"] == "/decisions"
    cookie = done.headers.get_list("set-cookie")
    assert any(
        "successcrew_session=" in c and "HttpOnly" in c and "SameSite=lax" in c for c in cookie
    )
    assert "Chairman Tester" in client.get("/decisions").text


def test_oidc_refuses_someone_no_admin_added(doors: Doors) -> None:
    doors.oidc.email = "stranger@example.com"
    client = doors.trusted.http(None)
    answer = _oidc_sign_in(doors.trusted, client, "/")
    assert answer.status_code == 403
    assert "ask an admin to add you" in answer.text
    assert "successcrew_session" not in client.cookies


def test_oidc_refuses_a_callback_it_did_not_start(doors: Doors) -> None:
    doors.oidc.email = doors.trusted.users["lead"]
    victim = doors.trusted.http(None)
    attacker = doors.trusted.http(None)
    start = attacker.get("/login/oidc")
    at_idp = httpx.get(start.headers["location"], follow_redirects=False)
    back = urlsplit(at_idp.headers["location"])
    # The attacker's code and state, in the victim's browser (no flow cookie there): refused.
    answer = victim.get(f"{back.path}?{back.query}")
    assert answer.status_code == 400
    assert "successcrew_session" not in victim.cookies


def test_oidc_refuses_an_id_token_for_another_client(doors: Doors) -> None:
    doors.oidc.email = doors.trusted.users["lead"]
    doors.oidc.claims = {"aud": "some-other-app"}
    try:
        answer = _oidc_sign_in(doors.trusted, doors.trusted.http(None), "/")
    finally:
        doors.oidc.claims = {}
    assert answer.status_code == 401
    assert "did not check out" in answer.text
