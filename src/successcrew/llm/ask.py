"""``successcrew ask``: a question in plain language, answered by a crewAI agent from the
read-only tools, with the account ids and figures it used.

The agent has only the read-only lookups (their connection refuses writes), so it cannot change
anything. A guardrail checks that every account id and figure in the answer came from what the
tools returned; an answer that cites anything else is asked for again, then given up on.

(No ``from __future__ import annotations``: crewAI validates the guardrail's annotations.)
"""

import re
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from successcrew.errors import InputError
from successcrew.llm import prompts
from successcrew.llm.crew_mode import json_part
from successcrew.llm.schemas import AnswerOut

QUESTION_LIMIT = 1000
#: The agent whose role, goal and backstory answer questions.
ASK_AGENT = "health_monitoring_specialist"

TASK = (
    "A person on the customer-success team asks: {question}\n\n"
    "Answer from what the tools return, and only that. Use the tools to find the accounts and "
    "figures. Give the accounts the answer is about (their id, or their external id where a "
    "tool named them by it) and every figure you used, with its value exactly as a tool "
    "returned it. If the tools cannot answer it, say so."
)


def cited_accounts(results: list[str]) -> set[int | str]:
    """The accounts the tools' ``results`` named: ids (``account_id``) and external ids
    (``external_id``, and ``account`` where the portfolio names accounts by external id)."""
    seen = "\n".join(results)
    ids: set[int | str] = {int(m) for m in re.findall(r'"account_id":\s*(\d+)', seen)}
    ids |= set(re.findall(r'"(?:external_id|account)":\s*"((?:[^"\\]|\\.)+)"', seen))
    return ids


def answer_problems(answer: AnswerOut, results: list[str]) -> list[str]:
    """What in ``answer`` did not come from the tools' ``results`` (empty when all did)."""
    seen = "\n".join(results)
    ids = cited_accounts(results)
    numbers = prompts.numbers_in(seen)
    problems = [f"account {i} is in no tool result" for i in answer.account_ids if i not in ids]
    for f in answer.figures:
        if f.account_id is not None and f.account_id not in ids:
            problems.append(f"figure {f.name}: account {f.account_id} is in no tool result")
        values = prompts.numbers_in(f.value)
        if values:
            if not all(any(abs(v - n) <= 0.05 + 0.001 * abs(n) for n in numbers) for v in values):
                problems.append(f"figure {f.name}={f.value} is in no tool result")
        elif f.value.strip().lower() not in seen.lower():
            problems.append(f"figure {f.name}={f.value} is in no tool result")
    return problems


def ask(assistant: Any, question: str, *, now: datetime, llm_factory: Any = None) -> dict[str, Any]:
    """Answer ``question``; ``{"answer": None, "fallback": reason}`` when the model could not."""
    from successcrew.crew.agent_registry import load_agents
    from successcrew.llm.crew_mode import budgeted_llm_class, endpoint_llm
    from successcrew.llm.offline import import_crewai
    from successcrew.llm.tools import ReadOnlyTools, crewai_tools

    question = " ".join(question.split())
    if not question:
        raise InputError("ask: give a question")
    if len(question) > QUESTION_LIMIT:
        raise InputError(
            f"ask: the question is {len(question)} characters; at most {QUESTION_LIMIT}"
        )
    crewai = import_crewai(assistant.config.data_dir)
    tools = ReadOnlyTools(assistant.engine, now.date())
    definition = load_agents()[ASK_AGENT]
    inner = llm_factory() if llm_factory else endpoint_llm(assistant)
    llm = budgeted_llm_class()(
        model=assistant.model, inner=inner, spend=assistant.spend, purpose="ask"
    )

    def guardrail(output: Any) -> tuple[bool, Any]:
        try:
            parsed = AnswerOut.model_validate_json(json_part(output.raw))
        except ValidationError as exc:
            return False, f"Answer with JSON matching the schema ({exc.errors()[0]['msg']})."
        problems = answer_problems(parsed, tools.results)
        if problems:
            return False, "Use only what the tools returned: " + "; ".join(problems[:5])
        return True, parsed.model_dump_json()

    agent = crewai.Agent(
        role=definition.role,
        goal=definition.goal,
        backstory=definition.backstory,
        tools=crewai_tools(tools),
        llm=llm,
        allow_delegation=False,
        max_iter=8,
        max_retry_limit=1,
        verbose=False,
    )
    task = crewai.Task(
        description=TASK.format(
            question=prompts.scrub(question).replace("{", "(").replace("}", ")")
        ),
        expected_output=(
            'JSON: {"answer": ..., "account_ids": [...], '
            '"figures": [{"account_id": ..., "name": ..., "value": ...}]}'
        ),
        agent=agent,
        output_pydantic=AnswerOut,
        guardrail=guardrail,
        guardrail_max_retries=1,
    )
    crew = crewai.Crew(agents=[agent], tasks=[task], memory=False, tracing=False, verbose=False)
    try:
        result = crew.kickoff()
        answer = result.pydantic
        if not isinstance(answer, AnswerOut):
            answer = AnswerOut.model_validate_json(json_part(result.raw))
    except Exception as exc:
        reason = assistant.config.redact(
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
        assistant.spend.fell_back("ask", reason)
        return {"question": question, "answer": None, "fallback": reason[:300]}
    return {
        "question": question,
        "answer": answer.answer,
        "account_ids": answer.account_ids,
        "figures": [f.model_dump() for f in answer.figures],
        "tool_calls": len(tools.results),
        "model": assistant.model,
    }


def answer_question(
    settings: Any,
    engine: Any,
    question: str,
    *,
    now: datetime,
    assistant: Any = None,
    llm_factory: Any = None,
) -> dict[str, Any]:
    """``successcrew ask`` and the dashboard's Ask box: check the setup, answer ``question``,
    record what it spent (``model_usage``, command ``ask``) and add it under ``usage``, and name
    the accounts cited (``accounts``: id, external id, name).

    ``assistant`` is the command's installed one; None builds one for this question alone (the
    dashboard: each question its own budget and usage row). ConfigError (exit 2) without a model
    or without the extra; InputError for an empty or overlong question.
    """
    from sqlalchemy import or_, select

    from successcrew.errors import ConfigError
    from successcrew.llm.setup import ask_unavailable
    from successcrew.store.models import Account

    reason = ask_unavailable(settings)
    if reason:
        raise ConfigError(f"ask: {reason} (docs/llm.md)")
    if assistant is None:
        from successcrew.llm.calls import ModelAssistant, ModelConfig

        assistant = ModelAssistant(ModelConfig.from_settings(settings), engine, settings)
    try:
        result = ask(assistant, question, now=now, llm_factory=llm_factory)
    finally:
        usage = assistant.finish(engine, now=now, crew_run_id=None, command="ask")
    result.setdefault("model", assistant.model)
    result["usage"] = {
        k: usage.get(k, 0)
        for k in ("calls", "prompt_tokens", "completion_tokens", "cache_hits", "fallbacks")
    }
    cited = set(result.get("account_ids") or []) | {
        f["account_id"] for f in result.get("figures") or [] if f["account_id"] is not None
    }
    # Cited by id (a number) or by external id (a string), as the tools named them.
    numbers = sorted(i for i in cited if isinstance(i, int))
    externals = sorted(i for i in cited if isinstance(i, str))
    accounts: list[dict[str, Any]] = []
    if cited:
        with engine.connect() as conn:
            accounts = [
                {"id": i, "external_id": e, "name": n}
                for i, e, n in conn.execute(
                    select(Account.id, Account.external_id, Account.name)
                    .where(or_(Account.id.in_(numbers), Account.external_id.in_(externals)))
                    .order_by(Account.id)
                )
            ]
    result["accounts"] = accounts
    return result
