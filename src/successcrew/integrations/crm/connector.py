"""The CRM connector interface and the records that cross it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class CrmAccount:
    """A company as the CRM knows it; ``source_id`` is the CRM's own id."""

    source_id: str
    name: str
    owner_email: str | None = None
    domain: str | None = None
    #: Our account external id when the CRM record already carries it (HubSpot's stamp).
    linked_external_id: str | None = None


@dataclass(frozen=True)
class CrmContact:
    """A person; ``account_source_id`` is the CRM id of their company (None when unlinked)."""

    source_id: str
    email: str | None
    account_source_id: str | None
    name: str | None = None
    role: str | None = None
    email_opt_out: bool = False


@dataclass(frozen=True)
class ScoreUpdate:
    """A health score to push: ``source_id`` is the CRM id, ``external_id`` ours."""

    source_id: str
    external_id: str
    score: float
    band: str


@dataclass
class PushResult:
    """How a push went: ``failed`` maps a source id (or a batch) to the provider's reason."""

    attempted: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    requests: int = 0

    @property
    def succeeded(self) -> int:
        """Records the provider accepted."""
        return self.attempted - len(self.failed)


@dataclass(frozen=True)
class CrmTask:
    """A follow-up for an account owner."""

    account_source_id: str
    subject: str
    body: str
    due_date: str  # ISO date; CRMs want one and we never read the clock here
    owner_email: str | None = None


class CrmConnector(Protocol):
    """Pull accounts and contacts, push health scores, create owner tasks."""

    provider: str

    def check(self) -> str:
        """Validate the credentials with one cheap call; returns a short description."""
        ...

    def pull_accounts(self) -> Iterator[CrmAccount]:
        """Every company, page by page to the end."""
        ...

    def pull_contacts(self) -> Iterator[CrmContact]:
        """Every contact, page by page to the end."""
        ...

    def prepare(self) -> None:
        """One-time setup before pushing (custom properties); idempotent."""
        ...

    def push_scores(self, updates: Sequence[ScoreUpdate]) -> PushResult:
        """Write score and band onto the CRM's companies, batched as the provider allows."""
        ...

    def create_task(self, task: CrmTask) -> str:
        """Create a task for the owner; returns the CRM's id for it."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def chunks(items: Sequence[ScoreUpdate], size: int) -> Iterator[Sequence[ScoreUpdate]]:
    """``items`` in slices of at most ``size`` (the provider's batch limit)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
