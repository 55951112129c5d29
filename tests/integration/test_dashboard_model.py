"""The optional model on the dashboard, without the model itself: Operations shows what the
recorded runs and questions cost (rows written by ``services.model.records.record``, as a run
writes them), or that no model is configured; the Ask page has no box without a model or
without the extra and says why; and serving pages never imports crewAI, LangChain or our
crewAI modules. On the served app over loopback HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from successcrew.services.model.records import record
from tests.serving import app_in_thread

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
PASSWORD = "model-dashboard-password"
USERS = {"lead@example.com": "lead", "csm@example.com": "csm"}
HAVE_EXTRA = all(importlib.util.find_spec(m) for m in ("crewai", "langchain_openai"))


def usage(command: str, when: datetime, calls: int, prompt: int, completion: int, **kw: Any):
    return {
        "crew_run_id": None,
        "command": command,
        "model": kw.get("model", "qwen-test"),
        "calls": calls,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cache_hits": kw.get("cache_hits", 0),
        "fallbacks": kw.get("fallbacks", 0),
        "detail": {"fallback_reasons": kw.get("reasons", {})},
        "recorded_at": when,
    }


def test_operations_shows_each_runs_model_costs_and_the_30_day_totals(engine: Engine) -> None:
    rows = [
        usage("run", NOW - timedelta(days=45), 50, 90_000, 9_000),  # outside the 30 days
        usage("run", NOW - timedelta(days=2), 7, 4_100, 620, cache_hits=13),
        usage("run", NOW - timedelta(days=1), 3, 1_500, 210, fallbacks=1, reasons={"timeout": 1}),
        usage("ask", NOW - timedelta(hours=1), 2, 2_400, 95),
    ]
    for row in rows:
        record(engine, outputs=[], usage=row)
    with app_in_thread(engine, NOW, USERS, PASSWORD, llm_model="qwen-test") as app:
        page = app.client("csm@example.com").get("/operations")
    assert page.status_code == 200
    html = page.text
    assert "Model <strong>qwen-test</strong>" in html
    # 30 days: the three recent rows, not the one of 45 days ago.
    assert (
        "Last 30 days: 3 run(s) or question(s), 12 calls, 8,000 prompt + 925 completion tokens, "
        "13 cache hits, 1 fallbacks." in html
    )
    section = html[html.index("Model costs") : html.index("Setup progress")]
    # Every row, newest first, with its own figures (the old one too: it is recent enough).
    assert section.index("2,400") < section.index("1,500") < section.index("4,100")
    assert section.index("4,100") < section.index("90,000")
    assert "timeout (1)" in section and ">ask<" in section


def test_operations_without_a_model_says_no_model_is_configured(engine: Engine) -> None:
    with app_in_thread(engine, NOW, USERS, PASSWORD) as app:
        html = app.client("lead@example.com").get("/operations").text
    assert "No model configured" in html
    assert "Last 30 days:" not in html


def test_without_a_model_the_ask_box_is_absent_and_the_page_says_why(engine: Engine) -> None:
    with app_in_thread(engine, NOW, USERS, PASSWORD) as app:
        lead = app.client("lead@example.com")
        page = lead.get("/ask")
        assert page.status_code == 200
        assert 'name="question"' not in page.text
        assert "no model is configured" in page.text and "docs/llm.md" in page.text
        assert '<a href="/ask"' in page.text  # in the nav
        # A question posted anyway is not answered.
        token = app.csrf(lead, "/operations")
        posted = lead.post("/ask", data={"csrf_token": token, "question": "how many?"})
        assert posted.status_code == 200 and "Answer" not in posted.text
        # A csm's view is their own book; the tools read every account: refused.
        csm = app.client("csm@example.com")
        refused = csm.post(
            "/ask", data={"csrf_token": app.csrf(csm, "/operations"), "question": "how many?"}
        )
        assert refused.status_code == 403


@pytest.mark.skipif(HAVE_EXTRA, reason="the llm extra is installed here")
def test_a_model_without_the_extra_shows_no_box_and_says_what_to_install(
    engine: Engine,
) -> None:
    with app_in_thread(engine, NOW, USERS, PASSWORD, llm_model="qwen-test") as app:
        html = app.client("lead@example.com").get("/ask").text
    assert 'name="question"' not in html
    assert "the llm extra is not installed" in html and "successcrew[llm]" in html


SERVE_AND_LOOK = """
import sys
from datetime import UTC, datetime
from sqlalchemy import create_engine
from successcrew.store.db import make_engine
from tests.serving import app_in_thread

engine = make_engine(sys.argv[1])
now = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
extra = {"llm_model": "m", "llm_base_url": "http://127.0.0.1:9/v1"} if sys.argv[2] == "model" else {}
with app_in_thread(engine, now, {"lead@example.com": "lead"}, "p" * 12, **extra) as app:
    lead = app.client("lead@example.com")
    for path in ("/", "/ask", "/operations", "/decisions"):
        assert lead.get(path).status_code == 200, path
    box = 'name="question"' in lead.get("/ask").text
watched = {"crewai", "langchain_core", "langchain_openai", "litellm",
           "successcrew.llm.ask", "successcrew.llm.crew_mode", "successcrew.llm.tools"}
print("BOX", box)
print("MODULES", sorted(watched & set(sys.modules)))
"""


@pytest.mark.parametrize("configured", ["none", "model"])
def test_serving_the_dashboard_imports_neither_crewai_nor_langchain(
    sqlite_template: Path, tmp_path: Path, configured: str
) -> None:
    path = tmp_path / "look.db"
    path.write_bytes(sqlite_template.read_bytes())
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SUCCESSCREW_")}
    done = subprocess.run(
        [sys.executable, "-c", SERVE_AND_LOOK, f"sqlite:///{path}", configured],
        env={**environ, "SUCCESSCREW_PASSWORD_HASH_COST": "low", "HOME": str(tmp_path)},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "MODULES []" in done.stdout, done.stderr[-2000:]
    # With a model and the extra the box is there, still without importing either.
    assert f"BOX {configured == 'model' and HAVE_EXTRA}" in done.stdout
