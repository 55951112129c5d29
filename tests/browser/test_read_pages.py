"""The read pages in chromium and over HTTP: filter the accounts, open one and read why its
score fell, override it and see the timeline, resume a paused program as a lead; and the
refusals (roles, CSRF, a CSM outside their book, injected sort and search), escaping.

Each page writes a screenshot (see ``tests/browsing.py``: $SUCCESSCREW_SCREENSHOTS keeps them).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from successcrew.store.models import AuditLog, OutboxMessage, PauseHold, ScoreOverride
from tests.browsing import Dashboard
from tests.dashboard_data import BRIEF, FALLING, MARKUP, PROGRAM, seed_book


@pytest.fixture(scope="module")
def book(dashboard: Dashboard) -> Dashboard:
    """The dashboard with the test book, dated on the server's real today."""
    seed_book(dashboard.engine, datetime.now(UTC).date())
    return dashboard


def test_filter_to_at_risk_enterprise_open_one_and_read_why(
    book: Dashboard, signed_in: Callable[..., Any], screenshot: Callable[[Any, str], Any]
) -> None:
    page = signed_in("lead")
    page.goto("/accounts")
    page.select_option("#band", "at_risk")
    page.select_option("#segment", "enterprise")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert "band=at_risk" in page.url and "segment=enterprise" in page.url
    rows = page.locator("table.accounts tbody tr")
    assert rows.count() >= 1
    for i in range(rows.count()):
        text = rows.nth(i).inner_text()
        assert "At-Risk" in text and "enterprise" in text
    screenshot(page, "accounts")
    page.click("text=Acme Enterprise")
    page.wait_for_load_state()
    assert page.url.endswith(f"/accounts/{FALLING}")
    why = page.locator(".explanation").inner_text() + page.locator("ul.movers").inner_text()
    # The fall is usage's, said in words with the points it moved.
    assert "points since" in why and "Product usage" in why
    assert page.locator("svg.chart polyline.scoreline").count() == 1
    assert "bounced" in page.locator("#notes").inner_text()
    # The model's brief from the escalation, labelled as the model's, beside the crew's own.
    assert BRIEF in page.locator("blockquote.brief").inner_text()
    assert "Acme Enterprise is At-Risk" in page.locator("ol.timeline").inner_text()
    screenshot(page, "account")


def test_override_the_score_and_see_it_in_the_timeline(
    book: Dashboard, signed_in: Callable[..., Any], screenshot: Callable[[Any, str], Any]
) -> None:
    page = signed_in("lead")
    page.goto(f"/accounts/{FALLING}")
    page.fill("#score", "55")
    page.fill("#reason", "Renewal call went well; usage dip is a holiday")
    page.click("#override button[type=submit]")
    page.wait_for_load_state()
    assert "Manual score set" in page.locator(".flash").inner_text()
    entry = page.locator("ol.timeline li.tl-override").first.inner_text()
    assert "Score overridden to 55 by lead@example.com" in entry
    assert "holiday" in entry
    screenshot(page, "account-override")
    with book.engine.connect() as conn:
        author, score = conn.execute(select(ScoreOverride.author, ScoreOverride.score)).one()
        audited = conn.execute(
            select(AuditLog.actor).where(AuditLog.action == "health_override_set")
        ).scalar_one()
    assert (author, score, audited) == ("lead@example.com", 55, "lead@example.com")


def test_a_lead_resumes_a_program_a_rule_paused(
    book: Dashboard, signed_in: Callable[..., Any], screenshot: Callable[[Any, str], Any]
) -> None:
    page = signed_in("lead")
    page.goto("/programs")
    card = page.locator(f"#program-{PROGRAM}")
    assert "campaign_negative_feedback" in card.inner_text()
    assert "paused" in card.locator("h2").inner_text()
    screenshot(page, "programs")
    card.locator("input[name=reason]").fill("Complaints were about one template; fixed")
    card.locator("form.resume button").click()
    page.wait_for_load_state()
    assert "no hold remains" in page.locator(".flash").inner_text()
    assert "running" in page.locator(f"#program-{PROGRAM} h2").inner_text()
    with book.engine.connect() as conn:
        lifted_by = conn.execute(
            select(PauseHold.lifted_by).where(PauseHold.scope == f"campaign:{PROGRAM}")
        ).scalar_one()
    assert lifted_by == "lead@example.com"


def test_portfolio_nps_and_operations_pages(
    book: Dashboard, signed_in: Callable[..., Any], screenshot: Callable[[Any, str], Any]
) -> None:
    page = signed_in("lead")
    page.goto("/")
    drops = page.locator("text=What changed this week").locator("..").inner_text()
    assert "Acme Enterprise" in drops and "Product usage" in drops
    screenshot(page, "portfolio")
    page.goto("/nps")
    # The comment's markup is shown as text: no script element reached the page.
    assert page.locator("script").count() == 0
    assert "<script>alert('x')</script>" in page.locator("table.comments").inner_text()
    screenshot(page, "nps")
    page.goto("/operations")
    assert "550 mailbox unavailable" in page.content()
    screenshot(page, "operations")
    phone = signed_in("csm", viewport={"width": 390, "height": 844})
    for path, name in (
        ("/accounts", "accounts"),
        ("/", "portfolio"),
        (f"/accounts/{FALLING}", "account"),
    ):
        phone.goto(path)
        # Nothing wider than the screen: the page scrolls down, never sideways.
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, path
        screenshot(phone, f"{name}-phone")


def test_markup_in_names_and_comments_is_escaped(book: Dashboard) -> None:
    lead = book.http("lead")
    account = lead.get(f"/accounts/{FALLING}").text
    assert "Dana &lt;b&gt;Admin&lt;/b&gt;" in account
    assert "<b>Admin" not in account
    nps = lead.get("/nps").text
    assert "&lt;script&gt;alert(" in nps and MARKUP not in nps
    # A flash is a code the page knows, never text from the address (a link cannot make the
    # dashboard say something).
    for path in ("/programs", "/operations", f"/accounts/{FALLING}"):
        assert (
            "Send your password" not in lead.get(path, params={"done": "Send your password"}).text
        )


def test_writes_are_refused_without_the_role_the_book_or_the_csrf_token(book: Dashboard) -> None:
    viewer, csm, lead = book.http("viewer"), book.http("csm"), book.http("lead")
    path = f"/accounts/{FALLING}"
    form = {"score": "20", "reason": "x"}
    token = book.csrf(viewer, path)
    assert viewer.post(path + "/override", data={**form, "csrf_token": token}).status_code == 403
    # The falling account is the CSM's own; A-00001 belongs to someone else, and to a csm it
    # is answered exactly as an external id that does not exist (404 either way).
    token = book.csrf(csm, path)
    for other in ("A-00001", "NO-SUCH-ACCOUNT"):
        page = csm.get(f"/accounts/{other}")
        assert page.status_code == 404
        assert f"There is no account with the external id &#39;{other}&#39;." in page.text
        assert (
            csm.post(f"/accounts/{other}/override", data={**form, "csrf_token": token}).status_code
            == 404
        )
        assert (
            csm.post(
                f"/accounts/{other}/notes", data={"body": "hi", "csrf_token": token}
            ).status_code
            == 404
        )
    resume = {"scope": f"campaign:{PROGRAM}", "reason": "x", "csrf_token": token}
    assert csm.post("/programs/resume", data=resume).status_code == 403
    with book.engine.connect() as conn:
        dead = conn.execute(select(OutboxMessage.id).where(OutboxMessage.status == "dead")).scalar()
    assert (
        csm.post(f"/operations/dead-letters/{dead}/retry", data={"csrf_token": token}).status_code
        == 403
    )
    # No token, or another session's: refused and nothing written.
    assert lead.post(path + "/notes", data={"body": "no token"}).status_code == 403
    assert lead.post(path + "/notes", data={"body": "x", "csrf_token": token}).status_code == 403
    with book.engine.connect() as conn:
        assert (
            conn.execute(select(ScoreOverride.id).where(ScoreOverride.score == 20)).first() is None
        )
    # The CSM's own account: their note is kept (and shown escaped).
    token = book.csrf(csm, path)
    answer = csm.post(path + "/notes", data={"body": "<i>call Dana</i>", "csrf_token": token})
    assert answer.status_code == 303
    assert "&lt;i&gt;call Dana&lt;/i&gt;" in csm.get(path).text


def test_a_lead_retries_a_dead_letter_once(book: Dashboard) -> None:
    lead = book.http("lead")
    with book.engine.connect() as conn:
        dead = conn.execute(select(OutboxMessage.id).where(OutboxMessage.status == "dead")).scalar()
    token = book.csrf(lead, "/operations")
    assert (
        lead.post(f"/operations/dead-letters/{dead}/retry", data={"csrf_token": token}).status_code
        == 303
    )
    again = lead.post(f"/operations/dead-letters/{dead}/retry", data={"csrf_token": token})
    assert again.status_code == 400 and "not dead" in again.text
    with book.engine.connect() as conn:
        status, attempts = conn.execute(
            select(OutboxMessage.status, OutboxMessage.attempts).where(OutboxMessage.id == dead)
        ).one()
    assert (status, attempts) == ("pending", 0)


def test_a_csm_sees_only_their_book(book: Dashboard) -> None:
    csm, lead = book.http("csm"), book.http("lead")
    mine = csm.get("/accounts.csv").text.splitlines()[1:]
    everyone = lead.get("/accounts.csv").text.splitlines()[1:]
    assert mine and len(mine) < len(everyone)
    assert all("csm@example.com" in line for line in mine)
    assert "A-00001" not in csm.get("/").text


@pytest.mark.parametrize(
    "query",
    [
        "sort=score;DROP TABLE accounts",
        "sort=name&dir=desc,1",
        "band=healthy' OR '1'='1",
        "renewal=1 OR 1=1",
        "page=-1",
    ],
)
def test_bad_filter_or_sort_values_are_refused(book: Dashboard, query: str) -> None:
    answer = book.http("lead").get("/accounts?" + query)
    assert answer.status_code == 400
    assert "must" in answer.text


def test_search_text_is_a_value_not_sql(book: Dashboard) -> None:
    lead = book.http("lead")
    for term in ("' OR '1'='1", "%", "_"):
        rows = lead.get("/accounts.csv", params={"q": term}).text.splitlines()[1:]
        assert rows == [], term
    found = lead.get("/accounts.csv", params={"q": "acme"}).text.splitlines()[1:]
    assert len(found) == 1 and found[0].startswith(FALLING)
