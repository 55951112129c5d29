"""What a model must answer: pydantic models at the edge, validated before anything is used.

Every field is required and the schemas use no length or range keywords, so they pass OpenAI's
strict structured outputs and the json_schema modes of vLLM, llama.cpp and Ollama alike; limits
are checked after parsing (``problems`` methods and the callers), where a violation asks again.

(No ``from __future__ import annotations`` here: crewAI reads these models' annotations.)
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from successcrew.domain.proposal_rules import text_problem


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _too_long(name: str, value: str, limit: int) -> list[str]:
    return [f"{name} is {len(value)} characters, more than {limit}"] if len(value) > limit else []


class AccountBriefOut(_Out):
    """An account brief."""

    why_at_risk: str = Field(description="Why the account is at risk, in one or two sentences.")
    what_changed: str = Field(description="What changed since the previous scores.")
    next_step: str = Field(description="The one recommended next step (a conversation or task).")
    evidence: list[str] = Field(description="The figures used, quoted exactly as given (1-5).")

    def problems(self) -> list[str]:
        """What makes this answer unusable (empty when fine)."""
        out: list[str] = []
        for name in ("why_at_risk", "what_changed", "next_step"):
            value = getattr(self, name)
            if not value.strip():
                out.append(f"{name} is empty")
            out += _too_long(name, value, 400)
        if not 1 <= len(self.evidence) <= 5:
            out.append(f"give 1 to 5 evidence items, not {len(self.evidence)}")
        for item in self.evidence:
            out += _too_long("an evidence item", item, 200)
        for text in (self.why_at_risk, self.what_changed, self.next_step, *self.evidence):
            problem = text_problem(text)
            if problem:
                out.append(f"the brief {problem}")
        return out

    def all_text(self) -> str:
        """Every sentence of the brief (for the figures check)."""
        return " ".join([self.why_at_risk, self.what_changed, self.next_step, *self.evidence])


class EmailDraftOut(_Out):
    """A personalised e-mail (subject and body only)."""

    subject: str = Field(description="The subject line.")
    body: str = Field(description="The body: no greeting, no signature, no links.")

    def problems(self) -> list[str]:
        """What makes this draft unusable."""
        out = _too_long("subject", self.subject, 150) + _too_long("body", self.body, 2000)
        if not self.subject.strip() or not self.body.strip():
            out.append("subject and body must not be empty")
        if "{{" in self.body or "{%" in self.body:
            out.append("the body contains template markup")
        for text in (self.subject, self.body):
            problem = text_problem(text)
            if problem:
                out.append(f"the draft {problem}")
        return out


class CommentReadingOut(_Out):
    """One comment's reading."""

    id: int = Field(description="The comment's id as given.")
    categories: list[str] = Field(description="Categories from the given list only.")
    sentiment: float = Field(description="From -1 (negative) to 1 (positive).")
    confidence: float = Field(description="From 0 to 1.")


class CommentReadingsOut(_Out):
    """Readings of a batch of comments."""

    readings: list[CommentReadingOut]

    def problems(self, ids: set[int], categories: set[str]) -> list[str]:
        """What makes these readings unusable."""
        out = []
        for r in self.readings:
            if r.id not in ids:
                out.append(f"id {r.id} was not given")
            unknown = sorted(set(r.categories) - categories)
            if unknown:
                out.append(f"id {r.id}: unknown categories {', '.join(unknown)}")
            if not -1 <= r.sentiment <= 1 or not 0 <= r.confidence <= 1:
                out.append(f"id {r.id}: sentiment must be in [-1, 1] and confidence in [0, 1]")
        return out


class ReportSummaryOut(_Out):
    """The weekly report's summary."""

    summary: str = Field(description="Three to five sentences.")

    def problems(self) -> list[str]:
        """What makes this summary unusable."""
        out = _too_long("summary", self.summary, 1200)
        if not self.summary.strip():
            out.append("the summary is empty")
        problem = text_problem(self.summary)
        if problem:
            out.append(f"the summary {problem}")
        return out


Action = Literal[
    "draft_email", "crm_task", "internal_task", "escalate", "enrol_playbook", "nothing"
]


class DraftText(_Out):
    """A suggested e-mail for the owner to send (draft_email only)."""

    subject: str
    body: str


class ActionProposalOut(_Out):
    """One proposal. ``action`` is checked against the allow-list after parsing, so a proposal
    of anything else is recorded as blocked rather than silently dropped."""

    action: str = Field(
        description="One of: draft_email, crm_task, internal_task, escalate, enrol_playbook, "
        "nothing."
    )
    account_id: int | None = Field(description="The account under review it is about.")
    playbook: str | None = Field(description="enrol_playbook only: the playbook id.")
    task: str | None = Field(description="internal_task only: the task in a few words.")
    draft: DraftText | None = Field(description="draft_email only: the suggested e-mail.")
    reason: str = Field(description="Why, in one or two sentences.")
    evidence: list[str] = Field(description="The figures used, quoted exactly as given.")


class ProposalListOut(_Out):
    """The crew's proposals for the accounts under review."""

    proposals: list[ActionProposalOut]


class FigureOut(_Out):
    """A figure an answer used."""

    account_id: int | str | None = Field(
        description="The account it belongs to, if any: its id (a number) or its external id, "
        "as a tool returned it."
    )
    name: str = Field(description="What the figure is (score, ARR, NPS, ...).")
    value: str = Field(description="The value exactly as a tool returned it.")


class AnswerOut(_Out):
    """An answer to a question over the book."""

    answer: str = Field(description="The answer in a few sentences.")
    account_ids: list[int | str] = Field(
        description="The accounts the answer is about: each an id (a number) or an external id "
        "(a string), as a tool returned it."
    )
    figures: list[FigureOut] = Field(description="The figures the answer used.")
