"""The dashboard's doors, over real HTTP: no session, wrong role, no CSRF token, a foreign
``next``, hostile text. Every refusal changes nothing."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from successcrew.clock import utcnow
from successcrew.services.platform.users import add_user
from successcrew.store.db import transaction
from successcrew.store.models import AuditLog, Task
from successcrew.web.dashboard import ROUTERS
from tests.browser import seeding
from tests.browsing import Dashboard

PUBLIC = ("/login", "/static/")


def _dashboard_routes(method: str) -> list[str]:
    """Every dashboard route answering ``method`` (part of ``web.dashboard.ROUTERS``), with its
    path parameters filled in, except the sign-in pages and the stylesheet."""
    paths = set()
    for router in ROUTERS:
        for route in router.routes:
            if method in getattr(route, "methods", set()) and not route.path.startswith(PUBLIC):
                paths.add(re.sub(r"\{[^}]+\}", "1", route.path))
    return sorted(paths)


PAGES = _dashboard_routes("GET")
FORMS = _dashboard_routes("POST")


def test_the_dashboard_routes_were_found() -> None:
    assert {"/my-work", "/decisions"} <= set(PAGES)
    assert {"/my-work/1", "/decisions/escalations/1", "/logout"} <= set(FORMS)


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_session_redirects_to_sign_in(dashboard: Dashboard, path: str) -> None:
    answer = dashboard.http(None).get(path + "?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next={path}%3Fx%3D1"


@pytest.mark.parametrize("path", FORMS)
def test_a_form_without_a_session_redirects_to_sign_in(dashboard: Dashboard, path: str) -> None:
    answer = dashboard.http(None).post(path, data={"action": "done", "decision": "approve"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")


def test_an_altered_session_cookie_is_no_session(dashboard: Dashboard) -> None:
    client = dashboard.http("lead")
    value = client.cookies["successcrew_session"]
    client.cookies.set("successcrew_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert client.get("/my-work").status_code == 303


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_sign_in_never_redirects_to_another_site(dashboard: Dashboard, target: str) -> None:
    client = dashboard.http(None)
    answer = client.post(
        "/login",
        data={"email": dashboard.users["csm"], "password": dashboard.password, "next": target},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    assert client.get(f"/login?next={target}").headers["location"] == "/"


def test_sign_in_returns_to_the_page_asked_for(dashboard: Dashboard) -> None:
    answer = dashboard.http(None).post(
        "/login",
        data={
            "email": dashboard.users["csm"],
            "password": dashboard.password,
            "next": "/decisions",
        },
    )
    assert answer.headers["location"] == "/decisions"


def test_behind_https_the_cookie_is_secure(dashboard: Dashboard) -> None:
    # 127.0.0.1 is a trusted proxy by default: its X-Forwarded-Proto is believed.
    answer = dashboard.http(None).post(
        "/login",
        data={"email": dashboard.users["csm"], "password": dashboard.password},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert "; secure" in answer.headers["set-cookie"].lower()


def _signed_in_user(dashboard: Dashboard, role: str = "csm") -> tuple[str, httpx.Client]:
    """A user of its own (the shared ones keep their sessions), signed in over HTTP."""
    import uuid

    email = f"copied-{uuid.uuid4().hex[:8]}@example.com"
    with transaction(dashboard.engine) as session:
        add_user(
            session,
            email,
            role=role,
            name=None,
            password=dashboard.password,
            by="tests",
            now=utcnow(),
            cost="low",
        )
    client = dashboard.http(None)
    answer = client.post("/login", data={"email": email, "password": dashboard.password})
    assert answer.status_code == 303
    return email, client


def _copy(dashboard: Dashboard, client: httpx.Client) -> httpx.Client:
    """Another client holding a copy of ``client``'s session cookie (as a thief would)."""
    thief = dashboard.http(None)
    thief.cookies.set("successcrew_session", client.cookies["successcrew_session"])
    assert thief.get("/my-work").status_code == 200
    return thief


def test_signing_out_ends_every_copy_of_the_session(dashboard: Dashboard) -> None:
    _, client = _signed_in_user(dashboard)
    thief = _copy(dashboard, client)
    token = dashboard.csrf(client, "/my-work")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    for holder in (client, thief):
        holder.cookies.set("successcrew_session", thief.cookies["successcrew_session"])
        answer = holder.get("/my-work")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    # A form posted with the old cookie and its token is not taken either.
    task_id = seeding.task(
        dashboard.engine, seeding.account(dashboard.engine, "Signed Out Ltd", None), "Call"
    )
    form = thief.post(f"/my-work/{task_id}", data={"action": "done", "csrf_token": token})
    assert form.status_code == 303 and form.headers["location"].startswith("/login")
    assert _task_status(dashboard, task_id) == "open"


def test_disabling_a_user_or_a_new_password_ends_their_sessions(dashboard: Dashboard) -> None:
    from successcrew.services.platform.users import disable_user

    email, client = _signed_in_user(dashboard)
    thief = _copy(dashboard, client)
    with transaction(dashboard.engine) as session:
        add_user(
            session,
            email,
            role="csm",
            name=None,
            password="a new password, changed",
            by="tests",
            now=utcnow(),
            cost="low",
        )
    assert client.get("/my-work").status_code == 303
    assert thief.get("/my-work").status_code == 303
    signed_in = dashboard.http(None)
    assert (
        signed_in.post(
            "/login", data={"email": email, "password": "a new password, changed"}
        ).status_code
        == 303
    )
    thief = _copy(dashboard, signed_in)
    with transaction(dashboard.engine) as session:
        disable_user(session, email, by="tests", now=utcnow())
    assert signed_in.get("/my-work").status_code == 303
    assert thief.get("/my-work").status_code == 303


def test_hsts_when_a_trusted_proxy_says_the_request_came_over_https(dashboard: Dashboard) -> None:
    # 127.0.0.1 is a trusted proxy by default: its X-Forwarded-Proto is believed.
    client = dashboard.http(None)
    secure = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert secure.headers["strict-transport-security"] == "max-age=31536000"
    assert "strict-transport-security" not in client.get("/login").headers


def test_repeated_failed_sign_ins_are_slowed_down(dashboard: Dashboard) -> None:
    client = dashboard.http(None)
    email = "guessed@example.com"  # a user of its own: the others keep signing in
    with transaction(dashboard.engine) as session:
        add_user(
            session,
            email,
            role="lead",
            name=None,
            password=dashboard.password,
            by="tests",
            now=utcnow(),
            cost="low",
        )
    codes = [
        client.post("/login", data={"email": email, "password": f"guess-{i}"}).status_code
        for i in range(6)
    ]
    assert codes == [401] * 5 + [429]
    # The right password is refused too until the minute is over: guessing gains nothing.
    late = client.post("/login", data={"email": email, "password": dashboard.password})
    assert late.status_code == 429
    assert "Too many failed sign-ins" in late.text


def _task_status(dashboard: Dashboard, task_id: int) -> str:
    with transaction(dashboard.engine) as session:
        return session.execute(select(Task.status).where(Task.id == task_id)).scalar_one()


def test_a_form_without_its_csrf_token_is_refused(dashboard: Dashboard) -> None:
    acct = seeding.account(dashboard.engine, "Tokenless Ltd", dashboard.users["csm"])
    task_id = seeding.task(dashboard.engine, acct, "Call the sponsor")
    client = dashboard.http("csm")
    assert client.post(f"/my-work/{task_id}", data={"action": "done"}).status_code == 403
    other = dashboard.http("csm")
    stolen = dashboard.csrf(other, "/my-work")  # another session's token
    answer = client.post(f"/my-work/{task_id}", data={"action": "done", "csrf_token": stolen})
    assert answer.status_code == 403
    assert "Nothing was changed" in answer.text
    assert _task_status(dashboard, task_id) == "open"


def test_a_form_from_another_site_is_refused_even_with_the_token(dashboard: Dashboard) -> None:
    acct = seeding.account(dashboard.engine, "Crosssite Ltd", dashboard.users["csm"])
    task_id = seeding.task(dashboard.engine, acct, "Call the sponsor")
    client = dashboard.http("csm")
    token = dashboard.csrf(client, "/my-work")
    answer = client.post(
        f"/my-work/{task_id}",
        data={"action": "done", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    assert _task_status(dashboard, task_id) == "open"


def test_a_csm_cannot_work_on_another_owners_tasks(dashboard: Dashboard) -> None:
    acct = seeding.account(dashboard.engine, "Not Mine Inc", "someone.else@example.com")
    task_id = seeding.task(dashboard.engine, acct, "Renewal call")
    client = dashboard.http("csm")
    assert f'data-task="{task_id}"' not in client.get("/my-work").text
    token = dashboard.csrf(client, "/my-work")
    answer = client.post(f"/my-work/{task_id}", data={"action": "done", "csrf_token": token})
    assert answer.status_code == 403
    assert "not in your book" in answer.text
    assert _task_status(dashboard, task_id) == "open"
    # A lead may, and it is audited under the lead's name.
    lead = dashboard.http("lead")
    assert f'data-task="{task_id}"' in lead.get("/my-work").text
    token = dashboard.csrf(lead, "/my-work")
    ok = lead.post(f"/my-work/{task_id}", data={"action": "done", "csrf_token": token})
    assert ok.status_code == 303
    assert _task_status(dashboard, task_id) == "done"
    with transaction(dashboard.engine) as session:
        actors = session.scalars(
            select(AuditLog.actor).where(AuditLog.subject == f"task:{task_id}")
        ).all()
    assert actors == [dashboard.users["lead"]]


@pytest.mark.parametrize("role", ["viewer", "csm", "lead", "admin"])
def test_only_the_chairman_decides(dashboard: Dashboard, role: str) -> None:
    acct = seeding.account(dashboard.engine, f"Undecided {role}", dashboard.users["csm"])
    esc = seeding.escalation(dashboard.engine, acct, f"Undecided {role}", "Save offer")
    client = dashboard.http(role)
    page = client.get("/decisions").text
    assert "Save offer" in page
    assert f'action="/decisions/escalations/{esc}"' not in page
    token = dashboard.csrf(client, "/my-work")
    answer = client.post(
        f"/decisions/escalations/{esc}", data={"decision": "approve", "csrf_token": token}
    )
    assert answer.status_code == 403
    assert seeding.escalation_row(dashboard.engine, esc).status == "open"


def test_a_csm_sees_decisions_about_their_own_book_only(dashboard: Dashboard) -> None:
    from successcrew.store.models import Account

    mine = seeding.account(dashboard.engine, "Mine Decided Co", dashboard.users["csm"])
    theirs = seeding.account(dashboard.engine, "Theirs Decided Co", "someone.else@example.com")
    seeding.escalation(dashboard.engine, mine, "Mine Decided Co", "Call the sponsor of mine")
    seeding.escalation(dashboard.engine, theirs, "Theirs Decided Co", "A 15 % offer for theirs")
    seeding.proposal(dashboard.engine, theirs, "usage of theirs fell by half")
    with transaction(dashboard.engine) as session:
        external = dict(
            session.execute(
                select(Account.id, Account.external_id).where(Account.id.in_([mine, theirs]))
            ).all()
        )
    page = dashboard.http("csm").get("/decisions").text
    assert "Call the sponsor of mine" in page
    for hidden in ("Theirs Decided Co", "A 15 % offer for theirs", "usage of theirs fell"):
        assert hidden not in page
    # Cards link to the account page by external id (an internal id is a 404 for every role).
    lead = dashboard.http("lead").get("/decisions").text
    assert "A 15 % offer for theirs" in lead and "usage of theirs fell by half" in lead
    for account_id, external_id in external.items():
        assert f'href="/accounts/{external_id}"' in lead
        assert f'href="/accounts/{account_id}"' not in lead
    assert not re.search(r'href="/accounts/\d+"', lead)
    assert dashboard.http("lead").get(f"/accounts/{external[theirs]}").status_code == 200


def test_a_viewer_cannot_change_tasks(dashboard: Dashboard) -> None:
    acct = seeding.account(dashboard.engine, "Look Only", dashboard.users["viewer"])
    task_id = seeding.task(dashboard.engine, acct, "Look, do not touch")
    client = dashboard.http("viewer")
    assert ">Done</button>" not in client.get("/my-work").text
    token = dashboard.csrf(client, "/my-work")
    answer = client.post(f"/my-work/{task_id}", data={"action": "done", "csrf_token": token})
    assert answer.status_code == 403
    assert _task_status(dashboard, task_id) == "open"


def test_account_names_and_notes_render_escaped(dashboard: Dashboard) -> None:
    hostile = '<script>alert("x")</script> & Co'
    acct = seeding.account(dashboard.engine, hostile, dashboard.users["csm"])
    seeding.task(dashboard.engine, acct, "<img src=x onerror=alert(1)>")
    esc = seeding.escalation(dashboard.engine, acct, hostile, "<b>bold</b> request")
    chair = dashboard.http("chairman")
    token = dashboard.csrf(chair, "/decisions")
    chair.post(
        f"/decisions/escalations/{esc}",
        data={"decision": "decline", "note": "<script>no()</script>", "csrf_token": token},
    )
    for role, path in (("csm", "/my-work"), ("lead", "/my-work"), ("chairman", "/decisions")):
        html = dashboard.http(role).get(path).text
        assert "<script>" not in html and "<img" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in (
        dashboard.http("csm").get("/my-work").text
    )
    assert "&lt;script&gt;no()&lt;/script&gt;" in dashboard.http("lead").get("/decisions").text


def test_pages_carry_the_security_headers(dashboard: Dashboard) -> None:
    answer = dashboard.http("lead").get("/my-work")
    assert answer.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert "script-src" not in answer.headers["content-security-policy"]


@pytest.mark.parametrize("role", ["viewer", "csm", "admin"])
def test_only_a_lead_or_the_chairman_decides_a_proposal(dashboard: Dashboard, role: str) -> None:
    acct = seeding.account(dashboard.engine, f"Proposed {role}", dashboard.users["csm"])
    prop = seeding.proposal(dashboard.engine, acct, f"usage fell for {role}")
    client = dashboard.http(role)
    page = client.get("/decisions").text
    assert f"usage fell for {role}" in page
    assert f'action="/decisions/proposals/{prop}"' not in page
    token = dashboard.csrf(client, "/my-work")
    answer = client.post(
        f"/decisions/proposals/{prop}", data={"decision": "approve", "csrf_token": token}
    )
    assert answer.status_code == 403
    assert seeding.proposal_status(dashboard.engine, prop) == ("pending", None)


def test_a_lead_approves_a_proposal_through_the_one_decision_path(dashboard: Dashboard) -> None:
    acct = seeding.account(dashboard.engine, "Proposed Lead", dashboard.users["csm"])
    prop = seeding.proposal(dashboard.engine, acct, "champion left")
    lead = dashboard.http("lead")
    token = dashboard.csrf(lead, "/decisions")
    answer = lead.post(
        f"/decisions/proposals/{prop}", data={"decision": "approve", "csrf_token": token}
    )
    assert answer.status_code == 303
    assert seeding.proposal_status(dashboard.engine, prop) == ("approved", dashboard.users["lead"])
    with transaction(dashboard.engine) as session:
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.subject == f"proposal:{prop}")
        ).all()
    assert actions == ["proposal.approve"]
    again = lead.post(
        f"/decisions/proposals/{prop}", data={"decision": "decline", "csrf_token": token}
    )
    assert again.status_code == 409
    assert "nothing to decide" in again.text
