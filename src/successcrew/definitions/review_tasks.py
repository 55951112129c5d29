"""``crews/review.yaml``: the tasks of crew mode (crewAI agents reviewing the day's risks).

Loaded only on the crew-mode path; a broken file is a ConfigError naming the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from successcrew.definitions.loading import load_model
from successcrew.paths import definition_path

#: The read-only tools a review task may list (successcrew.llm.tools).
ToolName = Literal[
    "portfolio_overview",
    "find_accounts",
    "account_detail",
    "open_trigger_events",
    "chairman_escalations",
    "nps_figures",
]
TOOLS: tuple[str, ...] = get_args(ToolName)


class ReviewTask(BaseModel):
    """One crewAI task: the agent (an agents/*.yaml name), its tools and its words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    agent: str
    tools: tuple[ToolName, ...] = ()
    description: Annotated[str, Field(min_length=1)]
    expected_output: Annotated[str, Field(min_length=1)]
    output: Literal["text", "proposals"] = "text"


class ReviewCrew(BaseModel):
    """The review crew."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    max_accounts: Annotated[int, Field(ge=1, le=200)] = 20
    max_proposals: Annotated[int, Field(ge=1, le=200)] = 20
    tasks: Annotated[tuple[ReviewTask, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _one_output(self) -> ReviewCrew:
        outputs = [t.id for t in self.tasks if t.output == "proposals"]
        if outputs != [self.tasks[-1].id]:
            raise ValueError("the last task, and only it, must have output: proposals")
        agents = [t.agent for t in self.tasks]
        if len(agents) != len(set(agents)):
            raise ValueError("each agent may have one task (its tools are the agent's)")
        if self.tasks[-1].tools:
            raise ValueError("the proposals task takes no tools (it answers from the others)")
        return self


def review_path() -> Path:
    """The review crew file in force."""
    return definition_path("crews", "review.yaml")


def load_review(path: Path | None = None) -> ReviewCrew:
    """Load and validate ``crews/review.yaml``."""
    return load_model(path or review_path(), ReviewCrew)
