"""Set-based reads over the book of accounts: band counts with ARR, band movements between two
scoring dates, the biggest score drops, the most at-risk accounts, the newly Critical."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypedDict

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from successcrew.store.models import Account, AccountSource, HealthSnapshot

BANDS = ("healthy", "at_risk", "critical")
#: IN-lists are chunked so a large portfolio never exceeds a driver's parameter limit.
IN_CHUNK = 2000


class BandFigures(TypedDict):
    """Accounts and ARR in one band (a JSON object in the crew's trend results as is)."""

    accounts: int
    arr: float


#: One account's fall between two scoring dates (``from`` is a keyword, hence this spelling).
ScoreDrop = TypedDict("ScoreDrop", {"account": str, "from": float, "to": float})


class AtRiskAccount(TypedDict):
    """An At-Risk or Critical account and its ARR."""

    account: str
    name: str
    arr: float
    score: float


@dataclass(frozen=True)
class SegmentRisk:
    """A segment's accounts and ARR, and the part of both At-Risk or Critical."""

    segment: str
    accounts: int
    arr: float
    arr_at_risk: float
    accounts_at_risk: int


@dataclass(frozen=True)
class RenewalAtRisk:
    """An At-Risk or Critical account's coming renewal (its score unrounded: pages format it
    with ``numbers.score``, which never shows it across a band edge)."""

    account: str
    name: str
    arr: float
    renewal_date: date
    score: float
    band: str


def _no_bands() -> dict[str, BandFigures]:
    return {b: BandFigures(accounts=0, arr=0.0) for b in BANDS}


def previous_as_of(session: Session, before: date, *, at_least_days: int = 1) -> date | None:
    """The newest scoring date at least ``at_least_days`` before ``before``."""
    return session.execute(
        select(func.max(HealthSnapshot.as_of)).where(
            HealthSnapshot.as_of <= before - timedelta(days=at_least_days)
        )
    ).scalar_one()


def band_counts(
    session: Session, as_of: date, *, owner: str | None = None
) -> dict[str, BandFigures]:
    """Accounts and ARR per band on ``as_of`` (one grouped query); ``owner`` narrows to a book."""
    query = (
        select(HealthSnapshot.band, func.count(), func.coalesce(func.sum(Account.arr), 0))
        .join(Account, Account.id == HealthSnapshot.account_id)
        .where(HealthSnapshot.as_of == as_of)
        .group_by(HealthSnapshot.band)
    )
    if owner is not None:
        query = query.where(Account.owner_email == owner)
    rows = session.execute(query).all()
    result = _no_bands()
    for band, count, arr in rows:
        result[band] = BandFigures(accounts=int(count), arr=float(arr or 0))
    return result


def movements(session: Session, current: date, previous: date) -> dict[str, int]:
    """How many accounts moved from one band to another between two scoring dates."""
    old = aliased(HealthSnapshot)
    rows = session.execute(
        select(old.band, HealthSnapshot.band, func.count())
        .join(
            old,
            and_(old.account_id == HealthSnapshot.account_id, old.as_of == previous),
        )
        .where(HealthSnapshot.as_of == current, old.band != HealthSnapshot.band)
        .group_by(old.band, HealthSnapshot.band)
    ).all()
    return {f"{a}->{b}": int(n) for a, b, n in sorted(rows)}


def biggest_drops(
    session: Session, current: date, previous: date, *, limit: int
) -> list[ScoreDrop]:
    """The accounts whose score fell most between ``previous`` and ``current``."""
    old = aliased(HealthSnapshot)
    drop = (old.score - HealthSnapshot.score).label("drop")
    rows = session.execute(
        select(Account.external_id, old.score, HealthSnapshot.score, drop)
        .join(Account, Account.id == HealthSnapshot.account_id)
        .join(old, and_(old.account_id == HealthSnapshot.account_id, old.as_of == previous))
        # Like with like: a new model version's scores are not a drop of the account's.
        .where(HealthSnapshot.as_of == current, old.model_version == HealthSnapshot.model_version)
        .order_by(drop.desc(), Account.external_id)
        .limit(limit)
    ).all()
    drops: list[ScoreDrop] = [
        {"account": e, "from": round(a, 1), "to": round(b, 1)} for e, a, b, _ in rows
    ]
    return drops


def top_at_risk(session: Session, as_of: date, *, limit: int = 10) -> list[AtRiskAccount]:
    """The At-Risk and Critical accounts with the most ARR on ``as_of``."""
    rows = session.execute(
        select(Account.external_id, Account.name, Account.arr, HealthSnapshot.score)
        .join(HealthSnapshot, HealthSnapshot.account_id == Account.id)
        .where(HealthSnapshot.as_of == as_of, HealthSnapshot.band != "healthy")
        .order_by(Account.arr.desc().nulls_last(), Account.id)
        .limit(limit)
    ).all()
    return [
        AtRiskAccount(account=e, name=n, arr=float(a or 0), score=round(s, 1))
        for e, n, a, s in rows
    ]


def newly_critical(
    session: Session, current: date, previous: date | None
) -> list[tuple[Account, HealthSnapshot]]:
    """Active accounts Critical on ``current`` that were not Critical on ``previous``."""
    old = aliased(HealthSnapshot)
    query = (
        select(Account, HealthSnapshot)
        .join(HealthSnapshot, HealthSnapshot.account_id == Account.id)
        .where(
            HealthSnapshot.as_of == current,
            HealthSnapshot.band == "critical",
            # A carried-forward score is no news about the account.
            HealthSnapshot.stale.is_(False),
            Account.churned_at.is_(None),
        )
        .order_by(Account.id)
    )
    if previous is not None:
        query = query.outerjoin(
            old, and_(old.account_id == Account.id, old.as_of == previous)
        ).where((old.band.is_(None)) | (old.band != "critical"))
    return [(a, s) for a, s in session.execute(query).all()]


def band_trend(
    session: Session, dates: Sequence[date], *, owner: str | None = None
) -> dict[date, dict[str, int]]:
    """Accounts per band on each of ``dates`` (one grouped query on the (as_of, band) index)."""
    out: dict[date, dict[str, int]] = {d: dict.fromkeys(BANDS, 0) for d in dates}
    if not dates:
        return out
    query = (
        select(HealthSnapshot.as_of, HealthSnapshot.band, func.count())
        .where(HealthSnapshot.as_of.in_(list(dates)))
        .group_by(HealthSnapshot.as_of, HealthSnapshot.band)
    )
    if owner is not None:
        query = query.join(Account, Account.id == HealthSnapshot.account_id).where(
            Account.owner_email == owner
        )
    for as_of, band, n in session.execute(query):
        out[as_of][band] = int(n)
    return out


def bands_by_segment(
    session: Session, as_of: date, *, owner: str | None = None
) -> tuple[dict[str, BandFigures], list[SegmentRisk]]:
    """Accounts and ARR per band on ``as_of``, and per segment with the part At-Risk or
    Critical, from one grouped pass over the date (``owner`` narrows to one book)."""
    query = (
        select(
            Account.segment,
            HealthSnapshot.band,
            func.count(),
            func.coalesce(func.sum(Account.arr), 0),
        )
        .join(HealthSnapshot, HealthSnapshot.account_id == Account.id)
        .where(HealthSnapshot.as_of == as_of)
        .group_by(Account.segment, HealthSnapshot.band)
    )
    if owner is not None:
        query = query.where(Account.owner_email == owner)
    bands = _no_bands()
    # segment -> [accounts, arr, arr at risk, accounts at risk]
    totals: dict[str, list[float]] = {}
    for segment, band, n, arr_or_none in session.execute(query):
        arr = float(arr_or_none or 0)
        bands[band]["accounts"] += int(n)
        bands[band]["arr"] += arr
        row = totals.setdefault(segment or "(none)", [0, 0.0, 0.0, 0])
        at_risk = band != "healthy"
        row[0] += int(n)
        row[1] += arr
        row[2] += arr if at_risk else 0.0
        row[3] += int(n) if at_risk else 0
    segments = [
        SegmentRisk(name, int(n), arr, arr_at_risk, int(n_at_risk))
        for name, (n, arr, arr_at_risk, n_at_risk) in totals.items()
    ]
    return bands, sorted(segments, key=lambda r: (-r.arr_at_risk, r.segment))


def drops_over(
    session: Session,
    current: date,
    previous: date,
    *,
    points: float,
    limit: int,
    owner: str | None = None,
) -> tuple[int, list[tuple[Account, HealthSnapshot, HealthSnapshot]]]:
    """How many accounts fell more than ``points`` between the dates, and the ``limit``
    biggest falls with both snapshots (same model version only: a model change is no fall).

    The falls are found on the scores alone (on PostgreSQL an index-only join of the two
    dates); only the ``limit`` rows shown are then read in full, in two more statements."""
    old = aliased(HealthSnapshot)
    now = aliased(HealthSnapshot)
    drop = (old.score - now.score).label("drop")
    query = (
        select(now.account_id, drop, func.count().over().label("total"))
        .join(old, and_(old.account_id == now.account_id, old.as_of == previous))
        .where(
            now.as_of == current,
            old.model_version == now.model_version,
            old.score - now.score > points,
        )
        .order_by(drop.desc(), now.account_id)
        .limit(limit)
    )
    if owner is not None:
        query = query.join(Account, Account.id == now.account_id).where(
            Account.owner_email == owner
        )
    found = session.execute(query).all()
    if not found:
        return 0, []
    ids = [r.account_id for r in found]
    accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(ids)))}
    snaps = {
        (s.account_id, s.as_of): s
        for s in session.scalars(
            select(HealthSnapshot).where(
                HealthSnapshot.account_id.in_(ids), HealthSnapshot.as_of.in_([current, previous])
            )
        )
    }
    rows = [(accounts[i], snaps[(i, current)], snaps[(i, previous)]) for i in ids]
    return int(found[0].total), rows


def renewals_at_risk(
    session: Session, as_of: date, today: date, *, days: int, limit: int, owner: str | None = None
) -> list[RenewalAtRisk]:
    """The ``limit`` soonest renewals within ``days`` of ``today`` of accounts At-Risk or
    Critical on ``as_of`` (read from the renewal-date index, not the whole book)."""
    conditions = [
        HealthSnapshot.as_of == as_of,
        HealthSnapshot.band != "healthy",
        Account.churned_at.is_(None),
        Account.renewal_date >= today,
        Account.renewal_date <= today + timedelta(days=days),
    ]
    if owner is not None:
        conditions.append(Account.owner_email == owner)
    rows = session.execute(
        select(
            Account.external_id,
            Account.name,
            Account.arr,
            Account.renewal_date,
            HealthSnapshot.score,
            HealthSnapshot.band,
        )
        .join(HealthSnapshot, HealthSnapshot.account_id == Account.id)
        .where(*conditions)
        .order_by(Account.renewal_date, Account.external_id)
        .limit(limit)
    )
    return [
        RenewalAtRisk(
            account=r.external_id,
            name=r.name,
            arr=float(r.arr or 0),
            renewal_date=r.renewal_date,
            score=r.score,
            band=r.band,
        )
        for r in rows
        if r.renewal_date is not None  # the query's range already excludes none
    ]


def crm_source_ids(session: Session, provider: str, account_ids: Sequence[int]) -> dict[int, str]:
    """Each account's id in ``provider`` (only the accounts linked to it); IN-lists chunked."""
    found: dict[int, str] = {}
    ids = list(account_ids)
    for start in range(0, len(ids), IN_CHUNK):
        found.update(
            session.execute(
                select(AccountSource.account_id, AccountSource.source_id).where(
                    AccountSource.source == provider,
                    AccountSource.account_id.in_(ids[start : start + IN_CHUNK]),
                )
            ).all()
        )
    return found
