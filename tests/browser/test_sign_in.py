"""Signing in and out of the dashboard, over real HTTP and in chromium."""

from __future__ import annotations

from tests.browsing import Dashboard


def test_password_sign_in_sets_a_locked_down_session_cookie(dashboard: Dashboard) -> None:
    client = dashboard.http(None)
    answer = client.post(
        "/login", data={"email": dashboard.users["csm"], "password": dashboard.password}
    )
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    # Plain HTTP on loopback: no Secure flag (the browser would drop the cookie).
    assert "secure" not in cookie.replace("samesite", "")


def test_wrong_password_is_refused_and_says_so(dashboard: Dashboard) -> None:
    client = dashboard.http(None)
    answer = client.post("/login", data={"email": dashboard.users["lead"], "password": "nope"})
    assert answer.status_code == 401
    assert "do not match" in answer.text
    assert "set-cookie" not in answer.headers
