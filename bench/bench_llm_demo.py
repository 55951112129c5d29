"""Benchmark: what a model costs on the demo (300 accounts, 45 simulated days of crew runs).

Not a timed test: run it by hand in a venv with the llm extra (pip install -e '.[dev,llm]').

    python bench/bench_llm_demo.py                   # the demo with a model, then one crew-mode run
    python bench/bench_llm_demo.py --accounts 100    # quicker

It starts the OpenAI-compatible stand-in of the tests (tests/fakes/openai_server.py) with a
responder that gives a valid answer of a realistic length to every request (briefs, e-mail
drafts, comment readings, the report's summary, the crew's tool calls and proposals, and
``successcrew ask``: a portfolio lookup, then the accounts it named), points
SUCCESSCREW_LLM_* at it, runs ``successcrew demo`` into a fresh SQLite file and then one
``successcrew run --crew-mode crewai``, and prints calls and tokens per purpose from what the
stand-in received (tokens counted as a tokenizer roughly would: four characters a token) and
the usage rows successcrew recorded. docs/llm.md quotes the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.openai_server import OpenAIStandIn, prompt_text, reply, tool_call  # noqa: E402

BRIEF = (
    "Usage fell sharply over the last month and the latest NPS answer was a detractor, so the "
    "score dropped into the Critical band."
)


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """A valid answer for whatever the request asks."""
    schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
    user = str(body["messages"][-1].get("content") or "")
    if schema == "AccountBriefOut":
        score = re.search(r'"score":(-?[\d.]+)', user)
        return reply(
            {
                "why_at_risk": BRIEF,
                "what_changed": "Logins and active users fell since the previous scores; "
                "support tickets stayed open longer.",
                "next_step": "Call the champion this week to find what blocks them and agree "
                "one concrete next step.",
                "evidence": [f"score {score.group(1) if score else 'n/a'}", "logins down"],
            }
        )
    if schema == "EmailDraftOut":
        return reply(
            {
                "subject": "Can we help your team get more from the product?",
                "body": "We noticed your team has been using the product less in the last few "
                "weeks, and we would like to understand why. Could we set up a short call this "
                "week? We would like to hear what is getting in the way and what would make "
                "next month a success for you.",
            }
        )
    if schema == "CommentReadingsOut":
        ids = [int(i) for i in re.findall(r"id (\d+) \(NPS", user)]
        return reply(
            {
                "readings": [
                    {"id": i, "categories": [], "sentiment": -0.2, "confidence": 0.8} for i in ids
                ]
            }
        )
    if schema == "ReportSummaryOut":
        return reply(
            {
                "summary": "Retention held steady this week while NPS slipped; the comments "
                "point at support response times and missing integrations. The at-risk "
                "playbook is running and needs more matured enrolments before it can be judged."
            }
        )
    if schema == "ProposalListOut" or '{"proposals"' in user:
        return reply({"proposals": []})
    last = body["messages"][-1]
    if last["role"] == "tool" and '{"answer"' in prompt_text(body):
        # `successcrew ask`: cite the accounts the portfolio named (by external id) and one
        # figure exactly as it gave it.
        seen = str(last.get("content") or "")
        accounts = list(dict.fromkeys(re.findall(r'"account": "([^"]+)"', seen)))[:3]
        score = re.search(r'"account": "([^"]+)"[^{}]*?"score": (-?[\d.]+)', seen)
        figures = (
            [{"account_id": score.group(1), "name": "score", "value": score.group(2)}]
            if score
            else []
        )
        return reply(
            {
                "answer": "These accounts fell the most this week; call their sponsors first.",
                "account_ids": accounts,
                "figures": figures,
            }
        )
    if body.get("tools") and body["messages"][-1]["role"] != "tool":
        return reply(None, [tool_call("portfolio_overview", {})])
    return reply(
        "The accounts under review are Critical or At-Risk with falling usage; the biggest by "
        "ARR should be called first."
    )


def purpose(body: dict[str, Any]) -> str:
    schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
    return schema or ("crew (tools)" if body.get("tools") else "crew (text)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--crew-days", type=int, default=45)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    with OpenAIStandIn() as server:
        server.script = [answer] * 1_000_000
        os.environ.update(
            SUCCESSCREW_DATABASE_URL=f"sqlite:///{work / 'demo.db'}",
            SUCCESSCREW_LLM_MODEL="stand-in-model",
            SUCCESSCREW_LLM_BASE_URL=server.base_url,
            SUCCESSCREW_LLM_MAX_CALLS="100000",
            SUCCESSCREW_LLM_MAX_TOKENS="100000000",
        )
        from successcrew.cli import main as cli

        started = time.perf_counter()
        demo = [
            "demo",
            "--accounts",
            str(args.accounts),
            "--crew-days",
            str(args.crew_days),
            "--data-dir",
            str(work / "data"),
            "--json",
        ]
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            code = cli(demo)
        demo_seconds = time.perf_counter() - started
        demo_requests = len(server.requests)
        from sqlalchemy import create_engine, text

        engine = create_engine(os.environ["SUCCESSCREW_DATABASE_URL"])
        with engine.connect() as conn:
            last = conn.execute(text("SELECT max(simulated_now) FROM crew_runs")).scalar_one()
        after = (datetime.fromisoformat(str(last)) + timedelta(hours=1)).isoformat()
        started = time.perf_counter()
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            crew_code = cli(["run", "--crew-mode", "crewai", "--now", after, "--json"])
        crew_seconds = time.perf_counter() - started

    def table(bodies: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
        calls: Counter[str] = Counter()
        tokens: Counter[str] = Counter()
        for b in bodies:
            calls[purpose(b)] += 1
            tokens[purpose(b)] += len(prompt_text(b)) // 4
        return {k: {"calls": calls[k], "prompt_tokens": tokens[k]} for k in sorted(calls)}

    with engine.connect() as conn:
        usage = [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    "SELECT command, sum(calls) calls, sum(prompt_tokens) prompt, "
                    "sum(completion_tokens) completion, sum(cache_hits) hits, count(*) runs "
                    "FROM model_usage GROUP BY command"
                )
            )
        ]
    print(
        json.dumps(
            {
                "accounts": args.accounts,
                "crew_days": args.crew_days,
                "demo": {
                    "exit": code,
                    "seconds": round(demo_seconds, 1),
                    "by_purpose": table(server.requests[:demo_requests]),
                },
                "crew_mode_run": {
                    "exit": crew_code,
                    "seconds": round(crew_seconds, 1),
                    "by_purpose": table(server.requests[demo_requests:]),
                },
                "recorded_usage": usage,
                "work_dir": str(work),
            },
            indent=2,
            default=str,
        )
    )


if __name__ == "__main__":
    main()
