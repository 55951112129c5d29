"""CRM sync: pull accounts and contacts into the database, push the latest health scores back.

All writes are set-based (multi-row upserts); the error rate is recorded as a ``crm_sync``
component check so the rollback rule (pause automation above
``thresholds.rollback.crm_sync_error_rate_pct``) can read it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from successcrew.definitions.thresholds import Thresholds
from successcrew.integrations.crm.connector import CrmAccount, CrmConnector, CrmContact, ScoreUpdate
from successcrew.integrations.crm.hubspot import HubSpotConnector
from successcrew.integrations.http import ProviderError
from successcrew.store.db import transaction
from successcrew.store.models import Account, AccountSource, ComponentCheck, Contact, HealthSnapshot

log = logging.getLogger(__name__)

COMPONENT = "crm_sync"
#: Rows per multi-row INSERT: well under SQLite's bound-parameter limit.
_CHUNK = 500


@dataclass
class ProviderSync:
    """One provider's part of a sync."""

    provider: str
    accounts_pulled: int = 0
    contacts_pulled: int = 0
    contacts_skipped: int = 0  # no email, or a company we do not know
    scores_pushed: int = 0
    requests: int = 0
    attempted: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    #: The pull failed: the CRM could not be reached (or refused), so nothing was synced.
    unreachable: bool = False


@dataclass
class SyncSummary:
    """A whole sync: per provider, the totals, and whether the component check passed."""

    providers: list[ProviderSync] = field(default_factory=list)
    attempted: int = 0
    failed: int = 0
    error_rate_pct: float = 0.0
    ok: bool = True

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def error_rate_pct(attempted: int, failed: int) -> float:
    """Failed share of attempted operations in percent (0 when nothing was attempted)."""
    return round(100.0 * failed / attempted, 2) if attempted else 0.0


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _chunked(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]


def upsert_accounts(
    session: Session, provider: str, accounts: Sequence[CrmAccount], now: datetime
) -> dict[str, tuple[int, str]]:
    """Create or update accounts and their ``account_sources`` rows.

    Returns CRM id -> (account id, account external id). An account already linked keeps its
    external id; a new one takes the id the CRM carries for us (HubSpot's stamp) or
    ``<provider>:<crm id>``.
    """
    if not accounts:
        return {}
    linked = {
        source_id: external_id
        for source_id, external_id in session.execute(
            select(AccountSource.source_id, Account.external_id)
            .join(Account, Account.id == AccountSource.account_id)
            .where(AccountSource.source == provider)
        )
    }
    rows = [
        {
            "external_id": linked.get(a.source_id)
            or a.linked_external_id
            or f"{provider}:{a.source_id}",
            "name": a.name[:300],
            "owner_email": a.owner_email,
            "created_at": now,
            "updated_at": now,
        }
        for a in accounts
    ]
    ins = _insert(session)
    ids: dict[str, int] = {}
    for chunk in _chunked(rows):
        stmt = ins(Account).values(list(chunk))
        stmt = stmt.on_conflict_do_update(
            index_elements=["external_id"],
            set_={
                "name": stmt.excluded.name,
                # A CRM without an owner must not erase the one we have.
                "owner_email": func.coalesce(stmt.excluded.owner_email, Account.owner_email),
                "updated_at": stmt.excluded.updated_at,
            },
        ).returning(Account.id, Account.external_id)
        ids.update({row.external_id: row.id for row in session.execute(stmt)})
    result = {
        a.source_id: (ids[r["external_id"]], r["external_id"])
        for a, r in zip(accounts, rows, strict=True)
    }
    session.execute(
        update(AccountSource)
        .where(AccountSource.source == provider, AccountSource.source_id.in_(list(linked)))
        .values(synced_at=now)
    )
    new_links = [
        {"account_id": acc_id, "source": provider, "source_id": sid, "synced_at": now}
        for sid, (acc_id, _) in result.items()
        if sid not in linked
    ]
    for chunk in _chunked(new_links):
        # No conflict target: skips both "CRM id already linked" and "account already has an id
        # in this CRM" (a merged CRM record) instead of failing the whole sync.
        session.execute(ins(AccountSource).values(list(chunk)).on_conflict_do_nothing())
    return result


def upsert_contacts(
    session: Session,
    provider: str,
    contacts: Sequence[CrmContact],
    accounts: dict[str, int],
    now: datetime,
) -> int:
    """Create or update contacts; returns how many were skipped (no email or unknown company).

    A contact already known at the same account by email is updated rather than duplicated. An
    opt-out is sticky: the CRM can set it, never clear one recorded here.
    """
    usable = [c for c in contacts if c.email and c.account_source_id in accounts]
    skipped = len(contacts) - len(usable)
    if not usable:
        return skipped
    account_ids = {accounts[c.account_source_id] for c in usable if c.account_source_id}
    by_email = {
        (acc, email.lower()): cid
        for cid, acc, email in session.execute(
            select(Contact.id, Contact.account_id, Contact.email).where(
                Contact.account_id.in_(account_ids)
            )
        )
    }
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for c in usable:
        assert c.email is not None and c.account_source_id is not None
        account_id = accounts[c.account_source_id]
        existing = by_email.get((account_id, c.email.lower()))
        if existing is not None:
            updates.append(
                {"id": existing, "name": c.name, "role": c.role, "opt_out": c.email_opt_out}
            )
        else:
            inserts.append(
                {
                    "external_id": f"{provider}:{c.source_id}",
                    "account_id": account_id,
                    "email": c.email[:320],
                    "name": c.name,
                    "role": c.role,
                    "email_opt_out": c.email_opt_out,
                    "survey_consent": True,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    ins = _insert(session)
    for chunk in _chunked(inserts):
        stmt = ins(Contact).values(list(chunk))
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["external_id"],
                set_={
                    "account_id": stmt.excluded.account_id,
                    "email": stmt.excluded.email,
                    "name": stmt.excluded.name,
                    "role": stmt.excluded.role,
                    "email_opt_out": or_(Contact.email_opt_out, stmt.excluded.email_opt_out),
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        )
    opted_out = [u["id"] for u in updates if u["opt_out"]]
    if updates:
        # One executemany: the CRM's name and role win; a missing one keeps ours.
        table = Contact.__table__
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("id_"))
            .values(
                name=func.coalesce(bindparam("name_"), table.c.name),
                role=func.coalesce(bindparam("role_"), table.c.role),
                updated_at=now,
            ),
            [{"id_": u["id"], "name_": u["name"], "role_": u["role"]} for u in updates],
        )
    if opted_out:
        session.execute(update(Contact).where(Contact.id.in_(opted_out)).values(email_opt_out=True))
    return skipped


def latest_scores(session: Session, provider: str) -> list[ScoreUpdate]:
    """The newest health snapshot of every account linked to ``provider``."""
    newest = (
        select(HealthSnapshot.account_id, func.max(HealthSnapshot.as_of).label("as_of"))
        .group_by(HealthSnapshot.account_id)
        .subquery()
    )
    rows = session.execute(
        select(
            AccountSource.source_id, Account.external_id, HealthSnapshot.score, HealthSnapshot.band
        )
        .join(Account, Account.id == AccountSource.account_id)
        .join(newest, newest.c.account_id == AccountSource.account_id)
        .join(
            HealthSnapshot,
            (HealthSnapshot.account_id == newest.c.account_id)
            & (HealthSnapshot.as_of == newest.c.as_of),
        )
        .where(AccountSource.source == provider)
        .order_by(AccountSource.source_id)
    )
    return [ScoreUpdate(sid, ext, float(score), band) for sid, ext, score, band in rows]


def _sync_one(
    engine: Engine, connector: CrmConnector, now: datetime, *, push: bool
) -> ProviderSync:
    out = ProviderSync(provider=connector.provider)
    try:
        # Keyed by CRM id: a record that moves between pages while we page shows up twice, and
        # one multi-row upsert may not touch the same row twice (PostgreSQL refuses).
        accounts = list({a.source_id: a for a in connector.pull_accounts()}.values())
        contacts = list({c.source_id: c for c in connector.pull_contacts()}.values())
    except ProviderError as exc:
        # Without a complete pull we neither write half a picture nor push blind.
        out.attempted += 1
        out.failed += 1
        out.errors.append(str(exc))
        out.unreachable = True
        return out
    out.accounts_pulled, out.contacts_pulled = len(accounts), len(contacts)
    out.attempted += len(accounts) + len(contacts)
    with transaction(engine) as session:
        linked = upsert_accounts(session, connector.provider, accounts, now)
        out.contacts_skipped = upsert_contacts(
            session, connector.provider, contacts, {k: v[0] for k, v in linked.items()}, now
        )
    if not push:
        return out
    with transaction(engine) as session:
        updates = latest_scores(session, connector.provider)
    if isinstance(connector, HubSpotConnector):
        # batch/upsert creates a company when our id is not stamped on one: only push to
        # companies that carry the stamp (already, or after linking them now).
        stamped = {a.source_id for a in accounts if a.linked_external_id == linked[a.source_id][1]}
        to_link = [(sid, ext) for sid, (_, ext) in linked.items() if sid not in stamped]
        if to_link:
            link = connector.link_accounts(to_link)
            out.attempted += link.attempted
            out.failed += len(link.failed)
            out.errors.extend(sorted(set(link.failed.values()))[:5])
            stamped |= {sid for sid, _ in to_link if sid not in link.failed}
        updates = [u for u in updates if u.source_id in stamped]
    if not updates:
        return out
    try:
        connector.prepare()
    except ProviderError as exc:
        out.attempted += len(updates)
        out.failed += len(updates)
        out.errors.append(str(exc))
        return out
    result = connector.push_scores(updates)
    out.scores_pushed = result.succeeded
    out.requests = result.requests
    out.attempted += result.attempted
    out.failed += len(result.failed)
    out.errors.extend(sorted(set(result.failed.values()))[:5])
    return out


def sync_crm(
    engine: Engine,
    connectors: Sequence[CrmConnector],
    thresholds: Thresholds,
    now: datetime,
    *,
    push: bool = True,
) -> SyncSummary:
    """Sync every connector, then record one ``crm_sync`` component check with the error rate.

    Nothing is recorded when no CRM is configured: an unused component is not a failing one.
    """
    summary = SyncSummary()
    for connector in connectors:
        part = _sync_one(engine, connector, now, push=push)
        summary.providers.append(part)
        summary.attempted += part.attempted
        summary.failed += part.failed
    if not connectors:
        return summary
    summary.error_rate_pct = error_rate_pct(summary.attempted, summary.failed)
    limit = thresholds.rollback.crm_sync_error_rate_pct
    summary.ok = summary.error_rate_pct <= limit
    errors = [f"{p.provider}: {e}" for p in summary.providers for e in p.errors]
    with transaction(engine) as session:
        session.execute(
            insert(ComponentCheck).values(
                component=COMPONENT,
                checked_at=now,
                ok=summary.ok,
                error=None
                if summary.ok
                else f"error rate {summary.error_rate_pct:g}% is above {limit:g}%: "
                + "; ".join(errors[:3]),
                detail={
                    "attempted": summary.attempted,
                    "failed": summary.failed,
                    "error_rate_pct": summary.error_rate_pct,
                    "unreachable": [p.provider for p in summary.providers if p.unreachable],
                },
            )
        )
    return summary
