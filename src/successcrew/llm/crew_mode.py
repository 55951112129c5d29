"""Crew mode: real crewAI agents review the day's risks and propose; policy decides.

The agents are the crew's own (role, goal and backstory from ``agents/*.yaml``), their tools the
read-only lookups (``llm.tools``), their tasks ``crews/review.yaml``. The last task answers a
``ProposalListOut``; a guardrail asks again when the answer is not one, and after that the
review falls back (recorded, nothing stored). Each proposal is then checked by
``domain.proposal_rules`` and stored ``pending`` or ``blocked`` by
``services.model_pass.proposals``:
nothing a model says reaches a customer, and nothing is carried out until a person approves.

Every model call goes through ``BudgetedLLM``, which takes it from the run's budget.

(No ``from __future__ import annotations``: crewAI validates the guardrail's annotations.)
"""

import re
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from successcrew.llm import prompts
from successcrew.llm.schemas import ProposalListOut

#: How often the guardrail asks again before the review falls back.
GUARDRAIL_RETRIES = 1


class BudgetSpent(RuntimeError):
    """The run's model budget is spent (raised inside crewAI, recorded as the fallback)."""


_budgeted: Any = None


def budgeted_llm_class() -> Any:
    """A ``crewai.BaseLLM`` that takes each call from a ``Spend`` and hands it to another LLM
    (crewAI's own ``LLM`` for the configured endpoint, or a scripted one in tests)."""
    global _budgeted
    if _budgeted is not None:
        return _budgeted
    from crewai import BaseLLM
    from crewai.llms.base_llm import call_stop_override
    from pydantic import ConfigDict

    class BudgetedLLM(BaseLLM):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        llm_type: str = "budgeted"
        inner: Any
        spend: Any
        purpose: str = "review"

        def supports_function_calling(self) -> bool:
            check = getattr(self.inner, "supports_function_calling", None)
            return bool(check and check())

        def supports_stop_words(self) -> bool:
            return bool(self.inner.supports_stop_words())

        def get_context_window_size(self) -> int:
            return int(self.inner.get_context_window_size())

        def get_input_tokens_count(
            self, messages: Any, tools: Any = None, response_model: Any = None
        ) -> int:
            return int(self.inner.get_input_tokens_count(messages, tools, response_model))

        def call(
            self,
            messages: Any,
            tools: Any = None,
            callbacks: Any = None,
            available_functions: Any = None,
            from_task: Any = None,
            from_agent: Any = None,
            response_model: Any = None,
        ) -> Any:
            refused = self.spend.reserve()
            if refused is not None:
                raise BudgetSpent(refused)
            before = self.inner.get_token_usage_summary()
            with call_stop_override(self.inner, list(self.stop_sequences)):
                result = self.inner.call(
                    messages,
                    tools=tools,
                    callbacks=callbacks,
                    available_functions=available_functions,
                    from_task=from_task,
                    from_agent=from_agent,
                    response_model=response_model,
                )
            after = self.inner.get_token_usage_summary()
            self.spend.used(
                after.prompt_tokens - before.prompt_tokens,
                after.completion_tokens - before.completion_tokens,
            )
            return result

    _budgeted = BudgetedLLM
    return BudgetedLLM


def endpoint_llm(assistant: Any) -> Any:
    """crewAI's own LLM for the configured OpenAI-compatible endpoint (no litellm)."""
    from crewai import LLM

    config = assistant.config
    return LLM(
        model=config.model,
        base_url=config.base_url,
        api_key=config.secret(),
        timeout=config.timeout,
        max_retries=1,
        temperature=0,
    )


def json_part(raw: str) -> str:
    """The JSON object in an answer (models like to wrap it in prose or a code fence)."""
    match = re.search(r"\{.*\}", raw, re.DOTALL)
    return match.group(0) if match else raw


def proposals_guardrail(output: Any) -> tuple[bool, Any]:
    """A crewAI task guardrail: the answer must be a ``ProposalListOut``; else ask again."""
    try:
        parsed = ProposalListOut.model_validate_json(json_part(output.raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        return (
            False,
            f"The answer is not a valid proposal list ({problems}). Answer with JSON only: "
            '{"proposals": [{"action": ..., "account_id": ..., "playbook": null, "task": null, '
            '"draft": null, "reason": ..., "evidence": [...]}]}',
        )
    return True, parsed.model_dump_json()


def model_text_guardrail(output: Any) -> tuple[bool, Any]:
    """A crewAI task guardrail for every task but the last: its output, as handed to the next
    task, is fenced as model text (an injection the agent repeated stays data)."""
    return True, prompts.fence_model_text(str(output.raw or ""))


def accounts_block(facts: list[Any]) -> str:
    """The accounts under review for a task description: figures, then fenced comments."""
    parts = []
    for f in facts:
        parts.append(
            f"Account {f.account_id}: {prompts.figures(f.figures)}\n"
            f"Its customers said:\n{prompts.fence(f.comments)}"
        )
    return "\n\n".join(parts) if parts else "(no account is at risk today)"


def build_crew(
    llm_for: Any, tools: Any, facts: list[Any], *, review: Any = None, agents: Any = None
) -> tuple[Any, int]:
    """The crewAI crew for ``facts`` (the accounts under review); returns (crew, proposals cap).

    ``llm_for(agent_name)`` gives each agent its (budgeted) LLM.
    """
    from crewai import Agent, Crew, Process, Task

    from successcrew.crew.agent_registry import load_agents
    from successcrew.definitions.review_tasks import load_review
    from successcrew.llm.tools import crewai_tools

    review = review or load_review()
    ours = agents if agents is not None else load_agents()
    block = accounts_block(facts)
    ids = [f.account_id for f in facts]
    crew_agents, tasks = [], []
    for spec in review.tasks:
        definition = ours[spec.agent]
        agent = Agent(
            role=definition.role,
            goal=definition.goal,
            backstory=definition.backstory,
            tools=crewai_tools(tools, spec.tools) if spec.tools else [],
            llm=llm_for(spec.agent),
            allow_delegation=False,
            max_iter=6,
            max_retry_limit=1,
            verbose=False,
        )
        description = (
            spec.description.replace("{accounts}", block)
            + "\n\n"
            + prompts.DATA_RULES
            + " "
            + prompts.MODEL_TEXT_RULE
        )
        if spec.output == "proposals":
            description += (
                f"\n\nAccounts under review (ids): {ids}. At most {review.max_proposals} "
                "proposals; only for these accounts."
            )
            task = Task(
                description=description,
                expected_output=spec.expected_output,
                agent=agent,
                output_pydantic=ProposalListOut,
                guardrail=proposals_guardrail,
                guardrail_max_retries=GUARDRAIL_RETRIES,
            )
        else:
            task = Task(
                description=description,
                expected_output=spec.expected_output,
                agent=agent,
                guardrail=model_text_guardrail,
            )
        crew_agents.append(agent)
        tasks.append(task)
    crew = Crew(
        agents=crew_agents,
        tasks=tasks,
        process=Process.sequential,
        memory=False,
        cache=False,
        planning=False,
        tracing=False,
        verbose=False,
    )
    return crew, review.max_proposals


def review(
    assistant: Any,
    engine: Any,
    *,
    now: datetime,
    crew_run_id: int | None,
    llm_factory: Any = None,
) -> dict[str, Any]:
    """Run the review crew over the day's risks and store its proposals; never raises for the
    model (a failure is a recorded fallback with nothing stored)."""
    from successcrew.definitions.playbooks import load_playbooks
    from successcrew.definitions.review_tasks import load_review
    from successcrew.llm.offline import import_crewai
    from successcrew.llm.tools import ReadOnlyTools
    from successcrew.services.model_pass.proposals import store_crew_proposals
    from successcrew.services.views import lookups
    from successcrew.store.db import transaction

    import_crewai(assistant.config.data_dir)
    spec = load_review()
    reader = assistant.engine  # reads never take the write lock
    with lookups.read_only(reader) as session:
        facts = lookups.review_set(session, now.date(), limit=spec.max_accounts)
    if not facts:
        return {"accounts": 0, "proposals": {}}
    tools = ReadOnlyTools(reader, now.date())
    budgeted = budgeted_llm_class()
    inner = llm_factory or (lambda _name: endpoint_llm(assistant))

    def llm_for(name: str) -> Any:
        return budgeted(model=assistant.model, inner=inner(name), spend=assistant.spend)

    try:
        crew, cap = build_crew(llm_for, tools, facts, review=spec)
        result = crew.kickoff()
        answer = result.pydantic
        if not isinstance(answer, ProposalListOut):
            answer = ProposalListOut.model_validate_json(json_part(result.raw))
    except Exception as exc:  # the model failed, or the budget ran out: nothing is stored
        reason = assistant.config.redact(
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
        assistant.spend.fell_back("review", reason)
        return {"accounts": len(facts), "fallback": reason[:300]}
    items = [p.model_dump() for p in answer.proposals]
    for extra in items[cap:]:
        extra["blocked"] = f"more than {cap} proposals in one review"
    playbooks = [b.id for b in load_playbooks() if b.spec.enabled]
    with transaction(engine) as session:
        counts = store_crew_proposals(
            session,
            items,
            under_review=[f.account_id for f in facts],
            playbooks=playbooks,
            model=assistant.model,
            crew_run_id=crew_run_id,
            settings=assistant.settings,
            now=now,
        )
    return {"accounts": len(facts), "proposals": counts}
