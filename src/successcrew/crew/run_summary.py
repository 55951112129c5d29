"""What one tick did: each task's outcome and the run summary ``successcrew run --json`` prints."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass
class TaskOutcome:
    """What happened to one task in a tick."""

    task: str
    kind: str  # "setup" or "operation"
    agent: str
    tool: str
    status: str  # "succeeded", "failed", "skipped" (nothing to do), "planned" (dry run)
    error: str | None = None
    result: dict[str, Any] | None = None
    seconds: float = 0.0
    #: Why a step that ran was skipped (its tool found nothing to do).
    reason: str | None = None
    #: A skipped step that looked again and found the same nothing to do: not reported again.
    quiet: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out: dict[str, Any] = {
            "task": self.task,
            "kind": self.kind,
            "agent": self.agent,
            "tool": self.tool,
            "status": self.status,
        }
        if self.error:
            out["error"] = self.error
        if self.reason:
            out["reason"] = self.reason
        if self.result is not None:
            out["result"] = self.result
        if self.status in ("succeeded", "failed"):
            out["seconds"] = round(self.seconds, 3)
        return out


@dataclass
class RunSummary:
    """The result of one tick."""

    now: datetime
    dry_run: bool
    crew_run_id: int | None = None
    start_date: date | None = None
    tasks: list[TaskOutcome] = field(default_factory=list)
    not_due: dict[str, str] = field(default_factory=dict)
    triggers_fired: int = 0
    messages_queued: int = 0
    messages_sent: int = 0
    setup: dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> int:
        """Tasks with ``status``."""
        return sum(1 for t in self.tasks if t.status == status)

    @property
    def exit_code(self) -> int:
        """0 when every task that ran succeeded, 1 when some failed (they are retried later)."""
        return 1 if self.count("failed") else 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON summary printed by ``successcrew run --json``."""
        ran = [t for t in self.tasks if t.status in ("succeeded", "failed")]
        return {
            "crew_run_id": self.crew_run_id,
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "tasks_run": len(ran),
            "succeeded": self.count("succeeded"),
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "planned": self.count("planned"),
            "triggers_fired": self.triggers_fired,
            "messages_queued": self.messages_queued,
            "messages_sent": self.messages_sent,
            "setup": self.setup,
            "tasks": [t.as_dict() for t in self.tasks],
            "not_due": self.not_due,
            "exit_code": self.exit_code,
        }


def jsonable(value: Any) -> Any:
    # Tool results go into a JSON column; dates, Decimals and the like become strings.
    return json.loads(json.dumps(value, default=str))
