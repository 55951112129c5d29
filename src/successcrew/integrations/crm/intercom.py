"""Intercom: companies by scroll cursor, contacts by ``starting_after``; at-risk tags and notes.

Intercom has no tasks and no batch attribute update, so scores reach it as a tag on at-risk and
critical companies (removed when they recover), and an owner task becomes a note on one of the
company's contacts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx

from successcrew.integrations.crm.connector import (
    CrmAccount,
    CrmContact,
    CrmTask,
    PushResult,
    ScoreUpdate,
    chunks,
)
from successcrew.integrations.http import (
    ProviderClient,
    ProviderError,
    ProviderResponseError,
    expect_dict,
    header_int,
    pace_delay,
)

API_VERSION = "2.11"
PAGE_SIZE = 150  # Intercom's maximum per_page
TAG_BATCH = 100
AT_RISK_TAG = "successcrew: at risk"
AT_RISK_BANDS = frozenset({"at_risk", "critical"})


def tag_body(updates: Sequence[ScoreUpdate]) -> dict[str, Any]:
    """``POST /tags`` body: tag at-risk/critical companies, untag the healthy ones."""
    return {
        "name": AT_RISK_TAG,
        "companies": [
            {"id": u.source_id} if u.band in AT_RISK_BANDS else {"id": u.source_id, "untag": True}
            for u in updates
        ],
    }


class IntercomConnector(ProviderClient):
    """Intercom REST API, pinned to one ``Intercom-Version``."""

    provider = "intercom"

    def __init__(
        self, base_url: str, *, wall_clock: Callable[[], float] = time.time, **kwargs: Any
    ) -> None:
        headers = {"Intercom-Version": API_VERSION, **kwargs.pop("headers", {})}
        super().__init__(base_url, headers=headers, **kwargs)
        self._wall_clock = wall_clock

    def after_response(self, response: httpx.Response) -> None:
        """Wait for ``X-RateLimit-Reset`` (Unix time) when the window is nearly spent."""
        remaining = header_int(response.headers, "X-RateLimit-Remaining")
        reset = header_int(response.headers, "X-RateLimit-Reset")
        limit = header_int(response.headers, "X-RateLimit-Limit") or 100
        window = max(0.0, reset - self._wall_clock()) if reset is not None else None
        self.pause_before_next = max(
            self.pause_before_next, pace_delay(remaining, window, reserve=max(1, limit // 20))
        )

    def check(self) -> str:
        """GET /me: the admin the token belongs to."""
        body = expect_dict(self, self.get_json("/me"), "me")
        return f"token valid ({body.get('email') or body.get('name') or 'admin'})"

    def pull_accounts(self) -> Iterator[CrmAccount]:
        """Every company through the scroll API (a cursor; ends on an empty page)."""
        scroll: str | None = None
        while True:
            params = {"scroll_param": scroll} if scroll else {}
            body = expect_dict(self, self.get_json("/companies/scroll", params=params), "scroll")
            data = body.get("data")
            if not isinstance(data, list):
                raise ProviderResponseError(self.provider, "companies/scroll: no data list")
            if not data:
                return
            for c in data:
                yield CrmAccount(
                    source_id=str(c["id"]),
                    name=c.get("name") or c.get("company_id") or f"Intercom company {c['id']}",
                    domain=c.get("website"),
                )
            scroll = body.get("scroll_param")
            if not scroll:
                return

    def pull_contacts(self) -> Iterator[CrmContact]:
        """Every contact, ``per_page`` 150 and ``starting_after`` from ``pages.next``."""
        after: str | None = None
        while True:
            params: dict[str, Any] = {"per_page": PAGE_SIZE}
            if after:
                params["starting_after"] = after
            body = expect_dict(self, self.get_json("/contacts", params=params), "contacts")
            data = body.get("data")
            if not isinstance(data, list):
                raise ProviderResponseError(self.provider, "contacts: no data list")
            for c in data:
                companies = (c.get("companies") or {}).get("data") or []
                yield CrmContact(
                    source_id=str(c["id"]),
                    email=c.get("email") or None,
                    account_source_id=str(companies[0]["id"]) if companies else None,
                    name=c.get("name") or None,
                    email_opt_out=bool(c.get("unsubscribed_from_emails")),
                )
            after = ((body.get("pages") or {}).get("next") or {}).get("starting_after")
            if not after:
                return

    def prepare(self) -> None:
        """Nothing to set up: ``POST /tags`` creates the tag on first use."""

    def push_scores(self, updates: Sequence[ScoreUpdate]) -> PushResult:
        """Tag at-risk and critical companies, untag recovered ones; 100 companies a request."""
        result = PushResult()
        for batch in chunks(updates, TAG_BATCH):
            result.attempted += len(batch)
            result.requests += 1
            try:
                self.request("POST", "/tags", json=tag_body(batch))
            except ProviderError as exc:
                result.failed.update({u.source_id: str(exc) for u in batch})
        return result

    def create_task(self, task: CrmTask) -> str:
        """A note (Intercom has no tasks) on the first contact of the company; returns its id."""
        body = expect_dict(
            self, self.get_json(f"/companies/{task.account_source_id}/contacts"), "contacts"
        )
        contacts = body.get("data") or []
        if not contacts:
            raise ProviderError(
                self.provider,
                f"company {task.account_source_id} has no contacts to attach a note to",
                code="no_contacts",
            )
        owner = f" (owner: {task.owner_email})" if task.owner_email else ""
        text = f"<p><b>{task.subject}</b>{owner}, due {task.due_date}</p><p>{task.body}</p>"
        note = expect_dict(
            self,
            self.post_json(f"/contacts/{contacts[0]['id']}/notes", {"body": text}),
            "notes",
        )
        return str(note.get("id"))
