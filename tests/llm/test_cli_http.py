"""The command line with real crewAI over HTTP to the OpenAI-compatible stand-in (tool calls,
structured output, usage): ``run --crew-mode crewai`` stores the crew's proposals, ``proposals
approve`` queues them, ``status`` shows the spend, ``ask`` answers from the tools and cannot
write; and a separate process proves crewAI's files, ``.env`` and HOME are kept in their place."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.llm import SKIP_REASON

pytest.importorskip("crewai", reason=SKIP_REASON)

from sqlalchemy import Engine, func, select

from successcrew.store.db import make_engine
from successcrew.store.models import ActionProposal, AuditLog, OutboxMessage
from tests.clirunner import run_cli
from tests.fakes.openai_server import OpenAIStandIn, reply, tool_call
from tests.modelhelpers import NOW, build_book, evaluate


def crew_responder(ids: dict[str, int]) -> Any:
    """Answers as a model would: a tool call first, then text; the proposals as JSON."""

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
        last = body["messages"][-1]
        if schema == "ProposalListOut" or 'JSON: {"proposals"' in str(last.get("content")):
            return reply(
                {
                    "proposals": [
                        {
                            "action": "internal_task",
                            "account_id": ids["ACME"],
                            "playbook": None,
                            "task": "Call about the failing exports",
                            "draft": None,
                            "reason": "Critical at 30.0 and falling.",
                            "evidence": ["score 30.0"],
                        }
                    ]
                }
            )
        if (
            body.get("tools")
            and last["role"] != "tool"
            and "Health Monitoring" in json.dumps(body["messages"][0])
        ):
            return reply(None, [tool_call("account_detail", {"account_id": ids["ACME"]})])
        return reply(f"Acme ({ids['ACME']}) is Critical at 30.0.")

    return answer


def model_env(monkeypatch: pytest.MonkeyPatch, server: OpenAIStandIn) -> None:
    monkeypatch.setenv("SUCCESSCREW_LLM_MODEL", "stand-in-model")
    monkeypatch.setenv("SUCCESSCREW_LLM_BASE_URL", server.base_url)
    monkeypatch.setenv("SUCCESSCREW_LLM_API_KEY", "sk-cli-secret-77")
    monkeypatch.setenv("SUCCESSCREW_LLM_TIMEOUT_SECONDS", "10")


def test_crew_mode_from_the_command_line_proposes_and_a_person_approves(
    engine: Engine,
    env: dict[str, str],
    standin: OpenAIStandIn,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = build_book(engine)
    evaluate(engine)
    model_env(monkeypatch, standin)
    standin.script = [crew_responder(ids)] * 10
    ran = run_cli(capsys, "run", "--crew-mode", "crewai", "--now", NOW.isoformat(), "--json")
    assert ran.code == 0, ran.err
    model = next(t for t in ran.json()["tasks"] if t["task"] == "model_pass")
    assert model["status"] == "succeeded"
    assert model["result"]["review"] == {"accounts": 3, "proposals": {"pending": 1}}
    assert model["result"]["usage"]["calls"] == len(standin.requests) == 4
    assert any(m["role"] == "tool" for m in standin.requests[1]["messages"])  # the tool ran
    assert "sk-cli-secret-77" not in ran.out + ran.err

    (pending,) = run_cli(capsys, "proposals", "--status", "pending", "--json").json()["proposals"]
    assert pending["action"] == "internal_task" and pending["messages"][0]["subject"].startswith(
        "Task for Acme: Call about the failing exports"
    )
    approved = run_cli(capsys, "proposals", "approve", str(pending["id"]), "--by", "lead", "--json")
    assert approved.json() == {
        "id": pending["id"],
        "status": "approved",
        "action": "internal_task",
        "queued": 1,
    }
    with engine.connect() as conn:
        mail = conn.execute(
            select(OutboxMessage.payload).where(OutboxMessage.idempotency_key.like("crew:%"))
        ).scalar_one()
    assert (mail["kind"], mail["to"]) == ("internal", "owner.acme@vendor.example")

    status = run_cli(capsys, "status", "--json").json()["model"]
    assert status["configured"] == "stand-in-model" and status["recent"][0]["calls"] == 4
    assert "stand-in-model" in run_cli(capsys, "status").out


def test_ask_answers_with_the_ids_and_figures_the_tools_gave_and_writes_nothing(
    engine: Engine,
    env: dict[str, str],
    standin: OpenAIStandIn,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = build_book(engine)
    evaluate(engine)
    model_env(monkeypatch, standin)

    def final(score: str) -> dict[str, Any]:
        return reply(
            json.dumps(
                {
                    "answer": "Acme, renewing in 40 days, fell from 62.0 to 30.0.",
                    "account_ids": [ids["ACME"]],
                    "figures": [{"account_id": ids["ACME"], "name": "score", "value": score}],
                }
            )
        )

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
        final("12.0"),  # not what the tool said: the guardrail asks again
        final("30.0"),
    ]
    with engine.connect() as conn:
        before = [
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (OutboxMessage, ActionProposal, AuditLog)
        ]
    asked = run_cli(
        capsys,
        "ask",
        "which enterprise accounts renewing this quarter got worse, and why?",
        "--now",
        NOW.isoformat(),
        "--json",
    )
    assert asked.code == 0, asked.err
    doc = asked.json()
    assert doc["account_ids"] == [ids["ACME"]] and doc["figures"][0]["value"] == "30.0"
    assert doc["tool_calls"] == 1
    # What it spent (also recorded in model_usage) and the accounts it cited, by name.
    assert doc["usage"]["calls"] == 3 and doc["usage"]["prompt_tokens"] > 0
    assert doc["accounts"] == [{"id": ids["ACME"], "external_id": "ACME", "name": "Acme"}]
    tool_args = standin.requests[0]["tools"]
    assert {t["function"]["name"] for t in tool_args} >= {
        "find_accounts",
        "account_detail",
        "nps_figures",
    }
    assert "figure score=12.0 is in no tool result" in json.dumps(standin.requests[2]["messages"])
    with engine.connect() as conn:
        after = [
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (OutboxMessage, ActionProposal, AuditLog)
        ]
    assert after == before


def sqlite_copy(template: Path, tmp_path: Path) -> tuple[Engine, str]:
    """One SQLite database (where files go and what gets imported need only one)."""
    path = tmp_path / "data" / "successcrew.db"
    path.parent.mkdir()
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    return make_engine(url), url


def test_a_separate_process_keeps_crewai_in_its_place(
    sqlite_template: Path, standin: OpenAIStandIn, tmp_path: Path
) -> None:
    engine, db_url = sqlite_copy(sqlite_template, tmp_path)
    ids = build_book(engine)
    standin.script = [crew_responder(ids)] * 10
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    # A .env where crewAI would look: it must change none of our settings.
    (project / ".env").write_text(
        "SUCCESSCREW_LLM_MODEL=evil-model\nSUCCESSCREW_LLM_BASE_URL=http://evil.example/v1\n"
        "SUCCESSCREW_DATABASE_URL=sqlite:///evil.db\nOPENAI_BASE_URL=http://evil.example/v1\n"
    )
    code = (
        "import sys; from successcrew.cli import main; code = main(sys.argv[1:]); "
        "print('MODULES', sorted({m.split('.')[0] for m in sys.modules} & {'crewai', 'litellm'})); "
        "sys.exit(code)"
    )
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SUCCESSCREW_", "CREWAI_", "OPENAI_", "XDG_"))
    }
    environ.update(
        HOME=str(home),
        SUCCESSCREW_DATABASE_URL=db_url,
        SUCCESSCREW_LLM_MODEL="stand-in-model",
        SUCCESSCREW_LLM_BASE_URL=standin.base_url,
        SUCCESSCREW_LLM_TIMEOUT_SECONDS="10",
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "run", "--crew-mode", "crewai", "--now", NOW.isoformat()],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "MODULES ['crewai']" in done.stdout  # crewAI's own OpenAI client: no litellm
    assert {r["model"] for r in standin.requests} == {"stand-in-model"}
    assert not (project / "evil.db").exists()
    assert list(home.iterdir()) == []  # nothing under the real HOME
    data_dir = Path(db_url.removeprefix("sqlite:///")).parent
    assert (data_dir / "crewai").is_dir()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ActionProposal)).scalar_one() == 1


def test_help_and_a_run_without_crew_mode_import_neither_crewai_nor_langchain(
    sqlite_template: Path, tmp_path: Path
) -> None:
    _engine, db_url = sqlite_copy(sqlite_template, tmp_path)
    code = (
        "import sys; from successcrew.cli import main; main(['--help']); "
        "main(['run', '--now', '2026-11-20T07:00:00Z']); "
        "print('MODULES', sorted({m.split('.')[0] for m in sys.modules} & "
        "{'crewai', 'langchain_core', 'langchain_openai', 'litellm', 'chromadb'}))"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SUCCESSCREW_")}
    environ.update(HOME=str(tmp_path), SUCCESSCREW_DATABASE_URL=db_url)
    plain = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=120
    )
    assert "MODULES []" in plain.stdout, plain.stderr[-2000:]
    # A model configured, no crew mode: crewAI stays out (LangChain only when there is work).
    environ.update(SUCCESSCREW_LLM_MODEL="m", SUCCESSCREW_LLM_BASE_URL="http://127.0.0.1:9/v1")
    configured = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=120
    )
    assert "MODULES []" in configured.stdout, configured.stderr[-2000:]


@pytest.mark.parametrize(
    "command",
    [
        ["ask", "which accounts got worse?", "--now", NOW.isoformat(), "--json"],
        ["run", "--crew-mode", "crewai", "--now", NOW.isoformat(), "--json"],
    ],
    ids=["ask", "run"],
)
def test_json_stays_one_document_when_the_model_fails(
    sqlite_template: Path,
    tmp_path: Path,
    standin: OpenAIStandIn,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    """Every model call answers 500 (the stand-in has no script): crewAI prints its warnings
    ("Event pairing mismatch"), and stdout is still exactly one JSON document; what the
    libraries printed went to stderr. (SQLite only: the output path is the same on both.)"""
    for key in [k for k in os.environ if k.startswith("SUCCESSCREW_")]:
        monkeypatch.delenv(key)
    engine, db_url = sqlite_copy(sqlite_template, tmp_path)
    monkeypatch.setenv("SUCCESSCREW_DATABASE_URL", db_url)
    build_book(engine)
    evaluate(engine)
    model_env(monkeypatch, standin)
    done = run_cli(capsys, *command)
    assert standin.requests, "the model was called"
    document = done.json()  # the whole of stdout, nothing before or after
    assert isinstance(document, dict), done.out[:500]
    if command[0] == "ask":
        assert done.code == 1 and document["answer"] is None and document["fallback"]
    else:
        model = next(t for t in document["tasks"] if t["task"] == "model_pass")
        assert model["result"]["review"]["fallback"]
    assert "CrewAIEventsBus" in done.err


def test_ask_cites_accounts_by_external_id_as_the_portfolio_names_them(
    sqlite_template: Path,
    tmp_path: Path,
    standin: OpenAIStandIn,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``portfolio_overview`` names accounts by external id; an answer citing them so is
    accepted and resolved. The responder is the cost benchmark's (bench/bench_llm_demo.py), so
    this also shows it answers ``ask``."""
    from bench.bench_llm_demo import answer as bench_responder

    for key in [k for k in os.environ if k.startswith("SUCCESSCREW_")]:
        monkeypatch.delenv(key)
    engine, db_url = sqlite_copy(sqlite_template, tmp_path)
    monkeypatch.setenv("SUCCESSCREW_DATABASE_URL", db_url)
    ids = build_book(engine)
    evaluate(engine)
    model_env(monkeypatch, standin)
    standin.script = [bench_responder] * 6
    asked = run_cli(
        capsys, "ask", "which accounts fell most this week?", "--now", NOW.isoformat(), "--json"
    )
    assert asked.code == 0, asked.out + asked.err
    doc = asked.json()
    assert doc["account_ids"] == ["ACME", "DELTA", "BETA"]
    assert doc["figures"] == [{"account_id": "ACME", "name": "score", "value": "30.0"}]
    assert doc["accounts"] == [
        {"id": ids[x], "external_id": x, "name": x.title()} for x in ("ACME", "BETA", "DELTA")
    ]
    assert len(standin.requests) == 2  # the lookup, then the answer: accepted at once
