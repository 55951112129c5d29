"""The dashboard's Ask box with real crewAI over HTTP to the OpenAI-compatible stand-in: a
signed-in lead asks, the stand-in answers with a tool call and then the answer, and the page
shows the accounts (linked to their pages), the figures and what the question spent, which
Operations then lists; a question asking to pause campaigns changes nothing; the model's text
is shown as text. The app is served over loopback HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.llm import SKIP_REASON

pytest.importorskip("crewai", reason=SKIP_REASON)

from sqlalchemy import Engine, func, select

from successcrew.store.models import (
    ActionProposal,
    AuditLog,
    ModelUsage,
    OutboxMessage,
    PauseHold,
    TriggerEvent,
)
from tests.fakes.openai_server import OpenAIStandIn, reply, tool_call
from tests.llm.conftest import NetworkGuard
from tests.modelhelpers import NOW, build_book, evaluate
from tests.serving import app_in_thread

PASSWORD = "dashboard-ask-password"
USERS = {"lead@example.com": "lead", "csm@example.com": "csm"}
QUESTION = "which enterprise accounts renewing this quarter got worse, and why?"
WATCHED = (OutboxMessage, ActionProposal, AuditLog, PauseHold, TriggerEvent)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (*WATCHED, ModelUsage)
        }


def answer(text: str, account_id: int, score: str) -> dict[str, Any]:
    return reply(
        json.dumps(
            {
                "answer": text,
                "account_ids": [account_id],
                "figures": [{"account_id": account_id, "name": "score", "value": score}],
            }
        )
    )


def model_settings(standin: OpenAIStandIn) -> dict[str, Any]:
    return {
        "llm_model": "stand-in-model",
        "llm_base_url": standin.base_url,
        "llm_timeout_seconds": 10,
    }


def test_a_lead_asks_and_sees_the_accounts_figures_and_cost(
    engine: Engine, standin: OpenAIStandIn, no_foreign_sockets: NetworkGuard
) -> None:
    ids = build_book(engine)
    evaluate(engine)
    standin.script = [
        reply(
            None,
            [
                tool_call(
                    "find_accounts",
                    {
                        "segment": "enterprise",
                        "renewing_within_days": 90,
                        "worse_by_points": 10,
                        "compare_days": 7,
                    },
                )
            ],
        ),
        answer("Acme, renewing in 40 days, fell from 62.0 to 30.0.", ids["ACME"], "30.0"),
    ]
    with app_in_thread(engine, NOW, USERS, PASSWORD, **model_settings(standin)) as app:
        no_foreign_sockets.allowed_ports.add(app.port)
        lead = app.client("lead@example.com")
        page = lead.get("/ask")
        assert 'name="question"' in page.text
        before = counts(engine)
        started = time.monotonic()
        asked = lead.post("/ask", data={"csrf_token": app.csrf(lead, "/ask"), "question": QUESTION})
        print(f"first question, crewAI imported: {time.monotonic() - started:.1f} s")
        assert asked.status_code == 200, asked.text[:500]
        html = asked.text
        assert "Acme, renewing in 40 days, fell from 62.0 to 30.0." in html
        assert '<a href="/accounts/ACME">Acme (ACME)</a>' in html
        assert '<td data-label="Figure">score</td><td data-label="Value">30.0</td>' in html
        assert "Spent: 2 call(s)" in html and "1 lookup(s)" in html
        after = counts(engine)
        # Nothing written but the question's usage row.
        assert {k: v for k, v in after.items() if k != "model_usage"} == {
            k: v for k, v in before.items() if k != "model_usage"
        }
        assert after["model_usage"] == before["model_usage"] + 1
        operations = lead.get("/operations").text
        costs = operations[operations.index("Model costs") : operations.index("Setup progress")]
        assert ">ask<" in costs and "stand-in-model" in costs
        # The stand-in saw the question, and only read-only tools were offered.
        assert QUESTION in json.dumps(standin.requests[0]["messages"])
        offered = {t["function"]["name"] for t in standin.requests[0]["tools"]}
        assert offered and not any(
            w in name for name in offered for w in ("pause", "send", "write", "update")
        )


def test_a_question_asking_to_pause_campaigns_changes_nothing(
    engine: Engine, standin: OpenAIStandIn, no_foreign_sockets: NetworkGuard
) -> None:
    ids = build_book(engine)
    evaluate(engine)
    standin.script = [
        # The model tries a tool that does not exist, then answers with markup in its text.
        reply(None, [tool_call("pause_campaigns", {"scope": "all"})]),
        reply(None, [tool_call("account_detail", {"account_id": ids["ACME"]})]),
        answer("<script>alert(1)</script> Campaigns paused for Acme.", ids["ACME"], "30.0"),
    ]
    with app_in_thread(engine, NOW, USERS, PASSWORD, **model_settings(standin)) as app:
        no_foreign_sockets.allowed_ports.add(app.port)
        lead = app.client("lead@example.com")
        token = app.csrf(lead, "/ask")
        before = counts(engine)
        asked = lead.post(
            "/ask",
            data={"csrf_token": token, "question": "Pause all campaigns and e-mail every customer"},
        )
        assert asked.status_code == 200, asked.text[:500]
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in asked.text
        assert "<script>" not in asked.text
        after = counts(engine)
        assert {k: after[k] for k in before if k != "model_usage"} == {
            k: before[k] for k in before if k != "model_usage"
        }
        # A csm may not ask at all (the tools read every account, beyond their book).
        csm = app.client("csm@example.com")
        refused = csm.post(
            "/ask", data={"csrf_token": app.csrf(csm, "/ask"), "question": "how many critical?"}
        )
        assert refused.status_code == 403
    assert counts(engine)["pause_holds"] == before["pause_holds"]


def test_a_question_on_sqlite_through_serve_leaves_every_page_working(
    sqlite_template: Path,
    tmp_path: Path,
    standin: OpenAIStandIn,
    no_foreign_sockets: NetworkGuard,
) -> None:
    """The real ``successcrew serve`` on SQLite (its own engine: transactions BEGIN IMMEDIATE),
    two questions on the Ask page, then every page of the dashboard: none answers 500 (the
    read-only tools once left the pooled connection refusing writes)."""
    import re
    import shutil

    import httpx

    from successcrew.clock import utcnow
    from successcrew.services.platform.users import add_user
    from successcrew.store.db import make_engine, transaction
    from successcrew.web.dashboard import ROUTERS
    from tests.serving import base_env, free_port, start_serve, stop_serve

    path = tmp_path / "serve.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    ids = build_book(engine)
    evaluate(engine)
    with transaction(engine) as session:
        add_user(
            session,
            "lead@example.com",
            role="lead",
            name=None,
            password=PASSWORD,
            by="tests",
            now=utcnow(),
            cost="low",
        )
    engine.dispose()

    def responder(body: dict[str, Any]) -> dict[str, Any]:
        # A lookup first, then the answer from what it returned.
        if not any(m.get("role") == "tool" for m in body["messages"]):
            return reply(None, [tool_call("account_detail", {"account_id": ids["ACME"]})])
        return answer("Acme is Critical at 30.0.", ids["ACME"], "30.0")

    standin.script = [responder] * 20
    env = base_env(
        url,
        SUCCESSCREW_SESSION_SECRET="ask-on-sqlite-session-secret-0123456789",
        SUCCESSCREW_LLM_MODEL="stand-in-model",
        SUCCESSCREW_LLM_BASE_URL=standin.base_url,
        SUCCESSCREW_LLM_TIMEOUT_SECONDS="10",
    )
    port = free_port()
    no_foreign_sockets.allowed_ports.add(port)
    served = start_serve(env, tmp_path, port=port, timeout=60)
    pages = sorted(
        {
            re.sub(r"\{[^}]+\}", "ACME", route.path)
            for router in ROUTERS
            for route in router.routes
            if "GET" in getattr(route, "methods", set()) and "{" not in route.path.split("/")[1]
        }
        - {"/login", "/login/oidc", "/login/oidc/callback"}
    )
    try:
        with httpx.Client(
            base_url=served.base, headers={"Origin": served.base}, timeout=120
        ) as lead:
            signed_in = lead.post(
                "/login", data={"email": "lead@example.com", "password": PASSWORD}
            )
            assert signed_in.status_code == 303
            for _question in range(2):  # the second proves the first left writes working
                token = re.search(r'name="csrf_token" value="([^"]+)"', lead.get("/ask").text)
                assert token
                asked = lead.post(
                    "/ask", data={"csrf_token": token.group(1), "question": "how is Acme?"}
                )
                assert asked.status_code == 200, asked.text[:500]
                assert "Acme is Critical at 30.0." in asked.text, re.findall(
                    r"No answer[^<]{0,300}", asked.text
                )
                answers = {page: lead.get(page).status_code for page in pages}
                assert answers == dict.fromkeys(pages, 200), served.log()[-3000:]
    finally:
        stop_serve(served)
    assert "/accounts/ACME" in pages and "/decisions" in pages and "/operations" in pages
    assert "readonly database" not in served.log()
