"""What people do on the dashboard, in chromium: a CSM completes a task, the chairman approves
an escalation, a viewer looks without deciding."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from successcrew.store.db import transaction
from successcrew.store.models import AuditLog, Task
from tests.browser import seeding
from tests.browsing import Dashboard


def test_a_csm_completes_a_task(dashboard: Dashboard, signed_in: Any, screenshot: Any) -> None:
    mine = seeding.account(dashboard.engine, "Globex Corporation", dashboard.users["csm"])
    late = seeding.task(dashboard.engine, mine, "Call Globex about the usage drop", due_in_days=-2)
    soon = seeding.task(dashboard.engine, mine, "Send the QBR deck", due_in_days=3)
    page = signed_in("csm")
    page.goto("/my-work")
    late_row = page.locator(f'tr[data-task="{late}"]')
    assert "overdue" in late_row.inner_text()
    assert "overdue" not in page.locator(f'tr[data-task="{soon}"]').inner_text()
    screenshot(page, "my-work-csm")
    late_row.get_by_role("button", name="Done").click()
    page.wait_for_url("**/my-work?done=done")
    assert page.locator(".flash").inner_text() == "Task marked done."
    # It left the list of things to do and shows under Recently done, without its buttons' Done.
    first_table_rows = page.locator("table").first.locator("tr[data-task]")
    assert f'data-task="{late}"' not in "".join(
        first_table_rows.evaluate_all("rows => rows.map(r => r.outerHTML)")
    )
    assert page.locator(f'tr[data-task="{late}"]').get_by_role("button", name="Reopen").count() == 1
    screenshot(page, "my-work-after-done")
    with transaction(dashboard.engine) as session:
        task = session.get(Task, late)
        assert task is not None and task.status == "done"
        assert task.done_by == dashboard.users["csm"]


def test_a_csm_snoozes_a_task_on_a_phone(
    dashboard: Dashboard, signed_in: Any, screenshot: Any
) -> None:
    mine = seeding.account(dashboard.engine, "Initech", dashboard.users["csm"])
    task_id = seeding.task(dashboard.engine, mine, "Check in after the outage")
    page = signed_in("csm", viewport={"width": 390, "height": 844})
    page.goto("/my-work")
    row = page.locator(f'tr[data-task="{task_id}"]')
    # Stacked on a phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "my-work-phone")
    row.get_by_role("button", name="Snooze").click()
    page.wait_for_url("**/my-work?done=snooze")
    snoozed = page.locator(f'tr[data-task="{task_id}"]')
    assert "snoozed until" in snoozed.inner_text()


def test_the_chairman_approves_an_escalation(
    dashboard: Dashboard, signed_in: Any, screenshot: Any
) -> None:
    acct = seeding.account(dashboard.engine, "Umbrella Corp", dashboard.users["csm"])
    esc = seeding.escalation(dashboard.engine, acct, "Umbrella Corp", "Umbrella Corp: save offer")
    page = signed_in("chairman")
    page.goto("/decisions")
    card = page.locator(f'[data-escalation="{esc}"]')
    assert "health 38" in card.inner_text()
    screenshot(page, "decisions-chairman")
    card.get_by_label("Note").fill("go ahead, 20% for one year")
    card.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/decisions?done=approve")
    assert page.locator(f'[data-escalation="{esc}"]').count() == 0
    assert "Escalation approved." in page.locator(".flash").inner_text()
    screenshot(page, "decisions-after-approve")
    row = seeding.escalation_row(dashboard.engine, esc)
    assert (row.status, row.decided_by, row.decided_via) == (
        "approved",
        dashboard.users["chairman"],
        "web",
    )
    assert row.decision_note == "go ahead, 20% for one year"
    with transaction(dashboard.engine) as session:
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.subject == f"escalation:{esc}")
        ).all()
    assert actions, "the web decision is audited like the CLI's"


def test_a_viewer_sees_escalations_without_an_approve_button(
    dashboard: Dashboard, signed_in: Any, screenshot: Any
) -> None:
    acct = seeding.account(dashboard.engine, "Hooli", dashboard.users["csm"])
    esc = seeding.escalation(dashboard.engine, acct, "Hooli", "Hooli: executive call")
    page = signed_in("viewer")
    page.goto("/decisions")
    card = page.locator(f'[data-escalation="{esc}"]')
    assert "Hooli: executive call" in card.inner_text()
    assert card.get_by_role("button", name="Approve").count() == 0
    assert "read-only" in page.content()
    screenshot(page, "decisions-viewer")
    # Posting the form directly, with the viewer's own valid token, is refused.
    client = dashboard.http("viewer")
    token = dashboard.csrf(client, "/decisions")
    answer = client.post(
        f"/decisions/escalations/{esc}", data={"decision": "approve", "csrf_token": token}
    )
    assert answer.status_code == 403
    assert seeding.escalation_row(dashboard.engine, esc).status == "open"


def test_signing_out_ends_the_session(
    dashboard: Dashboard, signed_in: Any, screenshot: Any
) -> None:
    page = signed_in("lead")
    page.goto("/my-work")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    screenshot(page, "sign-in")
    page.goto("/my-work")
    assert "/login?next=/my-work" in page.url
